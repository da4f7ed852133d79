package hostile_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server/federation/hydratest"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/server/signin"
	"github.com/iscsdk/iscsdk/sdk"
)

// The browser sign-in and organisations federated to an OpenID Connect
// provider (docs/identity.md): a provider's callback carried to another
// browser (login CSRF), an authorization code intercepted on its way to
// the program's loopback and redeemed without the verifier or twice, a
// redirect URI off this machine, a user steering a sign-in bound to one
// organisation to another's provider, and a flood of authorization
// requests. The provider is a real one, Ory Hydra (hydratest).

const fedLoopback = "http://127.0.0.1:9/callback"

// fedSetUp is an iscd whose organisation "acme" signs in through Hydra,
// whose user ada exists there.
func fedSetUp(t *testing.T) (*servertest.Server, *hydratest.Hydra) {
	t.Helper()
	h := hydratest.Start(t)
	s := servertest.Start(t)
	fedOrg(t, s, h, "acme", "Acme", "acme.example")
	h.AddUser(hydratest.User{Subject: "ada", Email: "ada@acme.example", EmailVerified: true, Name: "Ada"})
	return s, h
}

// fedOrg makes organisation id (name) of s, whose users, by their
// email's domain, sign in through h.
func fedOrg(t *testing.T, s *servertest.Server, h *hydratest.Hydra, id, name, domain string) {
	t.Helper()
	ctx := context.Background()
	if err := s.Admin().Do(ctx, "POST", "/orgs", adminapi.CreateOrg{ID: id, Name: name}, nil); err != nil {
		t.Fatal(err)
	}
	client, secret := h.Client(t, s.AdminURL+signin.CallbackPath)
	if err := s.Admin().Do(ctx, "PUT", "/oidc-providers/"+id, adminapi.PutOIDCProvider{OrgID: id, Issuer: h.Issuer,
		ClientID: client, ClientSecret: secret, Domains: []string{domain}}, nil); err != nil {
		t.Fatal(err)
	}
}

// fedBrowser follows redirects with its cookies, and stops before the
// program's loopback, or before iscd's callback when stopAtCallback.
func fedBrowser(stopAtCallback bool) *http.Client {
	return servertest.Browser(func(req *http.Request) bool {
		return req.URL.Port() == "9" || (stopAtCallback && req.URL.Path == signin.CallbackPath)
	})
}

// fedAuthorize walks browser b from a program's authorization request
// (org, if set) through the chooser (email) and Hydra's pages (as user)
// until a redirect it does not follow; it returns that redirect's URL
// (nil: it ended on a page) and the PKCE verifier.
func fedAuthorize(t *testing.T, s *servertest.Server, b *http.Client, org, email, user string) (*url.URL, string) {
	t.Helper()
	verifier := strings.Repeat("v", 43)
	q := url.Values{"response_type": {"code"}, "client_id": {s.Product}, "redirect_uri": {fedLoopback}, "state": {"st"},
		"code_challenge": {servertest.CodeChallenge(verifier)}, "code_challenge_method": {"S256"}}
	if org != "" {
		q.Set("org", org)
	}
	resp, err := b.Get(s.AdminURL + signin.AuthorizePath + "?" + q.Encode())
	fields := map[string]url.Values{"/signin": {"email": {email}}, "/login": {"user": {user}}, "/consent": {}}
	resp, _ = servertest.FollowForms(t, b, resp, err, fields)
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		return nil, verifier
	}
	loc, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
	return loc, verifier
}

func fedRedeem(t *testing.T, s *servertest.Server, code, verifier string) (int, map[string]any) {
	t.Helper()
	return s.PostForm(t, signin.TokenPath, url.Values{"grant_type": {signin.GrantTypeCode}, "client_id": {s.Product},
		"device": {signinDevice}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {fedLoopback}})
}

