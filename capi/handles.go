package main

import (
	"fmt"
	"sync"

	"github.com/iscsdk/iscsdk/sdk"
)

// clients is the table behind every iscsdk_client* a host holds: the
// pointer is an id in it, never a Go pointer, so a made-up or stale handle
// is an error instead of a crash.
var clients = table{m: map[uintptr]*client{}}

type client struct {
	desk     *sdk.Desk // the C ABI's calls are the Desk's
	poisoned string    // why the client is unusable; set under table.mu
	closing  bool      // shut_out has begun: every other call is refused
}

type table struct {
	mu   sync.Mutex
	last uintptr // ids are never reused
	m    map[uintptr]*client
}

// add stores c and returns its id (never 0).
func (t *table) add(d *sdk.Desk) uintptr {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last++
	t.m[t.last] = &client{desk: d}
	return t.last
}

// get returns the usable client id.
func (t *table) get(id uintptr) (*sdk.Desk, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.lookup(id)
	if err != nil {
		return nil, err
	}
	if c.closing {
		return nil, fmt.Errorf("%w: %#x is being shut out", errInvalidHandle, id)
	}
	if c.poisoned != "" {
		return nil, fmt.Errorf("%w: the client is unusable after an earlier internal error (%s); shut it out", errInternal, c.poisoned)
	}
	return c.desk, nil
}

// beginClose marks id closing, poisoned or not, so that every other call
// with it fails with ISCSDK_E_INVALID_HANDLE, and returns its client;
// first is false for a shut-out already under way. endClose forgets id.
func (t *table) beginClose(id uintptr) (d *sdk.Desk, first bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, err := t.lookup(id)
	if err != nil {
		return nil, false, err
	}
	first, e.closing = !e.closing, true
	return e.desk, first, nil
}

func (t *table) endClose(id uintptr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, id)
}

// poison marks id unusable after a panic: its state can no longer be trusted.
func (t *table) poison(id uintptr, why any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.m[id]; c != nil && c.poisoned == "" {
		c.poisoned = fmt.Sprint(why)
	}
}

func (t *table) lookup(id uintptr) (*client, error) {
	if id == 0 {
		return nil, fmt.Errorf("%w: client is NULL", errInvalidArg)
	}
	c := t.m[id]
	if c == nil {
		return nil, fmt.Errorf("%w: %#x is not a client, or it was shut out", errInvalidHandle, id)
	}
	return c, nil
}
