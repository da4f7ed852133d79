package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/server/federation/hydratest"
	"github.com/iscsdk/iscsdk/internal/server/signin"
)

// oidc set configures an organisation's provider (the secret from a file,
// never shown again), oidc list shows it without its secret, oidc delete
// removes it; an issuer whose discovery does not answer is refused.
func TestOIDCCommands(t *testing.T) {
	h := hydratest.Start(t)
	srv, env := start(t)
	id, secret := h.Client(t, srv.AdminURL+signin.CallbackPath)
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := ok(t, env, "oidc", "set", "acme", "--org", "demo", "--issuer", h.Issuer, "--client-id", id,
		"--client-secret-file", file, "--domains", "acme.example, Example.COM").stdout
	if !strings.Contains(out, "organisation demo signs in at "+h.Issuer) || !strings.Contains(out, "acme.example, example.com") {
		t.Fatalf("oidc set: %s", out)
	}
	list := ok(t, env, "oidc", "list").stdout
	if rows := table(t, list); len(rows) != 2 || rows[1][0] != "acme" || rows[1][1] != "demo" || strings.Contains(list, secret) {
		t.Fatalf("oidc list:\n%s", list)
	}
	fails(t, env, exitUsage, []string{"client-secret-file"}, "oidc", "set", "x", "--org", "demo", "--issuer", h.Issuer, "--client-id", id)
	fails(t, env, exitError, []string{"issuer"}, "oidc", "set", "x", "--org", "demo", "--issuer", "http://127.0.0.1:9", "--client-id", id, "--client-secret-file", file)
	ok(t, env, "oidc", "delete", "acme")
	if rows := table(t, ok(t, env, "oidc", "list").stdout); len(rows) > 1 {
		t.Fatalf("after delete: %v", rows)
	}
}
