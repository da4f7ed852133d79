package hostile_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/server/signin"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
	"github.com/iscsdk/iscsdk/sdk"
)

// The device sign-in (docs/identity.md): a program polling faster than
// it may, a refresh token stolen and replayed after the program rotated
// it, and a user confirming another organisation's code.

const signinDevice = "fp-victim-workstation"

func signinBegin(t *testing.T, s *servertest.Server, org string) (deviceCode, userCode string) {
	t.Helper()
	form := url.Values{"client_id": {s.Product}, "device": {signinDevice}}
	if org != "" {
		form.Set("org", org)
	}
	status, body := s.PostForm(t, signin.DeviceAuthorizationPath, form)
	if status != http.StatusOK {
		t.Fatalf("device authorization: %d %v", status, body)
	}
	return body["device_code"].(string), body["user_code"].(string)
}

func signinPoll(t *testing.T, s *servertest.Server, deviceCode string) (int, map[string]any) {
	t.Helper()
	return s.PostForm(t, signin.TokenPath, url.Values{"grant_type": {signin.GrantTypeDeviceCode}, "client_id": {s.Product},
		"device": {signinDevice}, "device_code": {deviceCode}})
}

func signinRefresh(t *testing.T, s *servertest.Server, device, rt string) (int, map[string]any) {
	t.Helper()
	return s.PostForm(t, signin.TokenPath, url.Values{"grant_type": {"refresh_token"}, "client_id": {s.Product},
		"device": {device}, "refresh_token": {rt}})
}

func signinConfirm(t *testing.T, s *servertest.Server, userCode, apiToken string) (int, string) {
	t.Helper()
	return s.ConfirmSignIn(t, userCode, apiToken)
}

// TestSignInPollingTooFast: a program hammering the token endpoint gets
// slow_down, with an interval that grows each time, and no tokens while it
// keeps hammering — even after the user confirmed.
func TestSignInPollingTooFast(t *testing.T) {
	s := servertest.Start(t)
	code, user := signinBegin(t, s, "")
	if status, body := signinPoll(t, s, code); body["error"] != "authorization_pending" {
		t.Fatalf("first poll: %d %v", status, body)
	}
	if st, text := signinConfirm(t, s, user, s.APIToken); st != http.StatusOK {
		t.Fatalf("confirm: %d %s", st, text)
	}
	last := ""
	for i := range 20 {
		status, body := signinPoll(t, s, code)
		if status != http.StatusBadRequest || body["error"] != "slow_down" {
			t.Fatalf("poll %d at once: %d %v, want slow_down", i, status, body)
		}
		if body["error_description"] == last {
			t.Fatalf("poll %d: the interval did not grow (%v)", i, last)
		}
		last = body["error_description"].(string)
	}
	if last != "poll every 105 s" {
		t.Fatalf("after 20 fast polls: %q, want every 105 s", last)
	}
}

// TestSignInStolenRefreshReplayed: a thief copies the program's refresh
// token (and its fingerprint). The program refreshes first; the thief's
// replay of the old token revokes the whole family: the thief gets nothing,
// the program's session ends and its refresh token is refused, so the
// user signs in again and the thief holds nothing that works.
func TestSignInStolenRefreshReplayed(t *testing.T) {
	s := servertest.Start(t)
	code, user := signinBegin(t, s, "")
	if st, text := signinConfirm(t, s, user, ""); st != http.StatusOK {
		t.Fatalf("confirm: %d %s", st, text)
	}
	status, tokens := signinPoll(t, s, code)
	if status != http.StatusOK {
		t.Fatalf("poll: %d %v", status, tokens)
	}
	stolen := tokens["refresh_token"].(string)

	status, rotated := signinRefresh(t, s, signinDevice, stolen)
	if status != http.StatusOK {
		t.Fatalf("the program's refresh: %d %v", status, rotated)
	}
	prog, err := sdk.Init(context.Background(), sdk.Config{Endpoint: s.Endpoint, Token: rotated["access_token"].(string),
		ProductID: s.Product, WorkspaceDir: t.TempDir()})
	if err != nil {
		t.Fatalf("the program's session: %v", err)
	}
	defer prog.Close()

	status, body := signinRefresh(t, s, signinDevice, stolen)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" || body["access_token"] != nil {
		t.Fatalf("the thief's replay: %d %v", status, body)
	}
	servertest.NextEvent(t, prog, func(e sdk.Event) bool { return e.Type == sdk.EventSignInRequired })
	status, body = signinRefresh(t, s, signinDevice, rotated["refresh_token"].(string))
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("the family's newest token after the replay: %d %v", status, body)
	}
}

