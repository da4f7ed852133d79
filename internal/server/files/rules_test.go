package files_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/files"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/backendtest"
	"github.com/iscsdk/iscsdk/internal/store/storetest"
)

// The rules of saves and check-outs (rules.go) on each store backend.
// These tests were storetest's (TestFilesVersionsAndLocks, TestCommitRetry,
// TestConcurrentCommits, TestConcurrentCheckOut) while each backend wrote
// the rules; their assertions are unchanged, but for those on storage
// alone (an unknown file's history, a missing manifest, listing, Manifests),
// which storetest's TestFileRecords makes on every backend.

var (
	ctx     = context.Background()
	created = backendtest.Created
	must    = backendtest.Must
)

func version(path, author string) store.Version {
	return store.Version{OrgID: "acme", Path: path, Author: author, Time: created, Size: 10, Hash: "h", Files: 1}
}

// TestFilesVersionsAndLocks: saves from a stale base conflict, check-outs
// keep others from saving.
func TestFilesVersionsAndLocks(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, b storetest.Backend) {
		db, _ := b.Open(t, "", 0)
		if _, err := db.File(ctx, "acme", "/p/a.prt"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("File(unknown): %v", err)
		}
		got, err := files.CommitVersion(ctx, db, version("/p/a.prt", "jo"), []byte("m1"), files.Commit{Base: 0, UserID: "jo"})
		if err != nil || got.Number != 1 {
			t.Fatalf("first save: %+v %v", got, err)
		}
		if _, err := files.CommitVersion(ctx, db, version("/p/a.prt", "al"), []byte("x"), files.Commit{Base: 0, UserID: "al"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale save: %v", err)
		}
		if _, err := files.CommitVersion(ctx, db, version("/p/a.prt", "jo"), []byte("x"), files.Commit{Base: 1, UserID: "jo", Assembly: true}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("kind change: %v", err)
		}
		if _, err := files.Lock(ctx, db, "acme", "/nope", store.Lock{UserID: "jo"}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("lock of an unknown file: %v", err)
		}
		if _, err := files.Lock(ctx, db, "acme", "/p/a.prt", store.Lock{UserID: "jo", SessionID: "s", Since: created}); err != nil {
			t.Fatal(err)
		}
		if e, _ := db.File(ctx, "acme", "/p/a.prt"); e.Lock == nil || e.Lock.UserID != "jo" || !e.Lock.Since.Equal(created) {
			t.Fatalf("checked out: %+v", e)
		}
		if _, err := files.CommitVersion(ctx, db, version("/p/a.prt", "al"), []byte("x"), files.Commit{Base: 1, UserID: "al"}); !errors.Is(err, store.ErrLocked) {
			t.Fatalf("save by another user: %v", err)
		}
		if _, err := files.Lock(ctx, db, "acme", "/p/a.prt", store.Lock{UserID: "al"}); !errors.Is(err, store.ErrLocked) {
			t.Fatalf("second lock: %v", err)
		}
		if _, err := files.Unlock(ctx, db, "acme", "/p/a.prt", "al", false); !errors.Is(err, store.ErrLocked) {
			t.Fatalf("unlock by another user: %v", err)
		}
		// The holder saves from an old base: a check-out means no conflict.
		got, err = files.CommitVersion(ctx, db, version("/p/a.prt", "jo"), []byte("m2"), files.Commit{Base: 0, UserID: "jo", CheckIn: true})
		if err != nil || got.Number != 2 {
			t.Fatalf("save with check-in: %+v %v", got, err)
		}
		e, _ := db.File(ctx, "acme", "/p/a.prt")
		if e.Lock != nil || e.Head != 2 || e.UpdatedBy != "jo" || e.Size != 10 {
			t.Fatalf("after check-in: %+v", e)
		}
		files.Lock(ctx, db, "acme", "/p/a.prt", store.Lock{UserID: "jo"})
		if e, err := files.Unlock(ctx, db, "acme", "/p/a.prt", "admin", true); err != nil || e.Lock != nil {
			t.Fatalf("forced unlock: %+v %v", e, err)
		}
		if e, err := files.Unlock(ctx, db, "acme", "/p/a.prt", "al", false); err != nil || e.Lock != nil {
			t.Fatalf("unlocking a file nobody holds: %+v %v", e, err)
		}
		vs, err := db.Versions(ctx, "acme", "/p/a.prt")
		if err != nil || len(vs) != 2 || vs[0].Number != 1 || vs[1].Number != 2 || vs[0].Author != "jo" {
			t.Fatalf("history %+v %v", vs, err)
		}
		if m, err := db.Manifest(ctx, "acme", "/p/a.prt", 1); err != nil || string(m) != "m1" {
			t.Fatalf("manifest 1: %q %v", m, err)
		}
	})
}

