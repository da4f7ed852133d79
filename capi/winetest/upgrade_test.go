package winetest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
)

// waitFile waits up to 60 s for path to hold something and returns it.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within 60 s", path)
		}
		time.Sleep(100 * time.Millisecond) // another process's file: nothing to wait on
	}
}

// The Windows hand-off under Wine: examples/c/upgrade.c, built with
// mingw, accepts an upgrade and exits; the library's install.cmd waits for
// its process to end, then runs the test installer (tests/windows/
// installer.c), which finds the program gone; the next start reports the
// outcome.
func TestUpgradeUnderWine(t *testing.T) {
	needWine(t)
	ws := t.TempDir()
	marker := filepath.Join(t.TempDir(), "installed.txt")
	pkg, err := os.ReadFile(filepath.Join(progDir, "installer.exe"))
	if err != nil {
		t.Fatal(err)
	}
	a := &adminapi.Client{BaseURL: devEnv["ISCD_ADMIN_URL"], Token: devEnv["ISCD_ADMIN_TOKEN"]}
	req := adminapi.PublishRelease{ProductID: devEnv["ISCSDK_PRODUCT"], Platform: "windows-amd64", Version: "10.0.0",
		FileName: "setup 10.exe", InstallCommand: `{package} --silent "` + winPath(marker) + `"`}
	if _, err := a.PublishRelease(context.Background(), req, strings.NewReader(string(pkg)), releaseKey, nil); err != nil {
		t.Fatal(err)
	}
	env := []string{"ISCSDK_WORKSPACE=" + winPath(ws)}
	p := startEnv(t, env, "upgrade.exe", "9.0.0")
	p.expect("the upgrade installs when this program exits")
	if err := p.wait(); err != nil {
		t.Fatalf("upgrade.exe 9.0.0: %v\n%s%s", err, p.out.String(), p.stderr.String())
	}
	got := waitFile(t, marker)
	if strings.TrimSpace(got) != "args=--silent host=gone" {
		t.Fatalf("installer: %q (the program must be gone when it runs)", got)
	}
	waitFile(t, filepath.Join(ws, "upgrades", devEnv["ISCSDK_PRODUCT"], "10.0.0", "exit-code"))
	n := startEnv(t, env, "upgrade.exe", "10.0.0")
	line := n.expect("event 15 ")
	if !strings.Contains(line, `"status":"success"`) || !strings.Contains(line, `"installer":"sdk"`) || !strings.Contains(line, `"exitCode":"0"`) {
		t.Fatalf("UpgradeResult: %s", line)
	}
	if err := n.wait(); err != nil {
		t.Fatalf("upgrade.exe 10.0.0: %v\n%s", err, n.out.String())
	}
	t.Logf("installer under Wine: %s", strings.TrimSpace(got))
}
