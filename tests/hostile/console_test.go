package hostile_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/solver/calculixtest"
	"github.com/iscsdk/iscsdk/sdk"
)

// A customer's admin signed into the console sees their organisation and
// nothing of another's: every page, live part and form of the console
// tried with the other organisation's ids (its licence, seat, session,
// job, organisation) shows nothing of it and changes nothing, the audit
// log shows their organisation's entries alone, and the operators' pages
// are not there for them. The victim is the demo
// organisation, holding a seat and, with CalculiX, running a job; the
// attacker is the admin of another organisation.
func TestConsoleCustomerAdminSeesOnlyTheirOrganisation(t *testing.T) {
	srv := servertest.Start(t)
	ctx, api := context.Background(), srv.Admin()

	// The attacker: an organisation with a licence of its own, its admin.
	if err := api.Do(ctx, "POST", "/orgs", adminapi.CreateOrg{ID: "acme", Name: "Acme"}, nil); err != nil {
		t.Fatal(err)
	}
	var own adminapi.License
	if err := api.Do(ctx, "POST", "/licenses", adminapi.CreateLicense{OrgID: "acme", ProductID: srv.Product, Seats: 1}, &own); err != nil {
		t.Fatal(err)
	}
	var u adminapi.User
	if err := api.Do(ctx, "POST", "/users", adminapi.CreateUser{OrgID: "acme", Name: "Acme IT", Role: adminapi.UserRoleAdmin}, &u); err != nil {
		t.Fatal(err)
	}
	var tok adminapi.NewToken
	if err := api.Do(ctx, "POST", "/tokens", adminapi.CreateToken{UserID: u.ID}, &tok); err != nil {
		t.Fatal(err)
	}

	// The victim: the demo organisation's program holds a seat (and runs
	// a solve that does not end on its own).
	victim := gateClient(t, srv, server.DevOrg, srv.Product)
	desk := sdk.NewDesk(victim)
	id, err := desk.GetLicenseStringRequest("0A:00:00:00:00:42|VICTIM-DISK|VICTIM-BOARD|VICTIM-CPU", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := servertest.NextEvent(t, victim, func(e sdk.Event) bool { return e.Type == sdk.EventLicenseVerify && e.RequestID == id }).Params; p["Status"] != "success" {
		t.Fatalf("the victim's licence: %v", p)
	}
	var seats []adminapi.Seat
	if err := api.Do(ctx, "GET", "/seats?license="+server.DevLicense, nil, &seats); err != nil || len(seats) != 1 {
		t.Fatalf("the victim's seats: %+v %v", seats, err)
	}
	seat := seats[0]
	jobID := ""
	if _, err := exec.LookPath("ccx"); err == nil {
		long := filepath.Join(t.TempDir(), "long.inp")
		if err := os.WriteFile(long, []byte(calculixtest.EndlessDeck), 0o600); err != nil {
			t.Fatal(err)
		}
		rid := gateSolve(t, victim, long)
		running := servertest.NextEvent(t, victim, func(e sdk.Event) bool {
			return e.RequestID == rid && (e.Params["state"] == "running" && e.Params["log"] != "" || e.Type == sdk.EventSolutionResult)
		})
		if jobID = running.Params["jobId"]; running.Type == sdk.EventSolutionResult || jobID == "" {
			t.Fatalf("the victim's solve: %v", running.Params)
		}
	} else {
		t.Log("ccx is not installed: no victim job (its pages and cancel are not tried)")
	}
	before := consoleState(t, srv, jobID)

	c := srv.ConsoleSignIn(t, tok.Secret)
	if _, body := c.Get("/console/licenses"); !strings.Contains(body, own.ID) || strings.Contains(body, server.DevLicense) {
		t.Fatalf("the attacker's licences page:\n%s", body)
	}
	if _, body := c.Get("/console/org"); !strings.Contains(body, "Acme IT") {
		t.Fatalf("the attacker's organisation page:\n%s", body)
	}
	// The audit log: their own licence's entries (the victim's are many:
	// its seat, its session).
	if _, body := c.Get("/console/audit"); !strings.Contains(body, own.ID) {
		t.Fatalf("the attacker's audit log:\n%s", body)
	}
	secrets := []string{server.DevLicense, seat.ID, seat.SessionID, "VICTIM-DISK", "Demo organisation", "Demo engineer"}
	if jobID != "" {
		secrets = append(secrets, jobID)
	}
	// Pages: their own pages with the victim's ids show only their own.
	for _, p := range []string{"licenses", "seats", "jobs", "usage", "usage?org=" + server.DevOrg, "storage", "storage?org=" + server.DevOrg, "org", "org?org=" + server.DevOrg,
		"licenses?org=" + server.DevOrg, "jobs?org=" + server.DevOrg, "audit", "audit?org=" + server.DevOrg, "audit?license=" + own.ID + "&org=" + server.DevOrg} {
		status, body := c.Get("/console/" + p)
		if status != http.StatusOK {
			t.Errorf("%s: %d", p, status)
		}
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("%s shows the other organisation's %q", p, s)
			}
		}
	}
	// Records named by the victim's ids, and the operators' pages: not there.
	named := []string{"licenses/" + server.DevLicense, "orgs", "products", "sessions", "workers", "solvers", "releases",
		"audit?license=" + server.DevLicense, "marketplace"}
	if jobID != "" {
		named = append(named, "jobs/"+jobID)
	}
	for _, p := range named {
		status, body := c.Get("/console/" + p)
		if status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, status)
		}
		for _, s := range secrets {
			if strings.Contains(body, s) && !strings.Contains(p, s) {
				t.Errorf("%s shows the other organisation's %q", p, s)
			}
		}
	}
	// The live parts.
	if body := firstEvents(t, c, "/console/live/seats"); !strings.Contains(body, "event: update") || strings.Contains(body, seat.ID) || strings.Contains(body, "VICTIM") {
		t.Errorf("the live seats:\n%s", body)
	}
	if jobID != "" {
		if body := firstEvents(t, c, "/console/live/jobs/"+jobID); strings.Contains(body, "event: update") || strings.Contains(body, "increment") {
			t.Errorf("the victim job's live log:\n%s", body)
		}
		if body := firstEvents(t, c, "/console/live/jobs/"+jobID+"/row"); strings.Contains(body, "event: update") || strings.Contains(body, jobID) {
			t.Errorf("the victim job's live row:\n%s", body)
		}
	}
	// Every change, on the victim's ids and on their own: refused.
	c.Get("/console/licenses")
	changes := []string{
		"licenses/" + server.DevLicense + "/freeze", "licenses/" + server.DevLicense + "/release", "licenses/" + server.DevLicense + "/extend?expires=2040-01-01",
		"licenses/" + own.ID + "/freeze", "seats/" + seat.ID + "/release", "sessions/" + seat.SessionID + "/end", "sessions/" + seat.SessionID + "/disconnect",
		"orgs?name=evil", "licenses?orgId=acme&productId=" + srv.Product + "&seats=100",
		"releases/withdraw?product=" + srv.Product + "&platform=linux-amd64&version=1.0.0",
	}
	if jobID != "" {
		changes = append(changes, "jobs/"+jobID+"/cancel")
	}
	for _, a := range changes {
		path, q, _ := strings.Cut(a, "?")
		form, _ := url.ParseQuery(q)
		if status, _ := c.Post("/console/"+path, form); status != http.StatusForbidden {
			t.Errorf("POST %s as another organisation's admin: %d", a, status)
		}
	}
	// The console's cookie is no admin token, and no API token.
	consoleCookie := ""
	u0, _ := url.Parse(srv.AdminURL)
	for _, k := range c.Client.Jar.Cookies(u0) {
		if k.Name == "iscd_console" {
			consoleCookie = k.Value
		}
	}
	if err := (&adminapi.Client{BaseURL: srv.AdminURL, Token: consoleCookie}).Do(ctx, "GET", "/orgs", nil, nil); err == nil {
		t.Error("the console's session cookie works as an admin token")
	}
	if after := consoleState(t, srv, jobID); after != before {
		t.Fatalf("a refused change changed something:\nbefore %s\nafter  %s", before, after)
	}
}

