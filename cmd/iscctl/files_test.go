package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// startFiles starts iscd and returns an environment with both the admin
// API's and the demo user's settings, a workspace of the test's own and no
// credentials file.
func startFiles(t *testing.T) (*servertest.Server, map[string]string) {
	srv, env := start(t)
	env[sdk.EnvEndpoint], env[sdk.EnvToken], env[sdk.EnvProduct] = srv.Endpoint, srv.APIToken, srv.Product
	env[sdk.EnvWorkspace] = t.TempDir()
	env[sdk.EnvCreds] = filepath.Join(t.TempDir(), "none")
	return srv, env
}

// as returns env with the user token replaced, and a workspace of its own:
// another user on another machine.
func as(t *testing.T, env map[string]string, token string) map[string]string {
	e := map[string]string{}
	for k, v := range env {
		e[k] = v
	}
	e[sdk.EnvToken], e[sdk.EnvWorkspace] = token, t.TempDir()
	return e
}

// random returns n reproducible bytes that do not compress.
func random(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func sameFile(t *testing.T, got string, want []byte) {
	t.Helper()
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s: %d bytes differ from the %d saved", got, len(b), len(want))
	}
}

func TestFiles(t *testing.T) {
	_, env := startFiles(t)
	dir := t.TempDir()
	part := filepath.Join(dir, "bracket.prt")
	data := random(1, 1<<20)
	write(t, part, data)
	asm := filepath.Join(dir, "gearbox")
	asmFiles := map[string][]byte{"gearbox.asm": random(2, 5000), "parts/shaft.prt": random(3, 70000), "parts/齿轮 1.prt": []byte("gear")}
	for name, b := range asmFiles {
		write(t, filepath.Join(asm, filepath.FromSlash(name)), b)
	}

	// put: a new file, then an assembly into a folder (its name kept).
	r := ok(t, env, "put", part, "/projects/bracket.prt")
	if !strings.HasPrefix(r.stdout, "saved /projects/bracket.prt version 1: sent ") || !strings.Contains(r.stdout, " of 1.0 MiB (") {
		t.Errorf("put printed %q", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("put wrote to stderr (no terminal: no progress bar): %q", r.stderr)
	}
	res := decodeJSON[sdk.SaveResult](t, ok(t, env, "put", asm, "/projects/", "--assembly", "--json").stdout)
	if res.CloudPath != "/projects/gearbox" || res.Version != 1 || res.Size != 75004 || res.ChunksSent == 0 {
		t.Errorf("put --assembly --json = %+v", res)
	}

	// A small change re-sends a few chunks, on top of the latest version.
	data[1000] ^= 0xff
	write(t, part, data)
	res = decodeJSON[sdk.SaveResult](t, ok(t, env, "--json", "put", part, "/projects/bracket.prt").stdout)
	if res.Version != 2 || res.ChunksSent == 0 || res.ChunksSent >= res.ChunksTotal || res.BytesSent >= res.Size/2 {
		t.Errorf("re-save after a 1-byte change = %+v, want version 2 and a few chunks sent", res)
	}

	// ls
	r = ok(t, env, "ls")
	if got := table(t, r.stdout); strings.Join(got[0], " ") != "NAME KIND VERSION SIZE UPDATED LOCKED BY" || len(got) != 2 {
		t.Fatalf("ls printed\n%s", r.stdout)
	}
	if got := row(t, r.stdout, "projects/"); got[1] != "folder" {
		t.Errorf("ls / row = %q", got)
	}
	r = ok(t, env, "ls", "/projects")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "bracket.prt ") || !strings.HasPrefix(lines[2], "gearbox ") {
		t.Errorf("ls /projects printed\n%s", r.stdout)
	}
	if got := row(t, r.stdout, "bracket.prt"); strings.Join(got[1:5], " ") != "file 2 1.0 MiB" || got[len(got)-1] != "-" {
		t.Errorf("ls row for bracket.prt = %q", got)
	}
	if got := row(t, r.stdout, "gearbox"); strings.Join(got[1:5], " ") != "assembly 1 73 KiB" {
		t.Errorf("ls row for gearbox = %q", got)
	}
	l := decodeJSON[sdk.Listing](t, ok(t, env, "ls", "/projects", "--json").stdout)
	if l.Dir != "/projects" || len(l.Files) != 2 || l.Files[0].Path != "/projects/bracket.prt" || l.Files[0].Version != 2 || !l.Files[1].Assembly {
		t.Errorf("ls --json = %+v", l)
	}
	if l := decodeJSON[sdk.Listing](t, ok(t, env, "ls", "/", "--json").stdout); len(l.Folders) != 1 || l.Folders[0] != "/projects" {
		t.Errorf("ls / --json = %+v", l)
	}
	if got := row(t, ok(t, env, "ls", "/projects/bracket.prt").stdout, "bracket.prt"); got[2] != "2" {
		t.Errorf("ls of a file's path = %q", got)
	}
	if r := ok(t, env, "ls", "/empty"); r.stdout != "" || !strings.Contains(r.stderr, "no files in /empty") {
		t.Errorf("ls of an empty folder: stdout %q, stderr %q", r.stdout, r.stderr)
	}

	// history
	r = ok(t, env, "history", "/projects/bracket.prt")
	if got := table(t, r.stdout); len(got) != 3 || strings.Join(got[0], " ") != "VERSION TIME AUTHOR SIZE FILES HASH" ||
		got[1][0] != "1" || got[2][0] != "2" || got[2][2] != server.DevUser {
		t.Errorf("history printed\n%s", r.stdout)
	}
	vs := decodeJSON[[]sdk.FileVersion](t, ok(t, env, "history", "/projects/bracket.prt", "--json").stdout)
	if len(vs) != 2 || vs[1].Number != 2 || vs[1].Size != 1<<20 || vs[0].Hash == vs[1].Hash {
		t.Errorf("history --json = %+v", vs)
	}

	// get, to --out, into a folder, and by default into the current directory.
	out := filepath.Join(t.TempDir(), "copy.prt")
	r = ok(t, env, "get", "/projects/bracket.prt", "--out", out)
	sameFile(t, out, data)
	if !strings.HasPrefix(r.stdout, "got /projects/bracket.prt version 2 into "+out+": fetched ") {
		t.Errorf("get printed %q", r.stdout)
	}
	into := t.TempDir()
	got := decodeJSON[sdk.OpenResult](t, ok(t, env, "get", "/projects/bracket.prt", "--out", into, "--json").stdout)
	if want := filepath.Join(into, "bracket.prt"); got.MainFile != want || got.Version != 2 || got.CheckedOut {
		t.Errorf("get --json = %+v, want MainFile %s", got, want)
	}
	sameFile(t, got.MainFile, data)
	if got.BytesFetched != 0 || got.ChunksReused != got.ChunksTotal {
		t.Errorf("a second get fetched %d bytes, reused %d of %d chunks: the workspace copy should serve it", got.BytesFetched, got.ChunksReused, got.ChunksTotal)
	}
	t.Chdir(t.TempDir())
	ok(t, env, "get", "/projects/gearbox")
	for name, b := range asmFiles {
		sameFile(t, filepath.Join("gearbox", filepath.FromSlash(name)), b)
	}
	fails(t, env, exitError, []string{"gearbox already exists", "--out"}, "get", "/projects/gearbox")

	// A save based on an old version is refused; nothing changes.
	data[2000] ^= 0xff
	write(t, part, data)
	fails(t, env, exitError, []string{"put: /projects/bracket.prt: the file changed", "version 2 is the latest, the save started from 1", "hint: ", "iscctl history"},
		"put", part, "/projects/bracket.prt", "--base", "1")
	if vs := decodeJSON[[]sdk.FileVersion](t, ok(t, env, "history", "/projects/bracket.prt", "--json").stdout); len(vs) != 2 {
		t.Errorf("a refused save made a version: %d versions", len(vs))
	}
	if r := ok(t, env, "put", part, "/projects/bracket.prt", "--base", "2"); !strings.Contains(r.stdout, "version 3") {
		t.Errorf("put --base 2 printed %q", r.stdout)
	}
}

