package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
)

func newJob(id string, at time.Time, solver string) store.Job {
	return store.Job{ID: id, OrgID: "o", UserID: "u", SessionID: "s", ProductID: "p", Main: "m.inp", Created: at,
		Solver: store.Solver{ProductID: "p", Name: solver, Kind: store.SolverCommand, MaxAttempts: 2}}
}

// lease leases the oldest queued job of solvers to worker, as the job
// service's rule does (internal/server/jobs), for the tests of what the
// store keeps.
func lease(db store.Jobs, worker string, solvers []string, now, expires time.Time) (store.Job, error) {
	var out store.Job
	err := db.UpdateQueuedJob(ctx, solvers, func(tx store.JobTx, j store.Job) error {
		j.State, j.LeaseExpires = store.JobRunning, expires
		j.Attempts = append(j.Attempts, store.JobAttempt{Worker: worker, Started: now})
		out = j
		return tx.PutJob(j)
	})
	return out, err
}

// TestJobQueue: the oldest queued job of a solver the worker runs is
// leased first; the queue survives a reopen.
func TestJobQueue(t *testing.T, b Backend) {
	db, where := b.Open(t, "", 0)
	must(t, db.CreateJob(ctx, newJob("b", created.Add(time.Second), "calculix"), []byte("in-b")))
	must(t, db.CreateJob(ctx, newJob("a", created, "calculix"), []byte("in-a")))
	must(t, db.CreateJob(ctx, newJob("h", created, "heat"), nil))
	if err := db.CreateJob(ctx, newJob("a", created, "calculix"), nil); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second job a: %v, want ErrExists", err)
	}
	must(t, db.Close())
	db, _ = b.Open(t, where, 0)

	if j, err := db.Job(ctx, "b"); err != nil || j.State != store.JobQueued || !j.Created.Equal(created.Add(time.Second)) {
		t.Fatalf("Job(b) = %+v, %v", j, err)
	}
	if _, err := db.Job(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Job(nope): %v", err)
	}
	j, err := lease(db, "w1", []string{"calculix"}, created, created.Add(time.Minute))
	must(t, err)
	if j.ID != "a" || j.State != store.JobRunning || j.Attempt() != 1 || j.Worker() != "w1" {
		t.Fatalf("leased %+v, want a running on w1", j)
	}
	if in, err := db.JobManifest(ctx, "a", false); err != nil || string(in) != "in-a" {
		t.Fatalf("inputs of a: %q, %v", in, err)
	}
	if _, err := db.JobManifest(ctx, "a", true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("outputs of a running job: %v", err)
	}
	j, err = lease(db, "w2", []string{"calculix"}, created, created.Add(time.Minute))
	must(t, err)
	if j.ID != "b" {
		t.Fatalf("second lease: %s, want b", j.ID)
	}
	if _, err := lease(db, "w2", []string{"calculix", "abaqus"}, created, created.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("third lease: %v, want ErrNotFound (only heat is queued)", err)
	}
	all, err := db.ListJobs(ctx, store.JobFilter{})
	if err != nil || len(all) != 3 || all[0].ID != "b" {
		t.Fatalf("ListJobs = %+v, %v; want 3, newest (b) first", all, err)
	}
	if q, _ := db.ListJobs(ctx, store.JobFilter{OrgID: "o", State: store.JobQueued}); len(q) != 1 || q[0].ID != "h" {
		t.Fatalf("queued jobs: %+v", q)
	}
	if one, _ := db.ListJobs(ctx, store.JobFilter{Limit: 1}); len(one) != 1 {
		t.Fatalf("ListJobs(limit 1): %d jobs", len(one))
	}
	if none, err := db.ListJobs(ctx, store.JobFilter{OrgID: "other"}); err != nil || none == nil || len(none) != 0 {
		t.Fatalf("jobs of another org: %#v, %v", none, err)
	}
}

