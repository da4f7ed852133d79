// Package chunksync sends chunks where they are missing, written once for
// every upload of iscsdk: a cloud file's save and a compute job's inputs
// (the SDK), a job's outputs (the worker) and a release package (iscctl).
// Chunks are gathered into rounds: the far side is asked which of a
// round's chunks it lacks (have/want), and only those are put, several in
// flight — as many as the measured link's window holds (Meter), or a
// fixed number. A round is sent in the background while the next one is
// gathered. Nothing is sent twice across attempts: an upload that failed
// half-way is simply run again and the far side says what it now has.
package chunksync

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Remote is the far side of an upload, as its caller reaches it.
type Remote interface {
	// Missing returns those of ids (hex chunk ids) the far side lacks.
	Missing(ctx context.Context, ids []string) ([]string, error)
	// Put stores one chunk there. Puts run concurrently.
	Put(ctx context.Context, c *Chunk) error
}

// A Framer is a Remote whose puts carry each chunk in a frame: Head
// appends what precedes an encoded chunk of size bytes in its frame, so
// the chunk is copied once, into the frame it is sent in.
type Framer interface {
	Head(dst []byte, id chunkstore.ID, size int) ([]byte, error)
}

// Chunk is one chunk to send, held once.
type Chunk struct {
	ID    chunkstore.ID
	frame []byte // Head's bytes, then the encoded chunk
	head  int
}

// Encoded returns the encoded chunk.
func (c *Chunk) Encoded() []byte { return c.frame[c.head:] }

// Frame returns the frame laid out by the Remote's Head (the encoded
// chunk alone when the Remote is no Framer). It is sent by one Put at a
// time, so a Put may write into it (the request id of a frame).
func (c *Chunk) Frame() []byte { return c.frame }

// Options are an upload's measured behaviour, its caller's.
type Options struct {
	// Meter, if set, bounds the bytes of the puts in flight to the
	// link's window, and sizes rounds to half a second of the link (at
	// most BatchBytes); it learns from the puts.
	Meter *Meter
	// BatchBytes bounds a round's encoded bytes (0: no bound but
	// BatchChunks).
	BatchBytes int
	// BatchChunks bounds a round's chunks; 0 or more than
	// wire.MaxHaveBatch is wire.MaxHaveBatch.
	BatchChunks int
	// Puts bounds the puts in flight (0: no bound but the Meter's).
	Puts int
	// Sent, if set, is told the encoded size of each chunk put, one call
	// at a time.
	Sent func(n int64)
}

// Uploader gathers chunks into rounds and sends each in the background
// while the next is gathered. Its methods are called from one goroutine.
type Uploader struct {
	ctx    context.Context
	remote Remote
	framer Framer // remote, if it frames chunks
	opt    Options
	head   []byte // Head's last, reused

	batch      []*Chunk
	batchBytes int
	round      chan struct{} // closed when the round in the background ends; nil: none

	mu   sync.Mutex // guards what rounds write
	fail error      // the first error of a round
}

// New starts an upload to r under ctx.
func New(ctx context.Context, r Remote, opt Options) *Uploader {
	if opt.BatchChunks <= 0 || opt.BatchChunks > wire.MaxHaveBatch {
		opt.BatchChunks = wire.MaxHaveBatch
	}
	u := &Uploader{ctx: ctx, remote: r, opt: opt}
	u.framer, _ = r.(Framer)
	return u
}

// Add takes one chunk of manifest.Build (its Encoded bytes are copied,
// once) and starts a round when the batch is full. It returns the error
// of a round that failed.
func (u *Uploader) Add(ch manifest.Chunk) error {
	var head []byte
	if u.framer != nil {
		var err error
		if head, err = u.framer.Head(u.head[:0], ch.ID, len(ch.Encoded)); err != nil {
			return err
		}
		u.head = head
	}
	c := &Chunk{ID: ch.ID, head: len(head), frame: make([]byte, 0, len(head)+len(ch.Encoded))}
	c.frame = append(append(c.frame, head...), ch.Encoded...)
	u.batch = append(u.batch, c)
	u.batchBytes += len(ch.Encoded)
	limit := u.opt.BatchBytes
	if u.opt.Meter != nil {
		limit = u.opt.Meter.Batch(limit)
	}
	if limit > 0 && u.batchBytes >= limit || len(u.batch) >= u.opt.BatchChunks {
		return u.startRound()
	}
	return nil
}

// Flush sends what is gathered and waits until every round ended.
func (u *Uploader) Flush() error {
	if err := u.startRound(); err != nil {
		return err
	}
	return u.Wait()
}

// Wait waits for the round in the background and returns the first error
// of a round. An upload given up on is waited for, so that none of its
// puts outlives it.
func (u *Uploader) Wait() error {
	if u.round != nil {
		<-u.round
		u.round = nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.fail
}

// startRound starts the batch's round in the background once the
// previous round ended.
func (u *Uploader) startRound() error {
	if err := u.Wait(); err != nil || len(u.batch) == 0 {
		return err
	}
	batch := u.batch
	u.batch, u.batchBytes = nil, 0
	done := make(chan struct{})
	u.round = done
	go func() {
		defer close(done)
		if err := u.send(batch); err != nil {
			u.mu.Lock()
			u.fail = err
			u.mu.Unlock()
		}
	}()
	return nil
}

// send asks which chunks of batch are missing and puts those, as many in
// flight as the options allow. The first put that fails stops the rest;
// its error is the round's.
func (u *Uploader) send(batch []*Chunk) error {
	ids := make([]string, 0, len(batch))
	for _, c := range batch {
		ids = append(ids, c.ID.String())
	}
	missing, err := u.remote.Missing(u.ctx, ids)
	if err != nil {
		return err
	}
	want := make(map[string]bool, len(missing))
	for _, id := range missing {
		want[id] = true
	}
	g, ctx := errgroup.WithContext(u.ctx)
	if u.opt.Puts > 0 {
		g.SetLimit(u.opt.Puts)
	}
	meter := u.opt.Meter
	var stopped error // why no more puts were started
	for i, c := range batch {
		// From here a chunk is held by its put alone, and let go once
		// it is sent: the round's memory shrinks as it goes.
		batch[i] = nil
		id := c.ID.String()
		if !want[id] {
			continue
		}
		delete(want, id) // the same chunk twice in a round: put once
		n := int64(len(c.Encoded()))
		if meter != nil {
			if stopped = meter.Acquire(ctx, n); stopped != nil {
				break
			}
		}
		if stopped = ctx.Err(); stopped != nil {
			if meter != nil {
				meter.Release(n)
			}
			break
		}
		g.Go(func() error {
			var mark Mark
			if meter != nil {
				defer meter.Release(n)
				mark = meter.Mark()
			}
			if err := u.remote.Put(ctx, c); err != nil {
				return err
			}
			if meter != nil {
				meter.Acked(mark, n)
			}
			if u.opt.Sent != nil {
				u.mu.Lock()
				u.opt.Sent(n)
				u.mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err // a put's: the reason the others stopped
	}
	return stopped
}