func TestFileLocks(t *testing.T) {
	_, env := startFiles(t)
	ok(t, env, "user", "create", "--org", server.DevOrg, "--name", "Bob", "--id", "bob")
	bob := as(t, env, strings.TrimSpace(ok(t, env, "token", "create", "--user", "bob").stdout))
	local := filepath.Join(t.TempDir(), "a.prt")
	write(t, local, []byte("version one"))
	ok(t, env, "put", local, "/a.prt")

	// The demo user checks it out: bob cannot save it, nor check it in.
	if r := ok(t, env, "lock", "/a.prt"); !strings.HasPrefix(r.stdout, "checked out /a.prt (version 1)") {
		t.Errorf("lock printed %q", r.stdout)
	}
	if got := row(t, ok(t, bob, "ls").stdout, "a.prt"); got[len(got)-1] != server.DevUser {
		t.Errorf("ls row of a checked-out file = %q, want LOCKED BY %s", got, server.DevUser)
	}
	fails(t, bob, exitError, []string{"put: /a.prt: the file is checked out by someone else", "hint: ", "unlock --force --org"}, "put", local, "/a.prt")
	fails(t, bob, exitError, []string{"unlock: /a.prt: the file is checked out by someone else"}, "unlock", "/a.prt")
	fi := decodeJSON[sdk.FileInfo](t, ok(t, env, "unlock", "/a.prt", "--json").stdout)
	if fi.Path != "/a.prt" || fi.LockedBy != "" {
		t.Errorf("unlock --json = %+v", fi)
	}
	if r := ok(t, bob, "put", local, "/a.prt"); !strings.Contains(r.stdout, "version 2") {
		t.Errorf("bob's put after unlock printed %q", r.stdout)
	}

	// get --checkout locks it; put --checkin saves and releases it.
	out := filepath.Join(t.TempDir(), "a.prt")
	if r := ok(t, env, "get", "/a.prt", "--checkout", "--out", out); !strings.Contains(r.stdout, "checked out /a.prt") {
		t.Errorf("get --checkout printed %q", r.stdout)
	}
	fails(t, bob, exitError, []string{"checked out by someone else"}, "put", local, "/a.prt")
	write(t, out, []byte("version three"))
	ok(t, env, "put", out, "/a.prt", "--checkin")
	if fi := decodeJSON[sdk.FileInfo](t, ok(t, bob, "lock", "/a.prt", "--json").stdout); fi.LockedBy != "bob" || !fi.LockedByMe || fi.Version != 3 {
		t.Errorf("bob's lock --json = %+v", fi)
	}

	// An operator breaks bob's check-out.
	r := ok(t, env, "unlock", "/a.prt", "--force", "--org", server.DevOrg)
	if r.stdout != "checked in /a.prt of org demo: its check-out is broken\n" {
		t.Errorf("unlock --force printed %q", r.stdout)
	}
	if l := decodeJSON[sdk.Listing](t, ok(t, env, "ls", "/a.prt", "--json").stdout); len(l.Files) != 1 || l.Files[0].LockedBy != "" {
		t.Errorf("after unlock --force: %+v", l)
	}
	ok(t, env, "put", local, "/a.prt")
}

