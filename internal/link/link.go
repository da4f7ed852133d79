// Package link is the client side of iscd's protocol, written once for the
// SDK and the compute worker: requests matched to their answers on a
// connection that is replaced whenever it drops, binary frames, the one
// reconnect backoff and the one retry policy.
//
// A Link does not dial: its owner connects (each side says hello its own
// way), Attaches the connection, reads it and hands what it reads to
// Answer, and Detaches it when it ends. Calls made while no connection is
// attached wait for the next one.
package link

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/iscsdk/iscsdk/internal/transport"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Errors callers branch on (with errors.Is).
var (
	// ErrDisconnected: the connection dropped before the answer came, or
	// there was none to send on. The request may be repeated on the next
	// connection (Policy does).
	ErrDisconnected = errors.New("iscsdk: disconnected")
	// ErrProtocol: the answer is not what the request expects.
	ErrProtocol = errors.New("iscsdk: protocol error")
)

// Link sends requests on the current connection and hands each answer to
// the call waiting for it. Its methods may be called from any goroutine.
type Link struct {
	nextID atomic.Uint64

	mu      sync.Mutex
	conn    *transport.Conn
	changed chan struct{} // closed and replaced whenever conn changes
	pending map[uint64]chan Reply
}

// New returns a Link with no connection.
func New() *Link {
	return &Link{changed: make(chan struct{}), pending: map[uint64]chan Reply{}}
}

// NextID returns a request id no call of l has used.
func (l *Link) NextID() uint64 { return l.nextID.Add(1) }

// Attach makes conn the connection calls go on; calls waiting for one
// are sent on it.
func (l *Link) Attach(conn *transport.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setConn(conn)
}

// Detach ends conn's part: if it is the current connection, calls wait
// for the next one, and every call waiting for an answer on it fails with
// ErrDisconnected.
func (l *Link) Detach(conn *transport.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == conn {
		l.setConn(nil)
	}
	for id, ch := range l.pending {
		close(ch)
		delete(l.pending, id)
	}
}

// setConn changes the connection and wakes those waiting; mu is held.
func (l *Link) setConn(conn *transport.Conn) {
	l.conn = conn
	close(l.changed)
	l.changed = make(chan struct{})
}

// Conn returns the current connection, nil while there is none.
func (l *Link) Conn() *transport.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conn
}

