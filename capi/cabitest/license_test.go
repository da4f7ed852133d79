package cabitest

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/sdk"
)

func admin() *adminapi.Client {
	return &adminapi.Client{BaseURL: devEnv["ISCD_ADMIN_URL"], Token: devEnv["ISCD_ADMIN_TOKEN"]}
}

// customer makes an org with a user, an API token and a floating licence
// of seats for the demo product; it returns the token and the licence id.
func customer(t *testing.T, seats int) (string, string) {
	t.Helper()
	ctx, a := context.Background(), admin()
	do := func(path string, in, out any) {
		if err := a.Do(ctx, "POST", path, in, out); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	var org store.Org
	var user store.User
	var tok adminapi.NewToken
	var lic store.License
	do("/orgs", adminapi.CreateOrg{Name: t.Name()}, &org)
	do("/users", adminapi.CreateUser{OrgID: org.ID, Name: "engineer"}, &user)
	do("/tokens", adminapi.CreateToken{UserID: user.ID}, &tok)
	do("/licenses", adminapi.CreateLicense{OrgID: org.ID, ProductID: devEnv["ISCSDK_PRODUCT"], Seats: seats, OfflineGraceSeconds: 60}, &lic)
	return tok.Secret, lic.ID
}

func TestLicenseFlow(t *testing.T) {
	start(t, nil, "license", "flow").finish()
	var audit []store.AuditEntry
	if err := admin().Do(context.Background(), "GET", "/licenses/"+server.DevLicense+"/audit?limit=1000", nil, &audit); err != nil {
		t.Fatal(err)
	}
	for _, e := range audit {
		if e.Event == "verify-failed" && e.Detail == "cabi: the compiled key says no" {
			return
		}
	}
	t.Fatalf("the C program's LicenseVerifyNotify is not in the audit log: %+v", audit)
}

// A program killed with SIGKILL never returns its seat; the seat comes
// back when its lease lapses (2 s here), not before.
func TestKilledProgramsSeatReturnsAfterLease(t *testing.T) {
	tok, licID := customer(t, 1)
	p := start(t, []string{"ISCSDK_TOKEN=" + tok}, "license", "seat")
	p.expect("LICENSED")
	var d adminapi.LicenseDetail
	if err := admin().Do(context.Background(), "GET", "/licenses/"+licID, nil, &d); err != nil || len(d.SeatsInUse) != 1 {
		t.Fatalf("seats after the C program's request: %+v %v", d.SeatsInUse, err)
	}
	lease := d.SeatsInUse[0].LeaseExpires
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()

	c, err := sdk.Init(context.Background(), sdk.Config{Endpoint: devEnv["ISCSDK_ENDPOINT"], Token: tok, ProductID: devEnv["ISCSDK_PRODUCT"],
		WorkspaceDir: t.TempDir(), LogLevel: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ask := func() map[string]string {
		// Another machine: the killed program's own machine would take its
		// seat over at once.
		id, err := sdk.NewDesk(c).GetLicenseStringRequest("0A:00:00:00:00:07|OTHER-DISK|OTHER-BOARD|OTHER-CPU", nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for {
			e, err := c.PollEvent(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if e.Type == sdk.EventLicenseVerify && e.RequestID == id {
				return e.Params
			}
		}
	}
	// The killed program's lease (renewed at half-time) may have been
	// extended once before it died; read the seat again.
	if err := admin().Do(context.Background(), "GET", "/licenses/"+licID, nil, &d); err == nil && len(d.SeatsInUse) == 1 {
		lease = d.SeatsInUse[0].LeaseExpires
	}
	if got := ask(); got["errorCode"] != "no_seat" {
		t.Fatalf("the killed program's seat was free before its lease lapsed: %v", got)
	}
	time.Sleep(time.Until(lease) + 100*time.Millisecond) // the lease's end is the behaviour under test
	if got := ask(); got["Status"] != "success" {
		t.Fatalf("after the lease lapsed: %v", got)
	}
}

func TestFreezeReachesTheCProgram(t *testing.T) {
	tok, licID := customer(t, 1)
	p := start(t, []string{"ISCSDK_TOKEN=" + tok}, "license", "freeze")
	p.expect("LICENSED")
	for _, step := range []struct{ action, line string }{{"freeze", "FROZEN"}, {"unfreeze", "UNFROZEN"}} {
		sent := time.Now()
		if err := admin().Do(context.Background(), "POST", "/licenses/"+licID+"/"+step.action, nil, nil); err != nil {
			t.Fatal(err)
		}
		p.expect(step.line)
		// The promise: within a second. Loopback delivery takes
		// milliseconds, so this bound has two orders of magnitude to spare.
		if d := time.Since(sent); d > time.Second {
			t.Errorf("%s reached the C program after %v", step.action, d)
		} else {
			t.Logf("%s reached the C program after %v", step.action, d)
		}
	}
	p.finish()
	if !strings.Contains(p.out.String(), "FROZEN\nUNFROZEN\n") {
		t.Fatalf("output:\n%s", p.out.String())
	}
}

// kitKey is the 联营kit key of the iscd the C programs run against.
const kitKey = "cabitest-kit-key"

// kitSync sends one signed sync call as the marketplace does.
func kitSync(t *testing.T, name string, body any) {
	t.Helper()
	if code := servertest.KitSync(t, devEnv["ISCD_ADMIN_URL"], kitKey, name, body); code != marketplace.ResultOK {
		t.Fatalf("%s: resultCode %s", name, code)
	}
}

// The marketplace revokes a user whose C program holds the licence's one
// seat: the program sees its licence released and SIGN_IN_REQUIRED, and
// the seat is free, within a second.
func TestRevokedUserReachesTheCProgram(t *testing.T) {
	ctx, a := context.Background(), admin()
	kitSync(t, "tenantSync", map[string]any{"tenantId": "cabi-tenant", "name": "C tenant", "flag": 1})
	user := map[string]string{"userName": "engineer", "name": "Engineer", "role": "user", "enable": "true"}
	kitSync(t, "authSync", map[string]any{"tenantId": "cabi-tenant", "flag": 1, "userList": []map[string]string{user}})
	var users []store.User
	if err := a.Do(ctx, "GET", "/users?org=mkt-cabi-tenant", nil, &users); err != nil || len(users) != 1 {
		t.Fatalf("users: %+v %v", users, err)
	}
	var tok adminapi.NewToken
	var lic store.License
	if err := a.Do(ctx, "POST", "/tokens", adminapi.CreateToken{UserID: users[0].ID}, &tok); err != nil {
		t.Fatal(err)
	}
	if err := a.Do(ctx, "POST", "/licenses", adminapi.CreateLicense{OrgID: "mkt-cabi-tenant", ProductID: devEnv["ISCSDK_PRODUCT"], Seats: 1}, &lic); err != nil {
		t.Fatal(err)
	}
	p := start(t, []string{"ISCSDK_TOKEN=" + tok.Secret}, "license", "revoked")
	p.expect("LICENSED")
	sent := time.Now()
	kitSync(t, "authSync", map[string]any{"tenantId": "cabi-tenant", "flag": 3, "userList": []map[string]string{{"userName": "engineer"}}})
	p.expect("RELEASED")
	p.expect("SIGN_IN_REQUIRED")
	heard := time.Since(sent)
	var seats []store.Seat
	if err := a.Do(ctx, "GET", "/seats?license="+lic.ID, nil, &seats); err != nil {
		t.Fatal(err)
	}
	if freed := time.Since(sent); len(seats) != 0 || freed > time.Second || heard > time.Second {
		t.Fatalf("after %v the program had heard (%v) and the licence holds %+v", freed, heard, seats)
	}
	t.Logf("the C program heard of the revocation after %v", heard)
	p.finish()
}
