//go:build linux

package cabitest

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/server/signin"
)

// The device sign-in as a user lives it: the C program shows the prompt,
// the page it names opens in a real (headless) Chromium under its strict
// CSP, is accessible (one h1, labelled fields, named buttons), has the
// code filled in; the user types their API token and presses the button,
// the page says what would sign in and as whom, the user says yes; the
// page says it is done and the program is signed in.
func TestSignInInChromium(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		t.Skip("chromium is not installed (Debian: apt-get install chromium); the sign-in page is not tested in a browser")
	}
	ws := t.TempDir()
	p := start(t, []string{"ISCSDK_TOKEN=", "ISCSDK_WORKSPACE=" + ws}, "signin", "device")
	prompt := strings.Fields(p.expect("PROMPT "))

	tab := startChromium(t, bin)
	tab.navigate(prompt[1])
	if problems := tab.eval(a11y); problems != "" {
		t.Fatalf("the page's accessibility: %s", problems)
	}
	if got := tab.eval(`document.getElementById("user_code").value`); got != prompt[0] {
		t.Fatalf("the code on the page: %q, want %q", got, prompt[0])
	}
	token, _ := json.Marshal(devEnv["ISCSDK_TOKEN"])
	tab.eval(`document.getElementById("api_token").value = ` + string(token))
	tab.click(`document.querySelector("button[value=approve]")`)
	// The page says what would sign in, and asks again.
	if got := tab.eval(`document.getElementById("message").textContent`); !strings.Contains(got, "as Demo engineer") {
		t.Fatalf("the confirmation step: %q", got)
	}
	if problems := tab.eval(a11y); problems != "" {
		t.Fatalf("the confirmation step's accessibility: %s", problems)
	}
	tab.click(`document.querySelector("button[value=approve]")`)
	if got := tab.eval(`document.getElementById("message").textContent`); !strings.Contains(got, "it is signed in") {
		t.Fatalf("the page after confirming: %q", got)
	}
	p.expect("SIGNED_IN ")
	p.stdin.Write([]byte("SIGN OUT\n"))
	p.expect("SIGNED_OUT")
	p.finish()
	if files, _ := filepath.Glob(filepath.Join(ws, "signin", "*.token")); len(files) != 0 {
		t.Fatalf("refresh token files after sign-out: %v", files)
	}
}

// The device sign-in refused on the page, in Chromium: two programs ask
// at once; the user signs in on the page with their API token and
// denies the first at once, with the keyboard (Deny takes the focus,
// Enter presses it), and the second at the confirmation step, having
// read what it would sign in, with a click. The page says each was
// denied and offers nothing more; each program's iscsdk_sign_in returns
// ISCSDK_E_DENIED, no SIGNED_IN event comes, and no refresh token is kept
// (the token store is the workspace's file, where one would be).
func TestSignInDeniedInChromium(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		t.Skip("chromium is not installed (Debian: apt-get install chromium); the sign-in page's denial is not tested in a browser")
	}
	type asking struct {
		p    *program
		ws   string
		page string // the prompt's URL
	}
	var programs []asking
	for range 2 {
		ws := t.TempDir()
		p := start(t, []string{"ISCSDK_TOKEN=", "ISCSDK_WORKSPACE=" + ws, "ISCSDK_SECRET_STORE=file"}, "signin", "deny")
		programs = append(programs, asking{p: p, ws: ws})
	}
	for i := range programs {
		prompt := strings.Fields(programs[i].p.expect("PROMPT "))
		if len(prompt) != 2 || !strings.HasSuffix(prompt[1], "/device?user_code="+prompt[0]) {
			t.Fatalf("prompt: %v", prompt)
		}
		programs[i].page = prompt[1]
	}

	tab := startChromium(t, bin)
	token, _ := json.Marshal(devEnv["ISCSDK_TOKEN"])
	denied := func(which string) {
		t.Helper()
		if got := tab.eval(`document.getElementById("message").textContent`); got != "Denied. The program is not signed in." {
			t.Fatalf("the page after denying %s: %q", which, got)
		}
		if got := tab.eval(`document.querySelectorAll("form, button, input").length`); got != "0" {
			t.Fatalf("the page after denying %s still has %s form elements:\n%s", which, got, tab.eval(`document.body.innerHTML`))
		}
		if problems := tab.eval(a11y); problems != "" {
			t.Fatalf("the page after denying %s: accessibility: %s", which, problems)
		}
	}

	tab.navigate(programs[0].page)
	tab.eval(`document.getElementById("api_token").value = ` + string(token))
	if got := tab.eval(`(() => { const b = document.querySelector("button[value=deny]"); b.focus(); return document.activeElement === b ? b.textContent : "not focused"; })()`); got != "Deny" {
		t.Fatalf("the Deny button: %q", got)
	}
	tab.pressEnter("Deny")
	pressed := time.Now()
	denied("at the first step")
	programs[0].p.expect("DENIED")
	t.Logf("from Deny to iscsdk_sign_in's ISCSDK_E_DENIED: %v (the program polls every 5 s)", time.Since(pressed).Round(time.Millisecond))

	tab.navigate(programs[1].page)
	tab.eval(`document.getElementById("api_token").value = ` + string(token))
	tab.click(`document.querySelector("button[value=approve]")`)
	if got := tab.eval(`document.getElementById("message").textContent`); !strings.Contains(got, "as Demo engineer") {
		t.Fatalf("the confirmation step: %q", got)
	}
	tab.click(`document.querySelector("button[value=deny]")`)
	denied("at the confirmation step")
	programs[1].p.expect("DENIED")

	for i, a := range programs {
		a.p.finish()
		if strings.Contains(a.p.out.String(), "SIGNED_IN") {
			t.Errorf("program %d signed in after the denial:\n%s", i, a.p.out.String())
		}
		if files, _ := filepath.Glob(filepath.Join(a.ws, "signin", "*.token")); len(files) != 0 {
			t.Errorf("program %d: refresh token files after the denial: %v", i, files)
		}
	}
}

