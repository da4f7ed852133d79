//go:build linux

package cabitest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/server/signin"
	"github.com/iscsdk/iscsdk/internal/server/signin/unified"
	"github.com/iscsdk/iscsdk/internal/unifiedlogin"
	"github.com/iscsdk/iscsdk/internal/unifiedlogin/unifiedlogintest"
	"github.com/iscsdk/iscsdk/sdk"
)

// loopback is a program's redirect listener (RFC 8252): it takes one
// answer, shows "you can close this window", and hands the query over.
type loopback struct {
	url string
	got chan url.Values
}

func startLoopback(t *testing.T) *loopback {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lb := &loopback{url: "http://" + ln.Addr().String() + "/callback", got: make(chan url.Values, 4)}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><title>Signed in</title><h1 id="done">You can close this window.</h1>`))
		lb.got <- r.URL.Query()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return lb
}

// TestUnifiedLoginInChromium: a marketplace tenant's users sign in through
// the marketplace's unified login (unifiedlogintest, its documented
// endpoints) in a real browser. The marketplace syncs the tenant, its
// application's credentials (the client secret RSA-OAEP-encrypted) and
// its users; a program asks iscd to sign a user of that organisation in
// (authorization code, PKCE, loopback); Chromium goes to iscd, on to the
// unified login's page, where the user logs in, back to iscd's registered
// callback (code and tenant: no state — the browser's cookie names the
// sign-in), which redeems the code with the client secret, reads user
// info, places the user by its tenant, and sends the browser to the
// program's loopback with a code; the program's tokens open a session as
// that user. A synced user signs in as itself; one authSync never named
// is created at the first sign-in; a disabled user, a user of another
// tenant and a wrong client secret are refused.
func TestUnifiedLoginInChromium(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		t.Skip("chromium is not installed (Debian: apt-get install chromium); the unified login is not tested in a browser")
	}
	const kit, tenant, org = "kit-key-unified", "T-ul", "mkt-T-ul"
	rsaKey, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}
	ul := unifiedlogintest.Start()
	defer ul.Close()
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true,
		KitSync:      marketplace.SyncConfig{KitKey: kit, PrivateKey: rsaKey},
		UnifiedLogin: unified.Config{LoginPage: ul.LoginPage(), API: ul.URL}})
	base := "http://" + srv.Addr

	// The marketplace: the tenant, its application, its users.
	secret := "client-secret-of-" + tenant
	enc, err := rsa.EncryptOAEPWithOptions(rand.Reader, &rsaKey.PublicKey, []byte(secret), &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1})
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range []struct {
		name string
		body map[string]any
	}{
		{"tenantSync", map[string]any{"instanceId": "i-1", "orderId": "o-1", "tenantId": tenant, "tenantCode": "acme",
			"name": "ACME Engineering", "domainName": "acme.example", "flag": 1, "testFlag": 0, "timeStamp": servertest.KitStamp()}},
		{"applicationSync", map[string]any{"instanceId": "i-1", "tenantId": tenant, "appId": "app-ul", "clientId": "client-ul",
			"clientSecret": base64.StdEncoding.EncodeToString(enc), "flag": 1, "testFlag": 0, "timeStamp": servertest.KitStamp()}},
		{"singleOrgSync", map[string]any{"instanceId": "i-1", "tenantId": tenant, "orgCode": "eng", "orgName": "Engineering",
			"parentCode": "", "flag": 1, "testFlag": 0, "timeStamp": servertest.KitStamp()}},
		{"authSync", map[string]any{"instanceId": "i-1", "tenantId": tenant, "appId": "app-ul", "flag": 1, "testFlag": 0,
			"timeStamp": servertest.KitStamp(), "userList": []map[string]any{
				{"userName": "jo", "name": "Jo Smith", "role": "admin", "enable": "true", "email": "jo@acme.example"},
				{"userName": "mo", "name": "Mo Disabled", "role": "user", "enable": "false"},
			}}},
	} {
		if code := srv.KitSync(t, kit, call.name, call.body); code != marketplace.ResultOK {
			t.Fatalf("%s: %s", call.name, code)
		}
	}
	ul.AddApp(unifiedlogintest.App{AppID: "app-ul", ClientID: "client-ul", ClientSecret: secret, Callback: base + unified.CallbackPath})
	for _, u := range []unifiedlogin.UserInfo{
		{ID: "1", UserName: "jo", Name: "Jo Smith", Email: "jo@acme.example", Role: "admin", Tenant: tenant, ProjectName: "ACME"},
		{ID: "2", UserName: "mo", Name: "Mo Disabled", Tenant: tenant},
		{ID: "3", UserName: "newbie", Name: "New Person", Email: "new@acme.example", Role: "user", OrganizationCode: "eng", Tenant: tenant},
		{ID: "4", UserName: "eve", Name: "Eve Elsewhere", Tenant: "T-other"},
	} {
		ul.AddUser(unifiedlogintest.User{UserInfo: u, Password: "pw-" + u.UserName})
	}

	tab := startChromium(t, bin)
	// signIn is one program's sign-in as userName, clicked through in the
	// browser; it returns what the program's loopback received, with the
	// redirect URI and the PKCE verifier the program would redeem it with.
	signIn := func(userName string) (url.Values, string) {
		t.Helper()
		lb := startLoopback(t)
		verifier := rand.Text() + rand.Text()
		sum := sha256.Sum256([]byte(verifier))
		q := url.Values{"response_type": {"code"}, "client_id": {srv.Product}, "redirect_uri": {lb.url}, "state": {"st-" + userName},
			"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}, "org": {org}}
		tab.navigate(base + signin.AuthorizePath + "?" + q.Encode())
		if got := tab.eval(`location.origin + location.pathname`); got != ul.URL+"/unified-login/" {
			t.Fatalf("%s: the browser is at %s, not the unified login's page\n%s", userName, got, tab.eval(`document.body.innerText`))
		}
		if got := tab.eval(`document.getElementById("appId").value`); got != "app-ul" {
			t.Fatalf("the login page's application: %q", got)
		}
		for field, v := range map[string]string{"username": userName, "password": "pw-" + userName} {
			js, _ := json.Marshal(v)
			tab.eval(`document.getElementById("` + field + `").value = ` + string(js))
		}
		tab.click(`document.querySelector("button[type=submit]")`)
		select {
		case got := <-lb.got:
			got.Set("redirect_uri", lb.url) // the program's own, for redeeming
			if got.Get("state") != "st-"+userName {
				t.Fatalf("%s: the program's state came back as %q", userName, got.Get("state"))
			}
			if txt := tab.eval(`document.body.innerText`); !strings.Contains(txt, "You can close this window") {
				t.Fatalf("%s: the browser shows %q", userName, txt)
			}
			return got, verifier
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the program's loopback heard nothing; the browser shows %s: %s", userName, tab.eval(`location.href`), tab.eval(`document.body.innerText`))
		}
		return nil, ""
	}

	// A synced user signs in as the user authSync made.
	got, verifier := signIn("jo")
	if got.Get("code") == "" {
		t.Fatalf("jo: no code: %v", got)
	}
	tokens := redeemAt(t, srv, got, verifier)
	user, _ := tokens["user"].(map[string]any)
	if user["id"] != marketplace.UserID(tenant, "jo") || user["orgId"] != org || user["name"] != "Jo Smith" || user["organisation"] != "ACME Engineering" {
		t.Fatalf("jo signed in as %v", user)
	}
	// The program's access token opens a session as jo.
	c, err := sdk.Init(context.Background(), sdk.Config{Endpoint: srv.Endpoint, Token: tokens["access_token"].(string), ProductID: srv.Product,
		AppVersion: "1.0.0", WorkspaceDir: t.TempDir(), ConnectTimeout: 5 * time.Second, NoBrowser: true})
	if err != nil {
		t.Fatalf("a session with jo's access token: %v", err)
	}
	c.Close()

	// jo signs out: the program revokes its sign-in and opens iscd's
	// sign-out page, which sends the browser through the unified login's
	// logout and back to iscd's "signed out" page.
	if status, _ := srv.PostForm(t, signin.RevokePath, url.Values{"token": {tokens["refresh_token"].(string)}}); status != http.StatusOK {
		t.Fatalf("revoke: %d", status)
	}
	tab.navigate(base + signin.SignOutPath + "?org=" + org)
	if got := tab.eval(`location.origin + location.pathname`); got != base+signin.SignedOutPath {
		t.Fatalf("after signing out the browser is at %s", got)
	}
	if got := tab.eval(`document.getElementById("message").textContent`); !strings.Contains(got, "You are signed out") {
		t.Fatalf("the signed-out page says %q", got)
	}
	if problems := tab.eval(a11y); problems != "" {
		t.Fatalf("the signed-out page's accessibility: %s", problems)
	}
	if logouts := ul.Logouts(); len(logouts) != 1 || !strings.HasPrefix(logouts[0], base+signin.SignedOutPath) {
		t.Fatalf("the unified login's logouts: %v", logouts)
	}
	// An organisation without a unified login: straight to the page.
	tab.navigate(base + signin.SignOutPath + "?org=demo")
	if got := tab.eval(`location.origin + location.pathname`); got != base+signin.SignedOutPath || len(ul.Logouts()) != 1 {
		t.Fatalf("signing a dev user out: at %s, unified logouts %v", got, ul.Logouts())
	}

	// A user of the tenant that authSync never named: created at the
	// first sign-in, as authSync would have made it.
	got, verifier = signIn("newbie")
	tokens = redeemAt(t, srv, got, verifier)
	if user, _ := tokens["user"].(map[string]any); user["id"] != marketplace.UserID(tenant, "newbie") || user["orgId"] != org {
		t.Fatalf("newbie signed in as %v", user)
	}
	if u, err := srv.Server.Store().User(context.Background(), marketplace.UserID(tenant, "newbie")); err != nil || u.UserName != "newbie" || !u.Authorised || u.Email != "new@acme.example" || u.Department != "eng" || u.Role != "user" {
		t.Fatalf("the user made at the first sign-in: %+v %v", u, err)
	}

	// Refused: a user authSync disabled; a user whose user info names
	// another tenant. The program hears access_denied, with its state.
	for _, who := range []string{"mo", "eve"} {
		got, _ := signIn(who)
		if got.Get("error") != "access_denied" || got.Get("code") != "" {
			t.Fatalf("%s: the loopback got %v, want access_denied", who, got)
		}
	}
	// The marketplace holds another secret for the application than the
	// one applicationSync gave iscd: the code is not redeemed.
	ul.AddApp(unifiedlogintest.App{AppID: "app-ul", ClientID: "client-ul", ClientSecret: "rotated", Callback: base + unified.CallbackPath})
	if got, _ := signIn("jo"); got.Get("error") != "access_denied" {
		t.Fatalf("with a wrong client secret the loopback got %v, want access_denied", got)
	}
}

// redeemAt redeems the code a loopback received for tokens.
func redeemAt(t *testing.T, srv *servertest.Server, got url.Values, verifier string) map[string]any {
	t.Helper()
	status, body := srv.PostForm(t, signin.TokenPath, url.Values{"grant_type": {signin.GrantTypeCode}, "client_id": {srv.Product},
		"code": {got.Get("code")}, "code_verifier": {verifier}, "redirect_uri": {got.Get("redirect_uri")}, "device": {"dev-ul"}})
	if status != http.StatusOK {
		t.Fatalf("redeeming the code: %d %v", status, body)
	}
	return body
}

// A C program signs a marketplace tenant's user in through the unified
// login, as the user lives it: iscsdk_sign_in(0 — the browser, the
// default —, the tenant's organisation) names a page; in headless Chromium it goes
// to iscd, on to the unified login (the stand-in the dev iscd was started
// with: --unified-login-page, --unified-login-api), where the user logs
// in, back to iscd's registered callback and to the program's loopback;
// the program gets SIGNED_IN as the user authSync made. Signing out, its
// SignedOut event names the page that signs the browser out of the
// unified login too. The device grant (no browser on the program's
// machine) confirms through the unified login as well. A user the
// marketplace disabled gets ISCSDK_E_DENIED (asked with
// ISCSDK_SIGN_IN_BROWSER, kept as the same as 0).
func TestBrowserSignInThroughUnifiedLoginInChromium(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		t.Skip("chromium is not installed (Debian: apt-get install chromium); the unified login is not tested in a browser")
	}
	const tenant, org = "ul-cabi", "mkt-ul-cabi"
	enc, err := rsa.EncryptOAEPWithOptions(rand.Reader, &kitRSA.PublicKey, []byte("secret-ul-cabi"), &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1})
	if err != nil {
		t.Fatal(err)
	}
	kitSync(t, "tenantSync", map[string]any{"tenantId": tenant, "name": "UL tenant", "domainName": "ul.example", "flag": 1})
	kitSync(t, "applicationSync", map[string]any{"tenantId": tenant, "appId": "app-ul-cabi", "clientId": "client-ul-cabi",
		"clientSecret": base64.StdEncoding.EncodeToString(enc), "flag": 1})
	kitSync(t, "authSync", map[string]any{"tenantId": tenant, "flag": 1, "userList": []map[string]string{
		{"userName": "ann", "name": "Ann Example", "email": "ann@ul.example", "role": "user", "enable": "true"},
		{"userName": "dan", "name": "Dan", "role": "user", "enable": "false"},
	}})
	unifiedLogin.AddApp(unifiedlogintest.App{AppID: "app-ul-cabi", ClientID: "client-ul-cabi", ClientSecret: "secret-ul-cabi",
		Callback: devEnv["ISCD_ADMIN_URL"] + unified.CallbackPath})
	for _, u := range []string{"ann", "dan"} {
		unifiedLogin.AddUser(unifiedlogintest.User{Password: "pw-" + u, UserInfo: unifiedlogin.UserInfo{UserName: u, Tenant: tenant}})
	}

	tab := startChromium(t, bin)
	// through the unified login's page, as user; returns the loopback's words
	signIn := func(p *program, user string) string {
		t.Helper()
		prompt := strings.Fields(p.expect("PROMPT "))
		if len(prompt) != 2 || !strings.Contains(prompt[1], "/oauth/authorize?") {
			t.Fatalf("prompt: %v", prompt)
		}
		tab.navigate(prompt[1])
		if got := tab.eval(`location.origin + location.pathname`); got != unifiedLogin.URL+"/unified-login/" {
			t.Fatalf("not at the unified login: %s:\n%s", tab.eval(`location.href`), tab.eval(`document.body.innerText`))
		}
		tab.eval(`document.getElementById("username").value = "` + user + `"`)
		tab.eval(`document.getElementById("password").value = "pw-` + user + `"`)
		tab.click(`document.querySelector("button[type=submit]")`)
		if !strings.HasPrefix(tab.eval(`location.href`), "http://127.0.0.1:") || tab.eval(`location.pathname`) != "/callback" {
			t.Fatalf("the browser ended at %s: %s", tab.eval(`location.href`), tab.eval(`document.body.innerText`))
		}
		return tab.eval(`document.getElementById("message").textContent`)
	}

	env := []string{"ISCSDK_TOKEN=", "ISCSDK_WORKSPACE=" + t.TempDir(), "ISCSDK_BROWSER=true", "ISCSDK_NO_BROWSER="}
	p := start(t, env, "signin", "browser", org)
	if got := signIn(p, "ann"); !strings.Contains(got, "You are signed in") {
		t.Fatalf("the loopback's page: %q", got)
	}
	who := strings.Fields(p.expect("SIGNED_IN "))
	if len(who) < 4 || who[0] != marketplace.UserID(tenant, "ann") || who[1] != "ann@ul.example" || who[2] != org || strings.Join(who[3:], " ") != "Ann Example" {
		t.Fatalf("signed in as %v", who)
	}
	p.stdin.Write([]byte("SIGN OUT\n"))
	logout := strings.TrimSpace(p.expect("SIGNED_OUT "))
	p.finish()
	if want := devEnv["ISCD_ADMIN_URL"] + signin.SignOutPath + "?org=" + org; logout != want {
		t.Fatalf("SignedOut's logoutUrl %q, want %q", logout, want)
	}
	before := len(unifiedLogin.Logouts())
	tab.navigate(logout)
	if got := tab.eval(`document.getElementById("message").textContent`); !strings.Contains(got, "You are signed out") || len(unifiedLogin.Logouts()) != before+1 {
		t.Fatalf("after the logout page: %q at %s; the unified login's logouts %v", got, tab.eval(`location.href`), unifiedLogin.Logouts())
	}

	// The device grant, for a program that cannot open a browser (an SSH
	// session): the page it names carries the organisation, and "sign in
	// with your organisation's account" goes to the unified login; back on
	// iscd the page says what would sign in, as whom; the user says yes.
	p = start(t, []string{"ISCSDK_TOKEN=", "ISCSDK_WORKSPACE=" + t.TempDir()}, "signin", "device", org)
	prompt := strings.Fields(p.expect("PROMPT "))
	if len(prompt) != 2 || !strings.HasSuffix(prompt[1], "&org="+org) {
		t.Fatalf("the device prompt: %v", prompt)
	}
	tab.navigate(prompt[1])
	tab.click(`document.querySelector("button[value=organisation]")`)
	if got := tab.eval(`location.origin + location.pathname`); got != unifiedLogin.URL+"/unified-login/" {
		t.Fatalf("the device page's organisation sign-in went to %s:\n%s", tab.eval(`location.href`), tab.eval(`document.body.innerText`))
	}
	tab.eval(`document.getElementById("username").value = "ann"`)
	tab.eval(`document.getElementById("password").value = "pw-ann"`)
	tab.click(`document.querySelector("button[type=submit]")`)
	if got := tab.eval(`document.getElementById("message").textContent`); !strings.Contains(got, "as Ann Example (UL tenant)") {
		t.Fatalf("the confirmation step after the unified login: %q", got)
	}
	tab.click(`document.querySelector("button[value=approve]")`)
	if got := tab.eval(`document.getElementById("message").textContent`); !strings.Contains(got, "it is signed in") {
		t.Fatalf("the page after confirming: %q", got)
	}
	if again := strings.Fields(p.expect("SIGNED_IN ")); again[0] != who[0] {
		t.Fatalf("the device grant signed in as %v, not %v", again, who)
	}
	p.stdin.Write([]byte("STAY\n"))
	p.finish()

	p = start(t, []string{"ISCSDK_TOKEN=", "ISCSDK_WORKSPACE=" + t.TempDir(), "ISCSDK_BROWSER=true", "ISCSDK_NO_BROWSER="}, "signin", "browser-denied", org)
	if got := signIn(p, "dan"); !strings.Contains(got, "You are not signed in") {
		t.Fatalf("the loopback's page for a disabled user: %q", got)
	}
	p.expect("DENIED")
	p.finish()
}