// consoleState is what the attacker tried to change: the victim's licence,
// seats, sessions and job.
func consoleState(t *testing.T, srv *servertest.Server, jobID string) string {
	t.Helper()
	ctx := context.Background()
	var d adminapi.LicenseDetail
	var orgs []adminapi.Org
	var ss []adminapi.Session
	var acme []adminapi.License
	for path, v := range map[string]any{"/licenses/" + server.DevLicense: &d, "/orgs": &orgs, "/sessions?org=" + server.DevOrg: &ss, "/licenses?org=acme": &acme} {
		if err := srv.Admin().Do(ctx, "GET", path, nil, v); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	b.WriteString(d.License.Status + " " + d.License.ExpiresAt.String())
	for _, s := range d.SeatsInUse {
		b.WriteString(" seat " + s.ID)
	}
	for _, s := range ss {
		b.WriteString(" session " + s.ID)
	}
	for _, l := range acme {
		b.WriteString(" acme " + l.ID + " " + l.Status)
	}
	b.WriteString(" orgs " + strings.Repeat("x", len(orgs)))
	if jobID != "" {
		var j adminapi.Job
		if err := srv.Admin().Do(ctx, "GET", "/jobs/"+jobID, nil, &j); err != nil {
			t.Fatal(err)
		}
		b.WriteString(" job " + j.State)
		if j.CancelRequested {
			b.WriteString(" cancel requested")
		}
	}
	return b.String()
}

// firstEvents reads a live part's first events (until the first blank
// line after an event, or its end) as the browser's EventSource would.
func firstEvents(t *testing.T, c *servertest.Console, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.Base+path, nil)
	resp, err := c.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if sc.Text() == "" && strings.Contains(b.String(), "event: ") {
			break
		}
	}
	return b.String()
}

