package boltstore_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/boltstore"
)

func newJob(id string, at time.Time, solver string) store.Job {
	return store.Job{ID: id, OrgID: "o", UserID: "u", SessionID: "s", ProductID: "p", Main: "m.inp", Created: at,
		Solver: store.Solver{ProductID: "p", Name: solver, Kind: store.SolverCommand, MaxAttempts: 2}}
}

func TestJobQueueLeasesOldestFirstAndOnlyKnownSolvers(t *testing.T) {
	db, path := open(t, 0)
	must(t, db.CreateJob(ctx, newJob("b", created.Add(time.Second), "calculix"), []byte("in-b")))
	must(t, db.CreateJob(ctx, newJob("a", created, "calculix"), []byte("in-a")))
	must(t, db.CreateJob(ctx, newJob("h", created, "heat"), nil))
	if err := db.CreateJob(ctx, newJob("a", created, "calculix"), nil); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second job a: %v, want ErrExists", err)
	}
	// The queue survives a restart.
	db.Close()
	db, err := boltstore.Open(path, 0)
	must(t, err)
	defer db.Close()

	j, err := db.LeaseJob(ctx, "w1", []string{"calculix"}, created, created.Add(time.Minute))
	must(t, err)
	if j.ID != "a" || j.State != store.JobRunning || j.Attempt() != 1 || j.Worker() != "w1" {
		t.Fatalf("leased %+v, want a running on w1", j)
	}
	if in, _ := db.JobManifest(ctx, "a", false); string(in) != "in-a" {
		t.Fatalf("inputs of a: %q", in)
	}
	j, err = db.LeaseJob(ctx, "w2", []string{"calculix"}, created, created.Add(time.Minute))
	must(t, err)
	if j.ID != "b" {
		t.Fatalf("second lease: %s, want b", j.ID)
	}
	if _, err := db.LeaseJob(ctx, "w2", []string{"calculix", "abaqus"}, created, created.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("third lease: %v, want ErrNotFound (only heat is queued)", err)
	}
}

func TestJobLeaseLapsesAndOnlyTheHolderFinishes(t *testing.T) {
	db, _ := open(t, 0)
	must(t, db.CreateJob(ctx, newJob("a", created, "calculix"), nil))
	lease := func(w string, at time.Time) store.Job {
		j, err := db.LeaseJob(ctx, w, []string{"calculix"}, at, at.Add(10*time.Second))
		must(t, err)
		return j
	}
	lease("w1", created)
	if _, err := db.RenewJob(ctx, "a", "w2", 1, created.Add(time.Minute)); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("renew by another worker: %v", err)
	}
	// Nothing lapses before the lease's end.
	if ch, err := db.ExpireLeases(ctx, created.Add(5*time.Second)); err != nil || len(ch) != 0 {
		t.Fatalf("early expiry: %v %v", ch, err)
	}
	ch, err := db.ExpireLeases(ctx, created.Add(11*time.Second))
	must(t, err)
	if len(ch) != 1 || ch[0].State != store.JobQueued || ch[0].Attempts[0].Outcome != "lost" {
		t.Fatalf("after the lease lapsed: %+v", ch)
	}
	j := lease("w2", created.Add(12*time.Second))
	if j.Attempt() != 2 {
		t.Fatalf("attempt %d, want 2", j.Attempt())
	}
	// The first worker comes back too late: its result is refused.
	if _, err := db.FinishJob(ctx, "a", "w1", 1, store.JobSucceeded, store.JobResult{}, []byte("out"), nil, created); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("finish by the lost worker: %v", err)
	}
	u := store.UsageRecord{SN: "a-2", OrgID: "o", JobID: "a", End: created.Add(20 * time.Second), SolverSeconds: 3}
	j, err = db.FinishJob(ctx, "a", "w2", 2, store.JobSucceeded, store.JobResult{OutputFiles: 1}, []byte("out"), &u, created.Add(20*time.Second))
	must(t, err)
	if j.State != store.JobSucceeded || j.OutputFiles != 1 || j.Finished.IsZero() {
		t.Fatalf("finished: %+v", j)
	}
	if out, _ := db.JobManifest(ctx, "a", true); string(out) != "out" {
		t.Fatalf("outputs: %q", out)
	}
	if _, err := db.FinishJob(ctx, "a", "w2", 2, store.JobSucceeded, store.JobResult{}, nil, &u, created); !errors.Is(err, store.ErrLeaseLost) {
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
}

