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

func TestDirPutGet(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	data := []byte(strings.Repeat("flange ", 1000))
	id := Sum(data)
	if ok, err := d.Has(ctx, "acme", id); ok || err != nil {
		t.Fatalf("Has before Put: %v, %v", ok, err)
	}
	if _, err := d.Get(ctx, "acme", id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before Put: %v", err)
	}
	enc := Encode(data)
	for range 2 { // the second Put finds the chunk there
		if err := d.Put(ctx, "acme", id, enc); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := d.Has(ctx, "acme", id); !ok || err != nil {
		t.Fatalf("Has after Put: %v, %v", ok, err)
	}
	got, err := d.Get(ctx, "acme", id)
	if err != nil || string(got) != string(enc) {
		t.Fatalf("Get: %v", err)
	}
	want := "acme/" + id.String()[:2] + "/" + id.String()
	if f := files(t, d.root); len(f) != 1 || f[0] != want {
		t.Fatalf("files %v, want [%s]", f, want)
	}

	// Another organisation shares nothing.
	if ok, _ := d.Has(ctx, "other", id); ok {
		t.Error("chunk of acme visible to other")
	}
	if _, err := d.Get(ctx, "other", id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get from other: %v", err)
	}
}

func TestDirVerifies(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	data := []byte("the real content")
	claimed := Sum([]byte("something else"))
	err := d.Put(ctx, "acme", claimed, Encode(data))
	var me *MismatchError
	if !errors.As(err, &me) || !errors.Is(err, ErrMismatch) || me.Claimed != claimed || me.Actual != Sum(data) {
		t.Fatalf("Put with a wrong id: %v", err)
	}
	if err := d.Put(ctx, "acme", Sum(data), []byte{9, 1, 2}); !errors.Is(err, ErrEncoding) {
		t.Fatalf("Put with a bad encoding: %v", err)
	}
	if f := files(t, d.root); len(f) != 0 {
		t.Fatalf("refused chunks left files: %v", f)
	}
}

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
	for _, tc := range []struct {
		name string
		set  func(d *Dir)
		want error
	}{
		{"disk full", func(d *Dir) {
			d.write = func(f *os.File, b []byte) error {
				f.Write(b[:len(b)/2])
				return &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
			}
		}, ErrNoSpace},
		{"quota", func(d *Dir) {
			d.write = func(f *os.File, b []byte) error { return syscall.EDQUOT }
		}, ErrNoSpace},
		{"sync", func(d *Dir) {
			d.write = func(f *os.File, b []byte) error { f.Write(b); return syscall.EIO }
		}, syscall.EIO},
		{"rename", func(d *Dir) {
			d.rename = func(from, to string) error { return syscall.EXDEV }
		}, syscall.EXDEV},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDir(t)
			tc.set(d)
			err := d.Put(ctx, "acme", id, Encode(data))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Put: %v, want %v", err, tc.want)
			}
			t.Log(err)
			if f := files(t, d.root); len(f) != 0 {
				t.Errorf("a failed Put left %v", f)
			}
			if ok, _ := d.Has(ctx, "acme", id); ok {
				t.Error("a failed Put left the chunk visible")
			}
			// Once the disk has room again, the same Put succeeds.
			fresh := newDir(t)
			d.write, d.rename = fresh.write, fresh.rename
			if err := d.Put(ctx, "acme", id, Encode(data)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDirConcurrentPut(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	data := []byte(strings.Repeat("gear ", 10000))
	id, enc := Sum(data), Encode(data)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() { errs <- d.Put(ctx, "acme", id, enc) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if f := files(t, d.root); len(f) != 1 {
		t.Fatalf("files after concurrent Puts: %v", f)
	}
	if got, err := d.Get(ctx, "acme", id); err != nil || string(got) != string(enc) {
		t.Fatalf("Get: %v", err)
	}
}

// clock is a settable time for a Dir.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func TestGC(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	clk := &clock{}
	d.now = clk.now
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cutoff := t0.Add(time.Hour)
	put := func(s string, at time.Time) ID {
		clk.set(at)
		data := []byte(s)
		if err := d.Put(ctx, "acme", Sum(data), Encode(data)); err != nil {
			t.Fatal(err)
		}
		return Sum(data)
	}
	dead := put("dead: no version has it", t0)
	live := put("live: a version has it", t0)
	inFlight := put("put by an upload in flight", cutoff.Add(time.Minute))
	reused := put("dead, then found by an upload in flight", t0)
	other := func() ID { // the same dead content in another organisation
		clk.set(t0)
		data := []byte("dead: no version has it")
		if err := d.Put(ctx, "other", Sum(data), Encode(data)); err != nil {
			t.Fatal(err)
		}
		return Sum(data)
	}()

	clk.set(cutoff.Add(2 * time.Minute))
	if ok, _ := d.Has(ctx, "acme", reused); !ok {
		t.Fatal("reused chunk missing")
	}

	st, err := GC(ctx, d, "acme", func(id ID) bool { return id == live }, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if st != (GCStats{Chunks: 4, Live: 1, Recent: 2, Deleted: 1}) {
		t.Errorf("stats %+v", st)
	}
	for id, want := range map[ID]bool{dead: false, live: true, inFlight: true, reused: true} {
		if ok, _ := d.Has(ctx, "acme", id); ok != want {
			t.Errorf("after GC, Has(%s) = %v, want %v", id, ok, want)
		}
	}
	if ok, _ := d.Has(ctx, "other", other); !ok {
		t.Error("GC of acme deleted a chunk of another organisation")
	}
}

func TestDeleteAfterTouch(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	d.now = clk.now
	data := []byte("listed by GC, then found by an upload")
	id := Sum(data)
	if err := d.Put(ctx, "acme", id, Encode(data)); err != nil {
		t.Fatal(err)
	}
	cutoff := clk.now().Add(time.Hour)
	err := d.List(ctx, "acme", func(got ID, tm time.Time) error {
		clk.set(cutoff.Add(time.Minute))
		d.Has(ctx, "acme", got) // the upload, between List and Delete
		deleted, err := d.Delete(ctx, "acme", got, cutoff)
		if deleted {
			t.Error("Delete removed a chunk touched after the cut-off")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if deleted, err := d.Delete(ctx, "acme", id, cutoff.Add(time.Hour)); !deleted || err != nil {
		t.Fatalf("Delete with a later cut-off: %v, %v", deleted, err)
	}
}

func TestListRemovesStaleTemps(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	data := []byte("x")
	id := Sum(data)
	if err := d.Put(ctx, "acme", id, Encode(data)); err != nil {
		t.Fatal(err)
	}
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

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := newDir(t)
	if err := d.Put(ctx, "acme", Sum(nil), Encode(nil)); !errors.Is(err, context.Canceled) {
		t.Errorf("Put: %v", err)
	}
	if _, err := GC(ctx, d, "acme", func(ID) bool { return true }, time.Now()); !errors.Is(err, context.Canceled) {
		t.Errorf("GC: %v", err)
	}
}