func TestFileErrors(t *testing.T) {
	srv, env := startFiles(t)
	local := filepath.Join(t.TempDir(), "a.prt")
	write(t, local, []byte("a part"))
	folder := t.TempDir()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		msgs []string
	}{
		{"relative cloud path", env, []string{"put", local, "a.prt"}, exitUsage, []string{`invalid cloud path "a.prt": it must start with /`, "usage: iscctl put"}},
		{"dot-dot cloud path", env, []string{"get", "/a/../b"}, exitUsage, []string{`"." and ".." are not allowed`}},
		{"cloud path of ls", env, []string{"ls", "projects"}, exitUsage, []string{"it must start with /"}},
		{"missing local file", env, []string{"put", local + ".nope", "/a.prt"}, exitError, []string{"put: no local file or folder " + local + ".nope"}},
		{"folder without --assembly", env, []string{"put", folder, "/asm"}, exitUsage, []string{"is a folder: add --assembly"}},
		{"file with --assembly", env, []string{"put", local, "/asm", "--assembly"}, exitUsage, []string{"is a file, not a folder"}},
		{"bad --base", env, []string{"put", local, "/a.prt", "--base", "two"}, exitUsage, []string{`--base "two" is not a version number`}},
		{"no user token", with(env, sdk.EnvToken, ""), []string{"ls"}, exitError, []string{"iscctl: cannot open a session: no token\nhint: ", "--user-token", "$ISCSDK_TOKEN", "iscctl token create", env[sdk.EnvCreds]}},
		{"no endpoint", with(env, sdk.EnvEndpoint, ""), []string{"ls"}, exitError, []string{"cannot open a session: no endpoint\n", "--endpoint"}},
		{"admin token as user token", with(env, sdk.EnvToken, srv.AdminToken), []string{"ls"}, exitError, []string{"connect to ws://", "unauthorized", "that is an admin token"}},
		{"unknown file", env, []string{"get", "/nope.prt"}, exitError, []string{"iscctl: get: file /nope.prt: not found\n"}},
		{"history of an unknown file", env, []string{"history", "/nope.prt"}, exitError, []string{"not found"}},
		{"too many arguments", env, []string{"ls", "/a", "/b"}, exitUsage, []string{"want [DIR], got 2 arguments"}},
		{"--force without --org", env, []string{"unlock", "/a.prt", "--force"}, exitUsage, []string{"--force needs --org"}},
		{"--org without --force", env, []string{"unlock", "/a.prt", "--org", "demo"}, exitUsage, []string{"--org is for --force"}},
		{"--force on an unknown file", env, []string{"unlock", "/nope.prt", "--force", "--org", "demo"}, exitError, []string{"file /nope.prt of org demo not found", "HTTP 404"}},
		{"--force without admin token", with(env, "ISCD_ADMIN_TOKEN", ""), []string{"unlock", "/a.prt", "--force", "--org", "demo"}, exitError, []string{"no admin token"}},
		{"session flag on an admin command", env, []string{"org", "list", "--endpoint", "ws://x"}, exitUsage, []string{"flag provided but not defined: -endpoint"}},
	} {
		t.Run(tc.name, func(t *testing.T) { fails(t, tc.env, tc.code, tc.msgs, tc.args...) })
	}
}

