package transport

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/semaphore"

	"github.com/iscsdk/iscsdk/internal/wire"
)

// Budget bounds bytes that connections hold in memory: the received
// messages not yet processed (Options.Budget, Options.ConnBudget), or the
// messages queued for sending (Options.Sends, Options.SendBudget). A
// connection that would pass a receive budget stops reading until bytes
// come back: the peer's TCP window fills and its writes wait
// (backpressure), nothing is refused; one that would pass a send budget
// makes Send wait.
//
// A message to receive is weighed before it is read at the most it may be
// (the read limit of its kind) and, once read, at its size: a reader
// waiting for the budget holds none of it, so readers never wait for each
// other's partial messages.
type Budget struct {
	size int64
	sem  *semaphore.Weighted
	used atomic.Int64

	mu     sync.Mutex
	peak   int64 // the most held since the budget was last idle
	onIdle func(peak int64)
}

// NewBudget returns a budget of size bytes; size <= 0 means no bound. A
// budget holds one message of the largest kind at least: a smaller size is
// raised to wire.MaxBinaryMessage.
func NewBudget(size int64) *Budget {
	b := &Budget{size: size}
	if size > 0 {
		b.size = max(size, wire.MaxBinaryMessage)
		b.sem = semaphore.NewWeighted(b.size)
	}
	return b
}

// Size is the budget's bound in bytes (0: none).
func (b *Budget) Size() int64 { return b.size }

// Used is the bytes held now.
func (b *Budget) Used() int64 { return b.used.Load() }

// OnIdle has fn called, in a goroutine of its own, each time the bytes
// held fall back to zero, with the most that was held meanwhile. iscd uses
// it to return memory to the system after a burst.
func (b *Budget) OnIdle(fn func(peak int64)) {
	b.mu.Lock()
	b.onIdle = fn
	b.mu.Unlock()
}

func (b *Budget) acquire(ctx context.Context, n int64) error {
	if b == nil || n <= 0 {
		return nil
	}
	if b.sem != nil {
		if err := b.sem.Acquire(ctx, n); err != nil {
			return err
		}
	}
	used := b.used.Add(n)
	b.mu.Lock()
	b.peak = max(b.peak, used)
	b.mu.Unlock()
	return nil
}

func (b *Budget) release(n int64) {
	if b == nil || n <= 0 {
		return
	}
	if b.sem != nil {
		b.sem.Release(n)
	}
	if b.used.Add(-n) != 0 {
		return
	}
	b.mu.Lock()
	fn, peak := b.onIdle, b.peak
	b.peak = 0
	b.mu.Unlock()
	if fn != nil && peak > 0 {
		go fn(peak)
	}
}
