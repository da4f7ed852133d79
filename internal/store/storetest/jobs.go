package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
)

func newJob(id string, at time.Time, solver string) store.Job {
	return store.Job{ID: id, OrgID: "o", UserID: "u", SessionID: "s", ProductID: "p", Main: "m.inp", Created: at,
		Solver: store.Solver{ProductID: "p", Name: solver, Kind: store.SolverCommand, MaxAttempts: 2}}
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
	j, err := db.LeaseJob(ctx, "w1", []string{"calculix"}, created, created.Add(time.Minute))
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
	j, err = db.LeaseJob(ctx, "w2", []string{"calculix"}, created, created.Add(time.Minute))
	must(t, err)
	if j.ID != "b" {
		t.Fatalf("second lease: %s, want b", j.ID)
	}
	if _, err := db.LeaseJob(ctx, "w2", []string{"calculix", "abaqus"}, created, created.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
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

// TestJobLease: a lease lapses, the job runs again, and only the holder of
// the current attempt finishes it, with its outputs and usage at once.
func TestJobLease(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
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
	if j, err := db.RenewJob(ctx, "a", "w1", 1, created.Add(10*time.Second+time.Nanosecond)); err != nil || !j.LeaseExpires.Equal(created.Add(10*time.Second+time.Nanosecond)) {
		t.Fatalf("renew: %+v, %v", j, err)
	}
	if ch, err := db.ExpireLeases(ctx, created.Add(10*time.Second)); err != nil || len(ch) != 0 {
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
	if _, err := db.FinishJob(ctx, "a", "w1", 1, store.JobSucceeded, store.JobResult{}, []byte("out"), nil, created); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("finish by the lost worker: %v", err)
	}
	u := store.UsageRecord{SN: "a-2", OrgID: "o", JobID: "a", End: created.Add(20 * time.Second), SolverSeconds: 3}
	j, err = db.FinishJob(ctx, "a", "w2", 2, store.JobSucceeded, store.JobResult{OutputFiles: 1}, []byte("out"), &u, created.Add(20*time.Second))
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
	if recs, _ := db.Usage(ctx, "o", created, created.Add(20*time.Second)); len(recs) != 0 {
		t.Fatalf("usage ending at the range's end: %+v", recs)
	}
}

// TestJobAttempts: a job whose worker is lost MaxAttempts times fails.
func TestJobAttempts(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	must(t, db.CreateJob(ctx, newJob("a", created, "calculix"), nil)) // MaxAttempts 2
	at := created
	for range 2 {
		_, err := db.LeaseJob(ctx, "w", []string{"calculix"}, at, at.Add(time.Second))
		must(t, err)
		at = at.Add(2 * time.Second)
		_, err = db.ExpireLeases(ctx, at)
		must(t, err)
	}
	j, err := db.Job(ctx, "a")
	must(t, err)
	if j.State != store.JobFailed || j.ErrorCode != "worker_lost" || j.Attempt() != 2 {
		t.Fatalf("after two lost attempts: %+v", j)
	}
	if _, err := db.LeaseJob(ctx, "w", []string{"calculix"}, at, at.Add(time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a failed job was leased: %v", err)
	}
}

// TestJobCancel: a queued job ends at once; a running one when its worker
// stops it, or when its lease lapses.
func TestJobCancel(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	must(t, db.CreateJob(ctx, newJob("q", created, "calculix"), nil))
	j, err := db.CancelJob(ctx, "q", "", "", created)
	must(t, err)
	if j.State != store.JobCanceled || j.ErrorCode != "canceled" {
		t.Fatalf("queued job after cancel: %s %s", j.State, j.ErrorCode)
	}
	if _, err := db.LeaseJob(ctx, "w", []string{"calculix"}, created, created.Add(time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a canceled job was leased: %v", err)
	}
	if _, err := db.CancelJob(ctx, "nope", "", "", created); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("canceling an unknown job: %v", err)
	}
	must(t, db.CreateJob(ctx, newJob("r", created, "calculix"), nil))
	_, err = db.LeaseJob(ctx, "w", []string{"calculix"}, created, created.Add(time.Second))
	must(t, err)
	j, err = db.CancelJob(ctx, "r", "license_frozen", "licence L is frozen", created)
	must(t, err)
	if j.State != store.JobRunning || !j.CancelRequested || j.CancelCode != "license_frozen" {
		t.Fatalf("running job after cancel: %+v", j)
	}
	if j, err := db.RenewJob(ctx, "r", "w", 1, created.Add(time.Second)); err != nil || !j.CancelRequested {
		t.Fatalf("the worker's renewal tells it: %+v, %v", j, err)
	}
	ch, err := db.ExpireLeases(ctx, created.Add(2*time.Second))
	must(t, err)
	if len(ch) != 1 || ch[0].State != store.JobCanceled || ch[0].ErrorCode != "license_frozen" ||
		!strings.HasPrefix(ch[0].Error, "licence L is frozen") {
		t.Fatalf("expired canceled job: %+v; want it canceled with the cancel's code and reason", ch)
	}
	must(t, db.CreateJob(ctx, newJob("q2", created, "calculix"), nil))
	if j, err := db.CancelJob(ctx, "q2", "license_frozen", "licence L is frozen", created); err != nil ||
		j.State != store.JobCanceled || j.ErrorCode != "license_frozen" || j.Error != "licence L is frozen" {
		t.Fatalf("queued job canceled with a reason: %+v, %v", j, err)
	}
	if j, err := db.CancelJob(ctx, "r", "", "", created); err != nil || j.State != store.JobCanceled {
		t.Fatalf("canceling a finished job: %+v, %v", j, err)
	}
}

// TestConcurrentLeases: workers (over every replica) leasing at once
// each get a different job, and every job is leased once.
func TestConcurrentLeases(t *testing.T, b Backend) {
	dbs := replicas(t, b, 2)
	const jobs = 20
	for i := range jobs {
		must(t, dbs[0].CreateJob(ctx, newJob(fmt.Sprintf("j%02d", i), created.Add(time.Duration(i)), "calculix"), nil))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for {
				j, err := dbs[w%2].LeaseJob(ctx, fmt.Sprint("w", w), []string{"calculix"}, created, created.Add(time.Minute))
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
	if len(seen) != jobs {
		t.Fatalf("%d jobs leased, want %d", len(seen), jobs)
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
			ch, err := dbs[i%2].ExpireLeases(ctx, created.Add(2*time.Minute))
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
	if err != nil || len(q) != jobs {
		t.Fatalf("after expiry: %d queued, %v; want %d", len(q), err, jobs)
	}
	for _, j := range q {
		if j.Attempt() != 1 || j.Attempts[0].Outcome != "lost" {
			t.Fatalf("job %s: %+v", j.ID, j.Attempts)
		}
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
