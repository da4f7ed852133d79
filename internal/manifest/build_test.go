package manifest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/iscsdk/iscsdk/internal/chunker"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"go.uber.org/goleak"
)

// testData returns n bytes that are part random, part repetitive, so that
// some chunks compress and some do not.
func testData(n int) []byte {
	b := make([]byte, n)
	s := uint64(1)
	for i := range b {
		if i/(100<<10)%2 == 0 {
			s = s*6364136223846793005 + 1442695040888963407
			b[i] = byte(s >> 56)
		} else {
			b[i] = "pattern "[i%8]
		}
	}
	return b
}

func TestBuild(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, n := range []int{0, 1, chunker.MinSize, 5<<20 + 17} {
		data := testData(n)
		var emitted []Chunk
		f, err := Build(context.Background(), bytes.NewReader(data), func(c Chunk) error {
			emitted = append(emitted, Chunk{ID: c.ID, Offset: c.Offset, Data: bytes.Clone(c.Data), Encoded: bytes.Clone(c.Encoded)})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if f.Size != int64(n) || f.Hash != sha256.Sum256(data) {
			t.Errorf("%d bytes: size %d, hash %x", n, f.Size, f.Hash)
		}
		ends := chunker.Boundaries(data)
		if len(f.Chunks) != len(ends) || len(emitted) != len(ends) {
			t.Fatalf("%d bytes: %d chunks, %d emitted, want %d", n, len(f.Chunks), len(emitted), len(ends))
		}
		prev := 0
		for i, end := range ends {
			want := data[prev:end]
			c := emitted[i]
			if c.Offset != int64(prev) || !bytes.Equal(c.Data, want) || c.ID != chunkstore.Sum(want) || f.Chunks[i] != (ChunkRef{c.ID, len(want)}) {
				t.Fatalf("%d bytes: chunk %d wrong", n, i)
			}
			if dec, err := chunkstore.Decode(c.Encoded); err != nil || !bytes.Equal(dec, want) {
				t.Fatalf("%d bytes: chunk %d encoding: %v", n, i, err)
			}
			prev = end
		}
		// Without emit, the same File.
		g, err := Build(context.Background(), bytes.NewReader(data), nil)
		if err != nil || g.Hash != f.Hash || !slices.Equal(g.Chunks, f.Chunks) {
			t.Errorf("%d bytes: without emit: %v", n, err)
		}
	}
}

// countingReader counts the bytes read so far.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestBuildBounded checks that reading never runs ahead of emitting by more
// than the chunks in flight and the chunker's buffer: memory does not grow
// with the size of the stream, however slow emit is.
func TestBuildBounded(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := &countingReader{r: io.LimitReader(zeroish{}, 32<<20)}
	// Build's window: 4 chunks in flight per worker, and the chunker's buffer.
	limit := int64(4*runtime.GOMAXPROCS(0)*chunker.MaxSize + 4*chunker.MaxSize)
	var worst int64
	f, err := Build(context.Background(), r, func(c Chunk) error {
		worst = max(worst, r.n.Load()-c.Offset)
		return nil
	})
	if err != nil || f.Size != 32<<20 {
		t.Fatal(f.Size, err)
	}
	t.Logf("read at most %d bytes ahead of emit (bound %d)", worst, limit)
	if worst > limit {
		t.Errorf("read %d bytes ahead of emit, bound %d", worst, limit)
	}
}

// zeroish is an endless stream with cut points.
type zeroish struct{}

func (zeroish) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i * i >> 3)
	}
	return len(p), nil
}

func TestBuildErrors(t *testing.T) {
	defer goleak.VerifyNone(t)
	data := testData(4 << 20)
	stop := errors.New("stop")
	n := 0
	_, err := Build(context.Background(), bytes.NewReader(data), func(Chunk) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("emit error: %v after %d chunks", err, n)
	}

	boom := errors.New("boom")
	_, err = Build(context.Background(), io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom)), nil)
	if !errors.Is(err, boom) {
		t.Errorf("read error: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	_, err = Build(ctx, bytes.NewReader(data), func(Chunk) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

func BenchmarkBuild(b *testing.B) {
	data := testData(64 << 20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Build(context.Background(), bytes.NewReader(data), func(Chunk) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
