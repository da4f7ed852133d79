package signin_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/server/signin"
	"github.com/iscsdk/iscsdk/sdk"
)

func TestMain(m *testing.M) { os.Exit(servertest.Main(m)) }

// clock is the service's time, moved by the tests instead of waiting.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func start(t *testing.T) (*servertest.Server, *clock) {
	c := &clock{now: time.Now()}
	return servertest.StartConfig(t, server.Config{SignIn: signin.Config{Now: c.Now}}), c
}

const device = "fp-ada-laptop"

// begin starts a device grant for the dev product from device.
func begin(t *testing.T, s *servertest.Server, extra url.Values) (deviceCode, userCode string, body map[string]any) {
	t.Helper()
	form := url.Values{"client_id": {s.Product}, "device": {device}}
	for k, v := range extra {
		form[k] = v
	}
	status, body := s.PostForm(t, signin.DeviceAuthorizationPath, form)
	if status != http.StatusOK {
		t.Fatalf("device authorization: %d %v", status, body)
	}
	return body["device_code"].(string), body["user_code"].(string), body
}

func poll(t *testing.T, s *servertest.Server, dev, deviceCode string) (int, map[string]any) {
	t.Helper()
	return s.PostForm(t, signin.TokenPath, url.Values{"grant_type": {signin.GrantTypeDeviceCode}, "client_id": {s.Product},
		"device": {dev}, "device_code": {deviceCode}})
}

func refresh(t *testing.T, s *servertest.Server, dev, rt string) (int, map[string]any) {
	t.Helper()
	return s.PostForm(t, signin.TokenPath, url.Values{"grant_type": {"refresh_token"}, "client_id": {s.Product},
		"device": {dev}, "refresh_token": {rt}})
}

// confirm answers the verification page as the user of apiToken ("" on a
// dev server: the demo user).
func confirm(t *testing.T, s *servertest.Server, userCode, apiToken, action string) (int, string) {
	t.Helper()
	if action == "approve" {
		return s.ConfirmSignIn(t, userCode, apiToken)
	}
	status, body := s.PostForm(t, signin.VerificationPath, url.Values{"user_code": {userCode}, "api_token": {apiToken}, "action": {action}})
	return status, body["text"].(string)
}

func wantError(t *testing.T, what string, status int, body map[string]any, code string) {
	t.Helper()
	if status != http.StatusBadRequest || body["error"] != code {
		t.Fatalf("%s: %d %v, want 400 %s", what, status, body, code)
	}
}

// connects reports whether an SDK program can open a session with bearer.
func connects(t *testing.T, s *servertest.Server, bearer string) error {
	t.Helper()
	c, err := sdk.Init(context.Background(), sdk.Config{Endpoint: s.Endpoint, Token: bearer, ProductID: s.Product, WorkspaceDir: t.TempDir()})
	if err == nil {
		c.Close()
	}
	return err
}

