package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/iscsdk/iscsdk/internal/store"
)

// commit puts v as the next version of its file, as a save does but
// without the file service's rules (internal/server/files).
func commit(db store.Files, v store.Version, manifest []byte) (store.Version, error) {
	err := db.UpdateFile(ctx, v.OrgID, v.Path, func(tx store.FileTx, e store.FileEntry, _ bool) error {
		v.Number = e.Head + 1
		if err := tx.PutVersion(v, manifest); err != nil {
			return err
		}
		e.Head, e.Size, e.Hash, e.Updated, e.UpdatedBy = v.Number, v.Size, v.Hash, v.Time, v.Author
		return tx.PutFile(e)
	})
	return v, err
}

func version(path, author string) store.Version {
	return store.Version{OrgID: "acme", Path: path, Author: author, Time: created, Size: 10, Hash: "h", Files: 1}
}

// TestFileAndFolder: no file where a folder is, nor below a file.
func TestFileAndFolder(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	save := func(path string) error {
		_, err := commit(db, store.Version{OrgID: "acme", Path: path}, nil)
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
	if err := save("/a-b"); err != nil {
		t.Fatalf("a sibling sorting between: %v", err)
	}
	// Another org's paths do not overlap.
	if _, err := commit(db, store.Version{OrgID: "beta", Path: "/a"}, nil); err != nil {
		t.Fatalf("the same path in another org: %v", err)
	}
}

// TestFileRecords: a file's entry, versions and manifests as UpdateFile
// puts them; listing shows files and folders of one org. (The rules of
// saves and check-outs are the file service's: internal/server/files.)
func TestFileRecords(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	if _, err := db.File(ctx, "acme", "/p/a.prt"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("File(unknown): %v", err)
	}
	got, err := commit(db, version("/p/a.prt", "jo"), []byte("m1"))
	if err != nil || got.Number != 1 {
		t.Fatalf("first save: %+v %v", got, err)
	}
	lock := &store.Lock{UserID: "jo", SessionID: "s", Since: created}
	must(t, db.UpdateFile(ctx, "acme", "/p/a.prt", func(tx store.FileTx, e store.FileEntry, found bool) error {
		if !found || e.Head != 1 || e.OrgID != "acme" || e.UpdatedBy != "jo" {
			t.Errorf("UpdateFile sees %+v, found %v", e, found)
		}
		e.Lock = lock
		return tx.PutFile(e)
	}))
	if e, _ := db.File(ctx, "acme", "/p/a.prt"); e.Lock == nil || e.Lock.UserID != "jo" || !e.Lock.Since.Equal(created) {
		t.Fatalf("checked out: %+v", e)
	}
	// fn's error aborts: nothing it put is kept.
	stop := errors.New("stop")
	err = db.UpdateFile(ctx, "acme", "/p/a.prt", func(tx store.FileTx, e store.FileEntry, _ bool) error {
		must(t, tx.PutVersion(store.Version{OrgID: "acme", Path: "/p/a.prt", Number: 2}, []byte("no")))
		e.Head, e.Lock = 2, nil
		must(t, tx.PutFile(e))
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("UpdateFile passes fn's error on: %v", err)
	}
	if e, _ := db.File(ctx, "acme", "/p/a.prt"); e.Head != 1 || e.Lock == nil {
		t.Fatalf("an aborted UpdateFile changed the entry: %+v", e)
	}
	if _, err := db.Manifest(ctx, "acme", "/p/a.prt", 2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an aborted UpdateFile kept its version: %v", err)
	}
	got, err = commit(db, version("/p/a.prt", "jo"), []byte("m2"))
	if err != nil || got.Number != 2 {
		t.Fatalf("second save: %+v %v", got, err)
	}
	must(t, db.UpdateFile(ctx, "acme", "/p/a.prt", func(tx store.FileTx, _ store.FileEntry, _ bool) error {
		if v, err := tx.Version(1); err != nil || v.Number != 1 || v.Author != "jo" {
			t.Errorf("FileTx.Version(1) = %+v, %v", v, err)
		}
		if _, err := tx.Version(3); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FileTx.Version(3): %v", err)
		}
		return nil
	}))
	vs, err := db.Versions(ctx, "acme", "/p/a.prt")
	if err != nil || len(vs) != 2 || vs[0].Number != 1 || vs[1].Number != 2 || vs[0].Author != "jo" {
		t.Fatalf("history %+v %v", vs, err)
	}
	if _, err := db.Versions(ctx, "acme", "/nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("history of an unknown file: %v", err)
	}
	if m, err := db.Manifest(ctx, "acme", "/p/a.prt", 1); err != nil || string(m) != "m1" {
		t.Fatalf("manifest 1: %q %v", m, err)
	}
	if _, err := db.Manifest(ctx, "acme", "/p/a.prt", 3); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("manifest 3: %v", err)
	}
	// Listing: direct files and subfolders; other orgs invisible.
	for _, p := range []string{"/p/sub/b.prt", "/p/sub/deeper/c.prt", "/top.prt", "/p-x.prt"} {
		_, err := commit(db, version(p, "jo"), []byte("m"))
		must(t, err)
	}
	_, err = commit(db, store.Version{OrgID: "other", Path: "/p/c.prt"}, []byte("m"))
	must(t, err)
	files, folders, err := db.ListFiles(ctx, "acme", "/p")
	if err != nil || len(files) != 1 || files[0].Path != "/p/a.prt" || len(folders) != 1 || folders[0].Path != "/p/sub" {
		t.Fatalf("list /p: %+v %+v %v", files, folders, err)
	}
	files, folders, _ = db.ListFiles(ctx, "acme", "/")
	if len(files) != 2 || files[0].Path != "/p-x.prt" || files[1].Path != "/top.prt" || len(folders) != 1 || folders[0].Path != "/p" {
		t.Fatalf("list /: %+v %+v", files, folders)
	}
	files, folders, err = db.ListFiles(ctx, "acme", "/empty")
	if err != nil || files == nil || folders == nil || len(files)+len(folders) != 0 {
		t.Fatalf("list of an empty folder: %#v %#v %v; want empty, non-nil lists", files, folders, err)
	}
	n := 0
	must(t, db.Manifests(ctx, "acme", func([]byte) error { n++; return nil }))
	if n != 6 {
		t.Fatalf("%d manifests, want 6", n)
	}
	if err := db.Manifests(ctx, "acme", func([]byte) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("Manifests passes fn's error on: %v", err)
	}
}

