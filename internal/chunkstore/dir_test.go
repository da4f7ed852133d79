package chunkstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func newDir(t *testing.T) *Dir {
	t.Helper()
	d, err := NewDir(filepath.Join(t.TempDir(), "chunks"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// files returns the paths of all files under root, relative to it.
func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if !e.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

// TestDirFiles: what the suite checks through the interface, on disk: one
// record in one pack for a chunk put eight times at once, nothing from a
// refused Put.
func TestDirFiles(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	data := []byte(strings.Repeat("flange ", 1000))
	id := Sum(data)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { d.Put(ctx, "acme", id, Encode(data)) })
	}
	wg.Wait()
	d.Put(ctx, "acme", Sum([]byte("something else")), Encode(data))
	d.Put(ctx, "acme", Sum(data), []byte{9, 1, 2})
	if f := files(t, d.root); len(f) != 2 || f[0] != "FORMAT" || f[1] != "acme/packs/00000001.pack" {
		t.Fatalf("files %v, want FORMAT and one pack", f)
	}
	st, _ := os.Stat(filepath.Join(d.root, "acme/packs/00000001.pack"))
	if want := int64(len(packMagic) + recordHeader + len(Encode(data))); st.Size() != want {
		t.Fatalf("the pack has %d bytes, want %d: one record", st.Size(), want)
	}
}

// TestCheckOrg: the suite checks that every call refuses a bad name; here,
// that nothing reached the file system.
func TestCheckOrg(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	data := []byte("x")
	for _, org := range []string{"", ".", "..", "../x", "a/b", `a\b`, "a\x00", ".tmp-1", "é", strings.Repeat("a", 129), "C:"} {
		if err := d.Put(ctx, org, Sum(data), Encode(data)); !errors.Is(err, ErrInvalidOrg) {
			t.Errorf("Put to org %q: %v", org, err)
		}
		if _, err := d.Has(ctx, org, Sum(data)); !errors.Is(err, ErrInvalidOrg) {
			t.Errorf("Has in org %q: %v", org, err)
		}
	}
	for _, org := range []string{"acme", "A-b_c.d", "1", strings.Repeat("a", 128)} {
		if err := CheckOrg(org); err != nil {
			t.Errorf("CheckOrg(%q): %v", org, err)
		}
	}
	if f, _ := os.ReadDir(filepath.Dir(d.root)); len(f) != 1 {
		t.Errorf("something was created beside the root: %v", f)
	}
}

func TestDirWriteFailure(t *testing.T) {
	ctx := context.Background()
	data := []byte(strings.Repeat("boss ", 5000))
	id := Sum(data)
	before := Sum([]byte("put before"))
	for _, tc := range []struct {
		name string
		set  func(d *Dir)
		want error
	}{
		{"disk full", func(d *Dir) {
			d.append = func(f *os.File, b []byte, off int64) error {
				f.WriteAt(b[:len(b)/2], off)
				return &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
			}
		}, ErrNoSpace},
		{"quota", func(d *Dir) {
			d.append = func(f *os.File, b []byte, off int64) error { return syscall.EDQUOT }
		}, ErrNoSpace},
		{"sync", func(d *Dir) {
			d.sync = func(f *os.File) error { return syscall.EIO }
		}, syscall.EIO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDir(t)
			if err := d.Put(ctx, "acme", before, Encode([]byte("put before"))); err != nil {
				t.Fatal(err)
			}
			tc.set(d)
			err := d.Put(ctx, "acme", id, Encode(data))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Put: %v, want %v", err, tc.want)
			}
			t.Log(err)
			if ok, _ := d.Has(ctx, "acme", id); ok {
				t.Error("a failed Put left the chunk visible")
			}
			// Nothing of it is found by the next process either, and
			// what was put before is still there.
			again, err := NewDir(d.root)
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close()
			if ok, _ := again.Has(ctx, "acme", id); ok {
				t.Error("a failed Put left the chunk in the pack")
			}
			if _, err := again.Get(ctx, "acme", before); err != nil {
				t.Errorf("the chunk put before the failure: %v", err)
			}
			// Once the disk has room again, the same Put succeeds.
			d.append, d.sync = writeAt, (*os.File).Sync
			if err := d.Put(ctx, "acme", id, Encode(data)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestListRemovesStaleTemps(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	data := []byte("x")
	id := Sum(data)
	writeOldLayout(t, d, "acme", data)
	dir := d.dir("acme", id)
	old, recent := filepath.Join(dir, tempPrefix+"old"), filepath.Join(dir, tempPrefix+"recent")
	for _, p := range []string{old, recent} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * staleTemp)
	os.Chtimes(old, long, long)
	n := 0
	if err := d.List(ctx, "acme", func(ID, time.Time) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("List: %d chunks, %v", n, err)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Error("stale temporary file kept")
	}
	if _, err := os.Stat(recent); err != nil {
		t.Error("recent temporary file removed: a Put may be writing it")
	}
}
