package boltstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
)

func TestFilesVersionsAndLocks(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	v := func(path, author string) store.Version {
		return store.Version{OrgID: "acme", Path: path, Author: author, Time: time.Now(), Size: 10, Hash: "h", Files: 1}
	}
	// A new file: base 0.
	got, err := db.CommitVersion(ctx, v("/p/a.prt", "jo"), []byte("m1"), store.Commit{Base: 0, UserID: "jo"})
	if err != nil || got.Number != 1 {
		t.Fatalf("first save: %+v %v", got, err)
	}
	// A save from a stale base is a conflict.
	if _, err := db.CommitVersion(ctx, v("/p/a.prt", "al"), []byte("x"), store.Commit{Base: 0, UserID: "al"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale save: %v", err)
	}
	// Saving an assembly over a file is a conflict too.
	if _, err := db.CommitVersion(ctx, v("/p/a.prt", "jo"), []byte("x"), store.Commit{Base: 1, UserID: "jo", Assembly: true}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("kind change: %v", err)
	}
	// Checked out by jo: al cannot save or lock; jo can, and check in.
	if _, err := db.Lock(ctx, "acme", "/p/a.prt", store.Lock{UserID: "jo", Since: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CommitVersion(ctx, v("/p/a.prt", "al"), []byte("x"), store.Commit{Base: 1, UserID: "al"}); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("save by another user: %v", err)
	}
	if _, err := db.Lock(ctx, "acme", "/p/a.prt", store.Lock{UserID: "al"}); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	if _, err := db.Unlock(ctx, "acme", "/p/a.prt", "al", false); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("unlock by another user: %v", err)
	}
	got, err = db.CommitVersion(ctx, v("/p/a.prt", "jo"), []byte("m2"), store.Commit{Base: 1, UserID: "jo", CheckIn: true})
	if err != nil || got.Number != 2 {
		t.Fatalf("save with check-in: %+v %v", got, err)
	}
	e, _ := db.File(ctx, "acme", "/p/a.prt")
	if e.Lock != nil || e.Head != 2 {
		t.Fatalf("after check-in: %+v", e)
	}
	// An admin breaks a lock.
	db.Lock(ctx, "acme", "/p/a.prt", store.Lock{UserID: "jo"})
	if e, err := db.Unlock(ctx, "acme", "/p/a.prt", "admin", true); err != nil || e.Lock != nil {
		t.Fatalf("forced unlock: %+v %v", e, err)
	}
	vs, _ := db.Versions(ctx, "acme", "/p/a.prt")
	if len(vs) != 2 || vs[0].Number != 1 || vs[1].Number != 2 {
		t.Fatalf("history %+v", vs)
	}
	if m, err := db.Manifest(ctx, "acme", "/p/a.prt", 1); err != nil || string(m) != "m1" {
		t.Fatalf("manifest 1: %q %v", m, err)
	}
	// Listing: direct files and subfolders; other orgs invisible.
	db.CommitVersion(ctx, v("/p/sub/b.prt", "jo"), nil, store.Commit{UserID: "jo"})
	db.CommitVersion(ctx, v("/top.prt", "jo"), nil, store.Commit{UserID: "jo"})
	db.CommitVersion(ctx, store.Version{OrgID: "other", Path: "/p/c.prt"}, nil, store.Commit{})
	files, folders, err := db.ListFiles(ctx, "acme", "/p")
	if err != nil || len(files) != 1 || files[0].Path != "/p/a.prt" || len(folders) != 1 || folders[0].Path != "/p/sub" {
		t.Fatalf("list /p: %+v %+v %v", files, folders, err)
	}
	files, folders, _ = db.ListFiles(ctx, "acme", "/")
	if len(files) != 1 || files[0].Path != "/top.prt" || len(folders) != 1 || folders[0].Path != "/p" {
		t.Fatalf("list /: %+v %+v", files, folders)
	}
	n := 0
	db.Manifests(ctx, "acme", func([]byte) error { n++; return nil })
	if n != 4 {
		t.Fatalf("%d manifests, want 4", n)
	}
}

func TestCommitRetryIsRecognised(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	v := store.Version{OrgID: "acme", Path: "/a.prt", Author: "jo", Time: time.Now()}
	first, err := db.CommitVersion(ctx, v, []byte("m"), store.Commit{UserID: "jo", ID: "save-1"})
	if err != nil || first.Number != 1 {
		t.Fatal(first, err)
	}
	// The answer was lost; the client sends the same save again from base 0.
	again, err := db.CommitVersion(ctx, v, []byte("m"), store.Commit{UserID: "jo", ID: "save-1"})
	if err != nil || again.Number != 1 {
		t.Fatalf("retried commit: %+v %v", again, err)
	}
	// Another save from the same stale base is still a conflict.
	if _, err := db.CommitVersion(ctx, v, []byte("m"), store.Commit{UserID: "jo", ID: "save-2"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a different save from a stale base: %v", err)
	}
}

func TestFileAndFolderCannotShareAPath(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	save := func(path string) error {
		_, err := db.CommitVersion(ctx, store.Version{OrgID: "acme", Path: path}, nil, store.Commit{UserID: "jo"})
		return err
	}
	if err := save("/a/b.prt"); err != nil {
		t.Fatal(err)
	}
	if err := save("/a"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a file where a folder is: %v", err)
	}
	if err := save("/a/b.prt/c.prt"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a file below a file: %v", err)
	}
	if err := save("/ab"); err != nil {
		t.Fatalf("a sibling with a common prefix: %v", err)
	}
}
