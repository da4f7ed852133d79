package console_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/console"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/token"
	"github.com/iscsdk/iscsdk/sdk"
)

func TestMain(m *testing.M) { os.Exit(servertest.Main(m)) }

// operatorPages are every page an operator opens from the menu.
var operatorPages = []string{"licenses", "seats", "orgs", "products", "sessions", "jobs", "workers", "solvers", "releases", "usage", "storage", "audit", "marketplace",
	"licenses/" + server.DevLicense, "org?org=" + server.DevOrg}

func adminToken(t *testing.T, srv *servertest.Server, role adminapi.Role) string {
	t.Helper()
	var tok adminapi.NewAdminToken
	if err := srv.Admin().Do(context.Background(), "POST", "/admin-tokens", adminapi.CreateAdminToken{Role: role, Name: string(role)}, &tok); err != nil {
		t.Fatal(err)
	}
	return tok.Secret
}

func licence(t *testing.T, srv *servertest.Server, id string) adminapi.License {
	t.Helper()
	var d adminapi.LicenseDetail
	if err := srv.Admin().Do(context.Background(), "GET", "/licenses/"+id, nil, &d); err != nil {
		t.Fatal(err)
	}
	return d.License
}

// An operator issues a licence, freezes it and extends it through the
// console; the admin API (what iscctl reads) sees each change, and the
// licence's audit log says it was an operator.
func TestOperatorIssuesFreezesAndExtends(t *testing.T) {
	srv := servertest.Start(t)
	c := srv.ConsoleSignIn(t, srv.AdminToken)
	if status, body := c.Get("/console/licenses"); status != http.StatusOK || !strings.Contains(body, server.DevLicense) {
		t.Fatalf("licences page: %d\n%s", status, body)
	}
	status, _ := c.Post("/console/licenses", url.Values{"orgId": {server.DevOrg}, "productId": {srv.Product}, "kind": {"floating"},
		"seats": {"3"}, "edition": {"console"}, "expires": {"2030-01-31"}, "back": {"/console/licenses"}})
	if status != http.StatusSeeOther {
		t.Fatalf("issue: %d", status)
	}
	var ls []adminapi.License
	if err := srv.Admin().Do(context.Background(), "GET", "/licenses?org="+server.DevOrg, nil, &ls); err != nil {
		t.Fatal(err)
	}
	var l adminapi.License
	for _, x := range ls {
		if x.Edition == "console" {
			l = x
		}
	}
	if l.ID == "" || l.Seats != 3 || l.ExpiresAt.Format(time.DateOnly) != "2030-01-31" {
		t.Fatalf("the issued licence: %+v", l)
	}
	if _, body := c.Get("/console/licenses/" + l.ID); !strings.Contains(body, ">ACTIVE<") {
		t.Fatalf("the licence's page:\n%s", body)
	}
	if status, _ := c.Post("/console/licenses/"+l.ID+"/freeze", url.Values{"back": {"/console/licenses/" + l.ID}}); status != http.StatusSeeOther {
		t.Fatalf("freeze: %d", status)
	}
	if got := licence(t, srv, l.ID).Status; got != "FROZEN" {
		t.Fatalf("after freeze: %s", got)
	}
	_, body := c.Get("/console/licenses/" + l.ID + "?done=1")
	if !strings.Contains(body, ">FROZEN<") || !strings.Contains(body, `id="notice"`) || !regexp.MustCompile(`<td>frozen</td><td>by admin token [0-9a-f]+ through the console</td>`).MatchString(body) {
		t.Fatalf("the licence's page after freezing:\n%s", body)
	}
	if status, _ := c.Post("/console/licenses/"+l.ID+"/extend", url.Values{"expires": {"2031-06-30"}}); status != http.StatusSeeOther {
		t.Fatalf("extend: %d", status)
	}
	if got := licence(t, srv, l.ID).ExpiresAt.Format(time.DateOnly); got != "2031-06-30" {
		t.Fatalf("after extending: expires %s", got)
	}
	if status, body := c.Post("/console/licenses/"+l.ID+"/extend", url.Values{"expires": {"someday"}}); status != http.StatusBadRequest || !strings.Contains(body, "YYYY-MM-DD") {
		t.Fatalf("a bad date: %d\n%s", status, body)
	}
}

