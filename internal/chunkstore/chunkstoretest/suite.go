// Package chunkstoretest is the behavioural test suite that every
// chunkstore.Store passes: the filesystem one and the object store one run
// the same checks.
package chunkstoretest

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
)

// Open returns a new, empty store for one test whose chunk times come from
// now. The store is the test's own: no other test sees its chunks.
type Open func(t *testing.T, now func() time.Time) chunkstore.Store

// Run runs the suite against the stores that open makes, each check as a
// subtest.
func Run(t *testing.T, open Open) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Open)
	}{
		{"PutGet", testPutGet},
		{"Verifies", testVerifies},
		{"InvalidOrg", testInvalidOrg},
		{"Sizes", testSizes},
		{"ConcurrentPut", testConcurrentPut},
		{"List", testList},
		{"GC", testGC},
		{"DeleteAfterTouch", testDeleteAfterTouch},
		{"Canceled", testCanceled},
		{"HasAll", testHasAll},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// Clock is a settable time.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Set sets the clock's time.
func (c *Clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// list returns the chunks of org and their times.
func list(t *testing.T, s chunkstore.Store, org string) map[chunkstore.ID]time.Time {
	t.Helper()
	out := map[chunkstore.ID]time.Time{}
	err := s.List(context.Background(), org, func(id chunkstore.ID, tm time.Time) error {
		if _, dup := out[id]; dup {
			t.Errorf("List reported %s twice", id)
		}
		out[id] = tm
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return out
}

func testPutGet(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Now)
	data := []byte(strings.Repeat("flange ", 1000))
	id := chunkstore.Sum(data)
	if ok, err := s.Has(ctx, "acme", id); ok || err != nil {
		t.Fatalf("Has before Put: %v, %v", ok, err)
	}
	if _, err := s.Get(ctx, "acme", id); !errors.Is(err, chunkstore.ErrNotFound) {
		t.Fatalf("Get before Put: %v", err)
	}
	enc := chunkstore.Encode(data)
	for range 2 { // the second Put finds the chunk there
		if err := s.Put(ctx, "acme", id, enc); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := s.Has(ctx, "acme", id); !ok || err != nil {
		t.Fatalf("Has after Put: %v, %v", ok, err)
	}
	got, err := s.Get(ctx, "acme", id)
	if err != nil || string(got) != string(enc) {
		t.Fatalf("Get: %v", err)
	}
	if l := list(t, s, "acme"); len(l) != 1 {
		t.Fatalf("List after two Puts of one chunk: %v", l)
	}

	// Another organisation shares nothing.
	if ok, _ := s.Has(ctx, "other", id); ok {
		t.Error("chunk of acme visible to other")
	}
	if _, err := s.Get(ctx, "other", id); !errors.Is(err, chunkstore.ErrNotFound) {
		t.Errorf("Get from other: %v", err)
	}
	if l := list(t, s, "other"); len(l) != 0 {
		t.Errorf("List of other: %v", l)
	}
	// A name that extends another's is another organisation.
	if l := list(t, s, "acm"); len(l) != 0 {
		t.Errorf("List of acm: %v", l)
	}
}

func testVerifies(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Now)
	data := []byte("the real content")
	claimed := chunkstore.Sum([]byte("something else"))
	err := s.Put(ctx, "acme", claimed, chunkstore.Encode(data))
	var me *chunkstore.MismatchError
	if !errors.As(err, &me) || !errors.Is(err, chunkstore.ErrMismatch) || me.Claimed != claimed || me.Actual != chunkstore.Sum(data) {
		t.Fatalf("Put with a wrong id: %v", err)
	}
	if err := s.Put(ctx, "acme", chunkstore.Sum(data), []byte{9, 1, 2}); !errors.Is(err, chunkstore.ErrEncoding) {
		t.Fatalf("Put with a bad encoding: %v", err)
	}
	if ok, _ := s.Has(ctx, "acme", claimed); ok {
		t.Error("a refused chunk is visible")
	}
	if l := list(t, s, "acme"); len(l) != 0 {
		t.Fatalf("refused chunks are listed: %v", l)
	}
}

func testInvalidOrg(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Now)
	data := []byte("x")
	id := chunkstore.Sum(data)
	for _, org := range []string{"", ".", "..", "../x", "a/b", `a\b`, "a\x00", ".tmp-1", "é", strings.Repeat("a", 129), "C:", "a?b", "a b"} {
		if err := s.Put(ctx, org, id, chunkstore.Encode(data)); !errors.Is(err, chunkstore.ErrInvalidOrg) {
			t.Errorf("Put to org %q: %v", org, err)
		}
		if _, err := s.Has(ctx, org, id); !errors.Is(err, chunkstore.ErrInvalidOrg) {
			t.Errorf("Has in org %q: %v", org, err)
		}
		if _, err := s.Get(ctx, org, id); !errors.Is(err, chunkstore.ErrInvalidOrg) {
			t.Errorf("Get in org %q: %v", org, err)
		}
		if _, err := s.Delete(ctx, org, id, time.Now()); !errors.Is(err, chunkstore.ErrInvalidOrg) {
			t.Errorf("Delete in org %q: %v", org, err)
		}
		if err := s.List(ctx, org, func(chunkstore.ID, time.Time) error { return nil }); !errors.Is(err, chunkstore.ErrInvalidOrg) {
			t.Errorf("List of org %q: %v", org, err)
		}
	}
}

// testSizes: the empty chunk and the largest one round-trip; a larger one is
// refused.
func testSizes(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Now)
	big := make([]byte, chunkstore.MaxChunkSize)
	for i := range big {
		big[i] = byte(i*7919 + i>>8) // compresses badly: stored raw, MaxEncodedSize bytes
	}
	for _, data := range [][]byte{nil, big} {
		id, enc := chunkstore.Sum(data), chunkstore.Encode(data)
		if err := s.Put(ctx, "acme", id, enc); err != nil {
			t.Fatalf("Put of %d bytes: %v", len(data), err)
		}
		got, err := s.Get(ctx, "acme", id)
		if err != nil || string(got) != string(enc) {
			t.Fatalf("Get of %d bytes: %d bytes, %v", len(data), len(got), err)
		}
	}
	over := append(big, 1)
	if err := s.Put(ctx, "acme", chunkstore.Sum(over), chunkstore.Encode(over)); !errors.Is(err, chunkstore.ErrTooLarge) {
		t.Fatalf("Put of a chunk over MaxChunkSize: %v", err)
	}
}

func testConcurrentPut(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Now)
	data := []byte(strings.Repeat("gear ", 10000))
	id, enc := chunkstore.Sum(data), chunkstore.Encode(data)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() { errs <- s.Put(ctx, "acme", id, enc) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if l := list(t, s, "acme"); len(l) != 1 {
		t.Fatalf("List after concurrent Puts: %v", l)
	}
	if got, err := s.Get(ctx, "acme", id); err != nil || string(got) != string(enc) {
		t.Fatalf("Get: %v", err)
	}
}

// testList: every chunk once, with the time it was put or last found.
func testList(t *testing.T, open Open) {
	ctx := context.Background()
	clk := &Clock{t: t0}
	s := open(t, clk.Now)
	want := map[chunkstore.ID]time.Time{}
	for i := range 40 {
		clk.Set(t0.Add(time.Duration(i) * time.Hour))
		data := []byte(strings.Repeat("rib ", i))
		id := chunkstore.Sum(data)
		if err := s.Put(ctx, "acme", id, chunkstore.Encode(data)); err != nil {
			t.Fatal(err)
		}
		want[id] = clk.Now()
	}
	// A chunk found by Has a day later has that time.
	clk.Set(t0.Add(100 * time.Hour))
	first := chunkstore.Sum(nil)
	if ok, err := s.Has(ctx, "acme", first); !ok || err != nil {
		t.Fatalf("Has: %v, %v", ok, err)
	}
	want[first] = clk.Now()
	got := list(t, s, "acme")
	if len(got) != len(want) {
		t.Fatalf("List: %d chunks, want %d", len(got), len(want))
	}
	for id, tm := range want {
		if !got[id].Equal(tm) {
			t.Errorf("List: %s at %v, want %v", id, got[id], tm)
		}
	}
	// fn's error stops List and is returned.
	stop := errors.New("enough")
	n := 0
	err := s.List(ctx, "acme", func(chunkstore.ID, time.Time) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("List with fn failing: %d calls, %v", n, err)
	}
	// Deleting what is not there is not an error.
	if ok, err := s.Delete(ctx, "acme", chunkstore.Sum([]byte("never put")), clk.Now()); ok || err != nil {
		t.Errorf("Delete of a chunk not stored: %v, %v", ok, err)
	}
}

func testGC(t *testing.T, open Open) {
	ctx := context.Background()
	clk := &Clock{}
	s := open(t, clk.Now)
	cutoff := t0.Add(time.Hour)
	put := func(org, content string, at time.Time) chunkstore.ID {
		clk.Set(at)
		data := []byte(content)
		if err := s.Put(ctx, org, chunkstore.Sum(data), chunkstore.Encode(data)); err != nil {
			t.Fatal(err)
		}
		return chunkstore.Sum(data)
	}
	dead := put("acme", "dead: no version has it", t0)
	live := put("acme", "live: a version has it", t0)
	inFlight := put("acme", "put by an upload in flight", cutoff.Add(time.Minute))
	reused := put("acme", "dead, then found by an upload in flight", t0)
	other := put("other", "dead: no version has it", t0) // the same dead content in another organisation

	clk.Set(cutoff.Add(2 * time.Minute))
	if ok, _ := s.Has(ctx, "acme", reused); !ok {
		t.Fatal("reused chunk missing")
	}

	st, err := chunkstore.GC(ctx, s, "acme", func(id chunkstore.ID) bool { return id == live }, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if st != (chunkstore.GCStats{Chunks: 4, Live: 1, Recent: 2, Deleted: 1}) {
		t.Errorf("stats %+v", st)
	}
	for id, want := range map[chunkstore.ID]bool{dead: false, live: true, inFlight: true, reused: true} {
		if ok, _ := s.Has(ctx, "acme", id); ok != want {
			t.Errorf("after GC, Has(%s) = %v, want %v", id, ok, want)
		}
	}
	if _, err := s.Get(ctx, "acme", dead); !errors.Is(err, chunkstore.ErrNotFound) {
		t.Errorf("Get of a collected chunk: %v", err)
	}
	if ok, _ := s.Has(ctx, "other", other); !ok {
		t.Error("GC of acme deleted a chunk of another organisation")
	}
	// A collected chunk can be put again.
	put("acme", "dead: no version has it", clk.Now())
	if ok, _ := s.Has(ctx, "acme", dead); !ok {
		t.Error("a collected chunk put again is missing")
	}
}

// testDeleteAfterTouch: a chunk that GC listed as old, then an upload found
// (Has), is not deleted.
func testDeleteAfterTouch(t *testing.T, open Open) {
	ctx := context.Background()
	clk := &Clock{t: t0}
	s := open(t, clk.Now)
	data := []byte("listed by GC, then found by an upload")
	id := chunkstore.Sum(data)
	if err := s.Put(ctx, "acme", id, chunkstore.Encode(data)); err != nil {
		t.Fatal(err)
	}
	cutoff := clk.Now().Add(time.Hour)
	err := s.List(ctx, "acme", func(got chunkstore.ID, tm time.Time) error {
		clk.Set(cutoff.Add(time.Minute))
		if ok, err := s.Has(ctx, "acme", got); !ok || err != nil { // the upload, between List and Delete
			t.Errorf("Has: %v, %v", ok, err)
		}
		deleted, err := s.Delete(ctx, "acme", got, cutoff)
		if deleted {
			t.Error("Delete removed a chunk touched after the cut-off")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "acme", id); err != nil || len(got) == 0 {
		t.Fatalf("Get after the touch: %v", err)
	}
	if deleted, err := s.Delete(ctx, "acme", id, cutoff.Add(time.Hour)); !deleted || err != nil {
		t.Fatalf("Delete with a later cut-off: %v, %v", deleted, err)
	}
	if ok, _ := s.Has(ctx, "acme", id); ok {
		t.Fatal("a deleted chunk is still there")
	}
}

func testCanceled(t *testing.T, open Open) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := open(t, time.Now)
	if err := s.Put(ctx, "acme", chunkstore.Sum(nil), chunkstore.Encode(nil)); !errors.Is(err, context.Canceled) {
		t.Errorf("Put: %v", err)
	}
	if _, err := s.Has(ctx, "acme", chunkstore.Sum(nil)); !errors.Is(err, context.Canceled) {
		t.Errorf("Has: %v", err)
	}
	if _, err := chunkstore.GC(ctx, s, "acme", func(chunkstore.ID) bool { return true }, time.Now()); !errors.Is(err, context.Canceled) {
		t.Errorf("GC: %v", err)
	}
}

// HasAll and Missing answer many ids at once, in their order, an id
// listed twice both times; another organisation's chunks are not held;
// a canceled context fails the call.
func testHasAll(t *testing.T, open Open) {
	ctx := context.Background()
	s := open(t, time.Now)
	var ids []chunkstore.ID
	for i := range 3 * chunkstore.HasConcurrency {
		data := []byte(strings.Repeat("rib "+strconv.Itoa(i)+" ", 100))
		id := chunkstore.Sum(data)
		if i%3 == 0 {
			if err := s.Put(ctx, "acme", id, chunkstore.Encode(data)); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, id)
	}
	ids = append(ids, ids[0], ids[1]) // held, and not, a second time
	have, err := chunkstore.HasAll(ctx, s, "acme", ids)
	if err != nil || len(have) != len(ids) {
		t.Fatalf("HasAll: %d answers for %d ids, %v", len(have), len(ids), err)
	}
	for i, ok := range have {
		if want := i%3 == 0 && i < 3*chunkstore.HasConcurrency || i == len(ids)-2; ok != want {
			t.Errorf("HasAll: id %d held %v, want %v", i, ok, want)
		}
	}
	missing, err := chunkstore.Missing(ctx, s, "acme", ids[:6])
	if err != nil || strings.Join(missing, " ") != strings.Join([]string{ids[1].String(), ids[2].String(), ids[4].String(), ids[5].String()}, " ") {
		t.Errorf("Missing: %v, %v", missing, err)
	}
	if missing, err := chunkstore.Missing(ctx, s, "other", ids[:1]); err != nil || len(missing) != 1 {
		t.Errorf("Missing for another organisation: %v, %v", missing, err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := chunkstore.HasAll(canceled, s, "acme", ids); !errors.Is(err, context.Canceled) {
		t.Errorf("HasAll with a canceled context: %v", err)
	}
}
