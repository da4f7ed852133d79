package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

// Three machines' fingerprints.
const (
	fp1 = "04:7C:16:5E:E3:5D|001B_444A|BOARD-1|BFEBFBFF00090672"
	fp2 = "0A:00:00:00:00:02|DISK-2|BOARD-2|CPU-2"
	fp3 = "0A:00:00:00:00:03|DISK-3|BOARD-3|CPU-3"
)

// customer makes an org with a user and a licence for the demo product
// and returns a client config for that user and the licence id.
func customer(t *testing.T, srv *servertest.Server, lic adminapi.CreateLicense) (sdk.Config, string) {
	t.Helper()
	ctx := context.Background()
	a := srv.Admin()
	var org store.Org
	var user store.User
	var tok adminapi.NewToken
	var l store.License
	if err := a.Do(ctx, "POST", "/orgs", adminapi.CreateOrg{Name: "Customer " + t.Name()}, &org); err != nil {
		t.Fatal(err)
	}
	if err := a.Do(ctx, "POST", "/users", adminapi.CreateUser{OrgID: org.ID, Name: "engineer"}, &user); err != nil {
		t.Fatal(err)
	}
	if err := a.Do(ctx, "POST", "/tokens", adminapi.CreateToken{UserID: user.ID}, &tok); err != nil {
		t.Fatal(err)
	}
	cfg := config(t, srv)
	cfg.Token = tok.Secret
	if lic.Seats == 0 {
		return cfg, ""
	}
	lic.OrgID = org.ID
	if lic.ProductID == "" {
		lic.ProductID = srv.Product
	}
	if err := a.Do(ctx, "POST", "/licenses", lic, &l); err != nil {
		t.Fatal(err)
	}
	return cfg, l.ID
}

func connect(t *testing.T, cfg sdk.Config) *sdk.Client {
	t.Helper()
	c, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// requestLicense asks for a licence string and returns the LicenseVerify event.
func requestLicense(t *testing.T, c *sdk.Client, dev string) sdk.Event {
	t.Helper()
	id, err := sdk.NewDesk(c).GetLicenseStringRequest(dev, json.RawMessage(`{"doc":"bracket.prt"}`))
	if err != nil {
		t.Fatal(err)
	}
	e := next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventLicenseVerify && e.RequestID == id })
	if string(e.ComeBack) != `{"doc":"bracket.prt"}` {
		t.Fatalf("comeBackParams %s", e.ComeBack)
	}
	return e
}

func publicKey(t *testing.T, srv *servertest.Server) string {
	var keys adminapi.PublicKeys
	if err := srv.Admin().Do(context.Background(), "GET", "/products/"+srv.Product+"/keys", nil, &keys); err != nil {
		t.Fatal(err)
	}
	return strings.Join(keys.Keys, ",")
}

func TestLicenseStringRequestAndOfflineVerify(t *testing.T) {
	t.Setenv("ISCSDK_WORKSPACE", t.TempDir())
	srv := servertest.Start(t)
	c := connect(t, config(t, srv))
	e := requestLicense(t, c, fp1)
	if e.Params["Status"] != "success" || e.Params["LicenseType"] != "string" || e.Params["LicenseContent"] == "" || e.Params["licenseId"] != server.DevLicense {
		t.Fatalf("LicenseVerify %v", e.Params)
	}
	lic := e.Params["LicenseContent"]
	res, err := sdk.VerifyLicense(lic, publicKey(t, srv), fp1)
	if err != nil || !res.Valid || res.Edition != "professional" || strings.Join(res.Features, ",") != "export,mesh,solve" {
		t.Fatalf("verify: %+v %v", res, err)
	}
	// Another machine: refused offline.
	res, _ = sdk.VerifyLicense(lic, publicKey(t, srv), "AA:AA:AA:AA:AA:AA|OTHER|BOARD-2|CPU2")
	if res.Valid || res.Code != "wrong_device" {
		t.Fatalf("other device: %+v", res)
	}
	// The dev service exports the same key in dev.env.
	env, _ := os.ReadFile(filepath.Join(srv.DataDir, "dev.env"))
	if !strings.Contains(string(env), "ISCSDK_LICENSE_PUBLIC_KEY="+publicKey(t, srv)) {
		t.Fatalf("dev.env lacks the public key:\n%s", env)
	}
	if _, err := sdk.VerifyLicense(lic, "not a key", fp1); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("bad key: %v", err)
	}
}

