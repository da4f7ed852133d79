package cabitest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// confirmCode answers the verification page for userCode, as the demo
// user's API token would in a browser: approve takes the page's two
// steps (the code, then "yes" once it shows what signs in).
func confirmCode(t *testing.T, userCode, action string) {
	t.Helper()
	page := postPage(t, url.Values{"user_code": {userCode}, "api_token": {devEnv["ISCSDK_TOKEN"]}, "action": {action}})
	if action != "approve" {
		return
	}
	m := regexp.MustCompile(`name="nonce" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no confirmation step for %s:\n%s", userCode, page)
	}
	postPage(t, url.Values{"user_code": {userCode}, "nonce": {m[1]}, "action": {"approve"}})
}

func postPage(t *testing.T, form url.Values) string {
	t.Helper()
	resp, err := http.PostForm(devEnv["ISCD_ADMIN_URL"]+"/device", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the sign-in page: %s\n%s", resp.Status, page)
	}
	return string(page)
}

// The device sign-in through the C header: iscsdk_sign_in raises the
// prompt, the user confirms on the page, SIGNED_IN follows; the refresh
// token is kept in a 0600 file, so the next iscsdk_init is signed in with
// no prompt; iscsdk_sign_out forgets it. A denial is ISCSDK_E_DENIED.
func TestSignIn(t *testing.T) {
	ws := t.TempDir()
	env := []string{"ISCSDK_TOKEN=", "ISCSDK_WORKSPACE=" + ws}

	p := start(t, env, "signin", "device")
	prompt := strings.Fields(p.expect("PROMPT "))
	if len(prompt) != 2 || !strings.HasSuffix(prompt[1], "/device?user_code="+prompt[0]) {
		t.Fatalf("prompt: %v", prompt)
	}
	confirmCode(t, prompt[0], "approve")
	if got := strings.Fields(p.expect("SIGNED_IN "))[0]; got != devEnv["ISCSDK_USER"] && got != "demo" {
		t.Fatalf("signed in as %q", got)
	}
	files, _ := filepath.Glob(filepath.Join(ws, "signin", "*.token"))
	if len(files) != 1 {
		t.Fatalf("refresh token files: %v", files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the refresh token file: %v %v", fi, err)
	}
	p.stdin.Write([]byte("STAY\n"))
	p.finish()

	p = start(t, env, "signin", "resume")
	p.expect("SIGNED_IN ")
	p.stdin.Write([]byte("SIGN OUT\n"))
	p.expect("SIGNED_OUT")
	p.finish()
	if _, err := os.Stat(files[0]); !os.IsNotExist(err) {
		t.Fatalf("the refresh token file after iscsdk_sign_out: %v", err)
	}

	p = start(t, env, "signin", "deny")
	confirmCode(t, strings.Fields(p.expect("PROMPT "))[0], "deny")
	p.finish()

	start(t, env, "signin", "args").finish()
}

// The C++ wrapper signs in and out: Options::signIn, SignIn (the code
// confirmed on the page), SignOut, their events through a std::function.
func TestSignInCPP(t *testing.T) {
	p := start(t, []string{"ISCSDK_TOKEN=", "ISCSDK_WORKSPACE=" + t.TempDir()}, "signin_cpp")
	prompt := p.expect("PROMPT ")
	var e struct{ Params map[string]string }
	if err := json.Unmarshal([]byte(prompt), &e); err != nil || e.Params["userCode"] == "" {
		t.Fatalf("prompt %s: %v", prompt, err)
	}
	confirmCode(t, e.Params["userCode"], "approve")
	if got := p.expect("SIGNED_IN "); !strings.Contains(got, `"userId":"demo"`) {
		t.Fatalf("signed in: %s", got)
	}
	p.expect("SIGNED_OUT")
	p.stdin.Close()
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("signin_cpp: %v\n%s%s", err, p.out.String(), p.stderr.String())
	}
}

// TestSignInBrowserCPP: the C++ wrapper signs in through the browser
// (Sdk::SignIn's default flags): the page its prompt names is
// iscd's authorization request; a browser (cookies, redirects) signs in
// there as the demo user and is sent to the program's loopback; the
// program is signed in, then out.
func TestSignInBrowserCPP(t *testing.T) {
	p := start(t, []string{"ISCSDK_TOKEN=", "ISCSDK_WORKSPACE=" + t.TempDir(), "ISCSDK_BROWSER=true", "ISCSDK_NO_BROWSER="}, "signin_cpp", "browser")
	var e struct{ Params map[string]string }
	if err := json.Unmarshal([]byte(p.expect("PROMPT ")), &e); err != nil || e.Params["userCode"] != "" || !strings.Contains(e.Params["url"], "/oauth/authorize?") {
		t.Fatalf("prompt %v: %v", e.Params, err)
	}
	signInInBrowser(t, e.Params["url"])
	if got := p.expect("SIGNED_IN "); !strings.Contains(got, `"userId":"demo"`) {
		t.Fatalf("signed in: %s", got)
	}
	p.expect("SIGNED_OUT")
	p.stdin.Close()
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("signin_cpp: %v\n%s%s", err, p.out.String(), p.stderr.String())
	}
}

// signInInBrowser is the user's browser (cookies, redirects) at a browser
// sign-in's page: iscd's chooser, signed in with the demo user's API
// token, and the program's loopback, which must say the user is signed in.
func signInInBrowser(t *testing.T, page string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar}
	resp, err := b.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	flow := regexp.MustCompile(`name="flow" value="([^"]+)"`).FindSubmatch(body)
	if flow == nil {
		t.Fatalf("no chooser:\n%s", body)
	}
	resp, err = b.PostForm(devEnv["ISCD_ADMIN_URL"]+"/signin", url.Values{"flow": {string(flow[1])}, "api_token": {devEnv["ISCSDK_TOKEN"]}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "You are signed in") {
		t.Fatalf("the loopback's page:\n%s", body)
	}
}
