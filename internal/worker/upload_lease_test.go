//go:build linux

package worker_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/sdk"
)

// Outputs that take longer than a lease to upload still finish the job
// on its first attempt: the worker keeps its lease alive while it sends
// them, not only while the solver runs.
func TestOutputUploadLongerThanTheLeaseKeepsTheJob(t *testing.T) {
	const short = time.Second
	c := startComputeLease(t, short)
	putSolver(t, c.Server, adminapi.Solver{Name: "bigout", Kind: "command", Outputs: []string{"out.bin"}})
	cl := c.client(t)
	c.startWorker(t, "w1", "--solver", "bigout")

	model := filepath.Join(t.TempDir(), "m.inp")
	if err := os.WriteFile(model, []byte("m"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, done := solve(cl, model, sdk.SolveOptions{Solver: "bigout"})
	select {
	case r := <-done:
		if r.err != nil || r.res.Status != sdk.SolveSucceeded || r.res.Attempts != 1 {
			t.Fatalf("solve: %v, status %s after %d attempts, want succeeded at the first", r.err, r.res.Status, r.res.Attempts)
		}
		j := c.job(t, r.res.JobID)
		t.Logf("upload: %v (lease %v)", j.Finished.Sub(j.Attempts[0].Started)-time.Duration(j.WallSeconds*float64(time.Second)), short)
	case <-time.After(2 * waitFor):
		t.Fatal("no result")
	}
}