// TestSolvers: a product's solvers, replaced by name, deleted.
func TestSolvers(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	s := store.Solver{ProductID: "p", Name: "calculix", Kind: store.SolverCommand, TimeLimit: time.Hour}
	if err := db.PutSolver(ctx, s); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("solver of an unknown product: %v", err)
	}
	must(t, db.CreateProduct(ctx, store.Product{ID: "p", Created: created}))
	must(t, db.PutSolver(ctx, s))
	s.Outputs = []string{"*.dat"}
	must(t, db.PutSolver(ctx, s)) // replaces
	got, err := db.Solvers(ctx, "p")
	must(t, err)
	if len(got) != 1 || len(got[0].Outputs) != 1 || got[0].TimeLimit != time.Hour {
		t.Fatalf("solvers: %+v", got)
	}
	if err := db.DeleteSolver(ctx, "p", "abaqus"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting an unknown solver: %v", err)
	}
	must(t, db.DeleteSolver(ctx, "p", "calculix"))
	if got, err := db.Solvers(ctx, ""); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("after delete: %#v, %v", got, err)
	}
}

// TestReleases: publish, list per platform, withdraw; a version is never
// published twice.
func TestReleases(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	rel := func(platform, version string) store.Release {
		return store.Release{ProductID: "cad", Platform: platform, Version: version, FileName: "p", Size: 1, SHA256: "s", Published: created}
	}
	if err := db.PutRelease(ctx, rel("linux-amd64", "1.0.0"), []byte("m")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("release of an unknown product: %v", err)
	}
	must(t, db.CreateProduct(ctx, store.Product{ID: "cad"}))
	must(t, db.CreateProduct(ctx, store.Product{ID: "cad2"}))
	for _, r := range []store.Release{rel("linux-amd64", "1.0.0"), rel("linux-amd64", "1.1.0"), rel("windows-amd64", "1.1.0")} {
		must(t, db.PutRelease(ctx, r, []byte("m"+r.Version)))
	}
	if err := db.PutRelease(ctx, rel("linux-amd64", "1.1.0"), []byte("other")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("the same version twice: %v", err)
	}
	r2 := rel("linux-amd64", "1.0.0")
	r2.ProductID = "cad2"
	must(t, db.PutRelease(ctx, r2, []byte("m")))
	if all, _ := db.ListReleases(ctx, "cad", ""); len(all) != 3 {
		t.Fatalf("all platforms: %d releases", len(all))
	}
	if lin, _ := db.ListReleases(ctx, "cad", "linux-amd64"); len(lin) != 2 {
		t.Fatalf("linux: %d releases", len(lin))
	}
	if r, err := db.Release(ctx, "cad", "windows-amd64", "1.1.0"); err != nil || r.FileName != "p" || !r.Published.Equal(created) {
		t.Fatalf("Release = %+v, %v", r, err)
	}
	if m, err := db.ReleaseManifest(ctx, "cad", "linux-amd64", "1.1.0"); err != nil || string(m) != "m1.1.0" {
		t.Fatalf("manifest: %q %v", m, err)
	}
	must(t, db.WithdrawRelease(ctx, "cad", "linux-amd64", "1.1.0"))
	if lin, _ := db.ListReleases(ctx, "cad", "linux-amd64"); len(lin) != 1 || lin[0].Version != "1.0.0" {
		t.Fatalf("after the withdrawal: %+v", lin)
	}
	if _, err := db.Release(ctx, "cad", "linux-amd64", "1.1.0"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a withdrawn release: %v", err)
	}
	if _, err := db.ReleaseManifest(ctx, "cad", "linux-amd64", "1.1.0"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a withdrawn release's manifest: %v", err)
	}
	if err := db.WithdrawRelease(ctx, "cad", "linux-amd64", "1.1.0"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("withdrawn twice: %v", err)
	}
	if err := db.PutRelease(ctx, rel("linux-amd64", "1.1.0"), []byte("new bytes")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a withdrawn version published again: %v", err)
	}
	n := 0
	must(t, db.ReleaseManifests(ctx, "cad", func([]byte) error { n++; return nil }))
	if n != 2 {
		t.Fatalf("%d manifests of live releases, want 2", n)
	}
}

