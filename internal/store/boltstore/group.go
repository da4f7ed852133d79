package boltstore

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// group commits write functions together, as bbolt's Batch does, but
// without Batch's wait: a call that finds no commit running commits at
// once, and the calls that arrive while a commit runs share the next one
// (one fsync for a burst). bbolt's Batch waits MaxBatchDelay for company
// even when there is none: for a lone pushed event that wait was half of
// its latency (docs/benchmarks.md).
//
// As with Batch, a function may run more than once: when another function
// of its group fails, the others are run again without it.
type group struct {
	db      *bolt.DB
	mu      sync.Mutex
	pending []groupCall
	running bool
}

type groupCall struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// do runs fn in a write transaction shared with the calls around it and
// returns fn's error, or the transaction's.
func (g *group) do(fn func(*bolt.Tx) error) error {
	c := groupCall{fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	if !g.running {
		g.running = true
		g.mu.Unlock()
		g.lead()
	} else {
		g.mu.Unlock()
	}
	return <-c.done
}

// lead commits what is pending, one transaction at a time, until nothing
// is: one group for the calls that arrived during the previous commit.
func (g *group) lead() {
	for {
		g.mu.Lock()
		calls := g.pending
		g.pending = nil
		if len(calls) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.commit(calls)
	}
}

// commit runs calls in one transaction. If one fails, it gets its error
// from a transaction of its own and the others are committed again
// without it.
func (g *group) commit(calls []groupCall) {
	failed := -1
	err := g.db.Update(func(tx *bolt.Tx) error {
		for i, c := range calls {
			if err := c.fn(tx); err != nil {
				failed = i
				return err
			}
		}
		return nil
	})
	if failed < 0 {
		for _, c := range calls {
			c.done <- err
		}
		return
	}
	c := calls[failed]
	c.done <- g.db.Update(c.fn)
	if rest := append(calls[:failed:failed], calls[failed+1:]...); len(rest) > 0 {
		g.commit(rest)
	}
}
