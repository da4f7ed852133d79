package session_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// dial opens a raw session connection, as a client of another language would.
func dial(t *testing.T, srv *servertest.Server) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(srv.Endpoint, http.Header{"Authorization": {"Bearer " + srv.APIToken}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	return ws
}

func send(t *testing.T, ws *websocket.Conn, m *wire.Message) {
	t.Helper()
	b, err := wire.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
}

func recv(t *testing.T, ws *websocket.Conn) *wire.Message {
	t.Helper()
	_, b, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	m, err := wire.Decode(b)
	if err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

func hello(srv *servertest.Server) *wire.Message {
	return &wire.Message{Type: wire.TypeHello, Hello: &wire.Hello{Protocol: wire.ProtocolVersion, Product: srv.Product}}
}

func TestHandshakeErrors(t *testing.T) {
	srv := servertest.Start(t)
	for _, tc := range []struct {
		name string
		m    *wire.Message
		code string
		msg  string
	}{
		{"first message not hello", &wire.Message{Type: wire.TypeRequest, ID: 1, Op: wire.OpPing}, wire.CodeBadRequest, "first message must be hello"},
		{"future protocol", &wire.Message{Type: wire.TypeHello, Hello: &wire.Hello{Protocol: 99, Product: srv.Product}}, wire.CodeUnsupportedVersion, "protocol 99 not supported"},
		{"unknown product", &wire.Message{Type: wire.TypeHello, Hello: &wire.Hello{Protocol: 1, Product: "nosuch"}}, wire.CodeNotFound, `unknown product "nosuch"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := dial(t, srv)
			send(t, ws, tc.m)
			m := recv(t, ws)
			if m.Type != wire.TypeResult || m.Error == nil || m.Error.Code != tc.code || !strings.Contains(m.Error.Message, tc.msg) {
				t.Fatalf("got %+v %+v", m, m.Error)
			}
			if _, _, err := ws.ReadMessage(); err == nil {
				t.Fatal("connection still open after a failed handshake")
			}
		})
	}
}

func TestRequestsAfterWelcome(t *testing.T) {
	srv := servertest.Start(t)
	ws := dial(t, srv)
	send(t, ws, hello(srv))
	w := recv(t, ws)
	if w.Type != wire.TypeWelcome || w.Welcome.Resumed || w.Welcome.HeartbeatMS <= 0 || !strings.HasPrefix(w.Welcome.ResumeToken, "isr_") {
		t.Fatalf("welcome %+v", w.Welcome)
	}
	send(t, ws, &wire.Message{Type: wire.TypeRequest, ID: 5, Op: "no.such.op"})
	if m := recv(t, ws); m.ID != 5 || m.Error == nil || m.Error.Code != wire.CodeUnknownOp {
		t.Fatalf("unknown op answer %+v", m)
	}
	send(t, ws, &wire.Message{Type: wire.TypeRequest, ID: 6, Op: wire.OpPing, Body: []byte(`{}`)})
	if m := recv(t, ws); m.ID != 6 || m.Error != nil || !strings.Contains(string(m.Body), "serverTime") {
		t.Fatalf("ping answer %+v", m)
	}
}

func TestResumeWithWrongTokenStartsANewSession(t *testing.T) {
	srv := servertest.Start(t)
	ws := dial(t, srv)
	send(t, ws, hello(srv))
	first := recv(t, ws).Welcome
	ws.Close()

	ws2 := dial(t, srv)
	h := hello(srv)
	h.Hello.Resume = &wire.Resume{Session: first.Session, Token: "isr_forged_token"}
	send(t, ws2, h)
	w := recv(t, ws2).Welcome
	if w.Resumed || w.Session == first.Session {
		t.Fatalf("resumed a session with a forged token: %+v", w)
	}
}

func TestOversizedAndMalformedMessagesCloseTheConnection(t *testing.T) {
	srv := servertest.Start(t)
	for name, payload := range map[string][]byte{
		"oversized": []byte(`{"type":"bye","reason":"` + strings.Repeat("x", wire.MaxBinaryMessage) + `"}`),
		"not json":  []byte("hello"),
		"bad utf-8": []byte("{\"type\":\"ack\",\"seq\":1,\"x\":\"\xff\"}"),
	} {
		t.Run(name, func(t *testing.T) {
			ws := dial(t, srv)
			send(t, ws, hello(srv))
			recv(t, ws)
			ws.WriteMessage(websocket.TextMessage, payload)
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return // closed, as it should
				}
			}
		})
	}
	// The service is still fine.
	ws := dial(t, srv)
	send(t, ws, hello(srv))
	if m := recv(t, ws); m.Type != wire.TypeWelcome {
		t.Fatalf("service unhealthy after bad clients: %+v", m)
	}
}

func TestBinaryFrames(t *testing.T) {
	srv := servertest.Start(t)
	ws := dial(t, srv)
	send(t, ws, hello(srv))
	recv(t, ws)
	// A well-formed frame nobody handles: an error answer, the connection stays.
	frame, _ := wire.EncodeFrame(wire.Frame{Kind: wire.BinManifest, ID: 77, Payload: []byte("x")})
	ws.WriteMessage(websocket.BinaryMessage, frame)
	if m := recv(t, ws); m.ID != 77 || m.Error == nil || m.Error.Code != wire.CodeUnknownOp {
		t.Fatalf("unhandled frame: %+v", m)
	}
	// A malformed one closes this connection only.
	ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2})
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			break
		}
	}
	ws2 := dial(t, srv)
	send(t, ws2, hello(srv))
	if m := recv(t, ws2); m.Type != wire.TypeWelcome {
		t.Fatalf("service unhealthy after a malformed frame: %+v", m)
	}
}

// TestResumeWhileEventsArePublished: events published for a session
// while its program reconnects reach the resumed connection after its
// welcome, in order, each once. The hub used to start the connection's
// event pump as soon as a publish woke it, before the welcome was out:
// a program could be sent an event first and fail its handshake
// ("expected welcome, got event"), and the pump read the connection's
// replay mark while open still wrote it (a data race under -race).
func TestResumeWhileEventsArePublished(t *testing.T) {
	srv := servertest.Start(t)
	ws := dial(t, srv)
	send(t, ws, hello(srv))
	w := recv(t, ws).Welcome
	ws.Close()

	const resumes, burst = 50, 10
	resuming := make(chan struct{})
	published := make(chan error, 1)
	go func() {
		for range resuming {
			for range burst {
				if _, err := srv.Hub().Publish(context.Background(), w.Session, wire.Event{Kind: 1, Operate: "test.tick"}); err != nil {
					published <- err
					return
				}
			}
		}
		published <- nil
	}()
	var last uint64
	for r := range resumes {
		ws := dial(t, srv)
		h := hello(srv)
		h.Hello.Resume = &wire.Resume{Session: w.Session, Token: w.ResumeToken, LastSeq: last}
		resuming <- struct{}{} // a burst is published while the hub opens the session
		send(t, ws, h)
		if m := recv(t, ws); m.Type != wire.TypeWelcome || !m.Welcome.Resumed {
			t.Fatalf("resume %d: the first message is %s (seq %d), want a resumed welcome", r, m.Type, m.Seq)
		}
		for range burst {
			if m := recv(t, ws); m.Type != wire.TypeEvent || m.Seq != last+1 {
				t.Fatalf("resume %d: %s seq %d after event %d, want event %d", r, m.Type, m.Seq, last, last+1)
			}
			last++
		}
		ws.Close()
	}
	close(resuming)
	if err := <-published; err != nil {
		t.Fatal(err)
	}
}

// A client's bulk frames do not get its requests refused: with as many
// frames in progress as a connection may have (a save's chunk puts behind
// a slow disk), a ping is still answered. Before frames had places of
// their own, it was refused "more than 32 requests in flight" — files.have
// between rounds of a save, a licence's renewal. (A frame past those
// places waits, and what follows it is read once it has one.)
func TestRequestsAreAnsweredBesideBulkFrames(t *testing.T) {
	srv := servertest.Start(t)
	const kind = wire.BinManifest // a frame kind the hub leaves to this test
	entered, gate := make(chan struct{}, wire.MaxInflight), make(chan struct{})
	session.HandleFrame(srv.Hub(), kind, func(ctx context.Context, _ session.Caller, _ struct{}, _ wire.Frame) (any, error) {
		entered <- struct{}{}
		<-gate
		return struct{}{}, nil
	})
	ws := dial(t, srv)
	send(t, ws, hello(srv))
	recv(t, ws)
	for i := range wire.MaxInflight {
		frame, _ := wire.EncodeFrame(wire.Frame{Kind: kind, ID: uint64(100 + i), Payload: []byte("x")})
		if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
			t.Fatal(err)
		}
	}
	for i := range wire.MaxInflight {
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d frames in progress after 10 s", i)
		}
	}
	send(t, ws, &wire.Message{Type: wire.TypeRequest, ID: 7, Op: wire.OpPing, Body: []byte(`{}`)})
	m := recv(t, ws)
	close(gate)
	if m.ID != 7 || m.Error != nil {
		t.Fatalf("a ping beside %d frames in progress: %+v", wire.MaxInflight, m)
	}
	for range wire.MaxInflight {
		if m := recv(t, ws); m.Error != nil {
			t.Fatalf("a frame: %+v", m.Error)
		}
	}
}
