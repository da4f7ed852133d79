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
	sdk      *sdk.Client
	poisoned string // why the client is unusable; set under table.mu
}

type table struct {
	mu   sync.Mutex
	last uintptr // ids are never reused
	m    map[uintptr]*client
}

// add stores c and returns its id (never 0).
func (t *table) add(c *sdk.Client) uintptr {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last++
	t.m[t.last] = &client{sdk: c}
	return t.last
}

// get returns the usable client id.
func (t *table) get(id uintptr) (*sdk.Client, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.lookup(id)
	if err != nil {
		return nil, err
	}
	if c.poisoned != "" {
		return nil, fmt.Errorf("%w: the client is unusable after an earlier internal error (%s); shut it out", errInternal, c.poisoned)
	}
	return c.sdk, nil
}

// remove takes id out of the table, poisoned or not, so that every later
// call with it fails with ISCSDK_E_INVALID_HANDLE.
func (t *table) remove(id uintptr) (*sdk.Client, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.lookup(id)
	if err != nil {
		return nil, err
	}
	delete(t.m, id)
	return c.sdk, nil
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
