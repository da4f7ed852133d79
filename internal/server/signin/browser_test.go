package signin_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/server/signin"
)

// loopbackURI is the program's redirect URI in these tests: nothing
// listens there; the browser stops before it.
const loopbackURI = "http://127.0.0.1:9/callback"

// pkce is a verifier and its S256 challenge.
func pkce(verifier string) (string, string) { return verifier, servertest.CodeChallenge(verifier) }

// browserClient follows iscd's redirects with cookies and stops at the
// program's loopback, returning where it was sent.
func browserClient() *http.Client {
	return servertest.Browser(func(req *http.Request) bool { return req.URL.Port() == "9" })
}

var flowField = regexp.MustCompile(`name="flow" value="([^"]+)"`)

// authorizeWithToken is a browser's way through the authorization
// endpoint, signing in on the chooser with apiToken; it returns the
// loopback's query.
func authorizeWithToken(t *testing.T, s *servertest.Server, q url.Values, apiToken string) url.Values {
	t.Helper()
	b := browserClient()
	resp, err := b.Get(s.AdminURL + signin.AuthorizePath + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusSeeOther {
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return loc.Query()
	}
	m := flowField.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("the chooser: %d\n%s", resp.StatusCode, page)
	}
	resp, err = b.PostForm(s.AdminURL+signin.ChooserPath, url.Values{"flow": {string(m[1])}, "api_token": {apiToken}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the chooser's answer: %d\n%s", resp.StatusCode, page)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Host != "127.0.0.1:9" {
		t.Fatalf("sent to %q, not the program's loopback", resp.Header.Get("Location"))
	}
	return loc.Query()
}

func authorizeQuery(s *servertest.Server, challenge, state string) url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {s.Product}, "redirect_uri": {loopbackURI}, "state": {state},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
}

func redeem(t *testing.T, s *servertest.Server, code, verifier, redirect string) (int, map[string]any) {
	t.Helper()
	return s.PostForm(t, signin.TokenPath, url.Values{"grant_type": {signin.GrantTypeCode}, "client_id": {s.Product},
		"device": {device}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirect}})
}

// TestAuthorizationCode: a program's authorization request through the
// browser: the chooser signs the user in with their API token, the
// browser is sent to the program's loopback with a code and the
// program's state; the code with the PKCE verifier and the same redirect
// URI gets tokens that open a session and rotate as the device grant's
// do. The code is then spent: presented again it revokes the sign-in.
func TestAuthorizationCode(t *testing.T) {
	s, _ := start(t)
	verifier, challenge := pkce(strings.Repeat("v", 20) + "0123456789abcdefghijklmnop")
	back := authorizeWithToken(t, s, authorizeQuery(s, challenge, "st-1"), s.APIToken)
	if back.Get("state") != "st-1" || !strings.HasPrefix(back.Get("code"), "isz_") {
		t.Fatalf("the loopback's query: %v", back)
	}
	status, tok := redeem(t, s, back.Get("code"), verifier, loopbackURI)
	if status != http.StatusOK {
		t.Fatalf("redeem: %d %v", status, tok)
	}
	if u := tok["user"].(map[string]any); u["name"] != "Demo engineer" {
		t.Fatalf("who signed in: %v", u)
	}
	if err := connects(t, s, tok["access_token"].(string)); err != nil {
		t.Fatalf("the access token opens no session: %v", err)
	}
	status, again := redeem(t, s, back.Get("code"), verifier, loopbackURI)
	wantError(t, "the code again", status, again, "invalid_grant")
	if err := connects(t, s, tok["access_token"].(string)); err == nil {
		t.Fatal("the sign-in of a code used twice still opens sessions")
	}
	status, got := refresh(t, s, device, tok["refresh_token"].(string))
	wantError(t, "a refresh of the revoked sign-in", status, got, "invalid_grant")
}

// TestAuthorizationCodeRefused: each binding of a code is checked — the
// PKCE verifier, the redirect URI, its minute of life — and a refused
// code is spent.
func TestAuthorizationCodeRefused(t *testing.T) {
	s, clk := start(t)
	verifier, challenge := pkce(strings.Repeat("a", 43))
	for _, c := range []struct {
		name               string
		verifier, redirect string
		wait               time.Duration
	}{
		{"another verifier", strings.Repeat("b", 43), loopbackURI, 0},
		{"another redirect URI", verifier, "http://127.0.0.1:9/other", 0},
		{"after its minute", verifier, loopbackURI, 61 * time.Second},
	} {
		back := authorizeWithToken(t, s, authorizeQuery(s, challenge, "st"), s.APIToken)
		clk.Add(c.wait)
		status, got := redeem(t, s, back.Get("code"), c.verifier, c.redirect)
		wantError(t, c.name, status, got, "invalid_grant")
		status, got = redeem(t, s, back.Get("code"), verifier, loopbackURI)
		wantError(t, c.name+", then the right one", status, got, "invalid_grant")
	}
}

// TestAuthorizeRequestChecked: a redirect URI that is not this machine's
// loopback, or an unknown client, is refused on the page and sent
// nowhere; a request without PKCE or state goes back to the program with
// an error.
func TestAuthorizeRequestChecked(t *testing.T) {
	s, _ := start(t)
	_, challenge := pkce(strings.Repeat("a", 43))
	b := browserClient()
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, redirect := range []string{"http://evil.example:80/cb", "http://localhost:9/cb", "https://127.0.0.1:9/cb", "http://127.0.0.1/cb", "http://127.0.0.1:9/cb#x"} {
		q := authorizeQuery(s, challenge, "st")
		q.Set("redirect_uri", redirect)
		resp, err := b.Get(s.AdminURL + signin.AuthorizePath + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Fatalf("redirect_uri %s: %d to %q", redirect, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	for name, change := range map[string]func(url.Values){
		"no PKCE":       func(q url.Values) { q.Del("code_challenge") },
		"plain PKCE":    func(q url.Values) { q.Set("code_challenge_method", "plain") },
		"no state":      func(q url.Values) { q.Del("state") },
		"response_type": func(q url.Values) { q.Set("response_type", "token") },
	} {
		q := authorizeQuery(s, challenge, "st")
		change(q)
		resp, err := b.Get(s.AdminURL + signin.AuthorizePath + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc.Host != "127.0.0.1:9" || loc.Query().Get("error") == "" {
			t.Fatalf("%s: %d to %q", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

// TestPublicURL: behind a proxy that serves TLS, the URLs iscd hands out
// (the verification URI, the providers' callback) are built on
// Config.PublicURL, not on the plain-HTTP request that reached it.
func TestPublicURL(t *testing.T) {
	s := servertest.StartConfig(t, server.Config{SignIn: signin.Config{PublicURL: "https://iscd.example/"}})
	_, user, body := begin(t, s, nil)
	if body["verification_uri"] != "https://iscd.example/device" || body["verification_uri_complete"] != "https://iscd.example/device?user_code="+user {
		t.Fatalf("device authorization: %v", body)
	}
}