// The device sign-in that nobody confirms in time, in Chromium: iscd's
// codes live 3 s here. The program's prompt carries the code's end, its
// iscsdk_sign_in returns ISCSDK_E_EXPIRED once the code has expired (not
// before), with no SIGNED_IN event and no refresh token kept; the user
// who opens the prompt's page after that and signs in there is told the
// code is unknown or has expired, and is shown the code's form again, not
// the step that would confirm it.
func TestSignInExpiredInChromium(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		t.Skip("chromium is not installed (Debian: apt-get install chromium); the sign-in page's expired code is not tested in a browser")
	}
	const life = 3 * time.Second
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true, SignIn: signin.Config{GrantTTL: life, Interval: time.Second}})
	ws := t.TempDir()
	asked := time.Now()
	p := start(t, []string{"ISCSDK_TOKEN=", "ISCSDK_WORKSPACE=" + ws, "ISCSDK_SECRET_STORE=file",
		"ISCSDK_ENDPOINT=" + srv.Endpoint, "ISCSDK_PRODUCT=" + srv.Product}, "signin", "expire")
	prompt := strings.Fields(p.expect("PROMPT "))
	prompted := time.Now()
	if len(prompt) != 2 || !strings.HasSuffix(prompt[1], "/device?user_code="+prompt[0]) {
		t.Fatalf("prompt: %v", prompt)
	}
	// Blocks until iscsdk_sign_in returns: the code's life, and a poll.
	field := strings.TrimSpace(p.expect("EXPIRED "))
	ended := time.Now()
	p.finish()
	t.Logf("a %v code: iscsdk_sign_in returned ISCSDK_E_EXPIRED %v after the program started", life, ended.Sub(asked).Round(time.Millisecond))
	expires, err := time.Parse(time.RFC3339, field)
	if err != nil {
		t.Fatalf("the prompt's expires: %v", err)
	}
	// The prompt's expires is the program's clock, to the second, when
	// iscd's answer came, plus the code's life.
	if expires.Before(asked.Add(life).Truncate(time.Second)) || expires.After(prompted.Add(life)) {
		t.Errorf("the prompt's expires %v, want %v after the program asked (%v to %v)", expires, life, asked, prompted)
	}
	if ended.Before(asked.Add(life)) {
		t.Errorf("iscsdk_sign_in returned ISCSDK_E_EXPIRED %v after the program started, before the code's %v were over", ended.Sub(asked), life)
	}
	if strings.Contains(p.out.String(), "SIGNED_IN") {
		t.Errorf("signed in with an expired code:\n%s", p.out.String())
	}
	if files, _ := filepath.Glob(filepath.Join(ws, "signin", "*.token")); len(files) != 0 {
		t.Errorf("refresh token files after the expiry: %v", files)
	}

	tab := startChromium(t, bin)
	tab.navigate(prompt[1])
	if got := tab.eval(`document.getElementById("user_code").value`); got != prompt[0] {
		t.Fatalf("the code on the page: %q, want %q", got, prompt[0])
	}
	token, _ := json.Marshal(srv.APIToken)
	tab.eval(`document.getElementById("api_token").value = ` + string(token))
	tab.click(`document.querySelector("button[value=approve]")`)
	if got := tab.eval(`document.getElementById("message").textContent`); got != "This code is unknown or has expired. Check it, or start the sign-in again in the program." {
		t.Fatalf("the page for the expired code: %q", got)
	}
	if got := tab.eval(`document.querySelector("button[value=approve]").textContent`); got != "Sign the program in" {
		t.Fatalf("the page for the expired code asks %q, not for a code again:\n%s", got, tab.eval(`document.body.innerText`))
	}
	if problems := tab.eval(a11y); problems != "" {
		t.Fatalf("the page for the expired code: accessibility: %s", problems)
	}
}
