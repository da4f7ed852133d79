package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
)

// Every command that calls the admin API names the role it needs, and
// docs/admin.md lists each under that role.
func TestEveryAdminCommandHasItsRole(t *testing.T) {
	names := map[string]bool{}
	for _, c := range commands {
		names[c.name] = true
		if _, ok := commandRoles[c.name]; !ok && !c.offline && !c.user {
			t.Errorf("command %q calls the admin API but commandRoles has no role for it", c.name)
		}
	}
	for name := range commandRoles {
		if !names[name] {
			t.Errorf("commandRoles names %q, which is no command", name)
		}
	}
	doc, err := os.ReadFile("../../docs/admin.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[adminapi.Role]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		for _, r := range adminapi.Roles {
			prefix := "| `" + string(r) + "` |"
			if r == adminapi.RoleReadOnly {
				prefix = "| any (`read-only` is enough) |"
			}
			if strings.HasPrefix(line, prefix) && strings.Count(line, "|") == 3 {
				rows[r] = line
			}
		}
	}
	word := regexp.MustCompile("`([a-z -]+?)`")
	for name, role := range commandRoles {
		found := false
		for _, m := range word.FindAllStringSubmatch(rows[role], -1) {
			found = found || m[1] == name || (name == "unlock" && m[1] == "unlock --force")
		}
		if !found {
			t.Errorf("docs/admin.md does not list %q under role %s", name, role)
		}
	}
}

func TestAdminTokenCommands(t *testing.T) {
	_, env := start(t)
	r := ok(t, env, "admin-token", "create", "--role", "compute", "--expires", "30d", "--name", "pool")
	secret := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(secret, "isa_") || strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stderr, "role compute") {
		t.Fatalf("admin-token create: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	id := strings.Split(secret, "_")[1]
	listed := row(t, ok(t, env, "admin-token", "list").stdout, id)
	if listed[1] != "compute" || listed[2] != "pool" || listed[5] != "active" {
		t.Errorf("admin-token list row = %q", listed)
	}
	if exp, err := time.Parse(time.RFC3339, listed[4]); err != nil || time.Until(exp) < 29*24*time.Hour || time.Until(exp) > 31*24*time.Hour {
		t.Errorf("expires %q, want about 30 days from now (%v)", listed[4], err)
	}

	compute := map[string]string{"ISCD_ADMIN_URL": env["ISCD_ADMIN_URL"], "ISCD_ADMIN_TOKEN": secret}
	ok(t, compute, "workers", "list")
	fails(t, compute, exitError, []string{"needs an admin token with role licenses", "HTTP 403",
		"'iscctl org create' needs an admin token with role licenses (or owner)", "admin-token create --role licenses"},
		"org", "create", "--name", "X")
	fails(t, compute, exitError, []string{"HTTP 403", "needs an owner's admin token"}, "admin-token", "create", "--role", "owner")

	ok(t, env, "admin-token", "revoke", id)
	fails(t, compute, exitError, []string{"HTTP 401"}, "workers", "list")
	if row := row(t, ok(t, env, "admin-token", "list").stdout, id); row[5] != "revoked" {
		t.Errorf("revoked token listed as %q", row)
	}

	fails(t, env, exitUsage, []string{`unknown role "boss"`, "read-only"}, "admin-token", "create", "--role", "boss")
	fails(t, env, exitUsage, []string{"--expires"}, "admin-token", "create", "--role", "compute", "--expires", "soon")
	fails(t, env, exitUsage, []string{"--role is required"}, "admin-token", "create")
}

// An owner grants a user a role for the web console: no token is
// printed, the grant is listed with its user, a second one is refused
// while it works, and revoking it shows it revoked.
func TestOperatorGrantCommands(t *testing.T) {
	_, env := start(t)
	ok(t, env, "user", "create", "--org", server.DevOrg, "--name", "Olga", "--id", "olga")
	r := ok(t, env, "admin-token", "create", "--role", "licenses", "--user", "olga", "--name", "desk", "--expires", "90d")
	if strings.Contains(r.stdout, "isa_") || !strings.Contains(r.stderr, "No token was made") {
		t.Fatalf("admin-token create --user: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	made := table(t, r.stdout)
	if len(made) != 2 || len(made[1]) != 7 || made[1][1] != "licenses" || made[1][2] != "desk" || made[1][5] != "active" || made[1][6] != "olga" {
		t.Fatalf("admin-token create --user printed %q", made)
	}
	id := made[1][0]
	if listed := row(t, ok(t, env, "admin-token", "list").stdout, id); listed[6] != "olga" || listed[5] != "active" {
		t.Errorf("admin-token list row = %q", listed)
	}
	fails(t, env, exitError, []string{"HTTP 409", "already holds grant " + id}, "admin-token", "create", "--role", "owner", "--user", "olga")
	fails(t, env, exitError, []string{"HTTP 404", "user nobody not found"}, "admin-token", "create", "--role", "owner", "--user", "nobody")
	ok(t, env, "admin-token", "revoke", id)
	if listed := row(t, ok(t, env, "admin-token", "list").stdout, id); listed[5] != "revoked" {
		t.Errorf("the revoked grant is listed as %q", listed)
	}
	ok(t, env, "admin-token", "create", "--role", "owner", "--user", "olga", "--name", "again")
}

func TestProductLicenceGates(t *testing.T) {
	_, env := start(t)
	if r := row(t, ok(t, env, "product", "create", "--id", "gated", "--name", "Gated", "--require-license", "compute").stdout, "gated"); r[2] != "compute" {
		t.Errorf("product create --require-license compute: %q", r)
	}
	if r := row(t, ok(t, env, "product", "create", "--id", "open", "--name", "Open").stdout, "open"); r[2] != "undecided" {
		t.Errorf("product create without gates: %q", r)
	}
	if r := row(t, ok(t, env, "product", "update", "gated", "--require-license", "compute,files").stdout, "gated"); r[2] != "compute,files" {
		t.Errorf("product update --require-license compute,files: %q", r)
	}
	if r := row(t, ok(t, env, "product", "update", "gated", "--require-license", "none").stdout, "gated"); r[2] != "none" {
		t.Errorf("product update --require-license none: %q", r)
	}
	fails(t, env, exitUsage, []string{"--require-license \"solve\""}, "product", "update", "gated", "--require-license", "solve")
	fails(t, env, exitUsage, []string{"nothing to change"}, "product", "update", "gated")
	fails(t, env, exitError, []string{"product nope not found"}, "product", "update", "nope", "--name", "N")
}

func TestCheckAdminURL(t *testing.T) {
	for _, c := range []struct {
		url      string
		insecure bool
		refused  bool
	}{
		{"http://127.0.0.1:7400", false, false},
		{"http://localhost:7400", false, false},
		{"http://[::1]:7400", false, false},
		{"http://127.8.9.10", false, false},
		{"https://iscd.example.com", false, false},
		{"http://iscd.example.com", false, true},
		{"http://10.1.2.3:7400", false, true},
		{"http://localhost.example.com", false, true},
		{"http://10.1.2.3:7400", true, false},
	} {
		_, err := checkAdminURL(c.url, c.insecure)
		if (err != nil) != c.refused {
			t.Errorf("checkAdminURL(%q, insecure %v) = %v, want refused %v", c.url, c.insecure, err, c.refused)
		}
	}
}