// TestJobRecords: a job's record, outputs and usage as its transactions
// put them: the queue and the running jobs follow the state, lapsed
// leases are found, an aborted transaction keeps nothing, a usage record
// is kept once. (The rules of the queue are the job service's:
// internal/server/jobs.)
func TestJobRecords(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	if err := db.UpdateJob(ctx, "nope", func(store.JobTx, store.Job) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateJob(nope): %v", err)
	}
	must(t, db.CreateJob(ctx, newJob("a", created, "calculix"), []byte("in")))
	must(t, db.CreateJob(ctx, newJob("b", created.Add(time.Second), "calculix"), nil))
	// Out of the queue by its state alone: b is next.
	must(t, db.UpdateJob(ctx, "a", func(tx store.JobTx, j store.Job) error {
		if j.State != store.JobQueued || j.ID != "a" {
			t.Errorf("UpdateJob sees %+v", j)
		}
		j.State, j.LeaseExpires = store.JobRunning, created.Add(time.Minute)
		return tx.PutJob(j)
	}))
	must(t, db.UpdateQueuedJob(ctx, []string{"calculix"}, func(_ store.JobTx, j store.Job) error {
		if j.ID != "b" {
			t.Errorf("the queue's first job: %s, want b", j.ID)
		}
		return nil
	}))
	if r, _ := db.ListJobs(ctx, store.JobFilter{State: store.JobRunning}); len(r) != 1 || r[0].ID != "a" {
		t.Fatalf("running jobs: %+v", r)
	}
	lapsed := func(at time.Time) []string {
		var ids []string
		must(t, db.UpdateLapsedJobs(ctx, at, func(_ store.JobTx, j store.Job) error { ids = append(ids, j.ID); return nil }))
		return ids
	}
	if ids := lapsed(created.Add(time.Minute)); len(ids) != 0 {
		t.Fatalf("lapsed at the lease's end: %v", ids)
	}
	if ids := lapsed(created.Add(time.Minute + 1)); len(ids) != 1 || ids[0] != "a" {
		t.Fatalf("lapsed after the lease's end: %v", ids)
	}
	// An aborted transaction keeps nothing.
	stop := errors.New("stop")
	u := store.UsageRecord{SN: "a-1", OrgID: "o", JobID: "a", End: created.Add(time.Minute), SolverSeconds: 3}
	err := db.UpdateJob(ctx, "a", func(tx store.JobTx, j store.Job) error {
		j.State = store.JobSucceeded
		must(t, tx.PutJob(j))
		must(t, tx.PutOutputs("a", []byte("out")))
		must(t, tx.PutUsage(u))
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("UpdateJob passes fn's error on: %v", err)
	}
	if j, _ := db.Job(ctx, "a"); j.State != store.JobRunning {
		t.Fatalf("an aborted UpdateJob changed the job: %+v", j)
	}
	if _, err := db.JobManifest(ctx, "a", true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an aborted UpdateJob kept outputs: %v", err)
	}
	if recs, _ := db.Usage(ctx, "o", created, created.Add(time.Hour)); len(recs) != 0 {
		t.Fatalf("an aborted UpdateJob kept usage: %+v", recs)
	}
	// Back in the queue, ahead of b (it is older), then done.
	must(t, db.UpdateJob(ctx, "a", func(tx store.JobTx, j store.Job) error {
		j.State, j.LeaseExpires = store.JobQueued, time.Time{}
		return tx.PutJob(j)
	}))
	if q, _ := db.ListJobs(ctx, store.JobFilter{State: store.JobQueued}); len(q) != 2 {
		t.Fatalf("queued again: %+v", q)
	}
	if ids := lapsed(created.Add(time.Hour)); len(ids) != 0 {
		t.Fatalf("a queued job's lease lapsed: %v", ids)
	}
	for range 2 {
		must(t, db.UpdateJob(ctx, "a", func(tx store.JobTx, j store.Job) error {
			j.State = store.JobSucceeded
			must(t, tx.PutOutputs("a", []byte("out")))
			must(t, tx.PutUsage(u))
			return tx.PutJob(j)
		}))
	}
	if out, err := db.JobManifest(ctx, "a", true); err != nil || string(out) != "out" {
		t.Fatalf("outputs: %q, %v", out, err)
	}
	if recs, _ := db.Usage(ctx, "o", created, created.Add(time.Hour)); len(recs) != 1 || recs[0].SolverSeconds != 3 {
		t.Fatalf("usage put twice: %+v; want one record", recs)
	}
	if q, _ := db.ListJobs(ctx, store.JobFilter{State: store.JobQueued}); len(q) != 1 || q[0].ID != "b" {
		t.Fatalf("queued after a finished: %+v", q)
	}
}
