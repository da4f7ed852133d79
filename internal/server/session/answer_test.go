package session_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/transport"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// An answer that does not fit in a message reaches the client as
// too_large, and the service logs it; the answers around it are sent as
// they are.
func TestAnswerTooLarge(t *testing.T) {
	got := make(chan *websocket.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		got <- ws
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	client, server := transport.New(ws, transport.Options{}), transport.New(<-got, transport.Options{})
	defer client.Close(websocket.CloseNormalClosure, "")
	defer server.Close(websocket.CloseNormalClosure, "")
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))

	big := strings.Repeat("x", wire.MaxControlMessage)
	session.Answer(server, log, 1, "files.list", map[string]string{"names": big}, nil)
	session.Answer(server, log, 2, "files.chunk", session.Binary{Kind: wire.BinChunkData, Data: make([]byte, wire.MaxBinaryMessage)}, nil)
	session.Answer(server, log, 3, "ping", map[string]string{"ok": "yes"}, nil)
	for id := uint64(1); id <= 3; id++ {
		m, _, err := client.Read()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case m.ID != id:
			t.Fatalf("answer %d came as %d", id, m.ID)
		case id < 3 && (m.Error == nil || m.Error.Code != wire.CodeTooLarge || !strings.Contains(m.Error.Message, "in pages")):
			t.Errorf("answer %d: %+v, want too_large", id, m.Error)
		case id == 3 && (m.Error != nil || string(m.Body) != `{"ok":"yes"}`):
			t.Errorf("the answer after: %+v %s", m.Error, m.Body)
		}
	}
	if n := strings.Count(logged.String(), "answer too large"); n != 2 || !strings.Contains(logged.String(), "op=files.list") {
		t.Errorf("log: %s", logged.String())
	}
}
