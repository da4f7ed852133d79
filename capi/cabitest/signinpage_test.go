//go:build linux

package cabitest

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
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
