package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/store"
)

func TestReleases(t *testing.T) {
	_, env := start(t)
	pkg := filepath.Join(t.TempDir(), "acme-setup.run")
	data := strings.Repeat("installer bytes ", 100_000)
	if err := os.WriteFile(pkg, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	p := server.DevProduct
	r := ok(t, env, "release", "publish", pkg, "--product", p, "--version", "v2.0.0", "--platform", "windows-amd64",
		"--notes", "faster meshing", "--install-command", "{package} /S", "--min-supported", "1.5.0")
	if !strings.HasPrefix(r.stdout, "published 2.0.0 windows-amd64 of "+p+": 1.5 MiB, SHA-256 ") || r.stderr != "" {
		t.Fatalf("publish printed\n%s\nstderr: %s", r.stdout, r.stderr)
	}
	// Published again: the chunks are there, the version is taken.
	if r := iscctl(t, env, "release", "publish", pkg, "--product", p, "--version", "2.0.0", "--platform", "windows-amd64"); r.code != exitError || !strings.Contains(r.stderr, "never published twice") {
		t.Fatalf("a second publish: exit %d, %s", r.code, r.stderr)
	}
	ok(t, env, "release", "publish", pkg, "--product", p, "--version", "2.1.0-rc.1", "--platform", "windows-amd64", "--forced", "--name", "setup.exe")
	rs := decodeJSON[[]store.Release](t, ok(t, env, "--json", "release", "list", "--product", p).stdout)
	if len(rs) != 2 || rs[0].Version != "2.1.0-rc.1" || !rs[0].Forced || rs[0].FileName != "setup.exe" || rs[1].MinSupported != "1.5.0" ||
		rs[1].InstallCommand != "{package} /S" || rs[1].Notes != "faster meshing" || rs[1].Signature == "" {
		t.Fatalf("release list: %+v", rs)
	}
	if got := table(t, ok(t, env, "release", "list", "--product", p).stdout); len(got) != 3 || strings.Join(got[0], " ") != "VERSION PLATFORM FORCED MIN SIZE FILE PUBLISHED" {
		t.Fatalf("release list table: %q", got)
	}
	ok(t, env, "release", "withdraw", "2.1.0-rc.1", "--product", p, "--platform", "windows-amd64")
	if rs := decodeJSON[[]store.Release](t, ok(t, env, "--json", "release", "list", "--product", p).stdout); len(rs) != 1 {
		t.Fatalf("after withdraw: %+v", rs)
	}
	for _, bad := range [][]string{
		{"release", "publish", pkg, "--product", p, "--version", "2.0"},
		{"release", "publish", pkg, "--product", p, "--version", "3.0.0", "--install-command", `"{package}`},
		{"release", "publish", pkg, "--product", p, "--version", "3.0.0", "--name", "../x"},
	} {
		if r := iscctl(t, env, bad...); r.code != exitUsage {
			t.Errorf("%q: exit %d, want %d (%s)", bad, r.code, exitUsage, r.stderr)
		}
	}
}
