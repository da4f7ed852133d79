package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/aksk"
	"github.com/iscsdk/iscsdk/internal/appinfo"
	"github.com/iscsdk/iscsdk/internal/marketapi"
	"github.com/iscsdk/iscsdk/internal/marketapi/markettest"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
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

// marketplace activate spends appInfo's one-time secret for the first
// admin's API token: once.
func TestMarketplaceActivate(t *testing.T) {
	var cfg server.Config
	cfg.Marketplace.Outbound.AppInfo = marketplace.AppInfo{FrontEndURL: "https://console.example/login"}
	srv := servertest.StartConfig(t, cfg)
	env := map[string]string{}
	data, err := os.ReadFile(filepath.Join(srv.DataDir, "dev.env"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			env[k] = v
		}
	}
	key := env["ISCD_MARKETPLACE_KEY"]
	body := []byte(`{"activity":"newInstance","orderId":"O-cli","orderLineId":"O-cli-1","businessId":"b","customerId":"cli"}`)
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	q := url.Values{"signature": {marketplace.Sign(key, "n-cli", ts, body)}, "timestamp": {ts}, "nonce": {"n-cli"}}
	resp, err := http.Post(env["ISCD_MARKETPLACE_URL"]+"?"+q.Encode(), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		EncryptType string
		AppInfo     struct{ UserName, Password string }
	}
	json.NewDecoder(resp.Body).Decode(&a)
	user, err1 := appinfo.Decrypt(key, a.EncryptType, a.AppInfo.UserName)
	pass, err2 := appinfo.Decrypt(key, a.EncryptType, a.AppInfo.Password)
	if err1 != nil || err2 != nil {
		t.Fatalf("appInfo %+v: %v %v", a, err1, err2)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte(pass+"\n"), 0o600)
	r := ok(t, nil, "marketplace", "activate", "--server", srv.AdminURL, "--user", user, "--secret-file", secret)
	tok := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(tok, "isk_") || strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stderr, "Signed in as "+user) {
		t.Fatalf("activate: stdout %q stderr %q", r.stdout, r.stderr)
	}
	if ts, _ := srv.Store().Tokens(context.Background(), user); len(ts) != 2 { // the spent secret and the API token
		t.Errorf("tokens of %s: %+v", user, ts)
	}
	fails(t, nil, exitError, []string{"activation refused", "once"}, "marketplace", "activate", "--server", srv.AdminURL, "--user", user, "--secret-file", secret)
	fails(t, nil, exitUsage, []string{"--server"}, "marketplace", "activate", "--server", "http://iscd.example.com", "--user", user, "--secret-file", secret)
}
