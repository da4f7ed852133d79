//go:build linux

package worker_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

// A job queued again after its worker gave it back (attempt 1 lost) and
// canceled before another worker takes it ends canceled — and its owner
// hears so: the solve returns canceled instead of waiting forever.
func TestCancelOfARequeuedJobReachesItsOwner(t *testing.T) {
	c := startCompute(t)
	cl := c.client(t)
	w, _ := c.dialRaw(t, wire.WorkerHello{Name: "leaver", Solvers: []string{"quick"}, Capacity: 1})

	model := filepath.Join(t.TempDir(), "m.inp")
	if err := os.WriteFile(model, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	progress, done := solve(cl, model, sdk.SolveOptions{Solver: "quick"})
	var l wire.JobLease
	if err := w.call(wire.OpWorkerLease, wire.WorkerLease{WaitMS: waitFor.Milliseconds()}, &l); err != nil || l.ID == "" {
		t.Fatalf("lease: %v %+v", err, l)
	}
	if err := w.call(wire.OpWorkerRelease, wire.JobAttemptRef{ID: l.ID, Attempt: l.Attempt}, nil); err != nil {
		t.Fatalf("release: %v", err)
	}
	nextProgress(t, progress, done, func(p sdk.SolveProgress) bool { return p.State == sdk.SolveQueued && p.Attempt == 1 })
	if j := c.job(t, l.ID); j.State != store.JobQueued || j.Attempt() != 1 {
		t.Fatalf("after the release the job is %s at attempt %d", j.State, j.Attempt())
	}

	if err := c.Admin().Do(context.Background(), "POST", "/jobs/"+l.ID+"/cancel", nil, nil); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	select {
	case r := <-done:
		if r.res.Status != sdk.SolveCanceled || !errors.Is(r.err, sdk.ErrSolveFailed) {
			t.Fatalf("result %v %+v, want canceled", r.err, r.res)
		}
	case <-time.After(waitFor):
		t.Fatalf("no result within %v of canceling the queued job (it is %s)", waitFor, c.job(t, l.ID).State)
	}
}
