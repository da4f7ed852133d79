package manifest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/iscsdk/iscsdk/internal/chunker"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
)

// A Chunk is one chunk of a stream, as Build hands it to emit.
type Chunk struct {
	ID      chunkstore.ID
	Offset  int64  // of its first byte in the stream
	Data    []byte // its content
	Encoded []byte // its stored form (chunkstore.Encode); nil when BuildKnown's held holds it
}

// Build reads r to its end and returns the File it makes: Size, Hash and
// Chunks; the caller fills in Path, Mode and ModTime. For each chunk, in
// order, it calls emit, unless emit is nil; it stops at the first error emit
// returns, and returns it.
//
// The chunker runs on one goroutine while a pool of GOMAXPROCS workers hashes
// and encodes chunks; a chunk waits for those before it to be emitted. At most
// a few chunks per worker are in flight, so memory is bounded whatever the
// size of the stream (apart from Chunks: 36 bytes per 64 KiB). A Chunk's Data
// and Encoded are valid only during the call to emit: copy them to keep them.
// When emit is nil, chunks are hashed and not encoded.
//
// When ctx is done Build returns its error, once the read in progress, if
// any, has returned.
func Build(ctx context.Context, r io.Reader, emit func(Chunk) error) (File, error) {
	return BuildKnown(ctx, r, nil, emit)
}

// BuildKnown is Build for a stream whose chunks the far side mostly holds
// already — a file saved before and edited since: a chunk for which held
// reports true is hashed, not encoded, and emitted with Encoded nil.
// Encoding is most of a chunk's cost, so a re-save of a large file with a
// small edit chunks and hashes it whole but encodes only what is new.
// held is called from several goroutines at once; nil holds nothing.
func BuildKnown(ctx context.Context, r io.Reader, held func(chunkstore.ID) bool, emit func(Chunk) error) (File, error) {
	workers := runtime.GOMAXPROCS(0)
	// Four chunks per worker keep the workers busy while the first in
	// order is waited for; each holds two pooled buffers of up to 288 KiB
	// (eight per worker held 9 MiB on 2 cores, for no speed).
	window := 4 * workers
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		slots   = make(chan struct{}, window) // a chunk holds a slot until emitted
		jobs    = make(chan *job)
		order   = make(chan *job, window)
		readErr error
		wg      sync.WaitGroup
	)
	wg.Go(func() {
		defer close(order)
		defer close(jobs)
		c := chunker.New(r)
		for {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			ch, err := c.Next()
			if err != nil {
				if err != io.EOF {
					readErr = err
				}
				return
			}
			j := &job{offset: ch.Offset, data: dataBufs.Get().(*[]byte), done: make(chan struct{})}
			*j.data = append((*j.data)[:0], ch.Data...)
			order <- j // never blocks: order has a place for each slot
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	})
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				j.id = chunkstore.Sum(*j.data)
				if emit != nil && (held == nil || !held(j.id)) {
					j.enc = encBufs.Get().(*[]byte)
					*j.enc = chunkstore.AppendEncode((*j.enc)[:0], *j.data)
				}
				close(j.done)
			}
		})
	}

	f, err := collect(ctx, order, slots, emit)
	cancel()
	wg.Wait()
	if err == nil {
		err = readErr
	}
	if err != nil {
		return File{}, fmt.Errorf("manifest: build: %w", err)
	}
	return f, nil
}

// job is one chunk on its way through Build.
type job struct {
	offset int64
	data   *[]byte
	id     chunkstore.ID
	enc    *[]byte       // nil: not encoded (held)
	done   chan struct{} // closed when id and enc are set
}

// Buffers for the chunks in flight: a chunk's copy and its encoding.
var (
	dataBufs = sync.Pool{New: func() any { b := make([]byte, 0, chunker.MaxSize); return &b }}
	encBufs  = sync.Pool{New: func() any { b := make([]byte, 0, 1+chunkstore.MaxChunkSize); return &b }}
)

// collect takes the jobs in order, waits for each, hashes the whole stream,
// emits, and frees the job's buffers and slot.
func collect(ctx context.Context, order <-chan *job, slots <-chan struct{}, emit func(Chunk) error) (File, error) {
	var f File
	h := sha256.New()
	for j := range order {
		select {
		case <-j.done:
		case <-ctx.Done():
			return File{}, ctx.Err()
		}
		data := *j.data
		h.Write(data)
		f.Size += int64(len(data))
		f.Chunks = append(f.Chunks, ChunkRef{ID: j.id, Size: len(data)})
		if emit != nil {
			ch := Chunk{ID: j.id, Offset: j.offset, Data: data}
			if j.enc != nil {
				ch.Encoded = *j.enc
			}
			if err := emit(ch); err != nil {
				return File{}, err
			}
			if j.enc != nil {
				encBufs.Put(j.enc)
			}
		}
		dataBufs.Put(j.data)
		<-slots
	}
	if err := ctx.Err(); err != nil {
		return File{}, err // the chunker stopped early
	}
	h.Sum(f.Hash[:0])
	return f, nil
}
