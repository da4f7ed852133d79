package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/link"
	"github.com/iscsdk/iscsdk/internal/transport"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// ErrTokenRefused is returned by Worker.Run when iscd refuses the worker
// token (unknown, revoked, or not a worker token): retrying cannot help.
var ErrTokenRefused = errors.New("worker: iscd refused the worker token")

// reconnectBackoff spaces the worker's attempts to reach iscd: 50–100 ms
// first, doubling to 5 s.
var reconnectBackoff = link.Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second}

// endpoint is where the worker connects: iscd's /v1/worker and the token.
type endpoint struct {
	url    string
	header http.Header
	dialer websocket.Dialer
}

func newEndpoint(base, token string) (*endpoint, error) {
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
	return &endpoint{url: u, header: h, dialer: websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}}, nil
}

// dial connects and says hello (request id) on the new connection; the
// worker then serves it.
func (e *endpoint) dial(ctx context.Context, id uint64, hello wire.WorkerHello) (*transport.Conn, wire.WorkerWelcome, error) {
	var welcome wire.WorkerWelcome
	ws, resp, err := e.dialer.DialContext(ctx, e.url, e.header)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return nil, welcome, fmt.Errorf("%w (%s)", ErrTokenRefused, e.url)
		}
		return nil, welcome, fmt.Errorf("worker: connect %s: %w", e.url, err)
	}
	conn := transport.New(ws, transport.Options{})
	body, _ := json.Marshal(hello)
	if err := conn.Send(ctx, &wire.Message{Type: wire.TypeRequest, ID: id, Op: wire.OpWorkerHello, Body: body}); err != nil {
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

// serve makes conn the worker's link to iscd and reads it until it ends,
// handing answers to their calls and pushed events to pushed.
func (w *Worker) serve(conn *transport.Conn) error {
	w.link.Attach(conn)
	defer w.link.Detach(conn)
	for {
		m, bin, err := conn.Read()
		if err != nil {
			return err
		}
		answer, err := w.link.Answer(m, bin)
		switch {
		case err != nil:
			conn.Close(websocket.CloseUnsupportedData, "malformed binary frame")
			return err
		case !answer && m.Type == wire.TypeEvent && m.Event != nil:
			w.pushed(m.Event)
		}
	}
}
