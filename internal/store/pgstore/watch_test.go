package pgstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/pgstore"
	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
)

// An event appended through one replica is named to the watcher of
// another, and a job queued there is told; the watcher first calls both
// for what it may have missed, and stops with ctx.
func TestWatch(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := open(t, dsn, 0), open(t, dsn, 0)
	ctx, cancel := context.WithCancel(context.Background())
	named := make(chan string, 16)
	queued := make(chan bool, 16)
	said := make(chan string, 16)
	done := make(chan error, 1)
	listening := make(chan bool, 1)
	go func() {
		done <- a.Watch(ctx, pgstore.Watcher{Events: func(id string) { named <- id }, Jobs: func() { queued <- true },
			Broadcast: func(p string) { said <- p }, Listening: func() { listening <- true }})
	}()
	// Once Listening is called, a broadcast is heard: none is sent before
	// it, since a replica that was not listening would never hear it.
	<-listening
	if err := b.Broadcast(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	if p := <-said; p != "first" {
		t.Fatalf("broadcast right after Listening: %q", p)
	}
	if id := <-named; id != "" {
		t.Fatalf("first call: %q, want \"\" (listening)", id)
	}
	<-queued
	for _, id := range []string{"s1", "s2"} {
		if err := b.PutSession(ctx, store.Session{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"s1", "s2", "s1"} {
		if _, err := b.AppendEvent(ctx, id, []byte("x")); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-named:
			if got != id {
				t.Fatalf("watcher named %q, want %q", got, id)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no notification for %s", id)
		}
	}
	// A failed append (no such session) names nobody.
	if _, err := b.AppendEvent(ctx, "gone", []byte("x")); err == nil {
		t.Fatal("append to a missing session succeeded")
	}
	if _, err := b.AppendEvent(ctx, "s2", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got := <-named; got != "s2" {
		t.Fatalf("after a failed append the watcher named %q, want s2", got)
	}
	if err := b.CreateJob(ctx, store.Job{ID: "j", Created: time.Now(), Solver: store.Solver{Name: "s"}}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-queued:
	case <-time.After(30 * time.Second):
		t.Fatal("no notification for the queued job")
	}
	if err := b.Broadcast(ctx, `{"hello":"replicas"}`); err != nil {
		t.Fatal(err)
	}
	if p := <-said; p != `{"hello":"replicas"}` {
		t.Fatalf("broadcast %q", p)
	}
	if err := b.Broadcast(ctx, strings.Repeat("x", pgstore.MaxBroadcast+1)); err == nil {
		t.Fatal("an oversized broadcast was sent")
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Watch returned %v, want context.Canceled", err)
	}
}
