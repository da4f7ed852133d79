package sdk_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/server/signin"
	"github.com/iscsdk/iscsdk/sdk"
)

// TestSignIn: a program with no token signs its user in with the device
// grant: SignInPrompt says where and which code, the user confirms it on
// the page, SignedIn says who; the refresh token is kept in a 0600 file,
// so the next start is signed in without a prompt; SignOut revokes it and
// forgets the file.
func TestSignIn(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{SignIn: signin.Config{Interval: time.Second}})
	c, cfg := signedOut(t, srv)
	done := make(chan error, 1)
	go func() { done <- c.SignIn(context.Background(), sdk.SignInOptions{Device: true}) }()
	prompt := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSignInPrompt })
	code := prompt.Params["userCode"]
	if !strings.HasSuffix(prompt.Params["url"], "/device?user_code="+code) || prompt.Params["verificationUri"] != srv.AdminURL+"/device" {
		t.Fatalf("SignInPrompt: %v", prompt.Params)
	}
	if exp, err := time.Parse(time.RFC3339, prompt.Params["expires"]); err != nil || time.Until(exp) < 9*time.Minute {
		t.Fatalf("SignInPrompt expires %q: %v", prompt.Params["expires"], err)
	}
	if p, ok := prompt.SignInPrompt(); !ok || p.UserCode != code || p.URL != prompt.Params["url"] || p.VerificationURI != srv.AdminURL+"/device" || time.Until(p.Expires) < 9*time.Minute {
		t.Fatalf("the SignInPrompt view: %+v %v", p, ok)
	}
	if status, text := srv.ConfirmSignIn(t, code, srv.APIToken); status != http.StatusOK {
		t.Fatalf("confirm: %d %s", status, text)
	}
	if err := <-done; err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	in := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSignedIn })
	if in.Params["userId"] != server.DevUser || in.Params["name"] != "Demo engineer" || in.Params["orgId"] != server.DevOrg || in.Operate != "SignedIn" {
		t.Fatalf("SignedIn: %v", in.Params)
	}
	if u, ok := in.SignedIn(); !ok || u.UserID != server.DevUser || u.Name != "Demo engineer" || u.OrgID != server.DevOrg || u.Organisation == "" || len(u.Roles) == 0 {
		t.Fatalf("the SignedIn view: %+v %v (%v)", u, ok, in.Params)
	}
	if _, ok := in.SignInPrompt(); ok {
		t.Fatal("a SignedIn event read as a SignInPrompt")
	}
	if c.SessionID() == "" {
		t.Fatal("signed in, but no session")
	}
	files, _ := filepath.Glob(filepath.Join(cfg.WorkspaceDir, "signin", "*.token"))
	if len(files) != 1 {
		t.Fatalf("refresh token files: %v", files)
	}
	fi, err := os.Stat(files[0])
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("refresh token file: %v %v, want mode 0600", fi.Mode(), err)
	}
	first, _ := os.ReadFile(files[0])
	if !strings.HasPrefix(string(first), "isf_") {
		t.Fatalf("refresh token file holds %.4q...", first)
	}
	c.Close()

	// The next start: signed in at once, no prompt; the token rotated.
	c, err = sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Init with a kept refresh token: %v", err)
	}
	e := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSignedIn || e.Type == sdk.EventSignInPrompt })
	if e.Type != sdk.EventSignedIn || e.Params["userId"] != server.DevUser || c.SessionID() == "" {
		t.Fatalf("second start: %v %v", e.Operate, e.Params)
	}
	second, _ := os.ReadFile(files[0])
	if string(second) == string(first) {
		t.Fatal("the refresh token did not rotate")
	}

	if err := c.SignOut(context.Background()); err != nil {
		t.Fatalf("SignOut: %v", err)
	}
	out := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSignedOut })
	if want := srv.AdminURL + signin.SignOutPath + "?org=demo"; out.Params["logoutUrl"] != want {
		t.Errorf("SignedOut's logoutUrl = %q, want %q", out.Params["logoutUrl"], want)
	}
	if _, err := os.Stat(files[0]); !os.IsNotExist(err) {
		t.Fatalf("the refresh token file after SignOut: %v", err)
	}
	status, body := srv.PostForm(t, signin.TokenPath, url.Values{"grant_type": {"refresh_token"}, "client_id": {srv.Product},
		"device": {"any"}, "refresh_token": {string(second)}})
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("the revoked refresh token: %d %v", status, body)
	}
	c.Close()

	// Signed out: the next start asks for a sign-in.
	c, err = sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Init after SignOut: %v", err)
	}
	defer c.Close()
	if c.SessionID() != "" {
		t.Fatal("a session without a sign-in")
	}
}

// TestSignInDenied: the user denies; SignIn says so.
func TestSignInDenied(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{SignIn: signin.Config{Interval: time.Second}})
	c, _ := signedOut(t, srv)
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- c.SignIn(context.Background(), sdk.SignInOptions{Device: true}) }()
	prompt := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSignInPrompt })
	srv.PostForm(t, signin.VerificationPath, url.Values{"user_code": {prompt.Params["userCode"]}, "action": {"deny"}})
	if err := <-done; err != sdk.ErrSignInDenied {
		t.Fatalf("SignIn after a denial: %v", err)
	}
}

