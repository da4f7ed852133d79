package winetest

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// pathsExe builds tests/windows/paths.c next to iscsdk.dll, once.
var pathsExe = sync.OnceValue(func() error {
	return run(root, nil, mingw+"gcc", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-Iinclude",
		"tests/windows/paths.c", "-o", filepath.Join(progDir, "paths.exe"), filepath.Join(winDir, "iscsdk.lib"),
		"-s", "-static-libgcc", "-static")
})

// A user coming from Linux gives the workspace and the files as /tmp/...
// (rooted, no drive: Z: under Wine): a licence file lands where asked, and
// a file opened from the cloud with check-out is saved back under each
// form of its path Windows accepts, every time as the same cloud file
// (tests/windows/paths.c).
func TestLocalPathFormsUnderWine(t *testing.T) {
	needWine(t)
	if err := pathsExe(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() // a Linux path: /tmp/TestLocal.../001
	p := start(t, "paths.exe", dir)
	if got := p.expect("SAVED "); got != "11 versions" {
		t.Errorf("saved %s, want 11 versions", got)
	}
	p.finish()
	if b, err := os.ReadFile(filepath.Join(dir, "lic", "dev.lic")); err != nil || !strings.HasPrefix(string(b), "ISL1.") {
		t.Errorf("the licence file at %s/lic/dev.lic: %v %.20q", dir, err, b)
	}
	// The workspace given as /tmp/... is Z:\tmp\... to the SDK: one form.
	if got := opened(p.out.String()); got != winPath(filepath.Join(dir, "ws", "files", "winpaths", "part.stp")) {
		t.Errorf("opened into %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "ws", "files", "winpaths", "part.stp")); err != nil || string(b) != "solid bracket 11\n" {
		t.Errorf("the opened file: %q %v", b, err)
	}
}

// opened is the path of the OPENED line of out.
func opened(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "OPENED "); ok {
			return rest
		}
	}
	return ""
}
