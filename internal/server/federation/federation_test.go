package federation_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/envelope"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/federation/hydratest"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/server/signin"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/sdk"
)

func TestMain(m *testing.M) { os.Exit(servertest.Main(m)) }

const loopback = "http://127.0.0.1:9/callback"

var ctx = context.Background()

// fixture is an iscd whose organisation "acme" signs in through a Hydra.
type fixture struct {
	s *servertest.Server
	h *hydratest.Hydra
}

func setUp(t *testing.T) fixture {
	h := hydratest.Start(t)
	return federate(t, servertest.Start(t), h)
}

// federate makes organisation "acme" of s sign in through h, where its
// user ada is.
func federate(t *testing.T, s *servertest.Server, h *hydratest.Hydra) fixture {
	t.Helper()
	if err := s.Admin().Do(ctx, "POST", "/orgs", adminapi.CreateOrg{ID: "acme", Name: "Acme"}, nil); err != nil {
		t.Fatal(err)
	}
	id, secret := h.Client(t, s.AdminURL+signin.CallbackPath)
	var p adminapi.OIDCProvider
	if err := s.Admin().Do(ctx, "PUT", "/oidc-providers/acme", adminapi.PutOIDCProvider{OrgID: "acme", Issuer: h.Issuer,
		ClientID: id, ClientSecret: secret, Domains: []string{"Acme.Example"}}, &p); err != nil {
		t.Fatalf("configure the provider: %v", err)
	}
	if p.Domains[0] != "acme.example" {
		t.Fatalf("provider: %+v", p)
	}
	h.AddUser(hydratest.User{Subject: "ada", Email: "ada@acme.example", EmailVerified: true, Name: "Ada Lovelace"})
	return fixture{s, h}
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	hidden     = regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)">`)
)

// signIn is a browser's way: the program's authorization request, the
// chooser (an email), Hydra's login as user and its consent, back to
// iscd and to the loopback, whose query it returns with the verifier.
func (f fixture) signIn(t *testing.T, email, user string) (url.Values, string) {
	t.Helper()
	b := servertest.Browser(func(req *http.Request) bool { return req.URL.Port() == "9" })
	verifier := strings.Repeat("x", 50)
	q := url.Values{"response_type": {"code"}, "client_id": {f.s.Product}, "redirect_uri": {loopback}, "state": {"prog-state"},
		"code_challenge": {servertest.CodeChallenge(verifier)}, "code_challenge_method": {"S256"}}
	resp, err := b.Get(f.s.AdminURL + signin.AuthorizePath + "?" + q.Encode())
	// Each page is a form: fill it in and post it, until the loopback.
	fields := map[string]url.Values{"/signin": {"email": {email}}, "/login": {"user": {user}}, "/consent": {}}
	resp, page := servertest.FollowForms(t, b, resp, err, fields)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s: %d, no form:\n%s", resp.Request.URL, resp.StatusCode, page)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return loc.Query(), verifier
}

func (f fixture) redeem(t *testing.T, back url.Values, verifier string) (int, map[string]any) {
	t.Helper()
	return f.s.PostForm(t, signin.TokenPath, url.Values{"grant_type": {signin.GrantTypeCode}, "client_id": {f.s.Product},
		"device": {"fp"}, "code": {back.Get("code")}, "code_verifier": {verifier}, "redirect_uri": {loopback}})
}

// TestFederatedSignIn: a user of acme signs in through Hydra: created in
// acme at the first sign-in with the provider's claims, the same user the
// next time; a user an operator made with that verified email is linked,
// not duplicated.
func TestFederatedSignIn(t *testing.T) {
	f := setUp(t)
	back, verifier := f.signIn(t, "ada@acme.example", "ada")
	if back.Get("state") != "prog-state" || back.Get("code") == "" {
		t.Fatalf("the loopback's query: %v", back)
	}
	status, tok := f.redeem(t, back, verifier)
	if status != http.StatusOK {
		t.Fatalf("redeem: %d %v", status, tok)
	}
	u := tok["user"].(map[string]any)
	if u["orgId"] != "acme" || u["email"] != "ada@acme.example" || u["name"] != "Ada Lovelace" || u["organisation"] != "Acme" {
		t.Fatalf("who signed in: %v", u)
	}
	back, verifier = f.signIn(t, "ada@acme.example", "ada")
	if _, again := f.redeem(t, back, verifier); again["user"].(map[string]any)["id"] != u["id"] {
		t.Fatalf("the second sign-in is another user: %v, first %v", again["user"], u)
	}

	if err := f.s.Admin().Do(ctx, "POST", "/users", adminapi.CreateUser{ID: "grace", OrgID: "acme", Name: "Grace", Email: "Grace@acme.example"}, nil); err != nil {
		t.Fatal(err)
	}
	f.h.AddUser(hydratest.User{Subject: "g-123", Email: "grace@acme.example", EmailVerified: true, Name: "Grace Hopper"})
	back, verifier = f.signIn(t, "grace@acme.example", "g-123")
	if _, tok := f.redeem(t, back, verifier); tok["user"].(map[string]any)["id"] != "grace" {
		t.Fatalf("grace signed in as %v, not the user the operator made", tok["user"])
	}
	// An unverified email links nobody: a new user.
	f.h.AddUser(hydratest.User{Subject: "g-456", Email: "grace@acme.example", Name: "Not Grace"})
	back, verifier = f.signIn(t, "grace@acme.example", "g-456")
	if _, tok := f.redeem(t, back, verifier); tok["user"].(map[string]any)["id"] == "grace" {
		t.Fatal("an unverified email took over grace")
	}
}