func TestLicenseFileRequest(t *testing.T) {
	srv := servertest.Start(t)
	cfg := config(t, srv)
	c := connect(t, cfg)
	id, err := sdk.NewDesk(c).GetLicenseFileRequest("cad.lic", fp1, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventLicenseVerify && e.RequestID == id })
	want := filepath.Join(cfg.WorkspaceDir, "licenses", "cad.lic")
	if e.Params["Status"] != "success" || e.Params["LicenseType"] != "file" || e.Params["LicenseFilePath"] != want {
		t.Fatalf("LicenseVerify %v", e.Params)
	}
	b, err := os.ReadFile(want)
	if err != nil || !strings.HasPrefix(string(b), "ISL1.") {
		t.Fatalf("licence file: %q %v", b, err)
	}
	for _, bad := range []string{"../escape.lic", "a/../../b.lic", ""} {
		if _, err := sdk.NewDesk(c).GetLicenseFileRequest(bad, fp1, nil); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("file name %q: %v", bad, err)
		}
	}
	// A file that cannot be written: a failed event, not a crash.
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o600)
	id, _ = sdk.NewDesk(c).GetLicenseFileRequest(filepath.Join(blocker, "x.lic"), fp1, nil)
	e = next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventLicenseVerify && e.RequestID == id })
	if e.Params["Status"] != "failed" || e.Params["errorCode"] != "file_error" {
		t.Fatalf("unwritable file: %v", e.Params)
	}
}

func TestLicenseRefusals(t *testing.T) {
	srv := servertest.Start(t)
	past := time.Now().Add(-48 * time.Hour)
	for _, tc := range []struct {
		name string
		lic  adminapi.CreateLicense
		dev  string
		code string
	}{
		{"no licence", adminapi.CreateLicense{}, fp1, "not_entitled"},
		{"expired", adminapi.CreateLicense{Seats: 1, ExpiresAt: past, EffectiveAt: past.Add(-time.Hour)}, fp1, "license_expired"},
		{"not yet valid", adminapi.CreateLicense{Seats: 1, EffectiveAt: time.Now().Add(48 * time.Hour)}, fp1, "not_yet_valid"},
		{"node-locked without device", adminapi.CreateLicense{Seats: 1, Kind: "node-locked"}, "|||", "device_required"},
		{"malformed device", adminapi.CreateLicense{Seats: 1}, "A|B", "bad_device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := customer(t, srv, tc.lic)
			c := connect(t, cfg)
			e := requestLicense(t, c, tc.dev)
			if e.Params["Status"] != "failed" || e.Params["errorCode"] != tc.code || e.Params["errorMsg"] == "" {
				t.Fatalf("got %v, want errorCode %s", e.Params, tc.code)
			}
		})
	}
	t.Run("wrong product", func(t *testing.T) {
		if err := srv.Admin().Do(context.Background(), "POST", "/products", adminapi.CreateProduct{ID: "other-cae", Name: "Other"}, nil); err != nil {
			t.Fatal(err)
		}
		cfg, _ := customer(t, srv, adminapi.CreateLicense{Seats: 1, ProductID: "other-cae"})
		e := requestLicense(t, connect(t, cfg), fp1)
		if e.Params["errorCode"] != "wrong_product" {
			t.Fatalf("%v", e.Params)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		c := connect(t, config(t, srv))
		for _, tc := range []struct {
			dev string
			cb  json.RawMessage
		}{
			{strings.Repeat("A", 5*1024+1), nil},
			{"\xff\xfe|||", nil},
			{fp1, json.RawMessage(`[1,2]`)},
			{fp1, json.RawMessage(`{"a":`)},
		} {
			if _, err := sdk.NewDesk(c).GetLicenseStringRequest(tc.dev, tc.cb); !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Errorf("dev %.20q cb %s: %v", tc.dev, tc.cb, err)
			}
		}
		if _, err := sdk.VerifyLicense(strings.Repeat("x", 10<<20), publicKey(t, srv), fp1); err != nil {
			t.Fatal(err)
		} else if res, _ := sdk.VerifyLicense(strings.Repeat("x", 10<<20), publicKey(t, srv), fp1); res.Code != "too_large" {
			t.Fatalf("10 MB licence: %v", res.Code)
		}
	})
}

