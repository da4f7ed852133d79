package link

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/transport"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// peer is the far end of a real WebSocket on loopback: it answers
// requests as handle says (nil: no answer).
type peer struct {
	srv   *httptest.Server
	conns chan *transport.Conn
}

func newPeer(t *testing.T, handle func(conn *transport.Conn, m *wire.Message, bin []byte)) *peer {
	t.Helper()
	p := &peer{conns: make(chan *transport.Conn, 8)}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		conn := transport.New(ws, transport.Options{})
		p.conns <- conn
		for {
			m, bin, err := conn.Read()
			if err != nil {
				return
			}
			handle(conn, m, bin)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// connect dials the peer, attaches the connection to l and reads it for
// l until it ends; it returns the peer's end.
func (p *peer) connect(t *testing.T, l *Link) *transport.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(p.srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	conn := transport.New(ws, transport.Options{})
	t.Cleanup(func() { conn.Close(websocket.CloseNormalClosure, "") })
	l.Attach(conn)
	go func() {
		defer l.Detach(conn)
		for {
			m, bin, err := conn.Read()
			if err != nil {
				return
			}
			if ok, err := l.Answer(m, bin); err != nil || !ok {
				t.Errorf("not an answer: %+v %v", m, err)
				return
			}
		}
	}()
	return <-p.conns
}

func answer(conn *transport.Conn, id uint64, body any) {
	b, _ := json.Marshal(body)
	_ = conn.Send(context.Background(), &wire.Message{Type: wire.TypeResult, ID: id, Body: b})
}

// echo answers "echo" with its body, refuses "refuse" and answers a
// binary request with its payload's size.
func echo(conn *transport.Conn, m *wire.Message, bin []byte) {
	switch {
	case m == nil:
		f, _ := wire.DecodeFrame(bin)
		answer(conn, f.ID, len(f.Payload))
	case m.Op == "echo":
		_ = conn.Send(context.Background(), &wire.Message{Type: wire.TypeResult, ID: m.ID, Body: m.Body})
	case m.Op == "refuse":
		_ = conn.Send(context.Background(), &wire.Message{Type: wire.TypeResult, ID: m.ID, Error: &wire.Error{Code: wire.CodeNotFound, Message: "no such thing"}})
	case m.Op == "manifest":
		b, _ := wire.EncodeFrame(wire.Frame{Kind: wire.BinManifest, ID: m.ID, Payload: []byte("payload")})
		_ = conn.SendBinary(context.Background(), b)
	}
}

func TestAnswersReachTheirCallsInAnyOrder(t *testing.T) {
	const n = 40
	var mu sync.Mutex
	var held []*wire.Message
	// The peer holds every request until it has all, then answers them
	// last first.
	p := newPeer(t, func(conn *transport.Conn, m *wire.Message, _ []byte) {
		mu.Lock()
		defer mu.Unlock()
		if held = append(held, m); len(held) == n {
			for i := n - 1; i >= 0; i-- {
				_ = conn.Send(context.Background(), &wire.Message{Type: wire.TypeResult, ID: held[i].ID, Body: held[i].Body})
			}
		}
	})
	l := New()
	p.connect(t, l)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var got int
			if err := l.Call(t.Context(), "echo", i, &got); err != nil || got != i {
				t.Errorf("call %d answered %d, %v", i, got, err)
			}
		})
	}
	wg.Wait()
}

func TestResultsRefusalsAndBinaryFrames(t *testing.T) {
	l := New()
	newPeer(t, echo).connect(t, l)
	ctx := t.Context()
	err := l.Call(ctx, "refuse", nil, nil)
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeNotFound || !strings.HasPrefix(err.Error(), "refuse: ") {
		t.Fatalf("refused call: %v", err)
	}
	f, err := l.Fetch(ctx, "manifest", nil, wire.BinManifest)
	if err != nil || string(f.Payload) != "payload" {
		t.Fatalf("fetch: %+v %v", f, err)
	}
	if _, err := l.Fetch(ctx, "echo", 1, wire.BinManifest); !errors.Is(err, ErrProtocol) {
		t.Fatalf("a result where a frame was expected: %v", err)
	}
	var size int
	if err := l.SendFrame(ctx, wire.Frame{Kind: wire.BinChunkPut, Payload: make([]byte, 1000)}, &size); err != nil || size != 1000 {
		t.Fatalf("send frame: %d %v", size, err)
	}
	// A frame laid out once is sent as it is, twice.
	head, err := wire.AppendFrameHead(nil, wire.Frame{Kind: wire.BinChunkPut}, 5)
	if err != nil {
		t.Fatal(err)
	}
	b := append(head, "12345"...)
	for range 2 {
		if err := l.SendEncoded(ctx, b, &size); err != nil || size != 5 {
			t.Fatalf("send encoded: %d %v", size, err)
		}
	}
	if err := l.SendFrame(ctx, wire.Frame{Kind: wire.BinChunkPut, Payload: make([]byte, wire.MaxBinaryMessage)}, nil); !errors.Is(err, wire.ErrTooLarge) {
		t.Fatalf("a frame over the limit: %v", err)
	}
}