// TestFederatedUserRefused: a disabled user, and a user whose email is
// outside the provider's domains, get no code: the program's loopback
// hears access_denied.
func TestFederatedUserRefused(t *testing.T) {
	f := setUp(t)
	back, verifier := f.signIn(t, "ada@acme.example", "ada")
	_, tok := f.redeem(t, back, verifier)
	id := tok["user"].(map[string]any)["id"].(string)
	if _, err := f.s.Store().UpsertUsers(ctx, "acme", []string{id}, func(u *store.User, _ bool) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if back, _ := f.signIn(t, "ada@acme.example", "ada"); back.Get("error") != "access_denied" || back.Get("code") != "" {
		t.Fatalf("a disabled user's sign-in: %v", back)
	}
	f.h.AddUser(hydratest.User{Subject: "eve", Email: "eve@elsewhere.example", EmailVerified: true})
	if back, _ := f.signIn(t, "ada@acme.example", "eve"); back.Get("error") != "access_denied" {
		t.Fatalf("a user outside the provider's domains: %v", back)
	}
	// A deleted user's email links no one to that user: a new one is made.
	if err := f.s.Admin().Do(ctx, "POST", "/users", adminapi.CreateUser{ID: "gone", OrgID: "acme", Name: "Gone", Email: "gone@acme.example"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Store().UpsertUsers(ctx, "acme", []string{"gone"}, func(u *store.User, _ bool) error { u.Deleted = true; return nil }); err != nil {
		t.Fatal(err)
	}
	f.h.AddUser(hydratest.User{Subject: "new-hire", Email: "gone@acme.example", EmailVerified: true, Name: "New hire"})
	back, verifier = f.signIn(t, "gone@acme.example", "new-hire")
	if status, tok := f.redeem(t, back, verifier); status != http.StatusOK || tok["user"].(map[string]any)["id"] == "gone" {
		t.Fatalf("the new holder of a deleted user's email: %d %v", status, tok)
	}
}

// TestTamperedIDToken: an ID token altered on its way from the provider
// (its email changed, its signature kept) is refused.
func TestTamperedIDToken(t *testing.T) {
	f := setUp(t)
	f.h.Tamper.Store(true)
	if back, _ := f.signIn(t, "ada@acme.example", "ada"); back.Get("error") != "access_denied" || back.Get("code") != "" {
		t.Fatalf("a tampered ID token's sign-in: %v", back)
	}
	f.h.Tamper.Store(false)
	if back, _ := f.signIn(t, "ada@acme.example", "ada"); back.Get("code") == "" {
		t.Fatalf("the same sign-in untampered: %v", back)
	}
}

// TestWrongIssuer: a provider whose discovery names another issuer than
// the one configured is refused when it is configured.
func TestWrongIssuer(t *testing.T) {
	f := setUp(t)
	wrong := strings.Replace(f.h.Issuer, "127.0.0.1", "localhost", 1)
	err := f.s.Admin().Do(ctx, "PUT", "/oidc-providers/other", adminapi.PutOIDCProvider{OrgID: "acme", Issuer: wrong,
		ClientID: "c", ClientSecret: "s"}, nil)
	if err == nil || !strings.Contains(err.Error(), "did not match") {
		t.Fatalf("a provider under another issuer's name: %v", err)
	}
	var ps []adminapi.OIDCProvider
	if err := f.s.Admin().Do(ctx, "GET", "/oidc-providers", nil, &ps); err != nil || len(ps) != 1 {
		t.Fatalf("providers: %+v %v", ps, err)
	}
}

// TestCallbackStateChecked: a provider's callback is taken only with the
// state of a flow this browser was sent with, once.
func TestCallbackStateChecked(t *testing.T) {
	f := setUp(t)
	for name, q := range map[string]string{
		"no state":      "code=x",
		"unknown state": "code=x&state=isb_0000000000000000_forged",
	} {
		resp, err := http.Get(f.s.AdminURL + signin.CallbackPath + "?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: %d", name, resp.StatusCode)
		}
	}
}

// TestDeviceGrantThroughTheProvider: the device grant's page offers the
// organisation's provider instead of an API token; the user signs in
// there, comes back to the confirmation step (what would sign in, as
// whom), confirms, and the program's poll gets that user's tokens.
func TestDeviceGrantThroughTheProvider(t *testing.T) {
	f := setUp(t)
	status, grant := f.s.PostForm(t, signin.DeviceAuthorizationPath, url.Values{"client_id": {f.s.Product}, "device": {"fp"}, "org": {"acme"}})
	if status != http.StatusOK {
		t.Fatalf("device authorization: %d %v", status, grant)
	}
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar}
	page := func(resp *http.Response, err error) (string, *url.URL) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(body), resp.Request.URL
	}
	body, _ := page(b.Get(grant["verification_uri_complete"].(string)))
	if !strings.Contains(body, `value="organisation"`) {
		t.Fatalf("the device page offers no provider:\n%s", body)
	}
	body, at := page(b.PostForm(f.s.AdminURL+signin.VerificationPath, url.Values{"user_code": {grant["user_code"].(string)}, "action": {"organisation"}}))
	flow := regexp.MustCompile(`name="flow" value="([^"]+)"`).FindStringSubmatch(body)
	if flow == nil {
		t.Fatalf("not at the chooser (%s):\n%s", at, body)
	}
	body, at = page(b.PostForm(f.s.AdminURL+signin.ChooserPath, url.Values{"flow": {flow[1]}, "email": {"ada@acme.example"}}))
	for _, step := range []url.Values{{"user": {"ada"}}, {}} { // the provider's login, then its consent
		m := hidden.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("not at the provider (%s):\n%s", at, body)
		}
		step.Set(m[1], m[2])
		action, _ := at.Parse(formAction.FindStringSubmatch(body)[1])
		body, at = page(b.PostForm(action.String(), step))
	}
	if !strings.Contains(body, "as Ada Lovelace (Acme)") {
		t.Fatalf("back from the provider (%s), no confirmation step:\n%s", at, body)
	}
	nonce := regexp.MustCompile(`name="nonce" value="([^"]+)"`).FindStringSubmatch(body)
	body, _ = page(b.PostForm(f.s.AdminURL+signin.VerificationPath, url.Values{"user_code": {grant["user_code"].(string)}, "nonce": {nonce[1]}, "action": {"approve"}}))
	if !strings.Contains(body, "it is signed in") {
		t.Fatalf("after confirming:\n%s", body)
	}
	status, tok := f.s.PostForm(t, signin.TokenPath, url.Values{"grant_type": {signin.GrantTypeDeviceCode}, "client_id": {f.s.Product},
		"device": {"fp"}, "device_code": {grant["device_code"].(string)}})
	if status != http.StatusOK || tok["user"].(map[string]any)["email"] != "ada@acme.example" {
		t.Fatalf("the program's poll: %d %v", status, tok)
	}
}