func TestNodeLockedDevices(t *testing.T) {
	srv := servertest.Start(t)
	cfg, _ := customer(t, srv, adminapi.CreateLicense{Seats: 2, Kind: "node-locked"})
	c := connect(t, cfg)
	for _, dev := range []string{
		fp1, "0A:00:00:00:00:01|DISK-2|BOARD-2|CPU-2",
		"04:7C:16:5E:E3:5D,0A:0B:0C:0D:0E:0F|001B_444A|NEW-BOARD|BFEBFBFF00090672", // fp1 with a new NIC and board: the same device
	} {
		if e := requestLicense(t, c, dev); e.Params["Status"] != "success" {
			t.Fatalf("device %s: %v", dev, e.Params)
		}
	}
	if e := requestLicense(t, c, "0A:00:00:00:00:03|DISK-3|BOARD-3|CPU-3"); e.Params["errorCode"] != "device_limit" {
		t.Fatalf("third device: %v", e.Params)
	}
}

func seatsOf(t *testing.T, srv *servertest.Server, licID string) []adminapi.Seat {
	t.Helper()
	var d adminapi.LicenseDetail
	if err := srv.Admin().Do(context.Background(), "GET", "/licenses/"+licID, nil, &d); err != nil {
		t.Fatal(err)
	}
	return d.SeatsInUse
}

func TestFloatingSeats(t *testing.T) {
	srv := servertest.Start(t)
	cfg, licID := customer(t, srv, adminapi.CreateLicense{Seats: 2})
	p := startProxy(t, srv.Addr)
	viaProxy := cfg
	viaProxy.Endpoint = p.Endpoint()
	// Three machines (seats count users on machines).
	a, b, c := connect(t, viaProxy), connect(t, cfg), connect(t, cfg)
	if e := requestLicense(t, a, fp1); e.Params["Status"] != "success" {
		t.Fatalf("seat: %v", e.Params)
	}
	if e := requestLicense(t, b, fp2); e.Params["Status"] != "success" {
		t.Fatalf("seat: %v", e.Params)
	}
	if e := requestLicense(t, c, fp3); e.Params["errorCode"] != "no_seat" {
		t.Fatalf("third session on a 2-seat licence: %v", e.Params)
	}
	// Asking again, and reconnecting, never takes a second seat.
	requestLicense(t, a, fp1)
	p.Cut(true)
	next(t, a, isState(sdk.StateDisconnected))
	p.Cut(false)
	next(t, a, isState(sdk.StateConnected))
	if e := requestLicense(t, a, fp1); e.Params["Status"] != "success" {
		t.Fatalf("after reconnect: %v", e.Params)
	}
	if n := len(seatsOf(t, srv, licID)); n != 2 {
		t.Fatalf("%d seats held, want 2", n)
	}
	// ShutOut returns the seat at once.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if e := requestLicense(t, c, fp3); e.Params["Status"] != "success" {
		t.Fatalf("after a ShutOut: %v", e.Params)
	}
}

