//go:build linux

package worker_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/sdk"
)

// A worker stopped politely (SIGTERM) gives its jobs back: they run on
// another worker at once, not when their leases lapse (10 minutes here:
// the test would time out), and it leaves no job directory behind.
func TestStoppedWorkerGivesItsJobsBack(t *testing.T) {
	c := startComputeLease(t, 10*time.Minute)
	dir := workerDir(t)
	first := c.startWorker(t, "first", "--solver", "waiter", "--dir", dir)
	model, args, _, release := waiterModel(t)
	progress, done := solve(c.client(t), model, sdk.SolveOptions{Solver: "waiter", Args: args})
	nextProgress(t, progress, done, func(p sdk.SolveProgress) bool { return hasLine(p, "waiting 1") })

	c.startWorker(t, "second", "--solver", "waiter")
	first.stop(syscall.SIGTERM)
	if code := first.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("the stopped worker exited %d", code)
	}
	second := nextProgress(t, progress, done, func(p sdk.SolveProgress) bool { return hasLine(p, "waiting 2") })
	if second.Attempt != 2 {
		t.Fatalf("attempt %d, want 2", second.Attempt)
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if res := result(t, done); res.Attempts != 2 {
		t.Fatalf("result of attempt %d", res.Attempts)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "jobs-first", "job-*")); len(left) != 0 {
		t.Fatalf("the stopped worker left %v", left)
	}
}