// Flags override the environment; a folder's cloud path keeps the local name.
func TestFileFlags(t *testing.T) {
	srv, env := startFiles(t)
	bad := with(env, sdk.EnvEndpoint, "ws://127.0.0.1:1", sdk.EnvToken, "isk_wrong_wrong", sdk.EnvProduct, "nope")
	local := filepath.Join(t.TempDir(), "b.prt")
	write(t, local, []byte("b"))
	r := ok(t, bad, "put", local, "/dir/", "--endpoint", srv.Endpoint, "--user-token", srv.APIToken, "--product", srv.Product)
	if !strings.HasPrefix(r.stdout, "saved /dir/b.prt version 1: sent ") {
		t.Errorf("put into a folder printed %q", r.stdout)
	}
	r = ok(t, env, "help", "put")
	for _, want := range []string{"usage: iscctl put [--assembly] [--checkin] [--base N] LOCAL CLOUDPATH", "--user-token TOKEN", "$ISCSDK_WORKSPACE"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help put does not mention %q:\n%s", want, r.stdout)
		}
	}
}

func with(env map[string]string, kv ...string) map[string]string {
	e := map[string]string{}
	for k, v := range env {
		e[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		e[kv[i]] = kv[i+1]
	}
	return e
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	b := &progressBar{w: &buf, label: "put /a.prt", every: time.Hour}
	b.update(sdk.Progress{BytesDone: 0, BytesTotal: 8 << 20})
	b.update(sdk.Progress{BytesDone: 4 << 20, BytesTotal: 8 << 20}) // within the hour: not drawn
	if got := buf.String(); got != "\rput /a.prt [                        ]   0% 0 B of 8.0 MiB\x1b[K" {
		t.Errorf("first draw = %q", got)
	}
	buf.Reset()
	b.update(sdk.Progress{BytesDone: 8 << 20, BytesTotal: 8 << 20}) // the end is always drawn
	if got := buf.String(); got != "\rput /a.prt [========================] 100% 8.0 MiB of 8.0 MiB\x1b[K" {
		t.Errorf("last draw = %q", got)
	}
	buf.Reset()
	b.clear()
	b.clear()
	if got := buf.String(); got != "\r\x1b[K" {
		t.Errorf("clear wrote %q, want one line erase", got)
	}
	var none *progressBar // not a terminal
	none.update(sdk.Progress{BytesDone: 1, BytesTotal: 2})
	none.clear()
	if isTerminal(&buf) {
		t.Error("a buffer is a terminal")
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 44499: "43 KiB", 8 << 20: "8.0 MiB", 3 << 30: "3.0 GiB", 1 << 40: "1.0 TiB"} {
		if got := size(n); got != want {
			t.Errorf("size(%d) = %q, want %q", n, got, want)
		}
	}
}

// storage: what the organisation's versions hold and what dedup saves —
// the console's storage page, on the command line.
func TestStorage(t *testing.T) {
	_, env := startFiles(t)
	part := filepath.Join(t.TempDir(), "bracket.prt")
	write(t, part, random(7, 300000))
	ok(t, env, "put", part, "/storage/a.prt")
	ok(t, env, "put", part, "/storage/b.prt") // the same bytes under another name: nothing more stored
	r := ok(t, env, "storage", "--org", server.DevOrg)
	st := decodeJSON[adminapi.Storage](t, ok(t, env, "--json", "storage", "--org", server.DevOrg).stdout)
	if st.Versions != 2 || st.LogicalBytes != 600000 || st.StoredBytes != 300000 || st.StoredChunks < 1 {
		t.Errorf("storage --json = %+v", st)
	}
	if got := strings.Join(row(t, r.stdout, server.DevOrg), " "); got != fmt.Sprintf("%s 2 586 KiB %d 293 KiB", server.DevOrg, st.StoredChunks) {
		t.Errorf("storage printed %q", r.stdout)
	}
	fails(t, env, exitUsage, []string{"--org"}, "storage")
}
