package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/jobs"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/backendtest"
	"github.com/iscsdk/iscsdk/internal/store/storetest"
)

// The rules of the job queue (queue.go) on each store backend. These
// tests were storetest's (TestJobLease, TestJobAttempts, TestJobCancel,
// TestConcurrentLeases) while each backend wrote the rules; their
// assertions are unchanged.

var (
	ctx     = context.Background()
	created = backendtest.Created
	must    = backendtest.Must
)

func newJob(id string, at time.Time, solver string) store.Job {
	return store.Job{ID: id, OrgID: "o", UserID: "u", SessionID: "s", ProductID: "p", Main: "m.inp", Created: at,
		Solver: store.Solver{ProductID: "p", Name: solver, Kind: store.SolverCommand, MaxAttempts: 2}}
}

// TestJobLease: a lease lapses, the job runs again, and only the holder of
// the current attempt finishes it, with its outputs and usage at once.
func TestJobLease(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, b storetest.Backend) {
		db, _ := b.Open(t, "", 0)
		must(t, db.CreateJob(ctx, newJob("a", created, "calculix"), nil))
		lease := func(w string, at time.Time) store.Job {
			j, err := jobs.LeaseJob(ctx, db, w, []string{"calculix"}, at, at.Add(10*time.Second))
			must(t, err)
			return j
		}
		lease("w1", created)
		if _, err := jobs.RenewJob(ctx, db, "a", "w2", 1, created.Add(time.Minute)); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("renew by another worker: %v", err)
		}
		if j, err := jobs.RenewJob(ctx, db, "a", "w1", 1, created.Add(10*time.Second+time.Nanosecond)); err != nil || !j.LeaseExpires.Equal(created.Add(10*time.Second+time.Nanosecond)) {
			t.Fatalf("renew: %+v, %v", j, err)
		}
		if ch, err := jobs.ExpireLeases(ctx, db, created.Add(10*time.Second)); err != nil || len(ch) != 0 {
			t.Fatalf("early expiry: %v %v", ch, err)
		}
		ch, err := jobs.ExpireLeases(ctx, db, created.Add(11*time.Second))
		must(t, err)
		if len(ch) != 1 || ch[0].State != store.JobQueued || ch[0].Attempts[0].Outcome != "lost" {
			t.Fatalf("after the lease lapsed: %+v", ch)
		}
		j := lease("w2", created.Add(12*time.Second))
		if j.Attempt() != 2 {
			t.Fatalf("attempt %d, want 2", j.Attempt())
		}
		if _, err := jobs.FinishJob(ctx, db, "a", "w1", 1, store.JobSucceeded, store.JobResult{}, []byte("out"), nil, created); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("finish by the lost worker: %v", err)
		}
		u := store.UsageRecord{SN: "a-2", OrgID: "o", JobID: "a", End: created.Add(20 * time.Second), SolverSeconds: 3}
		j, err = jobs.FinishJob(ctx, db, "a", "w2", 2, store.JobSucceeded, store.JobResult{OutputFiles: 1}, []byte("out"), &u, created.Add(20*time.Second))
		must(t, err)
		if j.State != store.JobSucceeded || j.OutputFiles != 1 || !j.Finished.Equal(created.Add(20*time.Second)) {
			t.Fatalf("finished: %+v", j)
		}
		if got, _ := db.Job(ctx, "a"); got.State != store.JobSucceeded || got.LeaseExpires != (time.Time{}) {
			t.Fatalf("Job after finish: %+v", got)
		}
		if out, _ := db.JobManifest(ctx, "a", true); string(out) != "out" {
			t.Fatalf("outputs: %q", out)
		}
		if _, err := jobs.FinishJob(ctx, db, "a", "w2", 2, store.JobSucceeded, store.JobResult{}, nil, &u, created); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("finishing twice: %v", err)
		}
		recs, err := db.Usage(ctx, "o", created, created.Add(time.Hour))
		must(t, err)
		if len(recs) != 1 || recs[0].SolverSeconds != 3 {
			t.Fatalf("usage: %+v", recs)
		}
		if recs, _ := db.Usage(ctx, "o", created.Add(time.Hour), created.Add(2*time.Hour)); len(recs) != 0 {
			t.Fatalf("usage outside the range: %+v", recs)
		}
		if recs, _ := db.Usage(ctx, "o", created, created.Add(20*time.Second)); len(recs) != 0 {
			t.Fatalf("usage ending at the range's end: %+v", recs)
		}
	})
}

// TestJobAttempts: a job whose worker is lost MaxAttempts times fails.
func TestJobAttempts(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, b storetest.Backend) {
		db, _ := b.Open(t, "", 0)
		must(t, db.CreateJob(ctx, newJob("a", created, "calculix"), nil)) // MaxAttempts 2
		at := created
		for range 2 {
			_, err := jobs.LeaseJob(ctx, db, "w", []string{"calculix"}, at, at.Add(time.Second))
			must(t, err)
			at = at.Add(2 * time.Second)
			_, err = jobs.ExpireLeases(ctx, db, at)
			must(t, err)
		}
		j, err := db.Job(ctx, "a")
		must(t, err)
		if j.State != store.JobFailed || j.ErrorCode != "worker_lost" || j.Attempt() != 2 {
			t.Fatalf("after two lost attempts: %+v", j)
		}
		if _, err := jobs.LeaseJob(ctx, db, "w", []string{"calculix"}, at, at.Add(time.Second)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a failed job was leased: %v", err)
		}
	})
}

