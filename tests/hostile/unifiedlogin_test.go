package hostile_test

import (
	"crypto"
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/server/signin"
	"github.com/iscsdk/iscsdk/internal/server/signin/unified"
	"github.com/iscsdk/iscsdk/internal/unifiedlogin"
	"github.com/iscsdk/iscsdk/internal/unifiedlogin/unifiedlogintest"
)

// The marketplace's unified login (docs/identity.md): its login page
// carries no state, so the code comes back to iscd's registered callback
// bound to the sign-in only by the browser's cookie. Someone else's link
// to that callback, a code made up or replayed, a tenant whose
// application or whole account the marketplace withdrew: none signs
// anyone in.

// ulSetup is an iscd with tenant T-U synced (its application and user
// "ann"), and the unified login the tenant signs in at.
func ulSetup(t *testing.T) (*servertest.Server, *unifiedlogintest.Server, *kit) {
	t.Helper()
	ul := unifiedlogintest.Start()
	t.Cleanup(ul.Close)
	cfg := syncConfig()
	cfg.UnifiedLogin = unified.Config{LoginPage: ul.LoginPage(), API: ul.URL}
	srv := servertest.StartConfig(t, cfg)
	k := newKit(t, srv)
	k.ok("tenantSync", tenant("T-U", 1, "Tenant U"))
	k.ok("applicationSync", application("T-U", 1, "client-U", encryptSecret(t, "secret-U", crypto.SHA1)))
	k.ok("authSync", users("T-U", 1, kitUser("ann", "", "user", "true")))
	ul.AddApp(unifiedlogintest.App{AppID: "app-T-U", ClientID: "client-U", ClientSecret: "secret-U", Callback: "http://" + srv.Addr + unified.CallbackPath})
	ul.AddUser(unifiedlogintest.User{Password: "pw", UserInfo: unifiedlogin.UserInfo{UserName: "ann", Name: "Ann", Tenant: "T-U"}})
	return srv, ul, k
}

// ulBrowser is a browser: cookies, and redirects followed except to the
// program's loopback (whose address it returns instead).
func ulBrowser(t *testing.T) *http.Client {
	b := servertest.Browser(func(req *http.Request) bool { return strings.HasPrefix(req.URL.String(), "http://127.0.0.1:9/") })
	b.Timeout = 10 * time.Second
	return b
}

