package sdk_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

var flowField = regexp.MustCompile(`name="flow" value="([^"]+)"`)

// browse is a user's browser for these tests: it opens the page, signs
// in on iscd's chooser with apiToken ("" on a dev server: the demo user)
// and follows the redirects to the program's loopback, returning what the
// loopback answered. lang, when not "", is its Accept-Language. Chromium
// does the same in capi/cabitest.
func browse(t *testing.T, page, apiToken, lang string, answered chan<- string) func(string) error {
	return func(u string) error {
		go func() {
			jar, _ := cookiejar.New(nil)
			b := &http.Client{Jar: jar, Transport: acceptLanguage(lang)}
			resp, err := b.Get(u)
			if err != nil {
				answered <- err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			m := flowField.FindSubmatch(body)
			if m == nil {
				answered <- "no chooser: " + string(body)
				return
			}
			resp, err = b.PostForm(page, url.Values{"flow": {string(m[1])}, "api_token": {apiToken}})
			if err != nil {
				answered <- err.Error()
				return
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			answered <- string(body)
		}()
		return nil
	}
}

// acceptLanguage is a browser's transport that asks for pages in lang
// ("": says nothing).
type acceptLanguage string

func (l acceptLanguage) RoundTrip(r *http.Request) (*http.Response, error) {
	if l != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Accept-Language", string(l))
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestSignInBrowser: by default, SignIn opens iscd's authorization
// page in the browser, the user signs in there, the browser is sent to
// the program's loopback (which tells it to close the window) and the
// program is signed in: SignedIn, a session, the refresh token kept for
// the next start.
func TestSignInBrowser(t *testing.T) {
	srv := servertest.Start(t)
	c, cfg := signedOut(t, srv)
	answered := make(chan string, 1)
	opened := ""
	open := browse(t, srv.AdminURL+"/signin", "", "", answered)
	err := c.SignIn(context.Background(), sdk.SignInOptions{OpenBrowser: func(u string) error { opened = u; return open(u) }})
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	if page := <-answered; !strings.Contains(page, "You are signed in") {
		t.Fatalf("the loopback's page: %s", page)
	}
	q, _ := url.Parse(opened)
	if q.Path != "/oauth/authorize" || !strings.HasPrefix(q.Query().Get("redirect_uri"), "http://127.0.0.1:") || q.Query().Get("code_challenge_method") != "S256" {
		t.Fatalf("the page opened: %s", opened)
	}
	in := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSignedIn })
	if in.Params["userId"] != server.DevUser || c.SessionID() == "" {
		t.Fatalf("SignedIn: %v, session %q", in.Params, c.SessionID())
	}
	c.Close()
	again, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatalf("the next start, with the kept refresh token: %v", err)
	}
	again.Close()
}

// TestSignInBrowserFallsBackToTheDeviceGrant: when no browser opens, the
// program gets the device grant's prompt (a code to show) instead.
func TestSignInBrowserFallsBackToTheDeviceGrant(t *testing.T) {
	srv := servertest.Start(t)
	c, _ := signedOut(t, srv)
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- c.SignIn(ctx, sdk.SignInOptions{OpenBrowser: func(string) error { return errors.New("no display") }})
	}()
	prompt := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSignInPrompt })
	if prompt.Params["userCode"] == "" || !strings.Contains(prompt.Params["url"], "/device?user_code=") {
		t.Fatalf("the fallback's prompt: %v", prompt.Params)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("SignIn canceled: %v", err)
	}
}

// TestSignInDeviceOpensNoBrowser: with Device, SignIn uses the device
// grant even where a browser would open: the prompt is a code to show,
// and nothing is opened.
func TestSignInDeviceOpensNoBrowser(t *testing.T) {
	srv := servertest.Start(t)
	c, _ := signedOut(t, srv)
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	opened := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- c.SignIn(ctx, sdk.SignInOptions{Device: true, OpenBrowser: func(u string) error { opened <- u; return nil }})
	}()
	prompt := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSignInPrompt })
	if prompt.Params["userCode"] == "" || !strings.Contains(prompt.Params["url"], "/device?user_code=") {
		t.Fatalf("the device grant's prompt: %v", prompt.Params)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("SignIn canceled: %v", err)
	}
	select {
	case u := <-opened:
		t.Fatalf("the device grant opened %s in the browser", u)
	default:
	}
}

// TestSignInNoBrowserTakesTheDeviceGrant: a host that opens no browser
// ($ISCSDK_NO_BROWSER=1, Config.NoBrowser) signs in with a code to show,
// where a browser would have opened.
func TestSignInNoBrowserTakesTheDeviceGrant(t *testing.T) {
	opened := filepath.Join(t.TempDir(), "opened")
	opener := filepath.Join(t.TempDir(), "browser")
	if err := os.WriteFile(opener, []byte("#!/bin/sh\necho \"$1\" > "+opened+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ISCSDK_BROWSER", opener)
	t.Setenv(sdk.EnvNoBrowser, "1")
	srv := servertest.Start(t)
	c, _ := signedOut(t, srv)
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.SignIn(ctx, sdk.SignInOptions{}) }()
	prompt, _ := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSignInPrompt }).SignInPrompt()
	if prompt.UserCode == "" || !strings.Contains(prompt.URL, "/device?user_code=") {
		t.Fatalf("the prompt of a host that opens no browser: %+v", prompt)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("SignIn canceled: %v", err)
	}
	if b, err := os.ReadFile(opened); err == nil {
		t.Fatalf("a browser was opened at %s", b)
	}
}