// TestDeviceGrant: the whole grant as a program and a user live it. The
// program polls (pending; too soon: slow_down, its interval grows), the
// user confirms the code on the page with their API token, the next poll
// gets an access token that opens a session, a refresh token and who
// signed in; the device code is then spent.
func TestDeviceGrant(t *testing.T) {
	s, clk := start(t)
	code, user, body := begin(t, s, nil)
	if body["interval"].(float64) != 5 || body["expires_in"].(float64) != 600 ||
		body["verification_uri"] != s.AdminURL+"/device" || body["verification_uri_complete"] != s.AdminURL+"/device?user_code="+user {
		t.Fatalf("device authorization: %v", body)
	}
	if len(user) != 9 || user[4] != '-' {
		t.Fatalf("user code %q, want XXXX-XXXX", user)
	}

	status, got := poll(t, s, device, code)
	wantError(t, "first poll", status, got, "authorization_pending")
	status, got = poll(t, s, device, code)
	wantError(t, "a poll at once", status, got, "slow_down")
	clk.Add(6 * time.Second)
	status, got = poll(t, s, device, code)
	wantError(t, "a poll 6 s later (the interval is now 10 s)", status, got, "slow_down")
	if got["error_description"] != "poll every 15 s" {
		t.Fatalf("second slow_down: %v", got)
	}
	clk.Add(16 * time.Second)
	status, got = poll(t, s, device, code)
	wantError(t, "a poll 16 s later", status, got, "authorization_pending")

	resp, err := http.Get(s.AdminURL + "/device?user_code=" + user)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(string(page), `value="`+user+`"`) {
		t.Fatalf("verification page: CSP %q, page without its code:\n%s", csp, page)
	}
	if st, text := confirm(t, s, user, s.APIToken, "approve"); st != http.StatusOK || !strings.Contains(text, "it is signed in") {
		t.Fatalf("confirm: %d %s", st, text)
	}
	clk.Add(16 * time.Second)
	status, got = poll(t, s, device, code)
	if status != http.StatusOK {
		t.Fatalf("poll after confirmation: %d %v", status, got)
	}
	u := got["user"].(map[string]any)
	if u["id"] != server.DevUser || u["orgId"] != server.DevOrg || u["name"] != "Demo engineer" || got["token_type"] != "Bearer" || got["expires_in"].(float64) != 600 {
		t.Fatalf("tokens: %v", got)
	}
	if !strings.HasPrefix(got["access_token"].(string), "isc_") || !strings.HasPrefix(got["refresh_token"].(string), "isf_") {
		t.Fatalf("token kinds: %v", got)
	}
	if err := connects(t, s, got["access_token"].(string)); err != nil {
		t.Fatalf("a session with the access token: %v", err)
	}
	if err := connects(t, s, got["refresh_token"].(string)); !errors.Is(err, sdk.ErrUnauthorized) {
		t.Fatalf("a session with the refresh token: %v, want unauthorized", err)
	}
	clk.Add(16 * time.Second)
	status, got = poll(t, s, device, code)
	wantError(t, "the spent device code", status, got, "invalid_grant")
}

// TestDeviceGrantDenied: the user says no; the program hears access_denied.
func TestDeviceGrantDenied(t *testing.T) {
	s, _ := start(t)
	code, user, _ := begin(t, s, nil)
	if st, text := confirm(t, s, user, "", "deny"); st != http.StatusOK || !strings.Contains(text, "Denied") {
		t.Fatalf("deny: %d %s", st, text)
	}
	status, got := poll(t, s, device, code)
	wantError(t, "poll after denial", status, got, "access_denied")
}

// TestDeviceGrantExpired: a code not confirmed in time cannot be
// confirmed, and the program hears expired_token.
func TestDeviceGrantExpired(t *testing.T) {
	s, clk := start(t)
	code, user, _ := begin(t, s, nil)
	clk.Add(10*time.Minute + time.Second)
	if st, text := confirm(t, s, user, "", "approve"); st != http.StatusBadRequest || !strings.Contains(text, "unknown or has expired") {
		t.Fatalf("confirming an expired code: %d %s", st, text)
	}
	status, got := poll(t, s, device, code)
	wantError(t, "poll after expiry", status, got, "expired_token")
}

// signIn runs a grant to its tokens as the demo user.
func signIn(t *testing.T, s *servertest.Server, clk *clock) map[string]any {
	t.Helper()
	code, user, _ := begin(t, s, nil)
	if st, text := confirm(t, s, user, "", "approve"); st != http.StatusOK {
		t.Fatalf("confirm: %d %s", st, text)
	}
	status, got := poll(t, s, device, code)
	if status != http.StatusOK {
		t.Fatalf("poll: %d %v", status, got)
	}
	return got
}