// TestSignInOtherOrgsUserCode: a program that signs in to its
// organisation shows a code; a user of another organisation who enters it
// (phished, or guessing) is told the code is unknown, and the program
// still waits — it never gets the other user's tokens.
func TestSignInOtherOrgsUserCode(t *testing.T) {
	s := servertest.Start(t)
	ctx := context.Background()
	st := s.Store()
	now := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateOrg(ctx, store.Org{ID: "rival", Name: "Rival", Created: now}))
	must(st.CreateUser(ctx, store.User{ID: "mallory", OrgID: "rival", Name: "Mallory", Created: now}))
	tok, id, hash := token.New(token.PrefixAPI)
	must(st.CreateToken(ctx, store.Token{ID: id, Kind: token.PrefixAPI, Hash: hash, UserID: "mallory", OrgID: "rival", Created: now}))

	code, user := signinBegin(t, s, "demo")
	if status, text := signinConfirm(t, s, user, tok); status != http.StatusBadRequest || !strings.Contains(text, "unknown or has expired") {
		t.Fatalf("another org's user confirming: %d %s", status, text)
	}
	if status, body := signinPoll(t, s, code); body["error"] != "authorization_pending" {
		t.Fatalf("the program after the other org's try: %d %v", status, body)
	}
	// Its own user can still confirm it.
	if status, text := signinConfirm(t, s, user, s.APIToken); status != http.StatusOK {
		t.Fatalf("the org's own user: %d %s", status, text)
	}
}

// TestSignInCodeGuessing: a signed-in user guessing other people's codes
// on the page gets ten wrong answers in ten minutes, then is refused
// before any code is looked at — even a right one, which stays pending.
func TestSignInCodeGuessing(t *testing.T) {
	s := servertest.Start(t)
	code, user := signinBegin(t, s, "")
	for i := range 10 {
		guess := fmt.Sprintf("BCDF-%04d", i) // digits are no code's: never right
		if status, text := signinConfirm(t, s, guess, s.APIToken); status != http.StatusBadRequest || !strings.Contains(text, "unknown or has expired") {
			t.Fatalf("guess %d: %d %s", i, status, text)
		}
	}
	status, text := signinConfirm(t, s, user, s.APIToken)
	if status != http.StatusTooManyRequests || !strings.Contains(text, "Too many wrong codes") {
		t.Fatalf("the 11th try: %d %s", status, text)
	}
	if status, body := signinPoll(t, s, code); body["error"] != "authorization_pending" {
		t.Fatalf("the grant after the guessing: %d %v", status, body)
	}
}

// TestSignInStartFlood: a client starting device authorizations in a loop
// (each a store record) gets 60 a minute from its address, then HTTP 429.
func TestSignInStartFlood(t *testing.T) {
	s := servertest.Start(t)
	form := url.Values{"client_id": {s.Product}, "device": {signinDevice}}
	for i := range 60 {
		if status, body := s.PostForm(t, signin.DeviceAuthorizationPath, form); status != http.StatusOK {
			t.Fatalf("start %d: %d %v", i, status, body)
		}
	}
	status, body := s.PostForm(t, signin.DeviceAuthorizationPath, form)
	if status != http.StatusTooManyRequests || body["error"] != "slow_down" {
		t.Fatalf("start 61: %d %v, want 429 slow_down", status, body)
	}
}
