package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
)

// logBuffer is iscd's log, for a test to read while iscd writes it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// apiErr is the admin API's refusal in err, or nil.
func apiErr(err error) *adminapi.Error {
	var e *adminapi.Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// vendorUser makes an organisation of the vendor's own people and a user
// of it (no admin of it), and returns the user and an API token of theirs.
func vendorUser(t *testing.T, srv *servertest.Server, name string) (adminapi.User, string) {
	t.Helper()
	ctx, api := context.Background(), srv.Admin()
	if err := api.Do(ctx, "POST", "/orgs", adminapi.CreateOrg{ID: "vendor", Name: "The vendor"}, nil); err != nil && !strings.Contains(err.Error(), "exists") {
		t.Fatal(err)
	}
	var u adminapi.User
	if err := api.Do(ctx, "POST", "/users", adminapi.CreateUser{OrgID: "vendor", Name: name}, &u); err != nil {
		t.Fatal(err)
	}
	var tok adminapi.NewToken
	if err := api.Do(ctx, "POST", "/tokens", adminapi.CreateToken{UserID: u.ID}, &tok); err != nil {
		t.Fatal(err)
	}
	return u, tok.Secret
}

// grant has the owner grant role to user, and returns the grant as the
// admin API answered it.
func grant(t *testing.T, srv *servertest.Server, userID string, role adminapi.Role) adminapi.AdminToken {
	t.Helper()
	var raw json.RawMessage
	if err := srv.Admin().Do(context.Background(), "POST", "/admin-tokens", adminapi.CreateAdminToken{Role: role, UserID: userID, Name: "grant"}, &raw); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(`"token"`)) || bytes.Contains(raw, []byte(token.PrefixAdmin+"_")) {
		t.Fatalf("a grant's answer holds a token: %s", raw)
	}
	var g adminapi.AdminToken
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if g.UserID != userID || g.Role != role || g.ID == "" {
		t.Fatalf("the grant: %s", raw)
	}
	return g
}

// A user of the vendor's organisation whom an owner granted the licenses
// role signs in through iscd's browser sign-in, as the desktop programs'
// users do, and is an operator with that role: the operators' pages, a
// licence frozen (the log names the user), a job's cancel and a release's
// withdrawal refused (403, compute's and releases' work). The grant is
// listed with its user; revoking it ends the session at its next request,
// and the user signing in again is told no.
func TestGrantedOperatorSignsInThroughTheBrowser(t *testing.T) {
	var logs logBuffer
	srv := servertest.StartConfig(t, server.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	olga, apiToken := vendorUser(t, srv, "Olga Operator")

	// No grant yet: Olga is nobody in the console.
	if status, body := srv.NewConsole(t).BrowserSignIn(apiToken); status != http.StatusForbidden || !strings.Contains(body, "no operator grant") {
		t.Fatalf("before the grant: %d\n%s", status, body)
	}

	g := grant(t, srv, olga.ID, adminapi.RoleLicenses)
	c := srv.NewConsole(t)
	if status, body := c.BrowserSignIn(apiToken); status != http.StatusOK || !strings.Contains(body, `http-equiv="refresh"`) {
		t.Fatalf("back from the sign-in: %d\n%s", status, body)
	}
	if status, _ := c.Get("/console/"); status != http.StatusSeeOther || c.Answer.Get("Location") != "/console/licenses" {
		t.Fatalf("the console after the browser sign-in: %d %s", status, c.Answer.Get("Location"))
	}
	for _, p := range []string{"orgs", "products", "sessions", "workers", "releases", "marketplace", "licenses/" + server.DevLicense} {
		if status, body := c.Get("/console/" + p); status != http.StatusOK {
			t.Fatalf("%s: %d\n%s", p, status, body)
		}
	}
	_, body := c.Get("/console/licenses")
	if !strings.Contains(body, `<strong id="who">Olga Operator</strong>`) || !strings.Contains(body, `<span id="role">licenses</span>`) {
		t.Fatalf("who is signed in:\n%s", body)
	}

	freeze := "/console/licenses/" + server.DevLicense + "/freeze"
	if status, body := c.Post(freeze, nil); status != http.StatusSeeOther {
		t.Fatalf("freeze: %d\n%s", status, body)
	}
	if got := licence(t, srv, server.DevLicense).Status; got != "FROZEN" {
		t.Fatalf("after freeze: %s", got)
	}
	var action string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `msg="console action"`) && strings.Contains(line, "/freeze") {
			action = line
		}
	}
	if !strings.Contains(action, "user="+olga.ID) || !strings.Contains(action, "via="+g.ID) || !strings.Contains(action, "status=200") {
		t.Errorf("the console action's log line does not name the user: %q", action)
	}
	var audit []adminapi.AuditEntry
	if err := srv.Admin().Do(context.Background(), "GET", "/licenses/"+server.DevLicense+"/audit", nil, &audit); err != nil {
		t.Fatal(err)
	}
	if last := audit[len(audit)-1]; last.Event != "frozen" || last.Detail != "by Olga Operator ("+olga.ID+") through the console" {
		t.Errorf("the freeze's audit entry does not name the operator: %+v", last)
	}
	for _, refused := range []struct{ path, role string }{
		{"/console/jobs/x/cancel", "compute"},
		{"/console/releases/withdraw?product=" + server.DevProduct + "&platform=linux-amd64&version=1.0.0", "releases"},
	} {
		c.Get("/console/licenses")
		if status, body := c.Post(refused.path, nil); status != http.StatusForbidden || !strings.Contains(body, "needs an admin token with role "+refused.role) {
			t.Errorf("%s as licenses: %d\n%s", refused.path, status, body)
		}
	}

	// Her API token pasted on the console's page makes the same operator.
	pasted := srv.ConsoleSignIn(t, apiToken)
	if status, _ := pasted.Get("/console/"); status != http.StatusSeeOther || pasted.Answer.Get("Location") != "/console/licenses" {
		t.Fatalf("the API token pasted: %d %s", status, pasted.Answer.Get("Location"))
	}

	var listed []adminapi.AdminToken
	if err := srv.Admin().Do(ctx, "GET", "/admin-tokens", nil, &listed); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range listed {
		found = found || (x.ID == g.ID && x.UserID == olga.ID && x.Role == adminapi.RoleLicenses && !x.Revoked)
	}
	if !found {
		t.Fatalf("the grant is not listed with its user: %+v", listed)
	}

	if err := srv.Admin().Do(ctx, "DELETE", "/admin-tokens/"+g.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*servertest.Console{c, pasted} {
		if status, _ := s.Get("/console/licenses"); status != http.StatusSeeOther || s.Answer.Get("Location") != "/console/signin" {
			t.Fatalf("after the grant was revoked: %d %s", status, s.Answer.Get("Location"))
		}
	}
	if status, body := srv.NewConsole(t).BrowserSignIn(apiToken); status != http.StatusForbidden || !strings.Contains(body, "no operator grant") {
		t.Fatalf("signing in again after the revocation: %d\n%s", status, body)
	}
}