// TestRefreshRotation: every refresh hands out a new refresh token and
// access token (the previous access token stops working; no record is
// added); the refresh token rotated away, used again, revokes the family:
// the newest refresh token and access token stop working too.
func TestRefreshRotation(t *testing.T) {
	s, clk := start(t)
	toks, err := s.Store().Tokens(context.Background(), server.DevUser)
	if err != nil {
		t.Fatal(err)
	}
	tokensBefore := len(toks)
	first := signIn(t, s, clk)
	rt1 := first["refresh_token"].(string)
	status, second := refresh(t, s, device, rt1)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, second)
	}
	rt2, at2 := second["refresh_token"].(string), second["access_token"].(string)
	if rt2 == rt1 || at2 == first["access_token"] || second["user"].(map[string]any)["id"] != server.DevUser {
		t.Fatalf("rotation: %v", second)
	}
	if err := connects(t, s, at2); err != nil {
		t.Fatalf("the new access token: %v", err)
	}
	if err := connects(t, s, first["access_token"].(string)); !errors.Is(err, sdk.ErrUnauthorized) {
		t.Fatalf("the access token the refresh replaced: %v, want unauthorized", err)
	}
	// Access tokens live in their sign-in's record: none is added to the
	// user's tokens, however often the program refreshes.
	if toks, err := s.Store().Tokens(context.Background(), server.DevUser); err != nil || len(toks) != tokensBefore {
		t.Fatalf("the user has %d tokens after signing in and refreshing, had %d (%v)", len(toks), tokensBefore, err)
	}

	status, got := refresh(t, s, device, rt1)
	wantError(t, "the rotated-away token again", status, got, "invalid_grant")
	if !strings.Contains(got["error_description"].(string), "revoked") {
		t.Fatalf("reuse: %v", got)
	}
	status, got = refresh(t, s, device, rt2)
	wantError(t, "the newest token after reuse", status, got, "invalid_grant")
	if err := connects(t, s, at2); !errors.Is(err, sdk.ErrUnauthorized) {
		t.Fatalf("the family's access token after reuse: %v, want unauthorized", err)
	}
}

// TestRefreshWrongDevice: a refresh token presented with another device's
// fingerprint is refused and its family revoked.
func TestRefreshWrongDevice(t *testing.T) {
	s, clk := start(t)
	got := signIn(t, s, clk)
	rt := got["refresh_token"].(string)
	status, body := refresh(t, s, "fp-somewhere-else", rt)
	wantError(t, "another device", status, body, "invalid_grant")
	status, body = refresh(t, s, device, rt)
	wantError(t, "the right device after the theft", status, body, "invalid_grant")
}

// TestAccessExpires: an access token past its life opens no session.
func TestAccessExpires(t *testing.T) {
	s, clk := start(t)
	clk.Add(-time.Hour) // tokens made "an hour ago" expired 50 minutes ago
	got := signIn(t, s, clk)
	if err := connects(t, s, got["access_token"].(string)); !errors.Is(err, sdk.ErrUnauthorized) {
		t.Fatalf("an expired access token: %v, want unauthorized", err)
	}
}

// TestSignOut: revoking the refresh token (sign-out) ends the family.
func TestSignOut(t *testing.T) {
	s, clk := start(t)
	got := signIn(t, s, clk)
	rt := got["refresh_token"].(string)
	if status, body := s.PostForm(t, signin.RevokePath, url.Values{"token": {rt}}); status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, body)
	}
	status, body := refresh(t, s, device, rt)
	wantError(t, "refresh after sign-out", status, body, "invalid_grant")
	if err := connects(t, s, got["access_token"].(string)); !errors.Is(err, sdk.ErrUnauthorized) {
		t.Fatalf("the access token after sign-out: %v, want unauthorized", err)
	}
}