// signedIn returns a client of srv signed in through the device grant.
func signedIn(t *testing.T, srv *servertest.Server, cfg sdk.Config) *sdk.Client {
	t.Helper()
	c, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.SignIn(context.Background(), sdk.SignInOptions{Device: true}) }()
	prompt := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSignInPrompt })
	srv.ConfirmSignIn(t, prompt.Params["userCode"], "")
	if err := <-done; err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	return c
}

// TestSignInReconnectRefreshes: a reconnection takes a fresh access token
// (the one held is near its end), rotating the kept refresh token, and
// resumes the session.
func TestSignInReconnectRefreshes(t *testing.T) {
	// Access tokens of 20 s are always within the SDK's 30 s margin: every
	// connection refreshes first.
	srv := servertest.StartConfig(t, server.Config{SignIn: signin.Config{Interval: time.Second, AccessTTL: 20 * time.Second}})
	cfg := config(t, srv)
	cfg.Token, cfg.SignIn = "", true
	c := signedIn(t, srv, cfg)
	defer c.Close()
	session := c.SessionID()
	files, _ := filepath.Glob(filepath.Join(cfg.WorkspaceDir, "signin", "*.token"))
	if len(files) != 1 {
		t.Fatalf("refresh token files: %v", files)
	}
	before, _ := os.ReadFile(files[0])

	srv.Restart()
	e := servertest.NextEvent(t, c, func(e sdk.Event) bool {
		return e.Type == sdk.EventConnectionState && e.Params["state"] == sdk.StateConnected && e.Params["session"] != "" && e.Params["resumed"] == "true" || e.Type == sdk.EventSignInRequired
	})
	if e.Params["session"] != session || e.Params["resumed"] != "true" {
		t.Fatalf("reconnected: %v, want session %s resumed", e.Params, session)
	}
	after, _ := os.ReadFile(files[0])
	if string(after) == string(before) {
		t.Fatal("the reconnection did not refresh the tokens")
	}
}

// TestSignInTwoProgramsShareAWorkspace: two instances of a program on one
// workspace share its refresh token. The second starts signed in (rotating
// it, which replaces the first's access token on iscd); when both
// reconnect at once, each renews in turn with the token the file holds:
// neither presents a rotated-away token (which would revoke the sign-in),
// and both resume their sessions.
func TestSignInTwoProgramsShareAWorkspace(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{SignIn: signin.Config{Interval: time.Second}})
	cfg := config(t, srv)
	cfg.Token, cfg.SignIn = "", true
	a := signedIn(t, srv, cfg)
	defer a.Close()
	b, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.SessionID() == "" {
		t.Fatal("the second program is not signed in")
	}
	srv.Restart()
	for _, c := range []*sdk.Client{a, b} {
		e := servertest.NextEvent(t, c, func(e sdk.Event) bool {
			return e.Type == sdk.EventConnectionState && e.Params["state"] == sdk.StateConnected && e.Params["resumed"] == "true" || e.Type == sdk.EventSignInRequired
		})
		if e.Type != sdk.EventConnectionState || e.Params["session"] != c.SessionID() {
			t.Fatalf("after the restart: %s %v", e.Operate, e.Params)
		}
	}
}

// TestSignInRenewsAgainAfterAFailedRenewal: a program whose refresh token
// another program of the workspace rotated renews with the rotated one
// when it reconnects; while iscd is down that renewal fails, and the
// next attempt renews again once iscd is back — it used to take the
// rotated token as its own at the first try and then say hello with the
// access token the rotation had replaced, and was told to sign in again
// (TestSignInTwoProgramsShareAWorkspace failed so under load).
func TestSignInRenewsAgainAfterAFailedRenewal(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{SignIn: signin.Config{Interval: time.Second}})
	cfg := config(t, srv)
	cfg.Token, cfg.SignIn = "", true
	a := signedIn(t, srv, cfg)
	defer a.Close()
	b, err := sdk.Init(context.Background(), cfg) // rotates the refresh token: a's access token is replaced
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	srv.Stop()
	servertest.NextEvent(t, a, func(e sdk.Event) bool {
		return e.Type == sdk.EventConnectionState && e.Params["state"] == sdk.StateDisconnected && strings.Contains(e.Params["error"], "/oauth/token")
	})
	srv.Restart()
	for _, c := range []*sdk.Client{a, b} {
		e := servertest.NextEvent(t, c, func(e sdk.Event) bool {
			return e.Type == sdk.EventConnectionState && e.Params["state"] == sdk.StateConnected && e.Params["resumed"] == "true" || e.Type == sdk.EventSignInRequired
		})
		if e.Type != sdk.EventConnectionState || e.Params["session"] != c.SessionID() {
			t.Fatalf("after iscd came back: %s %v", e.Operate, e.Params)
		}
	}
}