// A grant past its expiry signs nobody in; an owner cannot make one that
// has expired, nor give a user a second grant while one works; a
// customer's admin without a grant gets the customer's view only, and
// one with a grant the operator's.
func TestExpiredGrantAndCustomerAdmin(t *testing.T) {
	srv := servertest.Start(t)
	ctx, api := context.Background(), srv.Admin()
	olga, apiToken := vendorUser(t, srv, "Olga Operator")

	// A grant that expired an hour ago (made when it was in the future).
	if err := srv.Store().CreateToken(ctx, store.Token{ID: token.ID(), Kind: token.PrefixAdmin, UserID: olga.ID, Role: string(adminapi.RoleOwner),
		Created: time.Now().Add(-48 * time.Hour), Expires: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if status, body := srv.NewConsole(t).BrowserSignIn(apiToken); status != http.StatusForbidden || !strings.Contains(body, "no operator grant") {
		t.Fatalf("an expired grant: %d\n%s", status, body)
	}
	if status, _ := srv.NewConsole(t).SignIn(apiToken); status != http.StatusUnauthorized {
		t.Fatalf("an expired grant, the API token pasted: %d", status)
	}
	err := api.Do(ctx, "POST", "/admin-tokens", adminapi.CreateAdminToken{Role: adminapi.RoleLicenses, UserID: olga.ID, Expires: time.Now().Add(-time.Minute)}, nil)
	if e := apiErr(err); e == nil || e.Status != http.StatusBadRequest {
		t.Fatalf("a grant expiring in the past: %v", err)
	}
	err = api.Do(ctx, "POST", "/admin-tokens", adminapi.CreateAdminToken{Role: adminapi.RoleLicenses, UserID: "nobody"}, nil)
	if e := apiErr(err); e == nil || e.Status != http.StatusNotFound || !strings.Contains(e.Message, "user nobody") {
		t.Fatalf("a grant to an unknown user: %v", err)
	}
	grant(t, srv, olga.ID, adminapi.RoleReadOnly)
	err = api.Do(ctx, "POST", "/admin-tokens", adminapi.CreateAdminToken{Role: adminapi.RoleOwner, UserID: olga.ID}, nil)
	if e := apiErr(err); e == nil || e.Status != http.StatusConflict || !strings.Contains(e.Message, "revoke it first") {
		t.Fatalf("a second grant: %v", err)
	}

	// The demo organisation's admin, no grant: the customer's view.
	admin := orgAdmin(t, srv, server.DevOrg, "admin")
	c := srv.NewConsole(t)
	if status, _ := c.BrowserSignIn(admin); status != http.StatusOK {
		t.Fatalf("the organisation's admin: %d", status)
	}
	if status, _ := c.Get("/console/"); status != http.StatusSeeOther || c.Answer.Get("Location") != "/console/org" {
		t.Fatalf("the organisation's admin lands on %d %s", status, c.Answer.Get("Location"))
	}
	if status, _ := c.Get("/console/orgs"); status != http.StatusNotFound {
		t.Fatalf("the organisation's admin opens the operators' organisations page: %d", status)
	}
	c.Get("/console/licenses")
	if status, _ := c.Post("/console/licenses/"+server.DevLicense+"/freeze", nil); status != http.StatusForbidden {
		t.Fatalf("the organisation's admin freezes a licence: %d", status)
	}
}