// TestPage: the page speaks Simplified Chinese when asked, and refuses a
// bad token, a made-up code or a post that says neither approve nor deny,
// confirming nothing.
func TestPage(t *testing.T) {
	s, _ := start(t)
	req, _ := http.NewRequest("GET", s.AdminURL+"/device", nil)
	req.Header.Set("Accept-Language", "zh-CN,zh;q=0.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "登录您的程序") || !strings.Contains(string(page), `lang="zh-Hans"`) {
		t.Fatalf("Chinese page:\n%s", page)
	}
	code, user, _ := begin(t, s, nil)
	if st, text := confirm(t, s, user, "isk_0000000000000000_wrong", "approve"); st != http.StatusUnauthorized || !strings.Contains(text, "not valid") {
		t.Fatalf("a bad token: %d %s", st, text)
	}
	if st, text := confirm(t, s, "BCDF-GHJK", "", "approve"); st != http.StatusBadRequest || !strings.Contains(text, "unknown") {
		t.Fatalf("a made-up code: %d %s", st, text)
	}
	if st, _ := s.PostForm(t, signin.VerificationPath, url.Values{"user_code": {user}}); st != http.StatusBadRequest {
		t.Fatalf("a confirmation with no action: %d, want 400", st)
	}
	status, got := poll(t, s, device, code)
	wantError(t, "poll after refused confirmations", status, got, "authorization_pending")
}

// TestPageConfirmationStep: the code and token alone approve nothing; the
// page first says what would be signed in — the product, as whom, in
// which organisation, how long ago it asked — and only its one-time "yes"
// approves, once, for that code.
func TestPageConfirmationStep(t *testing.T) {
	s, clk := start(t)
	product, err := s.Store().Product(context.Background(), s.Product)
	if err != nil {
		t.Fatal(err)
	}
	code, user, _ := begin(t, s, nil)
	_, other, _ := begin(t, s, nil)
	clk.Add(3 * time.Minute)
	status, body := s.PostForm(t, signin.VerificationPath, url.Values{"user_code": {user}, "api_token": {s.APIToken}, "action": {"approve"}})
	page := body["text"].(string)
	want := "Sign in " + product.Name + " as Demo engineer ("
	if status != http.StatusOK || !strings.Contains(page, want) || !strings.Contains(page, "asked 3 minutes ago") {
		t.Fatalf("the confirmation step: %d, want %q and 3 minutes:\n%s", status, want, page)
	}
	if st, got := poll(t, s, device, code); got["error"] != "authorization_pending" {
		t.Fatalf("after the first step alone: %d %v", st, got)
	}
	nonce := regexp.MustCompile(`name="nonce" value="([^"]+)"`).FindStringSubmatch(page)[1]
	if st, _ := s.PostForm(t, signin.VerificationPath, url.Values{"user_code": {other}, "nonce": {nonce}, "action": {"approve"}}); st != http.StatusBadRequest {
		t.Fatalf("the nonce with another code: %d, want 400", st)
	}
	forged := nonce[:len(nonce)-4] + "AAAA"
	if st, _ := s.PostForm(t, signin.VerificationPath, url.Values{"user_code": {user}, "nonce": {forged}, "action": {"approve"}}); st != http.StatusBadRequest {
		t.Fatalf("a forged nonce: %d, want 400", st)
	}
	if st, text := confirmNonce(t, s, user, nonce); st != http.StatusOK || !strings.Contains(text, "it is signed in") {
		t.Fatalf("yes: %d %s", st, text)
	}
	if st, _ := confirmNonce(t, s, user, nonce); st != http.StatusBadRequest {
		t.Fatalf("the nonce twice: %d, want 400", st)
	}
	clk.Add(16 * time.Second)
	if st, got := poll(t, s, device, code); st != http.StatusOK || got["user"].(map[string]any)["id"] != server.DevUser {
		t.Fatalf("poll after yes: %d %v", st, got)
	}
}

func confirmNonce(t *testing.T, s *servertest.Server, user, nonce string) (int, string) {
	status, body := s.PostForm(t, signin.VerificationPath, url.Values{"user_code": {user}, "nonce": {nonce}, "action": {"approve"}})
	return status, body["text"].(string)
}
