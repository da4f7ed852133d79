package sdk_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// The typed views read what the events carry: the connection, and its
// resumption when iscd restarts; a licence renewed and frozen; an
// operator's notice; the session ended. A view of another event is
// refused.
func TestEventViews(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{LicenseLease: 2 * time.Second})
	cfg, licID := customer(t, srv, adminapi.CreateLicense{Seats: 1, OfflineGraceSeconds: 60})
	c := connect(t, cfg)
	e := next(t, c, isState(sdk.StateConnected))
	if cc, ok := e.ConnectionChange(); !ok || cc.Session != c.SessionID() || cc.Resumed || cc.EventsLost != "" {
		t.Fatalf("connected: %+v %v (%v)", cc, ok, e.Params)
	}
	if _, ok := e.Notice(); ok {
		t.Fatal("a ConnectionState event read as a Notice")
	}

	requestLicense(t, c, fp1)
	lc, ok := next(t, c, licenseState(sdk.LicenseRenewed)).LicenseChange()
	if !ok || lc.LicenseID != licID || !lc.LeaseExpiresAt.After(time.Now()) || lc.License == "" {
		t.Fatalf("renewed: %+v", lc)
	}

	notice(t, srv, c.SessionID(), "maintenance at 22:00")
	if n, ok := next(t, c, isNotice).Notice(); !ok || n != (sdk.Notice{Title: "t", Text: "maintenance at 22:00"}) {
		t.Fatalf("notice: %+v", n)
	}

	ctx := context.Background()
	if err := srv.Admin().Do(ctx, "POST", "/licenses/"+licID+"/freeze", nil, nil); err != nil {
		t.Fatal(err)
	}
	if lc, _ := next(t, c, licenseState(sdk.LicenseFrozen)).LicenseChange(); lc.LicenseID != licID || !strings.Contains(lc.Message, "frozen") {
		t.Fatalf("frozen: %+v", lc)
	}

	srv.Restart()
	if dc, _ := next(t, c, isState(sdk.StateDisconnected)).ConnectionChange(); dc.Err == "" {
		t.Fatalf("disconnected: %+v", dc)
	}
	if cc, _ := next(t, c, isState(sdk.StateConnected)).ConnectionChange(); !cc.Resumed || cc.Session != c.SessionID() {
		t.Fatalf("connected again: %+v", cc)
	}

	if err := srv.Admin().Do(ctx, "DELETE", "/sessions/"+c.SessionID(), nil, nil); err != nil {
		t.Fatal(err)
	}
	r, ok := next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventServiceClosed }).Refusal()
	if !ok || r.Reason != "kicked" || !strings.Contains(r.Message, "operator") {
		t.Fatalf("session ended: %+v", r)
	}
}