// TestFederationCallbackInAnotherBrowser: an attacker signs in at the
// provider as themselves and, instead of letting their browser finish,
// sends the callback link (its code and state) to a victim. Opened in the
// victim's browser, which was never sent to the provider, it signs no
// one in and sends nothing to a program; the attacker's own browser
// would have finished it.
func TestFederationCallbackInAnotherBrowser(t *testing.T) {
	s, _ := fedSetUp(t)
	attacker := fedBrowser(true)
	link, _ := fedAuthorize(t, s, attacker, "", "ada@acme.example", "ada")
	if link == nil || link.Path != signin.CallbackPath || link.Query().Get("code") == "" {
		t.Fatalf("the provider's callback: %v", link)
	}
	resp, err := fedBrowser(false).Get(link.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Fatalf("the callback in the victim's browser: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The attacker's browser, holding the flow's cookie, still finishes:
	// what refused the victim's was the browser, not the link.
	attacker.CheckRedirect = fedBrowser(false).CheckRedirect
	resp, err = attacker.Get(link.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != http.StatusSeeOther || loc.Query().Get("code") == "" {
		t.Fatalf("the callback in the browser that was sent: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestFederationCodeIntercepted: a process that reads the code on its
// way to the program's loopback cannot redeem it without the program's
// PKCE verifier, and its attempt spends the code; a code redeemed by the
// program and presented again revokes that sign-in, ending the program's
// session.
func TestFederationCodeIntercepted(t *testing.T) {
	s, _ := fedSetUp(t)
	back, verifier := fedAuthorize(t, s, fedBrowser(false), "acme", "", "ada")
	code := back.Query().Get("code")
	if status, body := fedRedeem(t, s, code, strings.Repeat("w", 43)); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("the code with another verifier: %d %v", status, body)
	}
	if status, body := fedRedeem(t, s, code, verifier); status != http.StatusBadRequest {
		t.Fatalf("the code after the interceptor's try: %d %v", status, body)
	}

	back, verifier = fedAuthorize(t, s, fedBrowser(false), "acme", "", "ada")
	code = back.Query().Get("code")
	status, tok := fedRedeem(t, s, code, verifier)
	if status != http.StatusOK {
		t.Fatalf("the program's redemption: %d %v", status, tok)
	}
	c, err := sdk.Init(context.Background(), sdk.Config{Endpoint: s.Endpoint, Token: tok["access_token"].(string), ProductID: s.Product,
		WorkspaceDir: t.TempDir()})
	if err != nil {
		t.Fatalf("the program's session: %v", err)
	}
	defer c.Close()
	if status, body := fedRedeem(t, s, code, verifier); status != http.StatusBadRequest || !strings.Contains(body["error_description"].(string), "revoked") {
		t.Fatalf("the code presented again: %d %v", status, body)
	}
	servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSignInRequired })
	if status, body := signinRefresh(t, s, signinDevice, tok["refresh_token"].(string)); status != http.StatusBadRequest {
		t.Fatalf("the revoked sign-in's refresh token: %d %v", status, body)
	}
}

// TestFederationRedirectOffThisMachine: a program (or a link) naming a
// redirect URI that is not this machine's loopback gets a page, never a
// redirect: no code leaves the machine.
func TestFederationRedirectOffThisMachine(t *testing.T) {
	s := servertest.Start(t)
	b := fedBrowser(false)
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, redirect := range []string{"https://evil.example/cb", "http://127.0.0.1.evil.example:80/cb", "http://localhost:9/cb",
		"http://10.0.0.1:9/cb", "http://user@127.0.0.1:9/cb", "javascript:alert(1)", "http://[::ffff:7f00:1]:9/x@evil.example"} {
		q := url.Values{"response_type": {"code"}, "client_id": {s.Product}, "redirect_uri": {redirect}, "state": {"st"},
			"code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"}}
		resp, err := b.Get(s.AdminURL + signin.AuthorizePath + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Location") != "" {
			t.Errorf("redirect_uri %s: sent to %q", redirect, resp.Header.Get("Location"))
		}
	}
}

// TestFederationOtherOrganisationsProvider: a sign-in bound to acme
// (the program named it) cannot be steered to another organisation's
// provider by the email typed on the chooser.
func TestFederationOtherOrganisationsProvider(t *testing.T) {
	s, h := fedSetUp(t)
	fedOrg(t, s, h, "evil", "Evil", "evil.example")
	h.AddUser(hydratest.User{Subject: "mallory", Email: "mallory@evil.example", EmailVerified: true})
	// Not bound: the email picks evil's provider.
	if back, _ := fedAuthorize(t, s, fedBrowser(false), "", "mallory@evil.example", "mallory"); back == nil || back.Query().Get("code") == "" {
		t.Fatalf("an unbound sign-in by evil's user: %v", back)
	}
	// Bound to acme, but the user's login at the (shared) provider is
	// mallory's: acme's provider is chosen, the claims are checked
	// against acme's domains, no code.
	if back, _ := fedAuthorize(t, s, fedBrowser(false), "acme", "", "mallory"); back == nil || back.Query().Get("code") != "" || back.Query().Get("error") != "access_denied" {
		t.Fatalf("mallory through a sign-in bound to acme: %v", back)
	}
}

// TestFederationAuthorizeFlood: authorization requests (each a store
// record) from one address: 60 a minute, then refused without a record.
func TestFederationAuthorizeFlood(t *testing.T) {
	s := servertest.Start(t)
	b := fedBrowser(false)
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	q := url.Values{"response_type": {"code"}, "client_id": {s.Product}, "redirect_uri": {fedLoopback}, "state": {"st"},
		"code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"}}
	for i := range 61 {
		resp, err := b.Get(s.AdminURL + signin.AuthorizePath + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		switch {
		case i < 60 && loc.Path != signin.ChooserPath:
			t.Fatalf("request %d: to %q", i, loc)
		case i == 60 && loc.Query().Get("error") != "temporarily_unavailable":
			t.Fatalf("request 61: to %q, want the program told to wait", loc)
		}
	}
}

// TestFederationClientSecretNotInTheStore: a copy of the store's file
// holds an organisation's client secret at its provider in no form; iscd
// still signs users in with it (it is sealed under the KEK, which is not
// in the file).
func TestFederationClientSecretNotInTheStore(t *testing.T) {
	keysOnBolt(t)
	s, h := fedSetUp(t)
	ctx := context.Background()
	id, _ := h.Client(t, s.AdminURL+signin.CallbackPath)
	secret := "fed-" + strings.Repeat("S3cr3t", 6)
	if err := s.Admin().Do(ctx, "PUT", "/oidc-providers/acme", adminapi.PutOIDCProvider{OrgID: "acme", Issuer: h.Issuer,
		ClientID: id, ClientSecret: secret, Domains: []string{"acme.example"}}, nil); err != nil {
		t.Fatal(err)
	}
	// Hydra knows the client by the secret it made; this one is iscd's
	// word alone: what matters is that it is nowhere in the file.
	s.Stop()
	dump, err := os.ReadFile(filepath.Join(s.DataDir, "iscd.db"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(dump, []byte(`"sealedSecret":"ISKE1.`)) {
		t.Fatal("no sealed client secret in the dump: the search looks at the wrong bytes")
	}
	for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), base64.RawURLEncoding.EncodeToString([]byte(secret)),
		hex.EncodeToString([]byte(secret))} {
		if bytes.Contains(dump, []byte(form)) {
			t.Fatalf("the store's file holds the client secret as %q", form)
		}
	}
}
