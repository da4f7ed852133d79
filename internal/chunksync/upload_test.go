package chunksync

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/manifest"
)

// store is a far side keeping chunks in a real chunk store directory; it
// checks every chunk it is given and counts the puts.
type store struct {
	t      *testing.T
	dir    chunkstore.Store
	head   []byte // what a frame holds before its chunk; nil: not a Framer
	put    func(ctx context.Context, c *Chunk) error
	puts   atomic.Int64
	rounds [][]string
	mu     sync.Mutex
}

func newStore(t *testing.T) *store {
	dir, err := chunkstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &store{t: t, dir: dir}
}

func (s *store) Missing(ctx context.Context, ids []string) ([]string, error) {
	s.mu.Lock()
	s.rounds = append(s.rounds, ids)
	s.mu.Unlock()
	var out []string
	for _, hex := range ids {
		id, err := chunkstore.ParseID(hex)
		if err != nil {
			return nil, err
		}
		if ok, err := s.dir.Has(ctx, "org", id); err != nil {
			return nil, err
		} else if !ok {
			out = append(out, hex)
		}
	}
	return out, nil
}

func (s *store) Put(ctx context.Context, c *Chunk) error {
	if s.put != nil {
		if err := s.put(ctx, c); err != nil {
			return err
		}
	}
	if s.head != nil && !bytes.Equal(c.Frame()[:len(c.Frame())-len(c.Encoded())], append(s.head, c.ID[:4]...)) {
		s.t.Errorf("chunk %s: not in the frame Head laid out", c.ID)
	}
	if err := s.dir.Put(ctx, "org", c.ID, c.Encoded()); err != nil {
		return err
	}
	s.puts.Add(1)
	return nil
}

// framed is a store whose chunks travel in frames.
type framed struct{ *store }

func (f framed) Head(dst []byte, id chunkstore.ID, size int) ([]byte, error) {
	return append(append(dst, f.head...), id[:4]...), nil
}

// upload chunks data (as a save does) into u.
func upload(t *testing.T, u *Uploader, data []byte) (manifest.File, error) {
	t.Helper()
	f, err := manifest.Build(t.Context(), bytes.NewReader(data), u.Add)
	if err == nil {
		err = u.Flush()
	} else {
		u.Wait()
	}
	return f, err
}

// data returns n random bytes whose second half repeats the first.
func data(n int) []byte {
	b := make([]byte, n/2)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(b)
	return append(b, b...)
}

func TestOnlyMissingChunksArePutOnce(t *testing.T) {
	s := newStore(t)
	s.head = []byte("frame head ")
	var sent atomic.Int64
	u := New(t.Context(), framed{s}, Options{BatchChunks: 5, Puts: 3, Sent: func(n int64) { sent.Add(n) }})
	b := data(6 << 20)
	f, err := upload(t, u, b)
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[chunkstore.ID]bool{}
	var encoded int64
	for _, c := range f.Chunks {
		if !distinct[c.ID] {
			if ok, _ := s.dir.Has(t.Context(), "org", c.ID); !ok {
				t.Fatalf("chunk %s was not stored", c.ID)
			}
			enc, _ := s.dir.Get(t.Context(), "org", c.ID)
			encoded += int64(len(enc))
		}
		distinct[c.ID] = true
	}
	if got := s.puts.Load(); got != int64(len(distinct)) || len(distinct) >= len(f.Chunks) {
		t.Fatalf("%d puts for %d distinct chunks of %d", got, len(distinct), len(f.Chunks))
	}
	if sent.Load() != encoded {
		t.Fatalf("Sent told %d bytes, the chunks are %d", sent.Load(), encoded)
	}
	for _, r := range s.rounds {
		if len(r) > 5 {
			t.Fatalf("a round of %d chunks, more than BatchChunks", len(r))
		}
	}
	// Saved again: every chunk is there, nothing is put.
	s.puts.Store(0)
	if _, err := upload(t, New(t.Context(), framed{s}, Options{}), b); err != nil || s.puts.Load() != 0 {
		t.Fatalf("saved again: %d puts, %v", s.puts.Load(), err)
	}
}

func TestPutsInFlightAreBounded(t *testing.T) {
	const limit = 3
	s := newStore(t)
	var inFlight, most, started atomic.Int64
	entered := make(chan struct{}, limit)
	gate := make(chan struct{})
	// The first puts are held until limit of them are in: were puts not
	// bounded, the next ones would start meanwhile.
	s.put = func(context.Context, *Chunk) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if started.Add(1) <= limit {
			entered <- struct{}{}
			<-gate
		}
		return nil
	}
	done := make(chan error, 1)
	go func() { _, err := upload(t, New(t.Context(), s, Options{Puts: limit}), data(4<<20)); done <- err }()
	for range limit {
		<-entered
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if most.Load() != limit || started.Load() <= limit {
		t.Fatalf("%d puts in flight at most (of %d), want %d", most.Load(), started.Load(), limit)
	}
}

func TestMeterBoundsBytesInFlight(t *testing.T) {
	s := newStore(t)
	m := &Meter{}
	var inFlight, most atomic.Int64
	s.put = func(_ context.Context, c *Chunk) error {
		n := inFlight.Add(int64(len(c.Encoded())))
		for v := most.Load(); n > v && !most.CompareAndSwap(v, n); v = most.Load() {
		}
		defer inFlight.Add(-int64(len(c.Encoded())))
		return nil
	}
	if _, err := upload(t, New(t.Context(), s, Options{Meter: m, BatchBytes: 8 << 20}), data(8<<20)); err != nil {
		t.Fatal(err)
	}
	// One chunk always goes, so the window may be passed by at most one.
	if w := m.Window(); most.Load() > max(w, startWindow)+chunkstore.MaxEncodedSize {
		t.Fatalf("%d bytes in flight, the window is %d", most.Load(), w)
	}
	if m.Window() == startWindow {
		t.Fatal("the meter learnt nothing from the puts")
	}
}

func TestAFailedPutFailsTheUploadAndARunAgainSendsTheRest(t *testing.T) {
	s := newStore(t)
	dropped := errors.New("connection dropped")
	var n atomic.Int64
	s.put = func(ctx context.Context, c *Chunk) error {
		if n.Add(1) == 7 {
			return dropped
		}
		return nil
	}
	b := data(6 << 20)
	if _, err := upload(t, New(t.Context(), s, Options{Puts: 2, BatchChunks: 4}), b); !errors.Is(err, dropped) {
		t.Fatalf("the upload whose put failed: %v", err)
	}
	if s.puts.Load() == 0 {
		t.Fatal("nothing was stored before the failure")
	}
	s.put = nil
	f, err := upload(t, New(t.Context(), s, Options{Puts: 2}), b)
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[chunkstore.ID]bool{}
	for _, c := range f.Chunks {
		distinct[c.ID] = true
	}
	if total := s.puts.Load(); total != int64(len(distinct)) {
		t.Fatalf("%d puts over both runs for %d distinct chunks: something was sent twice", total, len(distinct))
	}
}