// TestSignInBrowserLoopbackChecksState: the loopback takes only the
// callback that carries this sign-in's state; another (a page poking at
// the port) is refused and the sign-in goes on.
func TestSignInBrowserLoopbackChecksState(t *testing.T) {
	srv := servertest.Start(t)
	c, _ := signedOut(t, srv)
	defer c.Close()
	answered := make(chan string, 1)
	open := browse(t, srv.AdminURL+"/signin", "", "", answered)
	err := c.SignIn(context.Background(), sdk.SignInOptions{OpenBrowser: func(u string) error {
		q, _ := url.Parse(u)
		redirect := q.Query().Get("redirect_uri")
		for _, forged := range []string{"?code=isz_x_y&state=forged", "?code=isz_x_y", "?error=access_denied&state=forged"} {
			resp, err := http.Get(redirect + forged)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("the loopback took %s: %d", forged, resp.StatusCode)
			}
		}
		return open(u)
	}})
	if err != nil {
		t.Fatalf("SignIn after forged callbacks: %v", err)
	}
	if page := <-answered; !strings.Contains(page, "You are signed in") {
		t.Fatalf("the loopback's page: %s", page)
	}
}

// TestSignInBrowserRefusedPageReachesTheBrowser: when iscd refuses the
// sign-in, SignIn returns ErrSignInDenied at once, and the browser still
// gets the loopback's whole page saying so — not a connection cut while
// it was written (Chromium would show its own error page).
func TestSignInBrowserRefusedPageReachesTheBrowser(t *testing.T) {
	srv := servertest.Start(t)
	c, _ := signedOut(t, srv)
	defer c.Close()
	for range 20 {
		page := make(chan string, 1)
		err := c.SignIn(context.Background(), sdk.SignInOptions{OpenBrowser: func(u string) error {
			q, _ := url.Parse(u)
			back := q.Query().Get("redirect_uri") + "?" + url.Values{"error": {"access_denied"}, "state": {q.Query().Get("state")}}.Encode()
			go func() { // iscd's refusal, as the browser follows it
				resp, err := http.Get(back)
				if err != nil {
					page <- err.Error()
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					page <- err.Error()
					return
				}
				page <- string(body)
			}()
			return nil
		}})
		if !errors.Is(err, sdk.ErrSignInDenied) {
			t.Fatalf("SignIn refused: %v", err)
		}
		if got := <-page; !strings.Contains(got, "You are not signed in") {
			t.Fatalf("the browser got: %s", got)
		}
	}
}

// TestSignInBrowserLoopbackPageInEachLanguage: the pages the program's
// loopback shows the browser speak the browser's language (English, or
// Simplified Chinese for zh-CN), whole: a callback that is not this
// sign-in's, the one that signs the user in, and iscd's refusal.
func TestSignInBrowserLoopbackPageInEachLanguage(t *testing.T) {
	srv := servertest.Start(t)
	for _, tc := range []struct{ acceptLanguage, lang string }{
		{"en-GB,en;q=0.9", "en"},
		{"zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"},
	} {
		b := &http.Client{Transport: acceptLanguage(tc.acceptLanguage)}
		get := func(u string) (int, string) {
			t.Helper()
			resp, err := b.Get(u)
			if err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			return resp.StatusCode, string(body)
		}

		c, _ := signedOut(t, srv)
		answered := make(chan string, 1)
		open := browse(t, srv.AdminURL+"/signin", "", tc.acceptLanguage, answered)
		err := c.SignIn(context.Background(), sdk.SignInOptions{OpenBrowser: func(u string) error {
			q, _ := url.Parse(u)
			status, page := get(q.Query().Get("redirect_uri") + "?code=isz_x_y&state=forged")
			if problems := sdk.LoopbackPageProblems(page, tc.lang, "notThis"); status != http.StatusBadRequest || problems != "" {
				t.Errorf("%s: a forged callback: %d, %s\n%s", tc.lang, status, problems, page)
			}
			return open(u)
		}})
		if err != nil {
			t.Fatalf("%s: SignIn: %v", tc.lang, err)
		}
		if page := <-answered; sdk.LoopbackPageProblems(page, tc.lang, "signedIn") != "" {
			t.Errorf("%s: the loopback's page after the sign-in: %s\n%s", tc.lang, sdk.LoopbackPageProblems(page, tc.lang, "signedIn"), page)
		}
		c.Close()

		c, _ = signedOut(t, srv)
		pages := make(chan string, 1)
		err = c.SignIn(context.Background(), sdk.SignInOptions{OpenBrowser: func(u string) error {
			q, _ := url.Parse(u)
			back := q.Query().Get("redirect_uri") + "?" + url.Values{"error": {"access_denied"}, "state": {q.Query().Get("state")}}.Encode()
			go func() { // iscd's refusal, as the browser follows it
				resp, err := b.Get(back)
				if err != nil {
					pages <- err.Error()
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				pages <- string(body)
			}()
			return nil
		}})
		if !errors.Is(err, sdk.ErrSignInDenied) {
			t.Fatalf("%s: SignIn refused: %v", tc.lang, err)
		}
		if page := <-pages; sdk.LoopbackPageProblems(page, tc.lang, "refused") != "" {
			t.Errorf("%s: the loopback's page after a refusal: %s\n%s", tc.lang, sdk.LoopbackPageProblems(page, tc.lang, "refused"), page)
		}
		c.Close()
	}
}