// TestConcurrentUpdates: transactions on one file racing over every
// replica see each other's writes, one after the other (none is lost);
// new paths racing where one is the folder of another: one wins.
func TestConcurrentUpdates(t *testing.T, b Backend) {
	dbs := replicas(t, b, 2)
	const writers = 8
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			if _, err := commit(dbs[i%2], version("/race.prt", fmt.Sprint("u", i)), fmt.Appendf(nil, "m%d", i)); err != nil {
				t.Errorf("a racing save: %v", err)
			}
		})
	}
	wg.Wait()
	vs, err := dbs[0].Versions(ctx, "acme", "/race.prt")
	if err != nil || len(vs) != writers {
		t.Fatalf("versions: %+v %v; want %d", vs, err, writers)
	}
	for i, v := range vs {
		m, err := dbs[1].Manifest(ctx, "acme", "/race.prt", v.Number)
		if err != nil || string(m) != "m"+v.Author[1:] || v.Number != i+1 {
			t.Fatalf("version %d by %s holds %q (%v)", v.Number, v.Author, m, err)
		}
	}
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			path := "/dir"
			if i%2 == 1 {
				path = fmt.Sprintf("/dir/f%d.prt", i)
			}
			_, errs[i] = commit(dbs[i%2], version(path, "u"), []byte("m"))
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("a racing save: %v, want success or ErrConflict", err)
		}
	}
	WantFileOrFolder(t, dbs[0], "/dir", won)
}

