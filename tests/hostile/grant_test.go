package hostile_test

// Operator grants: an owner grants a user an admin role for the web
// console (an admin token record bound to the user, with no secret).
// Nobody else can make one, and nothing about one works as a token.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/token"
)

// grantTo has the owner grant role to userID and returns the grant.
func grantTo(t *testing.T, srv *servertest.Server, userID string, role adminapi.Role) adminapi.AdminToken {
	t.Helper()
	var g adminapi.AdminToken
	if err := srv.Admin().Do(context.Background(), "POST", "/admin-tokens", adminapi.CreateAdminToken{Role: role, UserID: userID}, &g); err != nil {
		t.Fatalf("grant %s to %s: %v", role, userID, err)
	}
	return g
}

// grantsListed is every grant GET /admin-tokens lists.
func grantsListed(t *testing.T, srv *servertest.Server) []adminapi.AdminToken {
	t.Helper()
	var out []adminapi.AdminToken
	for _, x := range adminGet[[]adminapi.AdminToken](t, srv, "/admin-tokens") {
		if x.UserID != "" {
			out = append(out, x)
		}
	}
	return out
}

// An organisation's admin tries to grant themselves the owner role: with
// their API token as the admin API's bearer (401), with their console
// session's cookie sent to the admin API (401) or as its bearer (401),
// and through a console form that does not exist (the console has no
// route to grant); a licenses token (403) and a licenses operator's
// console session cannot either. No grant exists afterwards.
func TestGrantNeedsAnOwner(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	var u adminapi.User
	if err := srv.Admin().Do(ctx, "POST", "/users", adminapi.CreateUser{OrgID: server.DevOrg, Name: "Demo IT", Role: adminapi.UserRoleAdmin}, &u); err != nil {
		t.Fatal(err)
	}
	apiToken := userToken(t, srv, u.ID)
	want := adminapi.CreateAdminToken{Role: adminapi.RoleOwner, UserID: u.ID}

	api := srv.Admin()
	api.Token = apiToken
	if e := apiErr(t, api.Do(ctx, "POST", "/admin-tokens", want, nil), "an API token"); e.Status != http.StatusUnauthorized {
		t.Errorf("an organisation admin's API token makes a grant: %v", e)
	}

	c := srv.ConsoleSignIn(t, apiToken)
	if status, _ := c.Get("/console/"); status != http.StatusSeeOther || c.Answer.Get("Location") != "/console/org" {
		t.Fatalf("the organisation's admin is not in the customer's view: %d %s", status, c.Answer.Get("Location"))
	}
	base, _ := url.Parse(srv.AdminURL)
	var cookie string
	for _, k := range c.Client.Jar.Cookies(base) {
		if k.Name == "iscd_console" {
			cookie = k.Value
		}
	}
	if cookie == "" {
		t.Fatal("no console cookie")
	}
	body, _ := json.Marshal(want)
	for name, auth := range map[string]string{"the cookie alone": "", "the cookie as a bearer": "Bearer " + cookie} {
		req, _ := http.NewRequest("POST", srv.AdminURL+adminapi.Prefix+"/admin-tokens", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := c.Client.Do(req) // the jar sends the cookie
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	form := url.Values{"role": {"owner"}, "userId": {u.ID}, "user": {u.ID}}
	for _, path := range []string{"/console/admin-tokens", "/console/grants", "/console/orgs/" + server.DevOrg + "/grant"} {
		c.Get("/console/org")
		if status, _ := c.Post(path, form); status < 400 {
			t.Errorf("an organisation admin's console session posts %s: %d", path, status)
		}
	}

	lic := adminTokenAs(t, srv, adminapi.RoleLicenses, time.Time{})
	if e := apiErr(t, lic.Do(ctx, "POST", "/admin-tokens", want, nil), "a licenses token"); e.Status != http.StatusForbidden || !strings.Contains(e.Message, "role owner") {
		t.Errorf("a licenses token makes a grant: %v", e)
	}
	op := srv.ConsoleSignIn(t, lic.Token)
	for _, path := range []string{"/console/admin-tokens", "/console/grants"} {
		op.Get("/console/licenses")
		if status, _ := op.Post(path, form); status < 400 {
			t.Errorf("a licenses operator's console session posts %s: %d", path, status)
		}
	}
	if g := grantsListed(t, srv); len(g) != 0 {
		t.Fatalf("grants made: %+v", g)
	}
}

// A grant is no admin token: its id, and every string the admin API
// lists of it, in every shape an admin token has, is refused as the
// admin API's bearer (401) and by the console's token sign-in; and an
// owner's grant does not count as an owner token, so the last owner
// token still cannot be revoked while one exists.
func TestGrantIsNoToken(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	var u adminapi.User
	if err := srv.Admin().Do(ctx, "POST", "/users", adminapi.CreateUser{OrgID: server.DevOrg, Name: "Olga"}, &u); err != nil {
		t.Fatal(err)
	}
	g := grantTo(t, srv, u.ID, adminapi.RoleOwner)
	var raw []map[string]any
	if err := srv.Admin().Do(ctx, "GET", "/admin-tokens", nil, &raw); err != nil {
		t.Fatal(err)
	}
	tries := []string{g.ID, token.PrefixAdmin + "_" + g.ID, token.PrefixAdmin + "_" + g.ID + "_", token.PrefixAdmin + "_" + g.ID + "_x",
		token.PrefixAdmin + "_" + g.ID + "_" + g.ID, token.PrefixAdmin + "_" + g.ID + "_" + token.Hash(""), token.PrefixAdmin + "_" + g.ID + "_" + u.ID}
	for _, entry := range raw {
		if entry["id"] != g.ID {
			continue
		}
		for _, v := range entry {
			if s, ok := v.(string); ok && s != "" {
				tries = append(tries, s, token.PrefixAdmin+"_"+g.ID+"_"+s)
			}
		}
	}
	for _, tok := range tries {
		c := srv.Admin()
		c.Token = tok
		if e := apiErr(t, c.Do(ctx, "GET", "/orgs", nil, nil), tok); e.Status != http.StatusUnauthorized || e.Code == adminapi.CodeTokenExpired {
			t.Errorf("bearer %q: %v", tok, e)
		}
		if status, _ := srv.NewConsole(t).SignIn(tok); status != http.StatusUnauthorized {
			t.Errorf("the console's sign-in takes %q: %d", tok, status)
		}
	}

	// Revoke every owner token but the test's own: it is the last one,
	// the owner's grant notwithstanding.
	mine := srv.Admin()
	myID, _, _ := token.Parse(token.PrefixAdmin, mine.Token)
	for _, x := range adminGet[[]adminapi.AdminToken](t, srv, "/admin-tokens") {
		if x.Role == adminapi.RoleOwner && x.UserID == "" && x.ID != myID && !x.Revoked {
			if err := mine.Do(ctx, "DELETE", "/admin-tokens/"+x.ID, nil, nil); err != nil {
				t.Fatalf("revoke owner token %s: %v", x.ID, err)
			}
		}
	}
	e := apiErr(t, mine.Do(ctx, "DELETE", "/admin-tokens/"+myID, nil, nil), "revoke the last owner token")
	if e.Status != http.StatusConflict || !strings.Contains(e.Message, "last owner token") {
		t.Errorf("revoking the last owner token beside an owner's grant: %v, want 409", e)
	}
	if err := mine.Do(ctx, "DELETE", "/admin-tokens/"+g.ID, nil, nil); err != nil {
		t.Errorf("revoking the owner's grant: %v", err)
	}
}

// The marketplace's admin of a tenant is granted an operator's role:
// signing in through the browser, they are an operator (the grant wins
// over the organisation's admin role) until the marketplace disables
// them — their next page sends them to sign in, and neither the browser
// sign-in nor their API token lets them in again.
func TestGrantedUserDisabled(t *testing.T) {
	srv := servertest.StartConfig(t, syncConfig())
	k := newKit(t, srv)
	k.ok("tenantSync", tenant("T7", 1, "Granted tenant"))
	k.ok("authSync", users("T7", 1, kitUser("ada", "", "admin", "true")))
	u := userNamed(t, srv, "mkt-T7", "ada")
	tok := userToken(t, srv, u.ID)
	grantTo(t, srv, u.ID, adminapi.RoleLicenses)

	c := srv.NewConsole(t)
	if status, body := c.BrowserSignIn(tok); status != http.StatusOK {
		t.Fatalf("ada's browser sign-in: %d\n%s", status, body)
	}
	if status, _ := c.Get("/console/"); status != http.StatusSeeOther || c.Answer.Get("Location") != "/console/licenses" {
		t.Fatalf("ada, granted and an organisation's admin, lands on %d %s", status, c.Answer.Get("Location"))
	}
	if status, body := c.Get("/console/orgs"); status != http.StatusOK || !strings.Contains(body, "Granted tenant") {
		t.Fatalf("the operators' organisations page: %d\n%s", status, body)
	}

	k.ok("authSync", users("T7", 2, kitUser("ada", "", "admin", "false")))
	if status, _ := c.Get("/console/orgs"); status != http.StatusSeeOther || c.Answer.Get("Location") != "/console/signin" {
		t.Fatalf("after the marketplace disabled ada: %d %s", status, c.Answer.Get("Location"))
	}
	if status, body := srv.NewConsole(t).BrowserSignIn(tok); status != http.StatusUnauthorized {
		t.Fatalf("a disabled user's browser sign-in: %d\n%s", status, body)
	}
	if status, _ := srv.NewConsole(t).SignIn(tok); status != http.StatusUnauthorized {
		t.Fatalf("a disabled user's API token pasted: %d", status)
	}
}

// A service (not --dev) whose every owner token is lost writes a new one
// to DATA/admin.token at its next start, also when a user holds an
// owner's grant: a grant makes no admin tokens, so it cannot stand in for
// one.
func TestOwnerGrantDoesNotStandInForTheOwnerToken(t *testing.T) {
	data := t.TempDir()
	ctx := context.Background()
	// run starts iscd on data, calls fn with an admin client holding
	// DATA/admin.token, and stops it.
	run := func(fn func(srv *server.Server, api *adminapi.Client)) {
		t.Helper()
		srv, addr, stop := servertest.Serve(t, server.Config{DataDir: data})
		defer stop()
		tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
		if err != nil {
			t.Fatal(err)
		}
		fn(srv, &adminapi.Client{BaseURL: "http://" + addr, Token: strings.TrimSpace(string(tok)),
			HTTP: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}})
	}
	run(func(srv *server.Server, api *adminapi.Client) {
		if err := api.Do(ctx, "POST", "/orgs", adminapi.CreateOrg{ID: "vendor", Name: "The vendor"}, nil); err != nil {
			t.Fatal(err)
		}
		var u adminapi.User
		if err := api.Do(ctx, "POST", "/users", adminapi.CreateUser{OrgID: "vendor", Name: "Olga"}, &u); err != nil {
			t.Fatal(err)
		}
		if err := api.Do(ctx, "POST", "/admin-tokens", adminapi.CreateAdminToken{Role: adminapi.RoleOwner, UserID: u.ID}, nil); err != nil {
			t.Fatal(err)
		}
		// The owner token is lost (the API refuses to revoke the last
		// one: the store is told).
		id, _, _ := token.Parse(token.PrefixAdmin, api.Token)
		if err := srv.Store().RevokeToken(ctx, id); err != nil {
			t.Fatal(err)
		}
	})
	run(func(_ *server.Server, api *adminapi.Client) {
		if err := api.Do(ctx, "GET", "/admin-tokens", nil, nil); err != nil {
			t.Fatalf("DATA/admin.token after a restart with only an owner's grant left: %v", err)
		}
	})
}