// TestFederatedSignInRefreshAndSignOut: a sign-in through the provider
// is the device grant's kind of sign-in: each refresh rotates the
// refresh token (the access token opens sessions), a rotated-away token
// presented again revokes the whole sign-in and ends its session, and
// sign-out (revoke) ends a new sign-in's session too.
func TestFederatedSignInRefreshAndSignOut(t *testing.T) {
	f := setUp(t)
	refresh := func(rt string) (int, map[string]any) {
		return f.s.PostForm(t, signin.TokenPath, url.Values{"grant_type": {"refresh_token"}, "client_id": {f.s.Product},
			"device": {"fp"}, "refresh_token": {rt}})
	}
	session := func(access string) *sdk.Client {
		c, err := sdk.Init(ctx, sdk.Config{Endpoint: f.s.Endpoint, Token: access, ProductID: f.s.Product, WorkspaceDir: t.TempDir()})
		if err != nil {
			t.Fatalf("a session with the access token: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	back, verifier := f.signIn(t, "ada@acme.example", "ada")
	_, first := f.redeem(t, back, verifier)
	status, second := refresh(first["refresh_token"].(string))
	if status != http.StatusOK || second["refresh_token"] == first["refresh_token"] {
		t.Fatalf("refresh: %d %v", status, second)
	}
	c := session(second["access_token"].(string))
	if status, body := refresh(first["refresh_token"].(string)); status != http.StatusBadRequest || !strings.Contains(body["error_description"].(string), "revoked") {
		t.Fatalf("the rotated-away token again: %d %v", status, body)
	}
	servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSignInRequired })
	if status, _ := refresh(second["refresh_token"].(string)); status != http.StatusBadRequest {
		t.Fatalf("the newest token of the revoked sign-in: %d", status)
	}

	back, verifier = f.signIn(t, "ada@acme.example", "ada")
	_, tok := f.redeem(t, back, verifier)
	c = session(tok["access_token"].(string))
	if status, _ := f.s.PostForm(t, signin.RevokePath, url.Values{"token": {tok["refresh_token"].(string)}}); status != http.StatusOK {
		t.Fatalf("revoke: %d", status)
	}
	servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSignInRequired })
}