// WantFileOrFolder fails t unless path (in org acme, at the root) is
// exactly one of a file and a folder: what is left when saves of path and
// of files below it raced, won of them succeeding.
func WantFileOrFolder(t *testing.T, db store.Files, path string, won int) {
	t.Helper()
	files, folders, _ := db.ListFiles(ctx, "acme", "/")
	hasFile, hasFolder := false, false
	for _, f := range files {
		hasFile = hasFile || f.Path == path
	}
	for _, f := range folders {
		hasFolder = hasFolder || f.Path == path
	}
	if hasFile == hasFolder {
		t.Fatalf("%s is a file: %v, a folder: %v (%d saves won); want exactly one", path, hasFile, hasFolder, won)
	}
}

// TestListFilesPage: a folder's pages, at every size, hold its subfolders
// then its files once each, in ListFiles's order; a cursor of an entry
// that is not there (any more) goes on after where it would be; nested
// files and other folders and orgs never show.
func TestListFilesPage(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	paths := []string{
		"/d/a.prt", "/d/b c.prt", "/d/z.prt", "/d/零件.prt", "/d/sub/x.prt", "/d/sub/deep/y.prt",
		"/d/sub2/x.prt", "/d/sub-x/q.prt", "/d/a/inner.prt", "/d-sibling.prt", "/e/x.prt",
	}
	for _, p := range paths {
		_, err := commit(db, version(p, "jo"), []byte("m"))
		must(t, err)
	}
	_, err := commit(db, store.Version{OrgID: "other", Path: "/d/other.prt"}, []byte("m"))
	must(t, err)
	// In order: folders as their files' paths sort ("sub-x/" before
	// "sub/" before "sub2/"), then files.
	want := []string{
		store.FolderKey("/d/a"), store.FolderKey("/d/sub-x"), store.FolderKey("/d/sub"), store.FolderKey("/d/sub2"),
		store.FileKey("/d/a.prt"), store.FileKey("/d/b c.prt"), store.FileKey("/d/z.prt"), store.FileKey("/d/零件.prt"),
	}
	if files, folders, _ := db.ListFiles(ctx, "acme", "/d"); len(files)+len(folders) != len(want) {
		t.Fatalf("ListFiles: %d files, %d folders; want %d entries", len(files), len(folders), len(want))
	}
	for limit := 1; limit <= len(want)+1; limit++ {
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			files, folders, more, err := db.ListFilesPage(ctx, "acme", "/d", after, limit)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(files) + len(folders); n > limit || (more && n != limit) || pages > len(want) {
				t.Fatalf("limit %d: a page of %d entries, more %v", limit, n, more)
			}
			for _, f := range folders {
				got = append(got, store.FolderKey(f.Path))
			}
			for _, f := range files {
				if f.OrgID != "acme" || f.Head != 1 {
					t.Fatalf("entry %+v", f)
				}
				got = append(got, store.FileKey(f.Path))
			}
			if !more {
				break
			}
			after = got[len(got)-1]
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("limit %d: walked %q\nwant %q", limit, got, want)
		}
	}
	// Cursors of entries that are not there: after where they would sort.
	for _, tc := range []struct {
		after string
		first string
	}{
		{store.FolderKey("/d/b"), store.FolderKey("/d/sub-x")},
		{store.FolderKey("/d/zzz"), store.FileKey("/d/a.prt")},
		{store.FileKey("/d/b"), store.FileKey("/d/b c.prt")},
		{store.FileKey("/d/zzz"), store.FileKey("/d/零件.prt")},
	} {
		files, folders, _, err := db.ListFilesPage(ctx, "acme", "/d", tc.after, 1)
		got := ""
		if len(folders) == 1 {
			got = store.FolderKey(folders[0].Path)
		} else if len(files) == 1 {
			got = store.FileKey(files[0].Path)
		}
		if err != nil || got != tc.first {
			t.Errorf("after %q: %q %v, want %q", tc.after, got, err, tc.first)
		}
	}
	files, folders, more, err := db.ListFilesPage(ctx, "acme", "/empty", "", 10)
	if err != nil || files == nil || folders == nil || len(files)+len(folders) != 0 || more {
		t.Fatalf("an empty folder: %#v %#v %v %v", files, folders, more, err)
	}
	files, folders, _, _ = db.ListFilesPage(ctx, "acme", "/", "", 10)
	if len(folders) != 2 || len(files) != 1 || files[0].Path != "/d-sibling.prt" {
		t.Fatalf("the root: %+v %+v", folders, files)
	}
}
