package worker

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/transport"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// ErrTokenRefused is returned by Worker.Run when iscd refuses the worker
// token (unknown, revoked, or not a worker token): retrying cannot help.
var ErrTokenRefused = errors.New("worker: iscd refused the worker token")

// errDisconnected is a call that lost its connection before its answer.
var errDisconnected = errors.New("worker: disconnected from iscd")

// reply is the answer to one request: a result message or a binary frame.
type reply struct {
	m *wire.Message
	f *wire.Frame
}

// link is the worker's connection to iscd, replaced on every reconnect.
// Calls wait for a connection; a call whose connection drops fails with
// errDisconnected and may be repeated on the next one.
type link struct {
	url    string
	header http.Header
	dialer websocket.Dialer
	onPush func(*wire.Event)
	nextID atomic.Uint64

	mu      sync.Mutex
	conn    *transport.Conn
	changed chan struct{} // closed and replaced when conn changes
	pending map[uint64]chan reply
}

func newLink(base, token string, onPush func(*wire.Event)) (*link, error) {
	u := strings.TrimRight(base, "/")
	switch {
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + strings.TrimPrefix(u, "http://")
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + strings.TrimPrefix(u, "https://")
	case strings.HasPrefix(u, "ws://"), strings.HasPrefix(u, "wss://"):
	default:
		return nil, fmt.Errorf("worker: service URL %q must start with http://, https://, ws:// or wss://", base)
	}
	u = strings.TrimSuffix(strings.TrimSuffix(u, wire.WorkerPath), wire.Path) + wire.WorkerPath
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	return &link{url: u, header: h, dialer: websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10},
		onPush: onPush, changed: make(chan struct{}), pending: map[uint64]chan reply{}}, nil
}

// dial connects and says hello; serve must then run on the connection.
func (l *link) dial(ctx context.Context, hello wire.WorkerHello) (*transport.Conn, wire.WorkerWelcome, error) {
	var welcome wire.WorkerWelcome
	ws, resp, err := l.dialer.DialContext(ctx, l.url, l.header)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return nil, welcome, fmt.Errorf("%w (%s)", ErrTokenRefused, l.url)
		}
		return nil, welcome, fmt.Errorf("worker: connect %s: %w", l.url, err)
	}
	conn := transport.New(ws, transport.Options{})
	body, _ := json.Marshal(hello)
	if err := conn.Send(ctx, &wire.Message{Type: wire.TypeRequest, ID: l.nextID.Add(1), Op: wire.OpWorkerHello, Body: body}); err != nil {
		conn.Close(websocket.CloseNormalClosure, "")
		return nil, welcome, err
	}
	// A service that accepts but never welcomes must not hold the worker:
	// stopping it, or welcomeWait, closes the connection under the read.
	wctx, cancel := context.WithTimeout(ctx, welcomeWait)
	defer cancel()
	stop := context.AfterFunc(wctx, func() { conn.Close(websocket.CloseNormalClosure, "no welcome") })
	defer stop()
	var m *wire.Message
	for {
		if m, _, err = conn.Read(); err != nil || m == nil || m.Type != wire.TypeEvent {
			break
		}
		// An event before the welcome (a cancel pushed as the worker
		// registered): the next renewal says it again.
	}
	switch {
	case err != nil && wctx.Err() != nil:
		err = fmt.Errorf("no welcome within %s: %w", welcomeWait, wctx.Err())
	case err == nil && m == nil:
		err = errors.New("a binary frame instead of the welcome")
	case err == nil && m.Error != nil:
		err = m.Error
	case err == nil:
		err = json.Unmarshal(m.Body, &welcome)
	}
	if err != nil {
		conn.Close(websocket.CloseNormalClosure, "")
		return nil, welcome, fmt.Errorf("worker: hello: %w", err)
	}
	return conn, welcome, nil
}

// welcomeWait bounds the wait for iscd's answer to hello.
const welcomeWait = 30 * time.Second

// serve reads conn until it ends, routing answers and pushed events.
func (l *link) serve(conn *transport.Conn) error {
	l.mu.Lock()
	l.conn = conn
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.conn = nil
		for id, ch := range l.pending {
			close(ch)
			delete(l.pending, id)
		}
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
	}()
	for {
		m, bin, err := conn.Read()
		if err != nil {
			return err
		}
		var r reply
		var id uint64
		if m == nil {
			f, err := wire.DecodeFrame(bin)
			if err != nil {
				conn.Close(websocket.CloseUnsupportedData, "malformed binary frame")
				return err
			}
			r, id = reply{f: &f}, f.ID
		} else if m.Type == wire.TypeEvent && m.Event != nil {
			l.onPush(m.Event)
			continue
		} else {
			r, id = reply{m: m}, m.ID
		}
		l.mu.Lock()
		ch := l.pending[id]
		delete(l.pending, id)
		l.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
}

// roundTrip waits for a connection, sends with the request id, and waits
// for the answer.
func (l *link) roundTrip(ctx context.Context, send func(conn *transport.Conn, id uint64) error) (reply, error) {
	var conn *transport.Conn
	for {
		l.mu.Lock()
		var changed chan struct{}
		if conn, changed = l.conn, l.changed; conn != nil {
			break // holding mu
		}
		l.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return reply{}, ctx.Err()
		}
	}
	id := l.nextID.Add(1)
	ch := make(chan reply, 1)
	l.pending[id] = ch
	l.mu.Unlock()
	if err := send(conn, id); err != nil {
		l.mu.Lock()
		delete(l.pending, id)
		l.mu.Unlock()
		return reply{}, errors.Join(errDisconnected, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return reply{}, errDisconnected
		}
		if r.m != nil && r.m.Error != nil {
			return r, r.m.Error
		}
		return r, nil
	case <-ctx.Done():
		l.mu.Lock()
		delete(l.pending, id)
		l.mu.Unlock()
		return reply{}, ctx.Err()
	}
}

// call sends a request and decodes its result into out (nil: ignore).
func (l *link) call(ctx context.Context, op string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	r, err := l.roundTrip(ctx, func(conn *transport.Conn, id uint64) error {
		return conn.Send(ctx, &wire.Message{Type: wire.TypeRequest, ID: id, Op: op, Body: b})
	})
	if err != nil {
		return err
	}
	if r.m == nil {
		return fmt.Errorf("worker: %s answered with a binary frame", op)
	}
	if out != nil {
		return json.Unmarshal(r.m.Body, out)
	}
	return nil
}

// fetch sends a request answered by a binary frame of kind.
func (l *link) fetch(ctx context.Context, op string, body any, kind byte) (*wire.Frame, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	r, err := l.roundTrip(ctx, func(conn *transport.Conn, id uint64) error {
		return conn.Send(ctx, &wire.Message{Type: wire.TypeRequest, ID: id, Op: op, Body: b})
	})
	if err != nil {
		return nil, err
	}
	if r.f == nil || r.f.Kind != kind {
		return nil, fmt.Errorf("worker: %s: unexpected answer", op)
	}
	return r.f, nil
}

// sendFrame sends a binary frame and decodes its result into out.
func (l *link) sendFrame(ctx context.Context, f wire.Frame, out any) error {
	f.ID = 1
	b, err := wire.EncodeFrame(f)
	if err != nil {
		return err
	}
	r, err := l.roundTrip(ctx, func(conn *transport.Conn, id uint64) error {
		binary.BigEndian.PutUint64(b[1:9], id) // the request id, after the kind byte
		return conn.SendBinary(ctx, b)
	})
	if err != nil {
		return err
	}
	if out != nil && r.m != nil {
		return json.Unmarshal(r.m.Body, out)
	}
	return nil
}
