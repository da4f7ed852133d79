package transport

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/wire"
)

// pair returns both ends of a real WebSocket connection on loopback.
func pair(t *testing.T) (client, server *Conn) {
	t.Helper()
	got := make(chan *websocket.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		got <- ws
	}))
	t.Cleanup(srv.Close)
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	client, server = New(ws, Options{}), New(<-got, Options{})
	t.Cleanup(func() { client.Close(websocket.CloseNormalClosure, ""); server.Close(websocket.CloseNormalClosure, "") })
	return client, server
}

func TestQueuedMessagesGoBeforeTheClose(t *testing.T) {
	client, server := pair(t)
	ctx := context.Background()
	for seq := uint64(1); seq <= 100; seq++ {
		if err := server.Send(ctx, &wire.Message{Type: wire.TypeAck, Seq: seq}); err != nil {
			t.Fatal(err)
		}
	}
	server.Close(websocket.CloseGoingAway, "bye now")
	for seq := uint64(1); seq <= 100; seq++ {
		m, _, err := client.Read()
		if err != nil || m.Seq != seq {
			t.Fatalf("message %d: %+v %v", seq, m, err)
		}
	}
	_, _, err := client.Read()
	if code, text, ok := CloseError(err); !ok || code != websocket.CloseGoingAway || text != "bye now" {
		t.Fatalf("after the messages: %v", err)
	}
	if err := server.Send(ctx, &wire.Message{Type: wire.TypeAck, Seq: 1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
}

func TestOversizedAndMalformedMessagesEndTheConnection(t *testing.T) {
	for name, send := range map[string]func(*websocket.Conn) error{
		"too large": func(ws *websocket.Conn) error {
			return ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"bye","reason":"`+strings.Repeat("x", wire.MaxControlMessage)+`"}`))
		},
		"not a message": func(ws *websocket.Conn) error { return ws.WriteMessage(websocket.TextMessage, []byte("hello")) },
		"over the read limit": func(ws *websocket.Conn) error {
			return ws.WriteMessage(websocket.BinaryMessage, make([]byte, wire.MaxBinaryMessage+1))
		},
	} {
		t.Run(name, func(t *testing.T) {
			client, server := pair(t)
			// The write may fail half-way once the server gives up on it.
			sent := make(chan struct{})
			go func() { defer close(sent); send(client.ws) }()
			defer func() { <-sent }()
			if _, _, err := server.Read(); err == nil {
				t.Fatal("accepted")
			}
			select {
			case <-server.Done():
			default:
				t.Fatal("the connection is still open")
			}
		})
	}
}

func TestSendRefusesOversizedBinary(t *testing.T) {
	client, _ := pair(t)
	if err := client.SendBinary(context.Background(), make([]byte, wire.MaxBinaryMessage+1)); !errors.Is(err, wire.ErrTooLarge) {
		t.Fatalf("oversized binary: %v", err)
	}
}