// TestCommitRetry: a save retried with its id (its answer was lost) gets
// the version it made; another save from the same base still conflicts.
func TestCommitRetry(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, b storetest.Backend) {
		db, _ := b.Open(t, "", 0)
		v := version("/a.prt", "jo")
		first, err := files.CommitVersion(ctx, db, v, []byte("m"), files.Commit{UserID: "jo", ID: "save-1"})
		if err != nil || first.Number != 1 {
			t.Fatal(first, err)
		}
		again, err := files.CommitVersion(ctx, db, v, []byte("m"), files.Commit{UserID: "jo", ID: "save-1"})
		if err != nil || again.Number != 1 {
			t.Fatalf("retried commit: %+v %v", again, err)
		}
		if _, err := files.CommitVersion(ctx, db, v, []byte("m"), files.Commit{UserID: "jo", ID: "save-2"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a different save from a stale base: %v", err)
		}
		if vs, _ := db.Versions(ctx, "acme", "/a.prt"); len(vs) != 1 {
			t.Fatalf("%d versions, want 1", len(vs))
		}
	})
}

// TestConcurrentCommits: saves racing from one base (over every replica):
// exactly one wins, the others conflict, nothing is lost; the same for
// creating a new file, and for new paths that would overlap.
func TestConcurrentCommits(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, b storetest.Backend) {
		dbs := b.OpenReplicas(t, 2)
		const savers = 8
		race := func(save func(i int) error) (won int) {
			t.Helper()
			errs := make([]error, savers)
			var wg sync.WaitGroup
			for i := range savers {
				wg.Go(func() { errs[i] = save(i) })
			}
			wg.Wait()
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("a racing save: %v, want success or ErrConflict", err)
				}
			}
			return won
		}
		for base := range 3 {
			won := race(func(i int) error {
				_, err := files.CommitVersion(ctx, dbs[i%2], version("/race.prt", fmt.Sprint("u", i)), fmt.Appendf(nil, "m%d", i), files.Commit{Base: base, UserID: fmt.Sprint("u", i)})
				return err
			})
			if won != 1 {
				t.Fatalf("from base %d: %d saves won, want 1", base, won)
			}
		}
		vs, err := dbs[0].Versions(ctx, "acme", "/race.prt")
		if err != nil || len(vs) != 3 {
			t.Fatalf("versions: %+v %v; want 3", vs, err)
		}
		for i, v := range vs {
			m, err := dbs[1].Manifest(ctx, "acme", "/race.prt", v.Number)
			if err != nil || string(m) != "m"+v.Author[1:] || v.Number != i+1 {
				t.Fatalf("version %d by %s holds %q (%v)", v.Number, v.Author, m, err)
			}
		}
		// New paths where one is the folder of another: one wins.
		won := race(func(i int) error {
			path := "/dir"
			if i%2 == 1 {
				path = fmt.Sprintf("/dir/f%d.prt", i)
			}
			_, err := files.CommitVersion(ctx, dbs[i%2], version(path, "u"), []byte("m"), files.Commit{UserID: "u"})
			return err
		})
		storetest.WantFileOrFolder(t, dbs[0], "/dir", won)
	})
}

// TestConcurrentCheckOut: users racing to check a file out: one holds it.
func TestConcurrentCheckOut(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, b storetest.Backend) {
		dbs := b.OpenReplicas(t, 2)
		_, err := files.CommitVersion(ctx, dbs[0], version("/a.prt", "jo"), nil, files.Commit{UserID: "jo"})
		must(t, err)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var holders []string
		for i := range 8 {
			wg.Go(func() {
				u := fmt.Sprint("u", i)
				_, err := files.Lock(ctx, dbs[i%2], "acme", "/a.prt", store.Lock{UserID: u, Since: time.Now()})
				switch {
				case err == nil:
					mu.Lock()
					holders = append(holders, u)
					mu.Unlock()
				case !errors.Is(err, store.ErrLocked):
					t.Errorf("lock: %v", err)
				}
			})
		}
		wg.Wait()
		e, err := dbs[0].File(ctx, "acme", "/a.prt")
		if err != nil || len(holders) != 1 || e.Lock == nil || e.Lock.UserID != holders[0] {
			t.Fatalf("holders %v, file %+v, %v; want one holder", holders, e, err)
		}
	})
}