// Every page an operator opens answers, under a CSP that allows no
// inline script or style, with nothing inline in it either, framed by
// nobody.
func TestEveryPageUnderItsCSP(t *testing.T) {
	srv := servertest.Start(t)
	c := srv.ConsoleSignIn(t, srv.AdminToken)
	inline := regexp.MustCompile(`<script>|<script [^>]*>[^<]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	for _, p := range append(operatorPages, "signin") {
		status, body := c.Get("/console/" + p)
		if p == "signin" {
			status = http.StatusOK // a signed-in caller is sent on
		}
		if status != http.StatusOK {
			t.Errorf("%s: %d\n%s", p, status, body)
			continue
		}
		csp := c.Answer.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if m := inline.FindString(body); m != "" {
			t.Errorf("%s: inline %q in the page", p, m)
		}
		if c.Answer.Get("X-Frame-Options") != "DENY" || c.Answer.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", p, c.Answer)
		}
	}
}

// The session cookie: HttpOnly, SameSite=Strict, expiring; the store
// keeps its hash, not the secret; signing out, revoking the admin token
// or the session's age ends it.
func TestConsoleSession(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	srv := servertest.StartConfig(t, server.Config{Console: console.Config{SessionTTL: time.Hour, Now: func() time.Time { return time.Unix(0, now.Load()) }}})
	c := srv.NewConsole(t)
	c.Get("/console/signin")
	req, _ := http.NewRequest("POST", srv.AdminURL+"/console/signin", strings.NewReader(url.Values{"token": {srv.AdminToken}, "csrf": {c.CSRF}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == "iscd_console" {
			cookie = k
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" ||
		cookie.Expires.Sub(time.Unix(0, now.Load())) > time.Hour+time.Minute || cookie.Secure {
		t.Fatalf("the session cookie: %+v", cookie)
	}
	id, secret, err := token.Parse(token.PrefixConsole, cookie.Value)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := srv.Store().Token(context.Background(), id)
	if err != nil || rec.Hash != token.Hash(secret) || strings.Contains(rec.Hash, secret) || rec.Expires.IsZero() {
		t.Fatalf("the stored session: %+v %v", rec, err)
	}
	if status, _ := c.Get("/console/licenses"); status != http.StatusOK {
		t.Fatalf("signed in: %d", status)
	}

	// Past its lifetime, it is over.
	now.Add(int64(time.Hour + time.Second))
	if status, _ := c.Get("/console/licenses"); status != http.StatusSeeOther {
		t.Fatalf("an hour later: %d", status)
	}
	now.Add(-int64(time.Hour + time.Second))

	// Signing out revokes it: the old cookie opens nothing.
	c.Get("/console/licenses")
	if status, _ := c.Post("/console/signout", nil); status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", status)
	}
	replay := srv.NewConsole(t)
	u, _ := url.Parse(srv.AdminURL)
	replay.Client.Jar.SetCookies(u, []*http.Cookie{{Name: "iscd_console", Value: cookie.Value, Path: "/"}})
	if status, _ := replay.Get("/console/licenses"); status != http.StatusSeeOther {
		t.Fatalf("the cookie after sign-out: %d", status)
	}

	// Revoking the admin token a session came from ends the session.
	var made adminapi.NewAdminToken
	if err := srv.Admin().Do(context.Background(), "POST", "/admin-tokens", adminapi.CreateAdminToken{Role: adminapi.RoleLicenses}, &made); err != nil {
		t.Fatal(err)
	}
	c2 := srv.ConsoleSignIn(t, made.Secret)
	if status, _ := c2.Get("/console/licenses"); status != http.StatusOK {
		t.Fatalf("signed in with a licenses token: %d", status)
	}
	if err := srv.Admin().Do(context.Background(), "DELETE", "/admin-tokens/"+made.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	if status, _ := c2.Get("/console/licenses"); status != http.StatusSeeOther {
		t.Fatalf("after its admin token was revoked: %d", status)
	}
}

// A person keeps at most 16 console sessions: signing in again and again
// signs the oldest out. Expired sessions leave the store at a sign-in.
func TestConsoleSessionsAreBounded(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	srv := servertest.StartConfig(t, server.Config{Console: console.Config{SessionTTL: time.Hour, Now: func() time.Time { return time.Unix(0, now.Load()) }}})
	tok := orgAdmin(t, srv, server.DevOrg, "admin")
	var cs []*servertest.Console
	for range 17 {
		cs = append(cs, srv.ConsoleSignIn(t, tok))
		now.Add(int64(time.Second))
	}
	if status, _ := cs[0].Get("/console/licenses"); status != http.StatusSeeOther {
		t.Fatalf("the oldest of 17 sessions still opens the console: %d", status)
	}
	for _, i := range []int{1, 16} {
		if status, _ := cs[i].Get("/console/licenses"); status != http.StatusOK {
			t.Fatalf("session %d of 17 was signed out: %d", i+1, status)
		}
	}
	sessions := func() (n int) {
		t.Helper()
		toks, err := srv.Store().Tokens(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range toks {
			if k.Kind == token.PrefixConsole {
				n++
			}
		}
		return n
	}
	if n := sessions(); n != 17 {
		t.Fatalf("%d console sessions stored, want 17 (16 and the one signed out)", n)
	}
	now.Add(int64(2 * time.Hour))
	srv.ConsoleSignIn(t, tok)
	if n := sessions(); n != 1 {
		t.Fatalf("after they expired, %d console sessions are stored, want the new one", n)
	}
}

// Sign-in refuses unknown, malformed and expired tokens, an API token
// whose user is no organisation admin, and a form without its CSRF token.
func TestSignInRefusals(t *testing.T) {
	srv := servertest.Start(t)
	for name, tok := range map[string]string{
		"unknown admin token":    "isa_0123456789abcdef_nope",
		"garbage":                "hello",
		"a plain user's token":   orgAdmin(t, srv, server.DevOrg, "user"),
		"a worker's token":       "isw_0123456789abcdef_nope",
		"an admin token spliced": srv.AdminToken[:len(srv.AdminToken)-2] + "xx",
	} {
		c := srv.NewConsole(t)
		if status, body := c.SignIn(tok); status != http.StatusUnauthorized || !strings.Contains(body, `id="error"`) {
			t.Errorf("%s: %d\n%s", name, status, body)
		}
	}
	c := srv.NewConsole(t)
	c.Get("/console/signin")
	if status, _ := c.Post("/console/signin", url.Values{"token": {srv.AdminToken}, "csrf": {"forged"}}); status != http.StatusForbidden {
		t.Errorf("a forged sign-in CSRF token: %d", status)
	}
	if status, _ := srv.NewConsole(t).Post("/console/signin", url.Values{"token": {srv.AdminToken}}); status != http.StatusForbidden {
		t.Errorf("a sign-in without the form's cookie: %d", status)
	}
}

// Every form needs the session's CSRF token and a same-origin request:
// a forged, missing or another session's token, or another site's
// Origin, changes nothing.
func TestCSRF(t *testing.T) {
	srv := servertest.Start(t)
	c := srv.ConsoleSignIn(t, srv.AdminToken)
	other := srv.ConsoleSignIn(t, srv.AdminToken)
	c.Get("/console/licenses")
	freeze := "/console/licenses/" + server.DevLicense + "/freeze"
	for name, try := range map[string]func() int{
		"no token":          func() int { s, _ := c.Post(freeze, url.Values{"csrf": {""}}); return s },
		"a forged token":    func() int { s, _ := c.Post(freeze, url.Values{"csrf": {strings.Repeat("0", 64)}}); return s },
		"another session's": func() int { s, _ := c.Post(freeze, url.Values{"csrf": {other.CSRF}}); return s },
		"another site's Origin": func() int {
			c.Header.Set("Origin", "https://evil.example")
			defer c.Header.Del("Origin")
			s, _ := c.Post(freeze, nil)
			return s
		},
		"a cross-site fetch": func() int {
			c.Header.Set("Sec-Fetch-Site", "cross-site")
			defer c.Header.Del("Sec-Fetch-Site")
			s, _ := c.Post(freeze, nil)
			return s
		},
	} {
		if status := try(); status != http.StatusForbidden {
			t.Errorf("%s: %d", name, status)
		}
		if got := licence(t, srv, server.DevLicense).Status; got != "ACTIVE" {
			t.Fatalf("%s: the licence is %s", name, got)
		}
	}
	c.Get("/console/licenses")
	c.Header.Set("Origin", srv.AdminURL)
	if status, _ := c.Post(freeze, nil); status != http.StatusSeeOther || licence(t, srv, server.DevLicense).Status != "FROZEN" {
		t.Fatalf("the real form, same origin: %d", status)
	}
}

// A read-only operator sees every page and no button, and each change
// posted anyway is refused by the admin API's role check; so is a compute
// operator's licence change.
func TestViewerChangesNothing(t *testing.T) {
	srv := servertest.Start(t)
	viewer := srv.ConsoleSignIn(t, adminToken(t, srv, adminapi.RoleReadOnly))
	for _, p := range operatorPages {
		status, body := viewer.Get("/console/" + p)
		if status != http.StatusOK {
			t.Fatalf("%s: %d\n%s", p, status, body)
		}
		if n := strings.Count(body, `method="post"`); n != 1 { // sign out
			t.Errorf("%s: %d forms that post for a viewer", p, n)
		}
	}
	before := state(t, srv)
	for _, a := range []struct{ path string }{
		{"/console/licenses/" + server.DevLicense + "/freeze"}, {"/console/licenses/" + server.DevLicense + "/release"},
		{"/console/licenses/" + server.DevLicense + "/extend?expires=2040-01-01"}, {"/console/orgs?name=x"},
		{"/console/licenses?orgId=demo&productId=demo-cad&seats=1"}, {"/console/seats/x/release"}, {"/console/jobs/x/cancel"},
		{"/console/sessions/x/end"}, {"/console/releases/withdraw?product=demo-cad&platform=linux-amd64&version=1.0.0"},
	} {
		path, q, _ := strings.Cut(a.path, "?")
		form, _ := url.ParseQuery(q)
		viewer.Get("/console/licenses")
		status, body := viewer.Post(path, form)
		if status != http.StatusForbidden || !strings.Contains(body, "needs an admin token with role") {
			t.Errorf("%s as read-only: %d\n%s", a.path, status, body)
		}
	}
	compute := srv.ConsoleSignIn(t, adminToken(t, srv, adminapi.RoleCompute))
	compute.Get("/console/licenses")
	if status, _ := compute.Post("/console/licenses/"+server.DevLicense+"/freeze", nil); status != http.StatusForbidden {
		t.Errorf("freeze as compute: %d", status)
	}
	if after := state(t, srv); after != before {
		t.Fatalf("a refused change changed something:\n%s\n%s", before, after)
	}
}

// state is what a refused change could have touched.
func state(t *testing.T, srv *servertest.Server) string {
	var b strings.Builder
	for _, path := range []string{"/licenses", "/orgs", "/seats", "/sessions"} {
		var v any
		if err := srv.Admin().Do(context.Background(), "GET", path, nil, &v); err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(v)
		b.Write(lastSeen.ReplaceAll(data, nil)) // a session's lastSeen moves on its own
	}
	return b.String()
}

var lastSeen = regexp.MustCompile(`"lastSeen":"[^"]*"`)

// The console speaks Simplified Chinese to who asks for it.
func TestChinese(t *testing.T) {
	srv := servertest.Start(t)
	c := srv.ConsoleSignIn(t, srv.AdminToken)
	c.Header.Set("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.5")
	if _, body := c.Get("/console/licenses"); !strings.Contains(body, `<html lang="zh-Hans">`) || !strings.Contains(body, "<h1>许可证</h1>") {
		t.Fatalf("Accept-Language zh-CN:\n%s", body)
	}
	c.Header.Del("Accept-Language")
	if _, body := c.Get("/console/seats?lang=en"); !strings.Contains(body, "<h1>Seats in use</h1>") {
		t.Fatalf("?lang=en:\n%s", body)
	}
	if _, body := c.Get("/console/seats"); !strings.Contains(body, "<h1>Seats in use</h1>") {
		t.Fatalf("the chosen language is kept:\n%s", body)
	}
}

// orgAdmin makes a user of org with role, and returns its API token.
func orgAdmin(t *testing.T, srv *servertest.Server, org, role string) string {
	t.Helper()
	ctx, a := context.Background(), srv.Admin()
	var u adminapi.User
	if err := a.Do(ctx, "POST", "/users", adminapi.CreateUser{OrgID: org, Name: "it " + role, Role: role}, &u); err != nil {
		t.Fatal(err)
	}
	var tok adminapi.NewToken
	if err := a.Do(ctx, "POST", "/tokens", adminapi.CreateToken{UserID: u.ID}, &tok); err != nil {
		t.Fatal(err)
	}
	return tok.Secret
}

// An organisation's admin signs in as the desktop programs' users do
// (iscd's browser sign-in, here with the API token on its page) and lands
// on their organisation; a user who is no admin signs in there too, and
// the console says no.
func TestBrowserSignIn(t *testing.T) {
	srv := servertest.Start(t)
	signIn := func(apiToken string) (*servertest.Console, int, string) {
		c := srv.NewConsole(t)
		if _, body := c.Get("/console/signin"); !strings.Contains(body, `id="signin-browser"`) {
			t.Fatalf("the sign-in page offers no browser sign-in:\n%s", body)
		}
		if status, _ := c.Post("/console/signin/browser", nil); status != http.StatusSeeOther {
			t.Fatalf("begin: %d", status)
		}
		chooser := c.Answer.Get("Location")
		u, err := url.Parse(chooser)
		if err != nil || u.Path != "/signin" {
			t.Fatalf("sent to %q", chooser)
		}
		if status, body := c.Get(chooser); status != http.StatusOK {
			t.Fatalf("the chooser: %d\n%s", status, body)
		}
		status, body := c.Post("/signin", url.Values{"flow": {u.Query().Get("flow")}, "api_token": {apiToken}})
		return c, status, body
	}
	c, status, body := signIn(orgAdmin(t, srv, server.DevOrg, "admin"))
	if status != http.StatusOK || !strings.Contains(body, `http-equiv="refresh"`) {
		t.Fatalf("back from the sign-in: %d\n%s", status, body)
	}
	if got := c.Answer.Get("Content-Security-Policy"); !strings.Contains(got, "style-src 'self'") {
		t.Errorf("the page back from the sign-in is not under the console's CSP: %q", got)
	}
	if status, _ := c.Get("/console/"); status != http.StatusSeeOther || c.Answer.Get("Location") != "/console/org" {
		t.Fatalf("the console after the browser sign-in: %d %s", status, c.Answer.Get("Location"))
	}
	if status, body := c.Get("/console/org"); status != http.StatusOK || !strings.Contains(body, "it admin") {
		t.Fatalf("the organisation's page: %d\n%s", status, body)
	}
	c, status, body = signIn(orgAdmin(t, srv, server.DevOrg, "user"))
	if status != http.StatusForbidden || !strings.Contains(body, "not an admin of your organisation") {
		t.Fatalf("a user who is no admin: %d\n%s", status, body)
	}
	if status, _ := c.Get("/console/org"); status != http.StatusSeeOther {
		t.Fatalf("a user who is no admin has a console session: %d", status)
	}
}

// The storage page: a file saved twice with the same content is two
// versions and one chunk's bytes stored, for the operator (who picks the
// organisation) and for the organisation's admin (who sees their own).
func TestStorage(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	c, err := sdk.Init(ctx, sdk.Config{Endpoint: srv.Endpoint, Token: srv.APIToken, ProductID: srv.Product, WorkspaceDir: t.TempDir(),
		CredentialsFile: filepath.Join(t.TempDir(), "none"), NoBrowser: true, LogLevel: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := filepath.Join(t.TempDir(), "part.inp")
	if err := os.WriteFile(local, bytes.Repeat([]byte("*NODE\n1,0,0,0\n"), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.SaveAs(ctx, local, "/console/part.inp", sdk.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	want := "<td>2</td><td>27.3 KiB</td><td>1</td><td>13.7 KiB</td><td>50 %</td>"
	op := srv.ConsoleSignIn(t, srv.AdminToken)
	if _, body := op.Get("/console/storage?org=" + server.DevOrg); !strings.Contains(body, want) {
		t.Fatalf("the operator's storage page:\n%s", body)
	}
	orgAdminConsole := srv.ConsoleSignIn(t, orgAdmin(t, srv, server.DevOrg, "admin"))
	if _, body := orgAdminConsole.Get("/console/storage?org=elsewhere"); !strings.Contains(body, want) {
		t.Fatalf("the organisation admin's storage page:\n%s", body)
	}
}

// One sign-in keeps at most 8 live parts open (each looks at the store
// every second): the ninth is refused until one closes.
func TestLiveStreamsBounded(t *testing.T) {
	srv := servertest.Start(t)
	c := srv.ConsoleSignIn(t, srv.AdminToken)
	open := func() (*http.Response, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", c.Base+"/console/live/seats", nil)
		resp, err := c.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp, cancel
	}
	var cancels []context.CancelFunc
	defer func() {
		for _, cancel := range cancels {
			cancel()
		}
	}()
	for i := range 8 {
		resp, cancel := open()
		cancels = append(cancels, cancel)
		// The first event says the stream is counted and running.
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if resp.StatusCode != http.StatusOK || err != nil || line != "event: update\n" {
			t.Fatalf("live part %d: %d %q %v", i+1, resp.StatusCode, line, err)
		}
	}
	resp, cancel := open()
	resp.Body.Close()
	cancel()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the ninth live part: %d", resp.StatusCode)
	}
	// Another sign-in has its own.
	other := srv.ConsoleSignIn(t, srv.AdminToken)
	req, _ := http.NewRequest("GET", other.Base+"/console/live/seats", nil)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	resp, err := other.Client.Do(req.WithContext(ctx))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("another sign-in's live part: %v %v", resp, err)
	}
}

// On a dev server the browser sign-in takes the demo user without a
// token, and the demo user is its organisation's admin: one click shows
// a newcomer what a customer's IT sees.
func TestDevUserIsTheDemoOrganisationsAdmin(t *testing.T) {
	srv := servertest.Start(t)
	c := srv.NewConsole(t)
	c.Get("/console/signin")
	c.Post("/console/signin/browser", nil)
	chooser := c.Answer.Get("Location")
	u, _ := url.Parse(chooser)
	c.Get(chooser)
	if status, body := c.Post("/signin", url.Values{"flow": {u.Query().Get("flow")}}); status != http.StatusOK || !strings.Contains(body, `http-equiv="refresh"`) {
		t.Fatalf("the dev user's sign-in: %d\n%s", status, body)
	}
	if status, body := c.Get("/console/org"); status != http.StatusOK || !strings.Contains(body, "Demo engineer") || !strings.Contains(body, "organisation admin") {
		t.Fatalf("the demo organisation's page: %d\n%s", status, body)
	}
}

// A live part with nothing new says so now and then (a comment line):
// proxies keep it open, and a browser that went away is noticed.
func TestQuietLivePartStaysOpen(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{Console: console.Config{LiveEvery: 10 * time.Millisecond, KeepAlive: 100 * time.Millisecond}})
	c := srv.ConsoleSignIn(t, srv.AdminToken)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.Base+"/console/live/seats", nil)
	resp, err := c.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var lines []string
	for sc.Scan() && sc.Text() != ": still here" {
		lines = append(lines, sc.Text())
	}
	if sc.Err() != nil || len(lines) == 0 || lines[0] != "event: update" {
		t.Fatalf("the stream: %q %v", lines, sc.Err())
	}
}

// The marketplace sells the product: the operator's marketplace page
// lists what its call did (the licence it made, from its audit entry),
// and the organisation's first admin — the marketplace's appInfo user —
// signs into the console and sees their organisation.
func TestMarketplaceCallsAndItsFirstAdmin(t *testing.T) {
	var mkt marketplace.Config
	mkt.Outbound.AppInfo = marketplace.AppInfo{FrontEndURL: "https://console.example/login"}
	srv := servertest.StartConfig(t, server.Config{Marketplace: mkt, NoDevWorker: true})
	adminTok, instance := servertest.BuyOnDemand(t, srv.MarketplaceURL, srv.MarketplaceKey, srv.Product, "acme")
	op := srv.ConsoleSignIn(t, srv.AdminToken)
	_, body := op.Get("/console/marketplace")
	calls := body[strings.Index(body, `id="calls"`):]
	calls = calls[:strings.Index(calls, "</table>")]
	if !strings.Contains(calls, "marketplace order ORD-acme") {
		t.Fatalf("the marketplace's calls:\n%s", calls)
	}
	if !strings.Contains(body, instance) {
		t.Fatalf("the instance is not listed:\n%s", body)
	}
	first := srv.ConsoleSignIn(t, adminTok)
	if status, body := first.Get("/console/org"); status != http.StatusOK || !strings.Contains(body, "Administrator") {
		t.Fatalf("the marketplace's first admin in the console: %d\n%s", status, body)
	}
}

// The audit page lists the audit log across licences, newest first, a
// page at a time (the page's "Older entries" link), filtered by licence
// or organisation; a customer's admin sees their organisation's entries
// alone, whatever they ask for.
func TestAuditLogAcrossLicences(t *testing.T) {
	srv := servertest.Start(t)
	ctx, api := context.Background(), srv.Admin()
	if err := api.Do(ctx, "POST", "/orgs", adminapi.CreateOrg{ID: "acme", Name: "Acme"}, nil); err != nil {
		t.Fatal(err)
	}
	var acme adminapi.License
	if err := api.Do(ctx, "POST", "/licenses", adminapi.CreateLicense{OrgID: "acme", ProductID: srv.Product, Seats: 1}, &acme); err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"/licenses/" + server.DevLicense + "/freeze", "/licenses/" + acme.ID + "/freeze", "/licenses/" + server.DevLicense + "/unfreeze"} {
		if err := api.Do(ctx, "POST", step, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	rowsOf := func(body string) []string {
		var out []string
		tbody := body[strings.Index(body, `<table id="audit"`):]
		tbody = tbody[:strings.Index(tbody, "</table>")]
		for _, m := range regexp.MustCompile(`<tr><td>[^<]*</td><td>(?:<a href="[^"]*">)?([^<]*)(?:</a>)?</td><td>([^<]*)</td><td>([^<]*)</td>`).FindAllStringSubmatch(tbody, -1) {
			out = append(out, m[1]+" "+m[2]+" "+m[3])
		}
		return out
	}
	c := srv.ConsoleSignIn(t, srv.AdminToken)
	status, body := c.Get("/console/audit")
	if got := rowsOf(body); status != http.StatusOK || len(got) < 4 || strings.Join(got[:4], ", ") != server.DevLicense+" "+server.DevOrg+" active, "+acme.ID+" acme frozen, "+server.DevLicense+" "+server.DevOrg+" frozen, "+acme.ID+" acme created" {
		t.Fatalf("the audit log, newest first: %d %q", status, got)
	}
	if _, body := c.Get("/console/audit?org=acme"); strings.Join(rowsOf(body), ", ") != acme.ID+" acme frozen, "+acme.ID+" acme created" {
		t.Errorf("acme's audit log: %q", rowsOf(body))
	}
	// A page of one, then the next by the page's own link.
	_, body = c.Get("/console/audit?license=" + server.DevLicense + "&limit=1")
	more := regexp.MustCompile(`<a href="([^"]*)" id="more" rel="next">Older entries</a>`).FindStringSubmatch(body)
	if got := rowsOf(body); len(got) != 1 || got[0] != server.DevLicense+" "+server.DevOrg+" active" || more == nil {
		t.Fatalf("the first page of one: %q, more %q", got, more)
	}
	next := strings.ReplaceAll(more[1], "&amp;", "&")
	if _, body = c.Get(next); strings.Join(rowsOf(body), ", ") != server.DevLicense+" "+server.DevOrg+" frozen" {
		t.Errorf("the next page (%s): %q", next, rowsOf(body))
	}

	// acme's admin: acme's entries, whatever the query says.
	var u adminapi.User
	if err := api.Do(ctx, "POST", "/users", adminapi.CreateUser{OrgID: "acme", Name: "Acme IT", Role: adminapi.UserRoleAdmin}, &u); err != nil {
		t.Fatal(err)
	}
	var tok adminapi.NewToken
	if err := api.Do(ctx, "POST", "/tokens", adminapi.CreateToken{UserID: u.ID}, &tok); err != nil {
		t.Fatal(err)
	}
	customer := srv.ConsoleSignIn(t, tok.Secret)
	for _, p := range []string{"audit", "audit?org=" + server.DevOrg, "audit?license=" + acme.ID} {
		status, body := customer.Get("/console/" + p)
		if got := rowsOf(body); status != http.StatusOK || strings.Join(got, ", ") != acme.ID+" acme frozen, "+acme.ID+" acme created" || strings.Contains(body, server.DevLicense) {
			t.Errorf("%s as acme's admin: %d %q", p, status, got)
		}
	}
	if status, _ := customer.Get("/console/audit?license=" + server.DevLicense); status != http.StatusNotFound {
		t.Errorf("another organisation's licence's audit: %d, want 404", status)
	}
}