func TestCallsWaitForAConnection(t *testing.T) {
	l := New()
	if err := l.TryCall(t.Context(), "echo", 1, nil); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("TryCall without a connection: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := l.Call(ctx, "echo", 1, nil); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Call whose connection never came: %v", err)
	}
	got := make(chan error, 1)
	go func() {
		var n int
		err := l.Call(t.Context(), "echo", 7, &n)
		if err == nil && n != 7 {
			err = fmt.Errorf("answered %d", n)
		}
		got <- err
	}()
	newPeer(t, echo).connect(t, l)
	if err := <-got; err != nil {
		t.Fatalf("a call made before the connection: %v", err)
	}
}

func TestADropFailsTheCallsWaitingAndPolicyRepeatsThem(t *testing.T) {
	first := make(chan struct{})
	var once sync.Once
	// The first connection takes requests and answers none; the next
	// answers.
	p := newPeer(t, func(conn *transport.Conn, m *wire.Message, bin []byte) {
		select {
		case <-first:
			echo(conn, m, bin)
		default:
			once.Do(func() { conn.Close(websocket.CloseGoingAway, "dropped") })
		}
	})
	l := New()
	p.connect(t, l)
	var attempts []int
	policy := Policy{Attempts: 3, Retrying: func(attempt int, err error) {
		attempts = append(attempts, attempt)
		if !errors.Is(err, ErrDisconnected) {
			t.Errorf("repeated after %v", err)
		}
		close(first)
		p.connect(t, l)
	}}
	var n int
	err := policy.Do(t.Context(), func(int) error { return l.Call(t.Context(), "echo", 3, &n) })
	if err != nil || n != 3 || len(attempts) != 1 {
		t.Fatalf("after one drop: %d %v, repeats %v", n, err, attempts)
	}
}

func TestPolicy(t *testing.T) {
	refused := &wire.Error{Code: wire.CodeUnavailable}
	transient := func(err error) bool {
		var we *wire.Error
		return errors.As(err, &we) && we.Code == wire.CodeUnavailable
	}
	for _, tc := range []struct {
		name   string
		policy Policy
		err    error
		calls  int
	}{
		{"disconnected, repeated to the end", Policy{Attempts: 4}, ErrDisconnected, 4},
		{"a refusal is not repeated", Policy{Attempts: 4}, refused, 1},
		{"unless it passes", Policy{Attempts: 4, Transient: transient, Backoff: Backoff{Base: time.Millisecond, Max: time.Millisecond}}, refused, 4},
		{"one attempt", Policy{}, ErrDisconnected, 1},
	} {
		calls := 0
		err := tc.policy.Do(t.Context(), func(attempt int) error {
			if calls++; attempt != calls {
				t.Errorf("%s: attempt %d on call %d", tc.name, attempt, calls)
			}
			return tc.err
		})
		if calls != tc.calls || !errors.Is(err, tc.err) {
			t.Errorf("%s: %d calls, %v", tc.name, calls, err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	err := Policy{Attempts: 10}.Do(ctx, func(int) error { calls++; cancel(); return ErrDisconnected })
	if calls != 1 || !errors.Is(err, ErrDisconnected) {
		t.Fatalf("canceled: %d calls, %v", calls, err)
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Base: 250 * time.Millisecond, Max: 30 * time.Second}
	for n, want := range map[int]time.Duration{0: 250 * time.Millisecond, 1: 250 * time.Millisecond, 2: 500 * time.Millisecond,
		8: 30 * time.Second, 100: 30 * time.Second} {
		for range 100 {
			if d := b.Delay(n); d < want/2 || d > want {
				t.Fatalf("attempt %d waits %s, not within [%s, %s]", n, d, want/2, want)
			}
		}
	}
}

func TestReconnect(t *testing.T) {
	b := Backoff{Base: time.Millisecond, Max: 2 * time.Millisecond}
	var failed []int
	c, err := Reconnect(t.Context(), b, func(_ context.Context, attempt int) (int, error) {
		if attempt < 3 {
			return 0, errors.New("refused")
		}
		return attempt, nil
	}, func(attempt int, _ error) { failed = append(failed, attempt) })
	if c != 3 || err != nil || fmt.Sprint(failed) != "[1 2]" {
		t.Fatalf("connected on %d (%v), failures %v", c, err, failed)
	}
	gone := errors.New("token refused")
	_, err = Reconnect(t.Context(), b, func(context.Context, int) (int, error) { return 0, Permanent(gone) }, nil)
	if err != gone {
		t.Fatalf("a permanent failure: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Reconnect(ctx, b, func(context.Context, int) (int, error) { return 1, nil }, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
}