func TestJobFailsAfterItsAttempts(t *testing.T) {
	db, _ := open(t, 0)
	must(t, db.CreateJob(ctx, newJob("a", created, "calculix"), nil)) // MaxAttempts 2
	at := created
	for attempt := 1; attempt <= 2; attempt++ {
		_, err := db.LeaseJob(ctx, "w", []string{"calculix"}, at, at.Add(time.Second))
		must(t, err)
		at = at.Add(2 * time.Second)
		_, err = db.ExpireLeases(ctx, at)
		must(t, err)
	}
	j, err := db.Job(ctx, "a")
	must(t, err)
	if j.State != store.JobFailed || j.ErrorCode != "worker_lost" {
		t.Fatalf("after two lost attempts: %+v", j)
	}
}

func TestJobCancel(t *testing.T) {
	db, _ := open(t, 0)
	must(t, db.CreateJob(ctx, newJob("q", created, "calculix"), nil))
	j, err := db.CancelJob(ctx, "q", created)
	must(t, err)
	if j.State != store.JobCanceled {
		t.Fatalf("queued job after cancel: %s", j.State)
	}
	if _, err := db.LeaseJob(ctx, "w", []string{"calculix"}, created, created.Add(time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a canceled job was leased: %v", err)
	}
	must(t, db.CreateJob(ctx, newJob("r", created, "calculix"), nil))
	_, err = db.LeaseJob(ctx, "w", []string{"calculix"}, created, created.Add(time.Second))
	must(t, err)
	j, err = db.CancelJob(ctx, "r", created)
	must(t, err)
	if j.State != store.JobRunning || !j.CancelRequested {
		t.Fatalf("running job after cancel: %+v", j)
	}
	// Its worker never answers again: it ends canceled, not re-queued.
	ch, err := db.ExpireLeases(ctx, created.Add(2*time.Second))
	must(t, err)
	if len(ch) != 1 || ch[0].State != store.JobCanceled {
		t.Fatalf("expired canceled job: %+v", ch)
	}
}

func TestJobLeasedOnceUnderConcurrency(t *testing.T) {
	db, _ := open(t, 0)
	for i := range 20 {
		must(t, db.CreateJob(ctx, newJob(string(rune('a'+i)), created.Add(time.Duration(i)), "calculix"), nil))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for {
				j, err := db.LeaseJob(ctx, string(rune('A'+w)), []string{"calculix"}, created, created.Add(time.Minute))
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
	if len(seen) != 20 {
		t.Fatalf("%d jobs leased, want 20", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("job %s leased %d times", id, n)
		}
	}
}

func TestSolvers(t *testing.T) {
	db, _ := open(t, 0)
	s := store.Solver{ProductID: "p", Name: "calculix", Kind: store.SolverCommand, Command: []string{"ccx", "-i", "{stem}"}}
	if err := db.PutSolver(ctx, s); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("solver of an unknown product: %v", err)
	}
	must(t, db.CreateProduct(ctx, store.Product{ID: "p", Created: created}))
	must(t, db.PutSolver(ctx, s))
	s.Outputs = []string{"*.dat"}
	must(t, db.PutSolver(ctx, s)) // replaces
	got, err := db.Solvers(ctx, "p")
	must(t, err)
	if len(got) != 1 || len(got[0].Outputs) != 1 {
		t.Fatalf("solvers: %+v", got)
	}
	must(t, db.DeleteSolver(ctx, "p", "calculix"))
	if got, _ := db.Solvers(ctx, ""); len(got) != 0 {
		t.Fatalf("after delete: %+v", got)
	}
}
