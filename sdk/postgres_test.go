package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

// Two iscd replicas on one PostgreSQL database and one chunk store: a file
// saved through one opens through the other, a stale save through either
// is refused, and a licence's seats are counted across both.
func TestPostgresReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	chunks, err := chunkstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := servertest.StartConfig(t, server.Config{Database: dsn, Chunks: chunks})
	b := servertest.StartConfig(t, server.Config{Database: dsn, Chunks: chunks})
	ctx := context.Background()

	ca, cb := connect(t, config(t, a)), connect(t, config(t, b))
	data := randomBytes(7, 600<<10)
	local := writeTemp(t, "bracket.prt", data)
	if res, err := ca.SaveTo(ctx, local, "/pg/bracket.prt", 0, sdk.SaveOptions{}); err != nil || res.Version != 1 {
		t.Fatalf("save through A: %+v, %v", res, err)
	}
	open, err := cb.OpenFile(ctx, "/pg/bracket.prt", false, nil)
	if err != nil {
		t.Fatalf("open through B: %v", err)
	}
	if got, err := os.ReadFile(open.MainFile); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("opened %d bytes (%v), want %d", len(got), err, len(data))
	}
	os.WriteFile(local, []byte("v2"), 0o644)
	if res, err := cb.SaveTo(ctx, local, "/pg/bracket.prt", 1, sdk.SaveOptions{}); err != nil || res.Version != 2 {
		t.Fatalf("save through B: %+v, %v", res, err)
	}
	_, err = ca.SaveTo(ctx, local, "/pg/bracket.prt", 1, sdk.SaveOptions{})
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeConflict {
		t.Fatalf("stale save through A: %v, want a conflict", err)
	}

	// One seat: a program on A holds it, one on B is refused until the
	// first shuts out.
	cfg, _ := customer(t, a, adminapi.CreateLicense{Seats: 1})
	onB := cfg
	onB.Endpoint, onB.Token = b.Endpoint, cfg.Token
	first, second := connect(t, cfg), connect(t, onB)
	if e := requestLicense(t, first, fp1); e.Params["Status"] != "success" {
		t.Fatalf("seat through A: %v", e.Params)
	}
	if e := requestLicense(t, second, fp2); e.Params["errorCode"] != "no_seat" {
		t.Fatalf("second machine through B on a 1-seat licence: %v", e.Params)
	}
	if err := first.ShutOut(); err != nil {
		t.Fatal(err)
	}
	if e := requestLicense(t, second, fp2); e.Params["Status"] != "success" {
		t.Fatalf("seat through B after A's program shut out: %v", e.Params)
	}
}

// An event caused on one replica reaches a program connected to another
// as it is stored (PostgreSQL LISTEN/NOTIFY), in order.
func TestPostgresEventsAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := servertest.StartConfig(t, server.Config{Database: dsn})
	b := servertest.StartConfig(t, server.Config{Database: dsn})
	c := connect(t, config(t, a))
	id := c.SessionID()
	for _, text := range []string{"one", "two", "three"} {
		notice(t, b, id, text) // through B's admin API
	}
	for _, want := range []string{"one", "two", "three"} {
		e := next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventNotice })
		if e.Params["text"] != want {
			t.Fatalf("notice %q, want %q", e.Params["text"], want)
		}
	}
}
