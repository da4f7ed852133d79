package pgstore_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/pgstore"
	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
)

// Migration 0006 makes an admin token from before roles an owner's, and
// leaves API tokens and admin tokens that have a role alone.
func TestMigrationAdminRoles(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	db, err := pgstore.Open(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tk := range []store.Token{
		{ID: "old", Kind: "isa", Hash: "h1"},
		{ID: "rel", Kind: "isa", Hash: "h2", Role: "releases"},
		{ID: "api", Kind: "isk", Hash: "h3", UserID: "u", OrgID: "o"},
	} {
		if err := db.CreateToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	sql, err := os.ReadFile("migrations/0006_admin_roles.sql")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, string(sql)); err != nil {
		t.Fatal(err)
	}
	for id, role := range map[string]string{"old": "owner", "rel": "releases", "api": ""} {
		if tk, err := db.Token(ctx, id); err != nil || tk.Role != role || tk.Hash == "" {
			t.Errorf("token %s after 0006: %+v, %v; want role %q", id, tk, err, role)
		}
	}
}
