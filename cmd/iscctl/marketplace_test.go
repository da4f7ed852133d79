package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/aksk"
	"github.com/iscsdk/iscsdk/internal/marketapi"
	"github.com/iscsdk/iscsdk/internal/marketapi/markettest"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/marketpush"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store"
)

// marketplace usage shows the outbox; requeue pushes parked records
// again; order queries the marketplace.
func TestMarketplaceCommands(t *testing.T) {
	market := markettest.Start(t, "ak", "sk", "uk")
	srv := servertest.StartConfig(t, server.Config{MarketAPI: server.MarketAPI{
		API:  marketapi.Config{BaseURL: market.URL, Key: aksk.Key{Access: "ak", Secret: "sk"}, UsageKey: "uk"},
		Push: marketpush.Config{Interval: time.Hour, MinBackoff: time.Hour}, // pushes only when kicked
	}})
	env := map[string]string{"ISCD_ADMIN_URL": srv.AdminURL, "ISCD_ADMIN_TOKEN": srv.AdminToken}

	r := ok(t, env, "marketplace", "usage")
	if !strings.Contains(r.stdout, "pending 0") || !strings.Contains(r.stdout, "pusher") {
		t.Errorf("empty outbox:\n%s", r.stdout)
	}
	// Two records, one of an instance the marketplace refuses: parked.
	now := time.Now().UTC()
	rec := func(sn, inst string) store.OutboxRecord {
		return store.OutboxRecord{SN: sn, InstanceID: inst, Begin: now.Add(-time.Hour), End: now, Value: 0.5, Source: "compute", NextTry: now, Created: now}
	}
	market.RefuseInstance("mkt_gone", "MKT.9001")
	if _, err := srv.Store().EnqueueUsage(context.Background(), []store.OutboxRecord{rec("sn-ok", "mkt_ok"), rec("sn-gone", "mkt_gone")}); err != nil {
		t.Fatal(err)
	}
	ok(t, env, "marketplace", "requeue", "--all") // nothing parked yet; it pushes what is due at once
	var u adminapi.MarketUsage
	deadline := time.Now().Add(30 * time.Second)
	for u.Sent+u.Parked < 2 && time.Now().Before(deadline) {
		u = decodeJSON[adminapi.MarketUsage](t, ok(t, env, "--json", "marketplace", "usage").stdout)
		time.Sleep(20 * time.Millisecond)
	}
	if u.Sent != 1 || u.Parked != 1 {
		t.Fatalf("outbox %+v", u)
	}
	r = ok(t, env, "marketplace", "usage", "--state", "parked")
	if !strings.Contains(r.stdout, "sn-gone") || !strings.Contains(r.stdout, "MKT.9001") || strings.Contains(r.stdout, "sn-ok") {
		t.Errorf("parked records:\n%s", r.stdout)
	}
	fails(t, env, exitUsage, []string{"--sn LIST or --all"}, "marketplace", "requeue")
	fails(t, env, exitError, []string{"state"}, "marketplace", "usage", "--state", "lost")

	// Fixed at the marketplace: re-queued, then billed.
	market.RefuseInstance("mkt_gone", "")
	r = ok(t, env, "marketplace", "requeue", "--sn", "sn-gone")
	if !strings.Contains(r.stdout, "1 parked records queued again") {
		t.Errorf("requeue: %s", r.stdout)
	}
	for u.Sent < 2 && time.Now().Before(deadline) {
		u = decodeJSON[adminapi.MarketUsage](t, ok(t, env, "--json", "marketplace", "usage").stdout)
		time.Sleep(20 * time.Millisecond)
	}
	if _, billed := market.Billed()["sn-gone"]; !billed || u.Sent != 2 || u.Parked != 0 {
		t.Errorf("after requeue: billed %v, outbox %+v", billed, u)
	}

	r = ok(t, env, "marketplace", "order", "MOCKONDEMAND")
	if rows := table(t, r.stdout); !strings.Contains(r.stdout, "MOCKONDEMAND-000001") || !strings.Contains(r.stdout, "ON_DEMAND") || len(rows) < 3 {
		t.Errorf("order:\n%s", r.stdout)
	}
	fails(t, env, exitError, []string{"MKT.0101"}, "marketplace", "order", "NOSUCHORDER")
}
