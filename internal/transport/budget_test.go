package transport

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/wire"
)

// pairWith is pair with options on the server's end.
func pairWith(t *testing.T, o Options) (client, server *Conn) {
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
	client, server = New(ws, Options{}), New(<-got, o)
	t.Cleanup(func() { client.Close(websocket.CloseNormalClosure, ""); server.Close(websocket.CloseNormalClosure, "") })
	return client, server
}

// notYet fails the test if ch delivers within a moment: what it waits
// for must wait.
func notYet[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s did not wait", what)
	case <-time.After(200 * time.Millisecond):
	}
}

// A connection holding a message against its budget reads no further
// until the message is released; the shared budget counts it, and says
// when it is idle again.
func TestReadWaitsForTheBudget(t *testing.T) {
	shared := NewBudget(64 << 20)
	idle := make(chan int64, 4)
	shared.OnIdle(func(peak int64) { idle <- peak })
	client, server := pairWith(t, Options{ConnBudget: 4 << 20, Budget: shared})
	ctx := context.Background()
	for range 2 {
		if err := client.SendBinary(ctx, make([]byte, 3<<20)); err != nil {
			t.Fatal(err)
		}
	}
	_, first, release, err := server.ReadHeld()
	if err != nil || len(first) != 3<<20 {
		t.Fatalf("first message: %d bytes, %v", len(first), err)
	}
	// It weighs what it takes: its buffer, at least the message and at
	// most twice it.
	if used := shared.Used(); used < 3<<20 || used > 6<<20 {
		t.Fatalf("the shared budget holds %d bytes, want the message's buffer (%d to %d)", used, 3<<20, 6<<20)
	}
	second := make(chan int, 1)
	go func() {
		_, b, release, _ := server.ReadHeld()
		release()
		second <- len(b)
	}()
	notYet(t, second, "reading past the connection's budget")
	release()
	if n := <-second; n != 3<<20 {
		t.Fatalf("second message: %d bytes", n)
	}
	if peak := <-idle; peak < 3<<20 {
		t.Fatalf("idle after a peak of %d bytes", peak)
	}
}

// A connection whose peer does not read queues at most its send budget:
// then Send waits, until its context ends or the connection does.
func TestSendWaitsForTheBudget(t *testing.T) {
	sends := NewBudget(0)
	client, server := pairWith(t, Options{SendBudget: 4 << 20, Sends: sends})
	frame := make([]byte, 1<<20)
	var err error
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	sent := 0
	for err == nil && sent < 64 { // the client never reads: TCP fills, then the queue
		if err = server.SendBinary(ctx, frame); err == nil {
			sent++
		}
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("after %d MiB queued to a peer that does not read: %v", sent, err)
	}
	if used := sends.Used(); used > 4<<20 {
		t.Fatalf("%d bytes queued, over the 4 MiB send budget", used)
	}
	client.Close(websocket.CloseGoingAway, "") // the server's writes fail now
	server.Close(websocket.CloseGoingAway, "")
	if used := sends.Used(); used != 0 {
		t.Fatalf("%d bytes still counted after the connection closed", used)
	}
	if err := server.Send(context.Background(), &wire.Message{Type: wire.TypeAck}); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
}
