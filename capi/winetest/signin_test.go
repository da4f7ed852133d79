package winetest

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var nonceField = regexp.MustCompile(`name="nonce" value="([^"]+)"`)

// confirmOnPage confirms a device code on the dev iscd's page as its demo
// user would in a browser: the code, then "yes" on the step that says
// what signs in.
func confirmOnPage(t *testing.T, userCode string) {
	t.Helper()
	page := devEnv["ISCD_ADMIN_URL"] + "/device"
	post := func(f url.Values) string {
		resp, err := http.PostForm(page, f)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("the device page: %d %s", resp.StatusCode, b)
		}
		return string(b)
	}
	m := nonceField.FindStringSubmatch(post(url.Values{"user_code": {userCode}, "action": {"approve"}, "api_token": {""}}))
	if m == nil {
		t.Fatal("the device page asked no confirmation")
	}
	post(url.Values{"user_code": {userCode}, "action": {"approve"}, "nonce": {m[1]}})
}

// TestSignInUnderWine: a C program on "Windows" signs its user in with the
// device grant through iscsdk.dll; its refresh token is sealed with DPAPI
// in the workspace — the file holds no trace of it — and the next start
// unseals it and is signed in without a prompt; sign-out removes it.
func TestSignInUnderWine(t *testing.T) {
	needWine(t)
	ws := filepath.Join(tmp, "signin-workspace")
	env := []string{"ISCSDK_TOKEN=", "ISCSDK_WORKSPACE=" + winPath(ws)}

	p := startEnv(t, env, "signin.exe", "device")
	prompt := strings.Fields(p.expect("PROMPT "))
	if len(prompt) != 2 {
		t.Fatalf("prompt: %v", prompt)
	}
	confirmOnPage(t, prompt[0])
	who := strings.Fields(p.expect("SIGNED_IN "))
	p.stdin.Write([]byte("STAY\n"))
	p.finish()

	files, _ := filepath.Glob(filepath.Join(ws, "signin", "*.token"))
	if len(files) != 1 {
		t.Fatalf("refresh token files: %v", files)
	}
	sealed, err := os.ReadFile(files[0])
	if err != nil || len(sealed) < 64 || strings.Contains(string(sealed), "isf_") {
		t.Fatalf("the refresh token file (%d bytes, %v) is not a DPAPI blob: %.40q", len(sealed), err, sealed)
	}

	p = startEnv(t, env, "signin.exe", "resume")
	if again := strings.Fields(p.expect("SIGNED_IN ")); len(again) == 0 || again[0] != who[0] {
		t.Fatalf("the next start signed in as %v, not %v", again, who)
	}
	p.stdin.Write([]byte("SIGN OUT\n"))
	p.expect("SIGNED_OUT")
	p.finish()
	if files, _ := filepath.Glob(filepath.Join(ws, "signin", "*.token")); len(files) != 0 {
		t.Fatalf("refresh token files after sign-out: %v", files)
	}
}
