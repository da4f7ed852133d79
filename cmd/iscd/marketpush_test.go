package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/marketapi"
	"github.com/iscsdk/iscsdk/internal/marketapi/markettest"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/solver/calculixtest"
	"github.com/iscsdk/iscsdk/sdk"
)

// Usage from real CalculiX solves reaches the marketplace exactly once
// (by metering_sn) although iscd is killed with SIGKILL while its push is
// in the marketplace's hands (the marketplace bills it, iscd never hears),
// and the next push times out after the marketplace billed it.
func TestUsageExactlyOnceAcrossKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the iscd binary")
	}
	calculixtest.Need(t)
	decks := calculixtest.Decks(t)
	bin := filepath.Join(t.TempDir(), "iscd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	market := markettest.Start(t, "ak", "sk", "uk")
	secrets := t.TempDir()
	os.WriteFile(filepath.Join(secrets, "sk"), []byte("sk\n"), 0o600)
	os.WriteFile(filepath.Join(secrets, "uk"), []byte("uk\n"), 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	data := t.TempDir()
	args := []string{"--listen", addr, "--marketplace-api", market.URL, "--marketplace-ak", "ak",
		"--marketplace-sk-file", filepath.Join(secrets, "sk"), "--marketplace-usage-key-file", filepath.Join(secrets, "uk"),
		"--marketplace-push-interval", "100ms", "--marketplace-api-timeout", "1s", "--marketplace-push-retry", "200ms",
		"--marketplace-appinfo-url", "https://console.example/login"}
	held := make(chan struct{})
	// The first push is held until iscd is dead, then billed; the next
	// one is billed and never answered.
	market.Script(marketapi.UsagePath, markettest.Answer{Hold: held, AcceptFirst: true}, markettest.Answer{Hang: true, AcceptFirst: true})
	iscd, err := servertest.StartBinary(bin, data, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { iscd.Stop() }()

	// A customer buys pay-per-use solving: the instance's org gets its
	// first admin through appInfo's one-time secret.
	token, _ := servertest.BuyOnDemand(t, iscd.Env["ISCD_MARKETPLACE_URL"], iscd.Env["ISCD_MARKETPLACE_KEY"], iscd.Env["ISCSDK_PRODUCT"], "acme")
	solve := func(deck string) string {
		cfg := sdk.Config{Endpoint: iscd.Env["ISCSDK_ENDPOINT"], Token: token, ProductID: iscd.Env["ISCSDK_PRODUCT"],
			WorkspaceDir: t.TempDir(), CredentialsFile: filepath.Join(t.TempDir(), "none"), ConnectTimeout: 5 * time.Second}
		c, err := sdk.Init(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		res, err := c.Solve(context.Background(), deck, sdk.SolveOptions{Solver: "calculix"})
		if err != nil || res.Status != sdk.SolveSucceeded {
			t.Fatalf("solve %s: %v %+v", deck, err, res)
		}
		return res.JobID
	}
	solve(decks[0])
	waitPush(t, market) // the first push is in the marketplace's hands
	solve(decks[1])
	solve(decks[2])
	iscd.Kill()
	close(held) // billed now, with no one to answer
	if iscd, err = servertest.StartBinary(bin, data, args...); err != nil {
		t.Fatal(err)
	}
	solve(decks[3])
	solve(decks[4])

	want := usageSNs(t, iscd.Env, "mkt-acme")
	if len(want) != 5 {
		t.Fatalf("%d usage records for 5 solves: %v", len(want), want)
	}
	// Until iscd knows every record sent (it retries what timed out).
	var u adminapi.MarketUsage
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := admin(iscd.Env).Do(context.Background(), "GET", "/marketplace/usage?limit=0", nil, &u); err != nil {
			t.Fatal(err)
		}
		if u.Sent == len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if u.Sent != 5 || u.Pending != 0 || u.Parked != 0 || !u.Pusher.Enabled || !u.Pusher.Leader {
		t.Errorf("outbox = %+v", u)
	}
	billed := market.Billed()
	instance := marketplace.InstanceID("ORD-acme", "ORD-acme-1")
	for _, sn := range want {
		u, ok := billed[sn]
		if !ok {
			t.Errorf("%s was never billed", sn)
			continue
		}
		if u.InstanceID != instance || u.UsageValue <= 0 {
			t.Errorf("%s billed as %+v", sn, u)
		}
	}
	if len(billed) != len(want) || len(market.Conflicts()) > 0 {
		t.Errorf("billed %d records for %d, conflicts %v", len(billed), len(want), market.Conflicts())
	}
	resent := 0
	for _, sn := range want {
		if market.Received(sn) > 1 {
			resent++
		}
	}
	if resent == 0 {
		t.Error("no record was pushed twice: the kill and the timeout tested nothing")
	}
	t.Logf("5 records billed once each; %d of them pushed more than once; pushes %v", resent, market.Batches())
}

// waitPush waits for the next usage push to arrive at the marketplace.
func waitPush(t *testing.T, m *markettest.Server) {
	t.Helper()
	select {
	case <-m.Arrived():
	case <-time.After(30 * time.Second):
		t.Fatal("no push reached the marketplace in 30 s")
	}
}

func admin(env map[string]string) *adminapi.Client {
	return &adminapi.Client{BaseURL: env["ISCD_ADMIN_URL"], Token: env["ISCD_ADMIN_TOKEN"]}
}

func usageSNs(t *testing.T, env map[string]string, org string) []string {
	t.Helper()
	var u adminapi.Usage
	if err := admin(env).Do(context.Background(), "GET", "/usage?org="+org, nil, &u); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range u.Records {
		out = append(out, r.MeteringSN)
	}
	return out
}
