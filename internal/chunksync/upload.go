// Package chunksync sends chunks where they are missing, written once for
// every upload of iscsdk: a cloud file's save and a compute job's inputs
// (the SDK), a job's outputs (the worker) and a release package (iscctl).
// Chunks are gathered into rounds: the far side is asked which of a
// round's chunks it lacks (have/want), and only those are put, several in
// flight — as many as the measured link's window holds (Meter), or a
// fixed number. A round is sent in the background while the next one is
// gathered, and is asked about as soon as the round before it has started
// its puts. Nothing is sent twice across attempts: an upload that failed
// half-way is simply run again and the far side says what it now has.
package chunksync

import (
	"context"
	"sync"

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
// while the next is gathered. A round asks which of its chunks are
// missing once the round before it has started all its puts, so the
// rounds' puts follow one another with no pause for the last answers of
// a round. Its methods are called from one goroutine.
type Uploader struct {
	ctx    context.Context
	remote Remote
	framer Framer // remote, if it frames chunks
	opt    Options
	head   []byte        // Head's last, reused
	puts   chan struct{} // a place for each put in flight, if Options.Puts bounds them

	batch      []*Chunk
	batchBytes int
	starting   chan struct{}  // closed when the round in the background has started its puts; nil: none
	rounds     sync.WaitGroup // the rounds whose puts are not all done

	mu       sync.Mutex                            // guards what rounds write
	fail     error                                 // the first error of a round
	live     map[*context.CancelCauseFunc]struct{} // the rounds' contexts, canceled by a failure
	inFlight map[chunkstore.ID]int                 // the chunks being put
}

// New starts an upload to r under ctx.
func New(ctx context.Context, r Remote, opt Options) *Uploader {
	if opt.BatchChunks <= 0 || opt.BatchChunks > wire.MaxHaveBatch {
		opt.BatchChunks = wire.MaxHaveBatch
	}
	u := &Uploader{ctx: ctx, remote: r, opt: opt, live: map[*context.CancelCauseFunc]struct{}{}, inFlight: map[chunkstore.ID]int{}}
	u.framer, _ = r.(Framer)
	if opt.Puts > 0 {
		u.puts = make(chan struct{}, opt.Puts)
	}
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

// Wait waits for every round and returns the first error of a round. An
// upload given up on is waited for, so that none of its puts outlives
// it.
func (u *Uploader) Wait() error {
	u.waitStarted()
	u.rounds.Wait()
	return u.err()
}

// waitStarted waits until the round in the background has started all
// its puts.
func (u *Uploader) waitStarted() {
	if u.starting != nil {
		<-u.starting
		u.starting = nil
	}
}

func (u *Uploader) err() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.fail
}

// failed records err as the upload's error if it is the first, and stops
// every round.
func (u *Uploader) failed(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fail == nil {
		u.fail = err
	}
	for cancel := range u.live {
		(*cancel)(err)
	}
}

// startRound starts the batch's round in the background once the
// previous round has started its puts.
func (u *Uploader) startRound() error {
	u.waitStarted()
	if err := u.err(); err != nil || len(u.batch) == 0 {
		return err
	}
	batch := u.batch
	u.batch, u.batchBytes = nil, 0
	ctx, cancel := context.WithCancelCause(u.ctx)
	u.mu.Lock()
	u.live[&cancel] = struct{}{}
	// The chunks being put by earlier rounds are not asked about: they
	// will be stored (or the upload fails), and asked now they would be
	// missing still and put twice.
	ids := make([]string, 0, len(batch))
	for _, c := range batch {
		if u.inFlight[c.ID] == 0 {
			ids = append(ids, c.ID.String())
		}
	}
	u.mu.Unlock()
	started := make(chan struct{})
	u.starting = started
	var puts sync.WaitGroup
	u.rounds.Add(1)
	go func() {
		defer u.rounds.Done()
		err := u.send(ctx, batch, ids, &puts)
		close(started)
		if err != nil {
			u.failed(err)
		}
		puts.Wait()
		u.mu.Lock()
		delete(u.live, &cancel)
		u.mu.Unlock()
		cancel(nil)
	}()
	return nil
}

// send asks which chunks of batch (ids) are missing and starts the puts
// of those, as many in flight as the options allow. The first put that
// fails stops the rest of every round; its error is the upload's.
func (u *Uploader) send(ctx context.Context, batch []*Chunk, ids []string, puts *sync.WaitGroup) error {
	missing, err := u.remote.Missing(ctx, ids)
	if err != nil {
		return err
	}
	want := make(map[string]bool, len(missing))
	for _, id := range missing {
		want[id] = true
	}
	meter := u.opt.Meter
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
		if err := u.acquire(ctx, n); err != nil {
			return err
		}
		u.mu.Lock()
		u.inFlight[c.ID]++
		u.mu.Unlock()
		puts.Add(1)
		go func() {
			defer puts.Done()
			var mark Mark
			if meter != nil {
				mark = meter.Mark()
			}
			err := u.remote.Put(ctx, c)
			u.mu.Lock()
			if u.inFlight[c.ID]--; u.inFlight[c.ID] == 0 {
				delete(u.inFlight, c.ID)
			}
			if err == nil && u.opt.Sent != nil {
				u.opt.Sent(n)
			}
			u.mu.Unlock()
			if err == nil && meter != nil {
				meter.Acked(mark, n)
			}
			u.release(n)
			if err != nil {
				u.failed(err)
			}
		}()
	}
	return nil
}

// acquire waits for a place for a put of n bytes in the window and among
// the puts in flight.
func (u *Uploader) acquire(ctx context.Context, n int64) error {
	if u.puts != nil {
		select {
		case u.puts <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	if m := u.opt.Meter; m != nil {
		if err := m.Acquire(ctx, n); err != nil {
			if u.puts != nil {
				<-u.puts
			}
			return context.Cause(ctx)
		}
	}
	if err := context.Cause(ctx); err != nil {
		u.release(n)
		return err
	}
	return nil
}

func (u *Uploader) release(n int64) {
	if m := u.opt.Meter; m != nil {
		m.Release(n)
	}
	if u.puts != nil {
		<-u.puts
	}
}
