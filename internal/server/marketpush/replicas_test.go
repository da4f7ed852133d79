package marketpush_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/aksk"
	"github.com/iscsdk/iscsdk/internal/envelope"
	"github.com/iscsdk/iscsdk/internal/marketapi"
	"github.com/iscsdk/iscsdk/internal/marketapi/markettest"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
	"github.com/iscsdk/iscsdk/internal/server/marketpush"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/solver/calculixtest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
	"github.com/iscsdk/iscsdk/sdk"
)

// Three iscd replicas on one PostgreSQL database, each running its
// pusher, with real CalculiX solves and 2,500 more records in the outbox:
// one replica at a time pushes (never two pushes at the marketplace at
// once), the leader stopped mid-way hands over when its lease lapses, and
// every record is billed exactly once.
func TestThreeReplicasOnPostgres(t *testing.T) {
	calculixtest.Need(t)
	decks := calculixtest.Decks(t)
	dsn := pgtest.DSN(t)
	market := markettest.Start(t, "ak", "sk", "uk")
	api := server.MarketAPI{
		API:  marketapi.Config{BaseURL: market.URL, Key: aksk.Key{Access: "ak", Secret: "sk"}, UsageKey: "uk", Timeout: 5 * time.Second},
		Push: marketpush.Config{Interval: 50 * time.Millisecond, Lease: time.Second, Batch: 500, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
	}
	var appInfo marketplace.Config
	appInfo.Outbound.AppInfo = marketplace.AppInfo{FrontEndURL: "https://console.example/login"}
	text, err := envelope.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	kek, err := envelope.ParseKeyring(text) // the replicas' one KEK
	if err != nil {
		t.Fatal(err)
	}
	// b starts first and takes the push lease; a runs the dev worker (the
	// solves go through it: b and c share the database, not the chunks).
	b := servertest.StartConfig(t, server.Config{Database: dsn, KEK: kek, MarketAPI: api, NoDevWorker: true})
	c := servertest.StartConfig(t, server.Config{Database: dsn, KEK: kek, MarketAPI: api, NoDevWorker: true})
	a := servertest.StartConfig(t, server.Config{Database: dsn, KEK: kek, MarketAPI: api, Marketplace: appInfo})
	replicas := []*servertest.Server{a, b, c}

	token, instance := servertest.BuyOnDemand(t, a.MarketplaceURL, a.MarketplaceKey, a.Product, "acme")
	// The marketplace answers slowly, so that pushes would overlap if
	// two replicas pushed at once.
	market.SetDelay(200 * time.Millisecond)
	var sns []string
	now := time.Now().UTC()
	var recs []store.OutboxRecord
	for i := range 2500 {
		sn := fmt.Sprintf("bulk-%04d", i)
		sns = append(sns, sn)
		recs = append(recs, store.OutboxRecord{SN: sn, InstanceID: instance, Begin: now.Add(-time.Hour), End: now.Add(-time.Hour + time.Minute),
			Value: 0.0167, Source: "compute", NextTry: now, Created: now})
	}
	if _, err := b.Store().EnqueueUsage(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	// Stop whichever replica leads once it has pushed.
	stopped := -1
	deadline := time.Now().Add(2 * time.Minute)
	for stopped < 0 && time.Now().Before(deadline) {
		select {
		case <-market.Arrived():
		case <-time.After(time.Second):
		}
		for i, r := range replicas {
			var mu adminapi.MarketUsage
			if err := r.Admin().Do(context.Background(), "GET", "/marketplace/usage?limit=1", nil, &mu); err != nil {
				t.Fatal(err)
			}
			if mu.Pusher.Leader && !mu.Pusher.LastPush.IsZero() {
				if i == 0 {
					t.Fatal("a took the lease b held")
				}
				r.Stop() // mid-way: 2,500 records are 5 pushes
				stopped = i
				break
			}
		}
	}
	if stopped < 0 {
		t.Fatal("no replica led")
	}
	if got := len(market.Batches()); got >= 5 {
		t.Logf("the leader had pushed %d times before it stopped", got)
	}
	cfg := sdk.Config{Endpoint: a.Endpoint, Token: token, ProductID: a.Product, WorkspaceDir: t.TempDir(),
		CredentialsFile: filepath.Join(t.TempDir(), "none"), ConnectTimeout: 5 * time.Second}
	cl, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, deck := range decks[:3] {
		res, err := cl.Solve(context.Background(), deck, sdk.SolveOptions{Solver: "calculix"})
		if err != nil || res.Status != sdk.SolveSucceeded {
			t.Fatalf("solve %s: %v %+v", deck, err, res)
		}
	}
	var u adminapi.Usage
	if err := a.Admin().Do(context.Background(), "GET", "/usage?org=mkt-acme", nil, &u); err != nil {
		t.Fatal(err)
	}
	if len(u.Records) != 3 {
		t.Fatalf("%d usage records for 3 solves", len(u.Records))
	}
	for _, r := range u.Records {
		sns = append(sns, r.MeteringSN)
	}

	var mu adminapi.MarketUsage
	for time.Now().Before(deadline) {
		if err := a.Admin().Do(context.Background(), "GET", "/marketplace/usage?limit=1", nil, &mu); err != nil {
			t.Fatal(err)
		}
		if mu.Sent == len(sns) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	billed := market.Billed()
	for _, sn := range sns {
		if _, ok := billed[sn]; !ok {
			t.Errorf("%s never billed", sn)
		}
	}
	if len(billed) != len(sns) || len(market.Conflicts()) != 0 || mu.Sent != len(sns) || mu.Pending != 0 {
		t.Errorf("billed %d of %d, conflicts %v, outbox %+v", len(billed), len(sns), market.Conflicts(), mu)
	}
	if n := market.MaxConcurrentPushes(); n != 1 {
		t.Errorf("%d pushes at the marketplace at once; one replica at a time pushes", n)
	}
	t.Logf("%d records billed once by 3 replicas (stopped: %d); pushes %v", len(billed), stopped, market.Batches())
}