// Signing out (the SDK's SignedOut logoutUrl, iscd's /signin/signout)
// also ends the user's session at the organisation's provider: a
// provider that remembered the sign-in in the browser asks again.
func TestSignOutEndsTheProvidersSession(t *testing.T) {
	f := setUp(t)
	f.h.Remember.Store(true)
	b := servertest.Browser(func(req *http.Request) bool { return req.URL.Port() == "9" })
	signIn := func() {
		t.Helper()
		q := url.Values{"response_type": {"code"}, "client_id": {f.s.Product}, "redirect_uri": {loopback}, "state": {"s"},
			"code_challenge": {servertest.CodeChallenge(strings.Repeat("x", 50))}, "code_challenge_method": {"S256"}, "org": {"acme"}}
		resp, err := b.Get(f.s.AdminURL + signin.AuthorizePath + "?" + q.Encode())
		resp, page := servertest.FollowForms(t, b, resp, err, map[string]url.Values{"/login": {"user": {"ada"}}, "/consent": {}})
		if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != http.StatusSeeOther || loc.Query().Get("code") == "" {
			t.Fatalf("sign-in ended at %s: %d\n%s", resp.Request.URL, resp.StatusCode, page)
		}
	}
	signIn()
	signIn()
	if n := f.h.LoginsShown(); n != 1 {
		t.Fatalf("two sign-ins in one browser showed the provider's login %d times, want 1 (it remembers)", n)
	}
	resp, err := b.Get(f.s.AdminURL + signin.SignOutPath + "?org=acme")
	resp, page := servertest.FollowForms(t, b, resp, err, map[string]url.Values{"/logout": {}})
	if resp.Request.URL.Path != "/logged-out" {
		t.Fatalf("sign-out ended at %s:\n%s", resp.Request.URL, page)
	}
	signIn()
	if n := f.h.LoginsShown(); n != 2 {
		t.Fatalf("after signing out, the provider's login was shown %d times in all, want 2", n)
	}
}

// TestClientSecretRewrappedWithTheKEK: a KEK rotation (a new KEK first in
// the file, the old one kept, SIGHUP's re-wrap) re-wraps the providers'
// client secrets: with the old KEK then gone from the file, users still
// sign in through the provider.
func TestClientSecretRewrappedWithTheKEK(t *testing.T) {
	h := hydratest.Start(t)
	file := filepath.Join(t.TempDir(), "iscd.kek")
	oldKEK, _ := envelope.GenerateKEK()
	if err := os.WriteFile(file, []byte(oldKEK+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kr, err := envelope.LoadKeyring(file)
	if err != nil {
		t.Fatal(err)
	}
	s := servertest.StartConfig(t, server.Config{KEK: kr})
	f := federate(t, s, h)

	newKEK, _ := envelope.GenerateKEK()
	if err := os.WriteFile(file, []byte(newKEK+"\n"+oldKEK+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RewrapKeys(ctx); err != nil {
		t.Fatalf("re-wrap: %v", err)
	}
	if err := os.WriteFile(file, []byte(newKEK+"\n"), 0o600); err != nil { // the old KEK retired
		t.Fatal(err)
	}
	if err := kr.Reload(); err != nil {
		t.Fatal(err)
	}
	back, verifier := f.signIn(t, "ada@acme.example", "ada")
	if status, tok := f.redeem(t, back, verifier); status != http.StatusOK {
		t.Fatalf("a sign-in after the old KEK was retired: %v %d %v", back, status, tok)
	}
}