// ulAuthorize starts a program's sign-in to org in browser b and returns
// where the browser ends (the unified login's page, or iscd's).
func ulAuthorize(t *testing.T, srv *servertest.Server, b *http.Client, org string) *http.Response {
	t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {srv.Product}, "redirect_uri": {"http://127.0.0.1:9/cb"}, "state": {"s"},
		"code_challenge": {servertest.CodeChallenge(rand.Text() + rand.Text())}, "code_challenge_method": {"S256"}, "org": {org}}
	resp, err := b.Get(srv.AdminURL + signin.AuthorizePath + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// ulLogin logs in on the unified login's form in browser b; it returns
// iscd's last answer (the redirect to the program's loopback, or a page).
func ulLogin(t *testing.T, ul *unifiedlogintest.Server, b *http.Client, user, password string) *http.Response {
	t.Helper()
	resp, err := b.PostForm(ul.URL+"/unified-login/portal-login", url.Values{"appId": {"app-T-U"}, "username": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func loopbackAnswer(resp *http.Response) url.Values {
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "http://127.0.0.1:9/") {
		return nil
	}
	u, _ := url.Parse(resp.Header.Get("Location"))
	return u.Query()
}

// TestUnifiedLoginCallbackIsTheBrowsers: the victim's browser signs in
// and gets its code; the same callback visited from another browser (a
// link someone sent: no sign-in cookie), with a code made up, or a second
// time, signs no one in.
func TestUnifiedLoginCallbackIsTheBrowsers(t *testing.T) {
	srv, ul, _ := ulSetup(t)

	// An honest sign-in, to be sure the rest fails for its own reasons.
	b := ulBrowser(t)
	if resp := ulAuthorize(t, srv, b, "mkt-T-U"); !strings.HasPrefix(resp.Request.URL.String(), ul.URL+"/unified-login/") {
		t.Fatalf("the browser went to %s, not the unified login", resp.Request.URL)
	}
	if got := loopbackAnswer(ulLogin(t, ul, b, "ann", "pw")); got.Get("code") == "" {
		t.Fatalf("ann's sign-in: the loopback got %v", got)
	}

	// The attacker's browser logs in as ann? No: it holds a code of its
	// own making, and no sign-in cookie. Every visit is refused, and
	// nothing reaches any program.
	attacker := ulBrowser(t)
	for _, code := range []string{"made-up", "", strings.Repeat("A", 5000)} {
		resp, err := attacker.Get(srv.AdminURL + unified.CallbackPath + "?tenant=T-U&code=" + url.QueryEscape(code))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || loopbackAnswer(resp) != nil {
			t.Fatalf("the callback from a browser with no sign-in, code %.10q: %d %s", code, resp.StatusCode, resp.Request.URL)
		}
	}

	// A browser mid-sign-in given a made-up code: refused, the program
	// told access_denied.
	b = ulBrowser(t)
	ulAuthorize(t, srv, b, "mkt-T-U")
	resp, err := b.Get(srv.AdminURL + unified.CallbackPath + "?tenant=T-U&code=made-up")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := loopbackAnswer(resp); got.Get("error") != "access_denied" || got.Get("code") != "" {
		t.Fatalf("a made-up code: the loopback got %v", got)
	}
	// The same browser's callback again (a replay of its URL): the
	// sign-in is over.
	resp, err = b.Get(srv.AdminURL + unified.CallbackPath + "?tenant=T-U&code=made-up")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || loopbackAnswer(resp) != nil {
		t.Fatalf("the callback replayed: %d", resp.StatusCode)
	}
}

// TestUnifiedLoginWithdrawn: once the marketplace turns the application
// off (applicationSync flag 0), the tenant's sign-ins no longer go to the
// unified login; once it deletes the tenant, its organisation is refused.
// A user the marketplace revokes is refused at the callback.
func TestUnifiedLoginWithdrawn(t *testing.T) {
	srv, ul, k := ulSetup(t)

	k.ok("authSync", users("T-U", 3, kitUser("ann", "", "user", "true")))
	b := ulBrowser(t)
	ulAuthorize(t, srv, b, "mkt-T-U")
	if got := loopbackAnswer(ulLogin(t, ul, b, "ann", "pw")); got.Get("error") != "access_denied" {
		t.Fatalf("a revoked user: the loopback got %v", got)
	}

	k.ok("applicationSync", application("T-U", 0, "", ""))
	if resp := ulAuthorize(t, srv, ulBrowser(t), "mkt-T-U"); strings.HasPrefix(resp.Request.URL.String(), ul.URL) {
		t.Fatalf("the application is off, yet the browser went to %s", resp.Request.URL)
	}

	k.ok("tenantSync", tenant("T-U", 0, "Tenant U"))
	resp := ulAuthorize(t, srv, ulBrowser(t), "mkt-T-U")
	if got := loopbackAnswer(resp); got.Get("error") != "invalid_request" {
		t.Fatalf("a deleted tenant's sign-in: %d %v", resp.StatusCode, got)
	}
}

// TestUnifiedLoginUserInfoBounded: what the unified login says of a user
// is bounded before iscd keeps it — a user info answer past 64 KiB is
// refused, a field past 256 bytes is not kept.
func TestUnifiedLoginUserInfoBounded(t *testing.T) {
	srv, ul, _ := ulSetup(t)
	ul.AddUser(unifiedlogintest.User{Password: "pw", UserInfo: unifiedlogin.UserInfo{UserName: "huge", Name: strings.Repeat("N", 70<<10), Tenant: "T-U"}})
	ul.AddUser(unifiedlogintest.User{Password: "pw", UserInfo: unifiedlogin.UserInfo{UserName: "long", Name: strings.Repeat("N", 1000),
		Email: strings.Repeat("e", 1000) + "@x.example", Tenant: "T-U"}})

	b := ulBrowser(t)
	ulAuthorize(t, srv, b, "mkt-T-U")
	if got := loopbackAnswer(ulLogin(t, ul, b, "huge", "pw")); got.Get("error") != "access_denied" {
		t.Fatalf("a user info of 70 KiB: the loopback got %v", got)
	}
	b = ulBrowser(t)
	ulAuthorize(t, srv, b, "mkt-T-U")
	if got := loopbackAnswer(ulLogin(t, ul, b, "long", "pw")); got.Get("code") == "" {
		t.Fatalf("a user with long fields: the loopback got %v", got)
	}
	u := userNamed(t, srv, "mkt-T-U", "long")
	if u.Name != "long" || u.Email != "" {
		t.Fatalf("kept name %.20q (%d bytes), email %.20q", u.Name, len(u.Name), u.Email)
	}
}