func TestCrashedClientSeatReturnsAfterLease(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{LicenseLease: 2 * time.Second})
	cfg, licID := customer(t, srv, adminapi.CreateLicense{Seats: 1})
	p := startProxy(t, srv.Addr)
	crashing := cfg
	crashing.Endpoint = p.Endpoint()
	a := connect(t, crashing)
	if e := requestLicense(t, a, fp1); e.Params["Status"] != "success" {
		t.Fatal(e.Params)
	}
	p.Cut(true) // the program is gone: no ShutOut, no renewals
	next(t, a, isState(sdk.StateDisconnected))
	b := connect(t, cfg) // another machine
	if e := requestLicense(t, b, fp2); e.Params["errorCode"] != "no_seat" {
		t.Fatalf("seat free before the lease lapsed: %v", e.Params)
	}
	lease := seatsOf(t, srv, licID)[0].LeaseExpires
	time.Sleep(time.Until(lease) + 50*time.Millisecond) // wait for the lease itself: the behaviour under test is its end
	if e := requestLicense(t, b, fp2); e.Params["Status"] != "success" {
		t.Fatalf("after the lease lapsed: %v", e.Params)
	}
}

func licenseState(state string) func(sdk.Event) bool {
	return func(e sdk.Event) bool { return e.Type == sdk.EventLicenseState && e.Params["state"] == state }
}

func TestLeaseRenewsAndSurvivesOutage(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{LicenseLease: 2 * time.Second})
	cfg, _ := customer(t, srv, adminapi.CreateLicense{Seats: 1, OfflineGraceSeconds: 2})
	c := connect(t, cfg)
	requestLicense(t, c, fp1)
	e := next(t, c, licenseState(sdk.LicenseRenewed))
	if e.Params["LicenseContent"] == "" || e.Params["leaseExpiresAt"] == "" {
		t.Fatalf("renewed: %v", e.Params)
	}
	srv.Stop()
	next(t, c, licenseState(sdk.LicenseOfflineGrace))
	srv.Restart()
	next(t, c, isState(sdk.StateConnected))
	next(t, c, licenseState(sdk.LicenseRenewed))

	srv.Stop()
	next(t, c, licenseState(sdk.LicenseOfflineGrace))
	if e := next(t, c, licenseState(sdk.LicenseExpired)); e.Params["message"] == "" {
		t.Fatal(e.Params)
	}
}

func TestFreezeIsPushedAndUnfreezeRestores(t *testing.T) {
	srv := servertest.Start(t)
	cfg, licID := customer(t, srv, adminapi.CreateLicense{Seats: 1})
	c := connect(t, cfg)
	requestLicense(t, c, fp1)
	a := srv.Admin()
	if err := a.Do(context.Background(), "POST", "/licenses/"+licID+"/freeze", nil, nil); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	next(t, c, licenseState(sdk.LicenseFrozen))
	if d := time.Since(frozen); d > time.Second {
		t.Errorf("freeze took %v to reach the program", d)
	}
	e := next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventLicenseVerify })
	if e.Params["Status"] != "failed" || e.Params["errorCode"] != "license_frozen" || e.RequestID != 0 {
		t.Fatalf("pushed LicenseVerify: %+v", e)
	}
	if e := requestLicense(t, c, fp1); e.Params["errorCode"] != "license_frozen" {
		t.Fatalf("request while frozen: %v", e.Params)
	}
	if err := a.Do(context.Background(), "POST", "/licenses/"+licID+"/unfreeze", nil, nil); err != nil {
		t.Fatal(err)
	}
	next(t, c, licenseState(sdk.LicenseUnfrozen))
	if e := requestLicense(t, c, fp1); e.Params["Status"] != "success" {
		t.Fatalf("after unfreeze: %v", e.Params)
	}
}

func TestVerifyNotifyIsAudited(t *testing.T) {
	srv := servertest.Start(t)
	c := connect(t, config(t, srv))
	requestLicense(t, c, fp1)
	if err := sdk.NewDesk(c).LicenseVerifyNotify(false, "signature did not match the compiled key"); err != nil {
		t.Fatal(err)
	}
	if err := sdk.NewDesk(c).LicenseVerifyNotify(false, "\xff"); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("invalid UTF-8: %v", err)
	}
	c.Close() // waits for the notify to be delivered
	var audit []store.AuditEntry
	if err := srv.Admin().Do(context.Background(), "GET", "/licenses/"+server.DevLicense+"/audit", nil, &audit); err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, e := range audit {
		events = append(events, e.Event+":"+e.Detail)
	}
	got := strings.Join(events, "\n")
	if !strings.Contains(got, "issued:") || !strings.Contains(got, "verify-failed:signature did not match") || !strings.Contains(got, "seat-returned") {
		t.Fatalf("audit:\n%s", got)
	}
}

