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
	// sendQueue bounds the messages waiting for the writer goroutine
	// (past it Send waits). It is allocated whole with the connection,
	// 40 bytes a message, so it is kept to what keeps the writer busy:
	// iscd answers at most 32 requests of a connection at once, and the
	// send budget bounds their bytes anyway.
	sendQueue = 32
)

// ErrClosed is returned by Send after the connection is closed.
var ErrClosed = errors.New("transport: connection closed")

// Options tunes a Conn; the zero value gives the defaults above.
type Options struct {
	PingInterval time.Duration
	PongWait     time.Duration
	// Budget, if set, is shared by the connections of a process: the
	// bytes of their messages read and not yet released (ReadHeld).
	Budget *Budget
	// ConnBudget, if > 0, bounds those bytes for this connection alone
	// (raised to wire.MaxBinaryMessage if smaller).
	ConnBudget int64
	// SendBudget, if > 0, bounds the bytes queued for the writer (raised
	// to wire.MaxBinaryMessage if smaller): past it Send waits, so a peer
	// that reads slower than it asks holds no more of its answers.
	SendBudget int64
	// Sends, if set, counts the bytes queued for the writers of a
	// process's connections (and bounds them if it has a size).
	Sends *Budget
	// Received and Sent, if set, count the bytes of the messages read
	// and written (iscd's metrics).
	Received, Sent Counter
}

// Counter counts bytes (a prometheus.Counter is one).
type Counter interface{ Add(float64) }

type frame struct {
	kind int // websocket.TextMessage, BinaryMessage or CloseMessage
	data []byte
	held int64 // of the send budget
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
	ctx      context.Context // ends with the connection
	cancel   context.CancelFunc
	budgets  []*Budget // the connection's own, then the shared one
	sends    []*Budget // bytes queued for the writer: the connection's own, the shared one
	received Counter   // nil: not counted
	sent     Counter
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
	c := &Conn{ws: ws, out: make(chan frame, sendQueue), done: make(chan struct{}), pongWait: o.PongWait,
		received: o.Received, sent: o.Sent}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if o.ConnBudget > 0 {
		c.budgets = append(c.budgets, NewBudget(o.ConnBudget))
	}
	if o.Budget != nil {
		c.budgets = append(c.budgets, o.Budget)
	}
	if o.SendBudget > 0 {
		c.sends = append(c.sends, NewBudget(o.SendBudget))
	}
	if o.Sends != nil {
		c.sends = append(c.sends, o.Sends)
	}
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
			err := c.ws.WriteMessage(f.kind, f.data)
			c.releaseSend(f.held)
			if err == nil && c.sent != nil {
				c.sent.Add(float64(len(f.data)))
			}
			if err != nil || f.kind == websocket.CloseMessage {
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
		c.cancel()
		_ = c.ws.Close()
	})
	c.drain()
}

// drain gives back what the frames left in the queue of a finished
// connection held of the send budgets.
func (c *Conn) drain() {
	for {
		select {
		case f := <-c.out:
			c.releaseSend(f.held)
		default:
			return
		}
	}
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
	if len(c.sends) > 0 {
		if err := c.holdSend(ctx, int64(len(f.data))); err != nil {
			return err
		}
		f.held = int64(len(f.data))
	}
	select {
	case c.out <- f:
		select {
		case <-c.done: // finished meanwhile: nobody will write it
			c.drain()
		default:
		}
		return nil
	case <-c.done:
		c.releaseSend(f.held)
		return ErrClosed
	case <-ctx.Done():
		c.releaseSend(f.held)
		return ctx.Err()
	}
}

func (c *Conn) releaseSend(n int64) {
	for _, b := range c.sends {
		b.release(n)
	}
}

// holdSend waits until n bytes fit the send budget, ctx is done or the
// connection ends.
func (c *Conn) holdSend(ctx context.Context, n int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.ctx, cancel)()
	for i, b := range c.sends {
		if err := b.acquire(ctx, n); err != nil {
			for _, b := range c.sends[:i] {
				b.release(n)
			}
			if c.ctx.Err() != nil {
				return ErrClosed
			}
			return err
		}
	}
	return nil
}

// Read returns the next control message. Binary messages are returned as
// (nil, data, nil). Any error ends the connection.
func (c *Conn) Read() (*wire.Message, []byte, error) {
	m, b, release, err := c.ReadHeld()
	if b != nil {
		b = append([]byte(nil), b...) // ReadHeld's is the connection's again after release
	}
	release()
	return m, b, err
}

// ReadHeld is Read for a connection with budgets (Options): the message's
// bytes stay held against them until release is called, once the message
// is processed; a binary message's bytes are valid until then only (they
// are the connection's again after). Before each message it waits,
// reading nothing, until the largest message fits the budgets. release is
// never nil.
func (c *Conn) ReadHeld() (m *wire.Message, bin []byte, release func(), err error) {
	for {
		kind, buf, held, err := c.readMessage()
		if err != nil {
			c.finish()
			return nil, nil, func() {}, err
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(c.pongWait))
		switch kind {
		case websocket.BinaryMessage:
			return nil, *buf, func() { c.release(held); putBuffer(buf) }, nil
		case websocket.TextMessage:
			// Decoding copies what it keeps: the buffer goes back at
			// once, the message's weight when it is processed.
			m, err := wire.Decode(*buf)
			putBuffer(buf)
			if err != nil {
				c.release(held)
				c.finish()
				return nil, nil, func() {}, err
			}
			return m, nil, func() { c.release(held) }, nil
		}
		putBuffer(buf)
		c.release(held)
	}
}

// readMessage reads one message into a pooled buffer (putBuffer gives it
// back), holding its weight against the budgets: the most its kind may be
// while it is read, its buffer's size after.
func (c *Conn) readMessage() (kind int, buf *[]byte, held int64, err error) {
	kind, r, err := c.ws.NextReader()
	if err != nil {
		return 0, nil, 0, err
	}
	limit, first := int64(wire.MaxBinaryMessage), binaryBuffer
	if kind == websocket.TextMessage {
		limit, first = wire.MaxControlMessage, 0
	}
	if err := c.acquire(limit); err != nil {
		return 0, nil, 0, err
	}
	buf, err = readBuffer(r, first, int(limit))
	if err != nil {
		c.release(limit)
		return 0, nil, 0, err
	}
	held = min(int64(cap(*buf)), limit)
	c.release(limit - held)
	if c.received != nil {
		c.received.Add(float64(len(*buf)))
	}
	return kind, buf, held, nil
}

func (c *Conn) acquire(n int64) error {
	for i, b := range c.budgets {
		if err := b.acquire(c.ctx, n); err != nil {
			for _, b := range c.budgets[:i] {
				b.release(n)
			}
			return ErrClosed
		}
	}
	return nil
}

func (c *Conn) release(n int64) {
	for _, b := range c.budgets {
		b.release(n)
	}
}

// Context is canceled when the connection ends: the work started for its
// peer is to stop then.
func (c *Conn) Context() context.Context { return c.ctx }

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
