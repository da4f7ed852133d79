package cabitest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/sdk"
)

// publish publishes pkg as version of the demo product for this platform.
func publish(t *testing.T, version string, forced bool, pkg []byte, command string) {
	t.Helper()
	req := adminapi.PublishRelease{ProductID: devEnv["ISCSDK_PRODUCT"], Platform: sdk.Platform(), Version: version, Forced: forced,
		Notes: "release " + version, FileName: "setup-" + version + ".sh", InstallCommand: command}
	if _, err := admin().PublishRelease(context.Background(), req, strings.NewReader(string(pkg)), releaseKey, nil); err != nil {
		t.Fatalf("publish %s: %v", version, err)
	}
}

// waitFile waits up to 30 s for path to exist and returns its content.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within 30 s", path)
		}
		time.Sleep(50 * time.Millisecond) // polls another process's file; no ordering to wait on
	}
}

// The upgrade paths end to end through the C header, in the order a
// product's life has them (the releases accumulate in the shared iscd):
// an optional upgrade accepted and installed after the program exits, a
// forced one, one refused for its key, and the C++ wrapper.
func TestUpgrades(t *testing.T) {
	ws := t.TempDir()
	marker := filepath.Join(t.TempDir(), "installed")
	env := func(version string, more ...string) []string {
		return append([]string{"ISCSDK_WORKSPACE=" + ws, "APP_VERSION=" + version}, more...)
	}
	// The test's installer records its arguments and whether the program
	// was still running (its process state: gone, or a zombie nobody has
	// waited for yet, is fine; running or sleeping is not).
	installer := fmt.Sprintf(`#!/bin/sh
state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' /proc/$ISCSDK_HOST_PID/status 2>/dev/null)
echo "args=$* host=${state:-gone}" > %s
`, marker)
	publish(t, "10.0.0", false, []byte(installer), "{package} --silent")

	t.Run("optional", func(t *testing.T) {
		p := start(t, env("9.0.0"), "upgrade", "optional")
		if got := p.expect("NOTICE "); got != "available=true version=10.0.0 forced=false errorCode=" {
			t.Fatalf("notice: %s", got)
		}
		if got := p.expect("UPDATE "); got != "fromForceWin=false status=staged version=10.0.0 errorCode=" {
			t.Fatalf("update: %s", got)
		}
		p.expect("SHUT OUT")
		// Shut out, still running: the installer waits.
		if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the installer ran while the program was running (%v)", err)
		}
		p.finish() // the program exits
		got := waitFile(t, marker)
		if !strings.HasPrefix(got, "args=--silent host=") || !(strings.Contains(got, "host=gone") || strings.Contains(got, "host=Z")) {
			t.Fatalf("installer: %q: it ran before the program's process had ended", got)
		}
		t.Logf("installer: %s", strings.TrimSpace(got))
		waitFile(t, filepath.Join(ws, "upgrades", devEnv["ISCSDK_PRODUCT"], "10.0.0", "exit-code"))
		// The next start, upgraded, hears how it went.
		n := start(t, env("10.0.0"), "upgrade", "next")
		if got := n.expect("RESULT "); got != "status=success version=10.0.0 installer=sdk exitCode=0 errorCode=" {
			t.Fatalf("result: %s", got)
		}
		n.finish()
	})

	t.Run("forced", func(t *testing.T) {
		publish(t, "11.0.0", true, []byte("#!/bin/sh\nexit 0\n"), "")
		p := start(t, env("10.0.0", "ISCSDK_NO_AUTO_INSTALL=1"), "upgrade", "forced")
		if got := p.expect("NOTICE "); got != "available=true version=11.0.0 forced=true errorCode=" {
			t.Fatalf("notice: %s", got)
		}
		if got := p.expect("UPDATE "); got != "fromForceWin=true status=staged version=11.0.0 errorCode=" {
			t.Fatalf("update: %s", got)
		}
		p.finish()
	})

	t.Run("refused", func(t *testing.T) {
		w := t.TempDir()
		p := start(t, []string{"ISCSDK_WORKSPACE=" + w, "APP_VERSION=10.5.0"}, "upgrade", "refused")
		p.expect("NOTICE available=true version=11.0.0")
		if got := p.expect("UPDATE "); got != "fromForceWin=true status=failed version=11.0.0 errorCode=unknown_key" {
			t.Fatalf("update: %s", got)
		}
		p.finish()
		if entries, _ := os.ReadDir(filepath.Join(w, "upgrades", devEnv["ISCSDK_PRODUCT"])); len(entries) != 0 {
			t.Fatalf("a refused package left %d entries in the workspace", len(entries))
		}
	})

	t.Run("c++", func(t *testing.T) {
		publish(t, "12.0.0", false, []byte("#!/bin/sh\nexit 0\n"), "")
		p := start(t, env("11.0.0"), "upgrade_cpp")
		if got := p.expect("NOTICE "); !strings.Contains(got, `"available":"true"`) || !strings.Contains(got, `"version":"12.0.0"`) {
			t.Fatalf("notice: %s", got)
		}
		if got := p.expect("UPDATE "); !strings.Contains(got, `"fromForceWin":"false"`) || !strings.Contains(got, `"status":"staged"`) {
			t.Fatalf("update: %s", got)
		}
		p.stdin.Close()
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("upgrade_cpp: %v\n%s", err, p.stderr.String())
		}
	})
}
