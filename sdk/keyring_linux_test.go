package sdk_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/server/signin"
	"github.com/iscsdk/iscsdk/sdk"
)

// TestSignInKeepsTheTokenInTheSecretService: on a Linux desktop whose
// Secret Service answers (GNOME Keyring, in a session bus of the test's
// own), a program's sign-in leaves no token on disk: libsecret's
// secret-tool finds it in the keyring, the next start is signed in from
// it without a prompt, and SignOut removes it.
func TestSignInKeepsTheTokenInTheSecretService(t *testing.T) {
	if os.Getenv(insideKeyring) != "" {
		t.Skip("already inside")
	}
	for _, tool := range []string{"dbus-run-session", "gnome-keyring-daemon", "gdbus", "secret-tool"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIPPED: no %s (apt-get install dbus-daemon gnome-keyring libglib2.0-bin libsecret-tools)", tool)
		}
	}
	home := t.TempDir()
	const test = "TestSignInKeepsTheTokenInTheSecretServiceInside"
	// --foreground: the daemon is the shell's, stopped at the end.
	script := `printf pw | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 & kr=$!
gdbus wait --session --timeout 20 org.freedesktop.secrets || { kill $kr; exit 1; }
"$0" -test.run "^` + test + `$" -test.count=1 -test.v; rc=$?
kill $kr; wait $kr; exit $rc`
	cmd := exec.Command("dbus-run-session", "--", "sh", "-c", script, os.Args[0])
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ISCSDK_SECRET_STORE=") { // TestMain's, for the other tests
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, insideKeyring+"=1", "HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_RUNTIME_DIR="+home, "XDG_CACHE_HOME="+filepath.Join(home, "cache"), "XDG_CONFIG_HOME="+filepath.Join(home, "config"))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("inside a session bus with GNOME Keyring: %v\n%s", err, out)
	}
}

func TestSignInKeepsTheTokenInTheSecretServiceInside(t *testing.T) {
	if os.Getenv(insideKeyring) == "" {
		t.Skip("run by TestSignInKeepsTheTokenInTheSecretService")
	}
	srv := servertest.StartConfig(t, server.Config{SignIn: signin.Config{Interval: time.Second}})
	c, cfg := signedOut(t, srv)
	done := make(chan error, 1)
	go func() { done <- c.SignIn(context.Background(), sdk.SignInOptions{Device: true}) }()
	prompt := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSignInPrompt })
	if status, text := srv.ConfirmSignIn(t, prompt.Params["userCode"], srv.APIToken); status != http.StatusOK {
		t.Fatalf("confirm: %d %s", status, text)
	}
	if err := <-done; err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	c.Close()

	files, _ := filepath.Glob(filepath.Join(cfg.WorkspaceDir, "signin", "*.token"))
	if len(files) != 0 {
		t.Fatalf("refresh token files beside the Secret Service: %v", files)
	}
	lookup := func() string {
		out, _ := exec.Command("secret-tool", "search", "--all", "--unlock", "xdg:schema", "org.iscsdk.Secret").CombinedOutput()
		return string(out)
	}
	if items := lookup(); strings.Count(items, "secret = isf_") != 1 || !strings.Contains(items, filepath.Join(cfg.WorkspaceDir, "signin")) {
		t.Fatalf("the keyring's items:\n%s", items)
	}

	c, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Init with the kept refresh token: %v", err)
	}
	defer c.Close()
	servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSignedIn })
	if err := c.SignOut(context.Background()); err != nil {
		t.Fatal(err)
	}
	if items := lookup(); strings.Contains(items, "isf_") {
		t.Fatalf("the keyring after SignOut:\n%s", items)
	}
}
