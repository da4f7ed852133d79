package keyring_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/keyring"
)

// inside is set when this test binary runs again inside a session bus of
// its own (underBus).
const inside = "ISCSDK_KEYRING_TEST_BUS"

// underBus runs the test named test of this binary again inside a fresh
// session bus (dbus-run-session), in a home of its own, with GNOME
// Keyring's Secret Service when keyring (its login collection unlocked,
// then the shell command then run), and stops the daemon after; it skips
// when a tool is missing.
func underBus(t *testing.T, test string, keyring bool, then string) {
	t.Helper()
	if os.Getenv(inside) != "" {
		t.Skip("already inside")
	}
	tools, script := []string{"dbus-run-session"}, `exec "$0" -test.run "^`+test+`$" -test.count=1 -test.v`
	if keyring {
		tools = append(tools, "gnome-keyring-daemon", "gdbus", "secret-tool")
		// --foreground: the daemon is the shell's child, stopped at the end
		// (a daemonised one outlives its bus); gdbus wait: until it owns
		// its name on the bus.
		script = `printf pw | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 & kr=$!
gdbus wait --session --timeout 20 org.freedesktop.secrets || { kill $kr; exit 1; }
` + then + `
"$0" -test.run "^` + test + `$" -test.count=1 -test.v; rc=$?
kill $kr; wait $kr; exit $rc`
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIPPED: no %s (apt-get install dbus-daemon gnome-keyring libsecret-tools)", tool)
		}
	}
	home := t.TempDir()
	cmd := exec.Command("dbus-run-session", "--", "sh", "-c", script, os.Args[0])
	cmd.Env = append(os.Environ(), inside+"=1", "HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_RUNTIME_DIR="+home, "XDG_CACHE_HOME="+filepath.Join(home, "cache"), "XDG_CONFIG_HOME="+filepath.Join(home, "config"))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("%s inside a session bus: %v\n%s", test, err, out)
	}
	t.Logf("%s", out)
}

// TestSecretService: where a Secret Service answers (GNOME Keyring here,
// in a session bus of the test's own), the secret is kept there and not
// on disk; libsecret's secret-tool, a client no one here wrote, finds it;
// another Keyring reads it back; Save replaces it and Delete removes it.
func TestSecretService(t *testing.T) {
	underBus(t, "TestSecretServiceInside", true, "")
}

func TestSecretServiceInside(t *testing.T) {
	if os.Getenv(inside) == "" {
		t.Skip("run by TestSecretService")
	}
	path := filepath.Join(t.TempDir(), "signin", "a.token")
	lookup := func() (string, error) {
		out, err := exec.Command("secret-tool", "lookup", "xdg:schema", "org.iscsdk.Secret", "path", path).Output()
		return string(out), err
	}
	k := keyring.Open(path, keyring.Options{Label: "iscsdk sign-in"})
	if k.Where() != keyring.InSecretService {
		t.Fatalf("Where = %q with GNOME Keyring on the bus", k.Where())
	}
	if err := k.Save(token); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file beside the Secret Service: %v", err)
	}
	if got, err := lookup(); err != nil || got != token {
		t.Fatalf("secret-tool lookup = %q, %v", got, err)
	}
	again := keyring.Open(path, keyring.Options{})
	if got, err := again.Load(); err != nil || got != token {
		t.Fatalf("Load = %q, %v", got, err)
	}
	if err := again.Save(token + "2"); err != nil {
		t.Fatal(err)
	}
	if got, err := k.Load(); err != nil || got != token+"2" {
		t.Fatalf("Load after Save replaced it = %q, %v", got, err)
	}
	out, _ := exec.Command("secret-tool", "search", "--all", "xdg:schema", "org.iscsdk.Secret", "path", path).CombinedOutput()
	if n := strings.Count(string(out), "secret = "); n != 1 {
		t.Fatalf("%d items kept for one secret:\n%s", n, out)
	}
	other := keyring.Open(path+"2", keyring.Options{})
	if _, err := other.Load(); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("another name's Load: %v, want ErrNotFound", err)
	}
	if err := k.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := again.Load(); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("Load after Delete: %v", err)
	}
	if got, err := lookup(); err == nil {
		t.Fatalf("secret-tool still finds %q", got)
	}

	// A secret kept in the file (before a Secret Service answered) is
	// still found, and the next Save moves it into the service.
	os.MkdirAll(filepath.Dir(path), 0o700)
	os.WriteFile(path, []byte(token), 0o600)
	if got, err := k.Load(); err != nil || got != token {
		t.Fatalf("Load of the file kept before = %q, %v", got, err)
	}
	if err := k.Save(token + "3"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the file after the move: %v", err)
	}
	k.Delete()
}

// TestNoSecretService: a session bus without a Secret Service (and one
// whose Secret Service has its collection locked) leaves the secret in the
// 0600 file, without prompting anyone.
func TestNoSecretService(t *testing.T) {
	underBus(t, "TestNoSecretServiceInside", false, "")
	underBus(t, "TestNoSecretServiceInside", true,
		`gdbus call --session --dest org.freedesktop.secrets --object-path /org/freedesktop/secrets `+
			`--method org.freedesktop.Secret.Service.Lock "['/org/freedesktop/secrets/collection/login']" >/dev/null || { kill $kr; exit 1; }`)
}

func TestNoSecretServiceInside(t *testing.T) {
	if os.Getenv(inside) == "" {
		t.Skip("run by TestNoSecretService")
	}
	path := filepath.Join(t.TempDir(), "a.token")
	k := keyring.Open(path, keyring.Options{})
	if k.Where() != keyring.InFile {
		t.Fatalf("Where = %q", k.Where())
	}
	if err := k.Save(token); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the file: %v %v", fi, err)
	}
	if got, err := keyring.Open(path, keyring.Options{}).Load(); err != nil || got != token {
		t.Fatalf("Load = %q, %v", got, err)
	}
}
