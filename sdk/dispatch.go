package sdk

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"sync"
)

// MaxQueuedEvents bounds the events waiting for the host. When the host
// neither registers a callback nor polls, the oldest events are dropped
// beyond this (and the drop is logged).
const MaxQueuedEvents = 4096

// dispatcher hands events to the host one at a time, in order: to the
// registered callback on its own goroutine (locked to one OS thread), or to
// PollEvent while no callback is registered.
type dispatcher struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change
	queue   []Event
	fn      func(Event)
	closed  bool
	running bool  // a callback is in progress
	goid    int64 // the dispatcher goroutine's id, for re-entrant calls
	dropped int
	done    chan struct{}
	onPanic func(any)
}

func newDispatcher(onPanic func(any)) *dispatcher {
	d := &dispatcher{changed: make(chan struct{}), done: make(chan struct{}), onPanic: onPanic}
	go d.loop()
	return d
}

// broadcast must be called with mu held.
func (d *dispatcher) broadcast() {
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *dispatcher) push(e Event) (dropped bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	if len(d.queue) >= MaxQueuedEvents {
		d.queue = d.queue[1:]
		d.dropped++
		dropped = true
	}
	d.queue = append(d.queue, e)
	d.broadcast()
	return dropped
}

func (d *dispatcher) loop() {
	runtime.LockOSThread() // callbacks always arrive on the same thread
	defer runtime.UnlockOSThread()
	defer close(d.done)
	d.mu.Lock()
	d.goid = curGoroutineID()
	for {
		for !d.closed && (d.fn == nil || len(d.queue) == 0) {
			ch := d.changed
			d.mu.Unlock()
			<-ch
			d.mu.Lock()
		}
		if d.closed {
			d.mu.Unlock()
			return
		}
		e, fn := d.queue[0], d.fn
		d.queue[0] = Event{}
		d.queue = d.queue[1:]
		d.running = true
		d.mu.Unlock()

		d.call(fn, e)

		d.mu.Lock()
		d.running = false
		d.broadcast()
	}
}

func (d *dispatcher) call(fn func(Event), e Event) {
	defer func() {
		if r := recover(); r != nil && d.onPanic != nil {
			d.onPanic(r)
		}
	}()
	fn(e)
}

func (d *dispatcher) inCallback() bool {
	d.mu.Lock()
	running, id := d.running, d.goid
	d.mu.Unlock()
	return running && id == curGoroutineID()
}

// setCallback installs fn (nil: queue for poll) and waits until a callback
// in progress with the previous function has returned, unless it is called
// from that callback.
func (d *dispatcher) setCallback(fn func(Event)) {
	reentrant := d.inCallback()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fn = fn
	d.broadcast()
	for d.running && !reentrant && !d.closed {
		ch := d.changed
		d.mu.Unlock()
		<-ch
		d.mu.Lock()
	}
}

// poll waits for the next event while no callback is registered.
func (d *dispatcher) poll(ctx context.Context) (Event, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		switch {
		case d.closed:
			return Event{}, ErrShutOut
		case d.fn != nil:
			return Event{}, ErrCallbackRegistered
		case len(d.queue) > 0:
			e := d.queue[0]
			d.queue[0] = Event{}
			d.queue = d.queue[1:]
			return e, nil
		}
		ch := d.changed
		d.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			d.mu.Lock()
			return Event{}, ErrTimeout
		}
		d.mu.Lock()
	}
}

// close stops delivery. Queued events are discarded. Unless called from
// inside a callback, it returns after the dispatcher goroutine has ended,
// so no callback runs after it.
func (d *dispatcher) close() {
	reentrant := d.inCallback()
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		d.queue = nil
		d.broadcast()
	}
	d.mu.Unlock()
	if !reentrant {
		<-d.done
	}
}

// curGoroutineID parses the running goroutine's id from its stack header
// ("goroutine 17 [running]:"). It is only used to recognise calls made from
// inside a callback, which must not wait for that callback to return.
func curGoroutineID() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseInt(string(b), 10, 64)
	return id
}