// The marketplace takes a customer admin's role away, and later disables
// the user: a console session made while they were an admin ends at once
// each time (their next page sends them to sign in), and the role alone
// does not sign anyone in again.
func TestConsoleSessionEndsWhenTheAdminRoleDoes(t *testing.T) {
	srv := servertest.StartConfig(t, syncConfig())
	k := newKit(t, srv)
	k.ok("tenantSync", tenant("T9", 1, "Console tenant"))
	k.ok("authSync", users("T9", 1, kitUser("ada", "", "admin", "true")))
	u := userNamed(t, srv, "mkt-T9", "ada")
	tok := userToken(t, srv, u.ID)
	c := srv.ConsoleSignIn(t, tok)
	if status, body := c.Get("/console/org"); status != http.StatusOK || !strings.Contains(body, "Name of ada") {
		t.Fatalf("the admin's organisation page: %d\n%s", status, body)
	}
	k.ok("authSync", users("T9", 2, kitUser("ada", "", "user", "true")))
	if status, _ := c.Get("/console/org"); status != http.StatusSeeOther {
		t.Fatalf("after the marketplace took the admin role away: %d", status)
	}
	if status, _ := srv.NewConsole(t).SignIn(tok); status != http.StatusUnauthorized {
		t.Fatalf("signing in again without the role: %d", status)
	}
	k.ok("authSync", users("T9", 2, kitUser("ada", "", "admin", "true")))
	c = srv.ConsoleSignIn(t, tok)
	k.ok("authSync", users("T9", 2, kitUser("ada", "", "admin", "false")))
	if status, _ := c.Get("/console/org"); status != http.StatusSeeOther {
		t.Fatalf("after the marketplace disabled the user: %d", status)
	}
}
