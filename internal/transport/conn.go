// Package transport carries wire messages over one WebSocket connection for
// both ends of a session: a single writer goroutine, bounded reads, and
// ping/pong liveness.
package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/wire"
)

// BufferSize is the read and write buffer size of every connection.
const BufferSize = 64 << 10

// Liveness settings. A peer that sends nothing (not even a pong) for
// PongWait is dead; each side pings every PingInterval.
const (
	PingInterval = 15 * time.Second
	PongWait     = 40 * time.Second
	WriteWait    = 10 * time.Second
	// sendQueue bounds the messages waiting for the writer goroutine.
	sendQueue = 256
)

// ErrClosed is returned by Send after the connection is closed.
var ErrClosed = errors.New("transport: connection closed")

// Options tunes a Conn; the zero value gives the defaults above.
type Options struct {
	PingInterval time.Duration
	PongWait     time.Duration
}

type frame struct {
	kind int // websocket.TextMessage, BinaryMessage or CloseMessage
	data []byte
}

// Conn is one WebSocket connection. Read must be called from one goroutine
// only; Send and Close may be called from any.
type Conn struct {
	ws       *websocket.Conn
	out      chan frame
	done     chan struct{} // closed when the connection is finished
	closeMu  sync.Mutex
	closing  bool
	pongWait time.Duration
	writerWG sync.WaitGroup
	once     sync.Once
}

// New takes over ws and starts its writer goroutine. The caller must
// eventually call Close.
func New(ws *websocket.Conn, o Options) *Conn {
	if o.PingInterval <= 0 {
		o.PingInterval = PingInterval
	}
	if o.PongWait <= 0 {
		o.PongWait = PongWait
	}
	c := &Conn{ws: ws, out: make(chan frame, sendQueue), done: make(chan struct{}), pongWait: o.PongWait}
	ws.SetReadLimit(wire.MaxBinaryMessage)
	_ = ws.SetReadDeadline(time.Now().Add(o.PongWait))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(c.pongWait)) })
	ws.SetPingHandler(func(data string) error {
		_ = ws.SetReadDeadline(time.Now().Add(c.pongWait))
		// Control frames may be written concurrently with other writes
		// (gorilla allows WriteControl from any goroutine).
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(WriteWait))
		if err == websocket.ErrCloseSent {
			return nil
		}
		return err
	})
	c.writerWG.Add(1)
	go c.writer(o.PingInterval)
	return c
}

func (c *Conn) writer(pingEvery time.Duration) {
	defer c.writerWG.Done()
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case f := <-c.out:
			_ = c.ws.SetWriteDeadline(time.Now().Add(WriteWait))
			if err := c.ws.WriteMessage(f.kind, f.data); err != nil || f.kind == websocket.CloseMessage {
				c.finish()
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(WriteWait)); err != nil {
				c.finish()
				return
			}
		case <-c.done:
			return
		}
	}
}

// finish closes the socket once; Read then fails and the writer stops.
func (c *Conn) finish() {
	c.once.Do(func() {
		close(c.done)
		_ = c.ws.Close()
	})
}

// Send queues m for the writer goroutine. It blocks while the queue is full
// until ctx is done.
func (c *Conn) Send(ctx context.Context, m *wire.Message) error {
	b, err := wire.Encode(m)
	if err != nil {
		return err
	}
	return c.enqueue(ctx, frame{kind: websocket.TextMessage, data: b})
}

// SendBinary queues one binary (bulk data) message.
func (c *Conn) SendBinary(ctx context.Context, b []byte) error {
	if len(b) > wire.MaxBinaryMessage {
		return wire.ErrTooLarge
	}
	return c.enqueue(ctx, frame{kind: websocket.BinaryMessage, data: b})
}

func (c *Conn) enqueue(ctx context.Context, f frame) error {
	c.closeMu.Lock()
	closing := c.closing
	c.closeMu.Unlock()
	if closing {
		return ErrClosed
	}
	select {
	case c.out <- f:
		return nil
	case <-c.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Read returns the next control message. Binary messages are returned as
// (nil, data, nil). Any error ends the connection.
func (c *Conn) Read() (*wire.Message, []byte, error) {
	for {
		kind, b, err := c.ws.ReadMessage()
		if err != nil {
			c.finish()
			return nil, nil, err
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(c.pongWait))
		switch kind {
		case websocket.BinaryMessage:
			return nil, b, nil
		case websocket.TextMessage:
			if len(b) > wire.MaxControlMessage {
				c.finish()
				return nil, nil, wire.ErrTooLarge
			}
			m, err := wire.Decode(b)
			if err != nil {
				c.finish()
				return nil, nil, err
			}
			return m, nil, nil
		}
	}
}

// Close sends a close frame with code and reason after the messages already
// queued, waits up to WriteWait for them to go, and closes the socket.
// It is safe to call more than once.
func (c *Conn) Close(code int, reason string) {
	c.closeMu.Lock()
	already := c.closing
	c.closing = true
	c.closeMu.Unlock()
	if !already {
		msg := websocket.FormatCloseMessage(code, reason)
		select {
		case c.out <- frame{kind: websocket.CloseMessage, data: msg}:
		case <-c.done:
		case <-time.After(WriteWait):
		}
		select {
		case <-c.done:
		case <-time.After(WriteWait):
		}
	}
	c.finish()
	c.writerWG.Wait()
}

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// CloseError describes how the peer closed the connection, if it did.
func CloseError(err error) (code int, text string, ok bool) {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Text, true
	}
	return 0, "", false
}

// Describe turns a read error into a short reason for logs and events.
func Describe(err error) string {
	if code, text, ok := CloseError(err); ok {
		if text != "" {
			return fmt.Sprintf("closed by peer (%d: %s)", code, text)
		}
		return fmt.Sprintf("closed by peer (%d)", code)
	}
	return err.Error()
}