// Answer routes what was read from the connection: an answer ("res"
// message or binary frame) goes to the call waiting for it, and Answer
// returns true; anything else (events, bye) is the caller's. A binary
// frame that does not decode is an error: the connection is broken.
func (l *Link) Answer(m *wire.Message, bin []byte) (bool, error) {
	switch {
	case m == nil:
		f, err := wire.DecodeFrame(bin)
		if err != nil {
			return true, fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		l.deliver(f.ID, Reply{Frame: &f})
		return true, nil
	case m.Type == wire.TypeResult:
		l.deliver(m.ID, Reply{Msg: m})
		return true, nil
	}
	return false, nil
}

// deliver hands r to the call waiting for id, if it still waits.
func (l *Link) deliver(id uint64, r Reply) {
	l.mu.Lock()
	ch := l.pending[id]
	delete(l.pending, id)
	l.mu.Unlock()
	if ch != nil {
		ch <- r
	}
}

// Reply is the service's answer to a request: a "res" message, or a
// binary frame carrying the request's id.
type Reply struct {
	Msg   *wire.Message
	Frame *wire.Frame
}

// Decode returns the service's refusal (a *wire.Error), or decodes a
// result into out (nil: the body is not wanted).
func (r Reply) Decode(out any) error {
	switch {
	case r.Msg == nil:
		return fmt.Errorf("%w: binary answer where a result was expected", ErrProtocol)
	case r.Msg.Error != nil:
		return r.Msg.Error
	case out != nil:
		if err := json.Unmarshal(r.Msg.Body, out); err != nil {
			return fmt.Errorf("%w: %v", ErrProtocol, err)
		}
	}
	return nil
}

// Binary returns a binary answer of the wanted kind, or the refusal.
func (r Reply) Binary(kind byte) (*wire.Frame, error) {
	switch {
	case r.Msg != nil && r.Msg.Error != nil:
		return nil, r.Msg.Error
	case r.Frame == nil || r.Frame.Kind != kind:
		return nil, fmt.Errorf("%w: expected a binary answer of kind %d", ErrProtocol, kind)
	}
	return r.Frame, nil
}

// RoundTrip gives send a fresh request id and the connection to send it
// on, and returns the answer to that id. While there is no connection it
// waits for one if wait is set (ctx ending is then ErrDisconnected, as
// the connection never came), and fails with ErrDisconnected at once if
// not. A send that fails because the request is too large returns
// wire.ErrTooLarge; because ctx ended, ctx's error; otherwise the
// connection failed, ErrDisconnected.
func (l *Link) RoundTrip(ctx context.Context, wait bool, send func(conn *transport.Conn, id uint64) error) (Reply, error) {
	id := l.NextID()
	ch := make(chan Reply, 1)
	conn, err := l.register(ctx, wait, id, ch)
	if err != nil {
		return Reply{}, err
	}
	defer func() {
		l.mu.Lock()
		delete(l.pending, id)
		l.mu.Unlock()
	}()
	if err := send(conn, id); err != nil {
		switch {
		case errors.Is(err, wire.ErrTooLarge):
			return Reply{}, err
		case ctx.Err() != nil: // the caller gave up while the request waited to be sent
			return Reply{}, ctx.Err()
		}
		return Reply{}, fmt.Errorf("%w: %v", ErrDisconnected, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return Reply{}, ErrDisconnected
		}
		return r, nil
	case <-ctx.Done():
		return Reply{}, ctx.Err()
	}
}

// register waits until there is a connection (if wait, until ctx ends)
// and registers ch for the answer to id on it.
func (l *Link) register(ctx context.Context, wait bool, id uint64, ch chan Reply) (*transport.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.conn == nil {
		if !wait {
			return nil, ErrDisconnected
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			l.mu.Lock()
			return nil, ErrDisconnected
		}
		l.mu.Lock()
	}
	l.pending[id] = ch
	return l.conn, nil
}

// Call sends the request op with body and decodes its result into out
// (nil: not wanted). It waits for a connection while there is none.
func (l *Link) Call(ctx context.Context, op string, body, out any) error {
	return l.call(ctx, true, op, body, out)
}

// TryCall is Call that fails with ErrDisconnected at once while there is
// no connection.
func (l *Link) TryCall(ctx context.Context, op string, body, out any) error {
	return l.call(ctx, false, op, body, out)
}

func (l *Link) call(ctx context.Context, wait bool, op string, body, out any) error {
	r, err := l.request(ctx, wait, op, body)
	if err == nil {
		err = r.Decode(out)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// Fetch sends the request op with body, whose answer is a binary frame of
// kind.
func (l *Link) Fetch(ctx context.Context, op string, body any, kind byte) (*wire.Frame, error) {
	r, err := l.request(ctx, true, op, body)
	var f *wire.Frame
	if err == nil {
		f, err = r.Binary(kind)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return f, nil
}

func (l *Link) request(ctx context.Context, wait bool, op string, body any) (Reply, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return Reply{}, fmt.Errorf("encode: %w", err)
	}
	return l.RoundTrip(ctx, wait, func(conn *transport.Conn, id uint64) error {
		return conn.Send(ctx, &wire.Message{Type: wire.TypeRequest, ID: id, Op: op, Body: b})
	})
}

// SendFrame sends f as a binary request and decodes its result into out.
func (l *Link) SendFrame(ctx context.Context, f wire.Frame, out any) error {
	f.ID = 1 // a place for the id, written at each send
	b, err := wire.EncodeFrame(f)
	if err != nil {
		return err
	}
	return l.SendEncoded(ctx, b, out)
}

// SendEncoded sends a frame already laid out by wire.EncodeFrame or
// wire.AppendFrameHead (its request id is written in place, so b must not
// be sent by two calls at once) and decodes its result into out.
func (l *Link) SendEncoded(ctx context.Context, b []byte, out any) error {
	if len(b) < wire.FrameHeadLen {
		return fmt.Errorf("%w: a frame of %d bytes", ErrProtocol, len(b))
	}
	r, err := l.RoundTrip(ctx, true, func(conn *transport.Conn, id uint64) error {
		binary.BigEndian.PutUint64(b[1:wire.FrameHeadLen], id)
		return conn.SendBinary(ctx, b)
	})
	if err != nil {
		return err
	}
	return r.Decode(out)
}