// TestJobCancel: a queued job ends at once; a running one when its worker
// stops it, or when its lease lapses.
func TestJobCancel(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, b storetest.Backend) {
		db, _ := b.Open(t, "", 0)
		must(t, db.CreateJob(ctx, newJob("q", created, "calculix"), nil))
		j, err := jobs.CancelJob(ctx, db, "q", "", "", created)
		must(t, err)
		if j.State != store.JobCanceled || j.ErrorCode != "canceled" {
			t.Fatalf("queued job after cancel: %s %s", j.State, j.ErrorCode)
		}
		if _, err := jobs.LeaseJob(ctx, db, "w", []string{"calculix"}, created, created.Add(time.Second)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a canceled job was leased: %v", err)
		}
		if _, err := jobs.CancelJob(ctx, db, "nope", "", "", created); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("canceling an unknown job: %v", err)
		}
		must(t, db.CreateJob(ctx, newJob("r", created, "calculix"), nil))
		_, err = jobs.LeaseJob(ctx, db, "w", []string{"calculix"}, created, created.Add(time.Second))
		must(t, err)
		j, err = jobs.CancelJob(ctx, db, "r", "license_frozen", "licence L is frozen", created)
		must(t, err)
		if j.State != store.JobRunning || !j.CancelRequested || j.CancelCode != "license_frozen" {
			t.Fatalf("running job after cancel: %+v", j)
		}
		if j, err := jobs.RenewJob(ctx, db, "r", "w", 1, created.Add(time.Second)); err != nil || !j.CancelRequested {
			t.Fatalf("the worker's renewal tells it: %+v, %v", j, err)
		}
		ch, err := jobs.ExpireLeases(ctx, db, created.Add(2*time.Second))
		must(t, err)
		if len(ch) != 1 || ch[0].State != store.JobCanceled || ch[0].ErrorCode != "license_frozen" ||
			!strings.HasPrefix(ch[0].Error, "licence L is frozen") {
			t.Fatalf("expired canceled job: %+v; want it canceled with the cancel's code and reason", ch)
		}
		must(t, db.CreateJob(ctx, newJob("q2", created, "calculix"), nil))
		if j, err := jobs.CancelJob(ctx, db, "q2", "license_frozen", "licence L is frozen", created); err != nil ||
			j.State != store.JobCanceled || j.ErrorCode != "license_frozen" || j.Error != "licence L is frozen" {
			t.Fatalf("queued job canceled with a reason: %+v, %v", j, err)
		}
		if j, err := jobs.CancelJob(ctx, db, "r", "", "", created); err != nil || j.State != store.JobCanceled {
			t.Fatalf("canceling a finished job: %+v, %v", j, err)
		}
	})
}

// TestConcurrentLeases: workers (over every replica) leasing at once
// each get a different job, and every job is leased once.
func TestConcurrentLeases(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, b storetest.Backend) {
		dbs := b.OpenReplicas(t, 2)
		const njobs = 20
		for i := range njobs {
			must(t, dbs[0].CreateJob(ctx, newJob(fmt.Sprintf("j%02d", i), created.Add(time.Duration(i)), "calculix"), nil))
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for {
					j, err := jobs.LeaseJob(ctx, dbs[w%2], fmt.Sprint("w", w), []string{"calculix"}, created, created.Add(time.Minute))
					if errors.Is(err, store.ErrNotFound) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					seen[j.ID]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != njobs {
			t.Fatalf("%d jobs leased, want %d", len(seen), njobs)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("job %s leased %d times", id, n)
			}
		}
		// Replicas expiring at once end each lapsed lease once.
		var ended sync.Map
		for i := range 4 {
			wg.Go(func() {
				ch, err := jobs.ExpireLeases(ctx, dbs[i%2], created.Add(2*time.Minute))
				if err != nil {
					t.Error(err)
				}
				for _, j := range ch {
					if _, dup := ended.LoadOrStore(j.ID, true); dup {
						t.Errorf("the lease of %s was ended twice", j.ID)
					}
				}
			})
		}
		wg.Wait()
		q, err := dbs[0].ListJobs(ctx, store.JobFilter{State: store.JobQueued})
		if err != nil || len(q) != njobs {
			t.Fatalf("after expiry: %d queued, %v; want %d", len(q), err, njobs)
		}
		for _, j := range q {
			if j.Attempt() != 1 || j.Attempts[0].Outcome != "lost" {
				t.Fatalf("job %s: %+v", j.ID, j.Attempts)
			}
		}
	})
}
