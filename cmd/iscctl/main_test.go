package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/sdk"
)

// TestMain lets $ISCD_TEST_DATABASE=postgres run these tests on PostgreSQL.
func TestMain(m *testing.M) { os.Exit(servertest.Main(m)) }

// result is what one iscctl run left behind.
type result struct {
	code           int
	stdout, stderr string
}

// iscctl runs the command line in-process with env as its environment.
func iscctl(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, func(k string) string { return env[k] }, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// ok runs iscctl and fails the test unless it succeeds.
func ok(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	r := iscctl(t, env, args...)
	if r.code != exitOK {
		t.Fatalf("iscctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// fails runs iscctl, wants exit code, and wants each of msgs in stderr.
func fails(t *testing.T, env map[string]string, code int, msgs []string, args ...string) result {
	t.Helper()
	r := iscctl(t, env, args...)
	if r.code != code {
		t.Errorf("iscctl %s: exit %d, want %d\nstderr: %s", strings.Join(args, " "), r.code, code, r.stderr)
	}
	for _, m := range msgs {
		if !strings.Contains(r.stderr, m) {
			t.Errorf("iscctl %s: stderr %q does not mention %q", strings.Join(args, " "), r.stderr, m)
		}
	}
	if r.code != exitOK && r.stdout != "" {
		t.Errorf("iscctl %s failed but wrote to stdout: %q", strings.Join(args, " "), r.stdout)
	}
	return r
}

func start(t *testing.T) (*servertest.Server, map[string]string) {
	srv := servertest.Start(t)
	return srv, map[string]string{"ISCD_ADMIN_URL": srv.AdminURL, "ISCD_ADMIN_TOKEN": srv.AdminToken}
}

// table splits table output into rows of fields, header first.
func table(t *testing.T, out string) [][]string {
	t.Helper()
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		rows = append(rows, strings.Fields(line))
	}
	return rows
}

// row returns the table row whose first field is id.
func row(t *testing.T, out, id string) []string {
	t.Helper()
	for _, r := range table(t, out)[1:] {
		if len(r) > 0 && r[0] == id {
			return r
		}
	}
	t.Fatalf("no row %q in\n%s", id, out)
	return nil
}

func decodeJSON[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("output is not the expected JSON: %v\n%s", err, out)
	}
	return v
}

func TestAdminWorkflow(t *testing.T) {
	_, env := start(t)

	// org
	r := ok(t, env, "org", "create", "--name", "Acme GmbH", "--id", "acme")
	if got := table(t, r.stdout); len(got) != 2 || strings.Join(got[0], " ") != "ID NAME CREATED" || got[1][0] != "acme" {
		t.Fatalf("org create printed\n%s", r.stdout)
	}
	r = ok(t, env, "--json", "org", "create", "--name", "Beta")
	beta := decodeJSON[store.Org](t, r.stdout)
	if !strings.HasPrefix(beta.ID, "org_") || beta.Name != "Beta" {
		t.Errorf("org create --json without --id = %+v, want a generated org_ id", beta)
	}
	if !strings.Contains(r.stdout, "\n  \"name\": \"Beta\"") {
		t.Errorf("--json output is not indented:\n%s", r.stdout)
	}
	r = ok(t, env, "org", "list")
	if got := row(t, r.stdout, "acme"); strings.Join(got[1:3], " ") != "Acme GmbH" {
		t.Errorf("org list row for acme = %q", got)
	}
	row(t, r.stdout, server.DevOrg)
	row(t, r.stdout, beta.ID)
	orgs := decodeJSON[[]store.Org](t, ok(t, env, "org", "list", "--json").stdout)
	if len(orgs) != 3 {
		t.Errorf("org list --json: %d orgs, want 3 (demo, acme, beta)", len(orgs))
	}

	// user
	r = ok(t, env, "user", "create", "--org", "acme", "--name", "Ann", "--email", "ann@acme.example", "--id", "ann")
	if got := row(t, r.stdout, "ann"); strings.Join(got[1:], " ") != "acme - Ann ann@acme.example user - active" {
		t.Errorf("user create row = %q", got)
	}
	ok(t, env, "user", "create", "--org", "acme", "--name", "Bob", "--id", "bob")
	r = ok(t, env, "user", "list", "--org", "acme")
	if rows := table(t, r.stdout); len(rows) != 3 {
		t.Errorf("user list --org acme: want header + ann + bob, got\n%s", r.stdout)
	}
	if got := row(t, r.stdout, "bob"); got[4] != "-" {
		t.Errorf("a user without email shows %q in the EMAIL column, want -", got[4])
	}
	users := decodeJSON[[]store.User](t, ok(t, env, "--json", "user", "list").stdout)
	if len(users) != 3 {
		t.Errorf("user list --json: %d users, want 3 (demo, ann, bob)", len(users))
	}

	// token: the secret is the only thing on stdout, and shown only once.
	r = ok(t, env, "token", "create", "--user", "ann", "--name", "laptop")
	secret := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(secret, "isk_") || strings.Contains(secret, "\n") {
		t.Fatalf("token create stdout = %q, want the isk_ token alone", r.stdout)
	}
	if !strings.Contains(r.stderr, "not shown again") {
		t.Errorf("token create does not warn that the token is shown once: %q", r.stderr)
	}
	id := strings.Split(secret, "_")[1]
	r = ok(t, env, "token", "list", "--user", "ann")
	if got := row(t, r.stdout, id); got[1] != "ann" || got[2] != "acme" || got[3] != "laptop" || got[len(got)-1] != "active" {
		t.Errorf("token list row = %q", got)
	}
	jr := ok(t, env, "token", "list", "--json")
	if strings.Contains(jr.stdout, secret[len("isk_"+id+"_"):]) {
		t.Fatalf("token list --json shows the secret:\n%s", jr.stdout)
	}
	toks := decodeJSON[[]store.Token](t, jr.stdout)
	if len(toks) != 2 {
		t.Errorf("token list --json: %d tokens, want 2 (demo's, ann's)", len(toks))
	}
	newTok := decodeJSON[adminapi.NewToken](t, ok(t, env, "--json", "token", "create", "--user", "bob").stdout)
	if !strings.HasPrefix(newTok.Secret, "isk_"+newTok.ID+"_") || newTok.UserID != "bob" {
		t.Errorf("token create --json = %+v", newTok)
	}

	// revoke, with the flag after the argument
	if r := ok(t, env, "token", "revoke", id); !strings.Contains(r.stdout, "revoked token "+id) {
		t.Errorf("token revoke printed %q", r.stdout)
	}
	if got := row(t, ok(t, env, "token", "list").stdout, id); got[len(got)-1] != "revoked" {
		t.Errorf("revoked token listed as %q", got)
	}
	if r := ok(t, env, "token", "revoke", newTok.ID, "--json"); r.stdout != "" {
		t.Errorf("token revoke --json printed %q; the API answers with no body", r.stdout)
	}

	// product
	r = ok(t, env, "product", "create", "--id", "cad", "--name", "Acme CAD")
	if got := row(t, r.stdout, "cad"); strings.Join(got[1:3], " ") != "Acme CAD" {
		t.Errorf("product create row = %q", got)
	}
	row(t, ok(t, env, "product", "list").stdout, server.DevProduct)
	ps := decodeJSON[[]store.Product](t, ok(t, env, "product", "list", "--json").stdout)
	if len(ps) != 2 {
		t.Errorf("product list --json: %d products, want 2", len(ps))
	}

	// notices and sessions: nobody is connected.
	if r := ok(t, env, "notice", "send", "--product", "cad", "--title", "Maintenance", "--text", "at 22:00"); r.stdout != "notice sent to 0 sessions\n" {
		t.Errorf("notice send printed %q", r.stdout)
	}
	if sent := decodeJSON[adminapi.NoticeSent](t, ok(t, env, "--json", "notice", "send", "--text", "hi").stdout); sent.Sessions != 0 {
		t.Errorf("notice send --json = %+v", sent)
	}
	if r := ok(t, env, "session", "list"); r.stdout != "" || !strings.Contains(r.stderr, "no sessions") {
		t.Errorf("empty session list: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if r := ok(t, env, "session", "list", "--org", "acme", "--json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("empty session list --json = %q, want []", r.stdout)
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	srv, _ := start(t)
	env := map[string]string{"ISCD_ADMIN_URL": "http://127.0.0.1:1", "ISCD_ADMIN_TOKEN": "isa_wrong_wrong"}
	ok(t, env, "--url", srv.AdminURL, "--token", srv.AdminToken, "org", "list")
	ok(t, env, "org", "list", "--url", srv.AdminURL, "--token", srv.AdminToken)
}

// A name is whatever an operator typed; it must not break the table or
// reach the terminal as an escape sequence.
func TestTableCellsAreCleaned(t *testing.T) {
	_, env := start(t)
	r := ok(t, env, "org", "create", "--id", "evil", "--name", "a\tb\nc\x1b[2Jd")
	if strings.ContainsAny(r.stdout, "\x1b") || len(table(t, r.stdout)) != 2 {
		t.Fatalf("org create printed %q", r.stdout)
	}
	if got := row(t, r.stdout, "evil"); strings.Join(got[1:5], " ") != "a b c [2Jd" {
		t.Errorf("cleaned row = %q", got)
	}
}

func TestErrors(t *testing.T) {
	srv, env := start(t)
	ok(t, env, "product", "create", "--id", "cad", "--name", "CAD")
	with := func(k, v string) map[string]string {
		e := map[string]string{}
		for k, v := range env {
			e[k] = v
		}
		e[k] = v
		return e
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		msgs []string
	}{
		{"no URL", with("ISCD_ADMIN_URL", ""), []string{"org", "list"}, exitError, []string{"no admin URL", "--url", "$ISCD_ADMIN_URL"}},
		{"no token", with("ISCD_ADMIN_TOKEN", ""), []string{"org", "list"}, exitError, []string{"no admin token", "--token", "$ISCD_ADMIN_TOKEN"}},
		{"URL without scheme", with("ISCD_ADMIN_URL", strings.TrimPrefix(srv.AdminURL, "http://")), []string{"org", "list"}, exitError, []string{"not an http:// or https:// URL"}},
		{"wrong admin token", with("ISCD_ADMIN_TOKEN", "isa_0123456789abcdef_nottherightsecret"), []string{"org", "list"}, exitError, []string{"admin token missing or invalid", "HTTP 401", "check $ISCD_ADMIN_TOKEN, --token-file"}},
		{"API token as admin token", with("ISCD_ADMIN_TOKEN", srv.APIToken), []string{"org", "list"}, exitError, []string{"HTTP 401", "user's API token"}},
		{"service unreachable", with("ISCD_ADMIN_URL", closed), []string{"org", "list"}, exitError, []string{"connection refused", "is iscd running at " + closed}},
		{"unknown command", env, []string{"frobnicate"}, exitUsage, []string{`unknown command "frobnicate"`}},
		{"unknown subcommand", env, []string{"org", "delete"}, exitUsage, []string{`unknown command "org delete"`, "create, list"}},
		{"missing subcommand", env, []string{"token"}, exitUsage, []string{"token needs a subcommand: create, list, revoke"}},
		{"no command", env, nil, exitUsage, []string{"usage: iscctl"}},
		{"unknown flag", env, []string{"org", "list", "--colour"}, exitUsage, []string{"flag provided but not defined: -colour", "usage: iscctl org list"}},
		{"missing required flag", env, []string{"org", "create"}, exitUsage, []string{"--name is required"}},
		{"missing argument", env, []string{"token", "revoke"}, exitUsage, []string{"want ID"}},
		{"extra argument", env, []string{"org", "list", "acme"}, exitUsage, []string{`unexpected argument "acme"`}},
		{"dot-dot id", env, []string{"session", "end", ".."}, exitUsage, []string{`".." is not a valid ID`}},
		{"unknown org", env, []string{"user", "create", "--org", "nope", "--name", "Ann"}, exitError, []string{"org nope not found", "HTTP 404"}},
		{"unknown user", env, []string{"token", "create", "--user", "nobody"}, exitError, []string{"user nobody not found", "HTTP 404"}},
		{"duplicate product", env, []string{"product", "create", "--id", "cad", "--name", "Again"}, exitError, []string{"product cad already exists", "HTTP 409"}},
		{"invalid id", env, []string{"org", "create", "--id", "a/b", "--name", "X"}, exitError, []string{"id must match", "HTTP 400"}},
		{"unknown token", env, []string{"token", "revoke", "0123456789abcdef"}, exitError, []string{"token 0123456789abcdef not found", "HTTP 404"}},
		{"unknown session", env, []string{"session", "end", "nope"}, exitError, []string{"no session nope", "HTTP 404"}},
		{"session not connected", env, []string{"session", "disconnect", "nope"}, exitError, []string{"not connected", "HTTP 404"}},
		{"notice to unknown session", env, []string{"notice", "send", "--session", "nope", "--text", "hi"}, exitError, []string{"session nope not found", "HTTP 404"}},
	} {
		t.Run(tc.name, func(t *testing.T) { fails(t, tc.env, tc.code, tc.msgs, tc.args...) })
	}
}

func TestHelpAndVersion(t *testing.T) {
	none := map[string]string{} // help and version need no service
	r := ok(t, none, "help")
	for _, c := range commands {
		if !strings.Contains(r.stdout, "  "+c.name+" ") {
			t.Errorf("help does not list %q", c.name)
		}
	}
	if r := ok(t, none, "--help"); !strings.Contains(r.stdout, "usage: iscctl") {
		t.Errorf("--help printed %q", r.stdout)
	}
	for _, args := range [][]string{{"org", "create", "--help"}, {"help", "org", "create"}, {"org", "create", "-h"}} {
		r := ok(t, none, args...)
		if !strings.Contains(r.stdout, "usage: iscctl org create --name N [--id ID]") || !strings.Contains(r.stdout, "--name N") {
			t.Errorf("iscctl %s printed\n%s", strings.Join(args, " "), r.stdout)
		}
	}
	fails(t, none, exitUsage, []string{`unknown command "org frob"`}, "help", "org", "frob")
	if r := ok(t, none, "version"); r.stdout != "iscctl "+sdk.Version+"\n" {
		t.Errorf("version printed %q", r.stdout)
	}
	if v := decodeJSON[map[string]string](t, ok(t, none, "version", "--json").stdout); v["version"] != sdk.Version {
		t.Errorf("version --json = %v", v)
	}
}