// A program back in a new session (its old one expired while it slept, or
// it restarted) takes over its own seat instead of needing a second one.
func TestNewSessionTakesOverItsOwnSeat(t *testing.T) {
	srv := servertest.Start(t)
	cfg, licID := customer(t, srv, adminapi.CreateLicense{Seats: 1})
	p := startProxy(t, srv.Addr)
	first := cfg
	first.Endpoint = p.Endpoint()
	a := connect(t, first)
	if e := requestLicense(t, a, fp1); e.Params["Status"] != "success" {
		t.Fatal(e.Params)
	}
	p.Cut(true) // gone without a ShutOut: its seat's lease runs on
	next(t, a, isState(sdk.StateDisconnected))
	b := connect(t, cfg) // the same user on the same machine, a new session
	if e := requestLicense(t, b, fp1); e.Params["Status"] != "success" {
		t.Fatalf("the same device in a new session: %v", e.Params)
	}
	if n := len(seatsOf(t, srv, licID)); n != 1 {
		t.Fatalf("%d seats held, want 1", n)
	}
	// Another machine of that user still finds no seat.
	c := connect(t, cfg)
	if e := requestLicense(t, c, "0A:00:00:00:00:09|D9|B9|C9"); e.Params["errorCode"] != "no_seat" {
		t.Fatalf("another device: %v", e.Params)
	}
}

// A session gone for longer than its resume window is ended by the sweep,
// and the seat it held comes back without waiting for the lease.
func TestSweepEndsExpiredSessionsAndFreesTheirSeats(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{ResumeWindow: time.Millisecond})
	cfg, licID := customer(t, srv, adminapi.CreateLicense{Seats: 1})
	p := startProxy(t, srv.Addr)
	gone := cfg
	gone.Endpoint = p.Endpoint()
	a := connect(t, gone)
	requestLicense(t, a, fp1)
	p.Cut(true)
	next(t, a, isState(sdk.StateDisconnected))
	if n := len(seatsOf(t, srv, licID)); n != 1 {
		t.Fatalf("%d seats before the sweep", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(seatsOf(t, srv, licID)) != 0 { // the window is 1 ms: the next sweeps end it
		if err := srv.Hub().Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweep never ended the session")
		}
	}
}

// A session cannot write into the audit log of another org's licence.
func TestNotifyOnlyForOwnLicences(t *testing.T) {
	srv := servertest.Start(t)
	_, otherLic := customer(t, srv, adminapi.CreateLicense{Seats: 1})
	ws, _, err := websocket.DefaultDialer.Dial(srv.Endpoint, http.Header{"Authorization": {"Bearer " + srv.APIToken}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	hello, _ := wire.Encode(&wire.Message{Type: wire.TypeHello, Hello: &wire.Hello{Protocol: 1, Product: srv.Product}})
	ws.WriteMessage(websocket.TextMessage, hello)
	ws.ReadMessage()
	body, _ := json.Marshal(wire.LicenseNotify{LicenseID: otherLic, Verified: false, Message: "forged"})
	req, _ := wire.Encode(&wire.Message{Type: wire.TypeRequest, ID: 3, Op: wire.OpLicenseNotify, Body: body})
	ws.WriteMessage(websocket.TextMessage, req)
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if m, err := wire.Decode(b); err == nil && m.ID == 3 {
			if m.Error == nil || m.Error.Code != wire.CodeNotFound {
				t.Fatalf("notify for another org's licence: %+v", m)
			}
			break
		}
	}
	var audit []store.AuditEntry
	srv.Admin().Do(context.Background(), "GET", "/licenses/"+otherLic+"/audit", nil, &audit)
	for _, e := range audit {
		if e.Detail == "forged" {
			t.Fatal("a forged entry reached another org's audit log")
		}
	}
}
