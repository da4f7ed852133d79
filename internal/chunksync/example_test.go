package chunksync_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/iscsdk/iscsdk/internal/chunksync"
	"github.com/iscsdk/iscsdk/internal/manifest"
)

// memory is a far side that keeps chunks in a map: a caller's Remote is
// its protocol's have and put requests.
type memory struct {
	mu     sync.Mutex
	chunks map[string][]byte
}

func (m *memory) Missing(_ context.Context, ids []string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, id := range ids {
		if m.chunks[id] == nil {
			out = append(out, id)
		}
	}
	return out, nil
}

func (m *memory) Put(_ context.Context, c *chunksync.Chunk) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.chunks[c.ID.String()] = c.Encoded()
	return nil
}

// A file is chunked (manifest.Build) straight into an Uploader, which
// sends what the far side lacks; the same file sent again sends nothing.
func ExampleUploader() {
	remote := &memory{chunks: map[string][]byte{}}
	file := bytes.Repeat([]byte("a model that repeats itself "), 100_000)
	for range 2 {
		var sent int64
		up := chunksync.New(context.Background(), remote, chunksync.Options{Puts: 4, Sent: func(n int64) { sent += n }})
		f, err := manifest.Build(context.Background(), bytes.NewReader(file), up.Add)
		if err == nil {
			err = up.Flush()
		}
		fmt.Printf("%d bytes, %d chunks, %d encoded bytes sent, %v\n", f.Size, len(f.Chunks), sent, err)
	}
	// Output:
	// 2800000 bytes, 11 chunks, 714 encoded bytes sent, <nil>
	// 2800000 bytes, 11 chunks, 0 encoded bytes sent, <nil>
}
