package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/pgstore"
	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
)

// Replicas starting at once on an empty database: each migration is
// applied once, and every replica works.
func TestConcurrentStartsMigrateOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	dbs := make([]*pgstore.DB, 6)
	for i := range dbs {
		wg.Go(func() {
			db, err := pgstore.Open(ctx, dsn, pgstore.Options{})
			if err != nil {
				t.Error(err)
				return
			}
			dbs[i] = db
		})
	}
	wg.Wait()
	for i, db := range dbs {
		if db == nil {
			t.FailNow()
		}
		defer db.Close()
		if err := db.CreateOrg(ctx, store.Org{ID: fmt.Sprint("o", i)}); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n, max int
	if err := conn.QueryRow(ctx, "SELECT count(*), max(version) FROM schema_migrations").Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	if n != pgstore.SchemaVersion() || max != pgstore.SchemaVersion() {
		t.Fatalf("schema_migrations: %d rows, newest %d; want each of the %d once", n, max, pgstore.SchemaVersion())
	}
	if applied, err := pgstore.Migrate(ctx, dsn, ""); err != nil || len(applied) != 0 {
		t.Fatalf("Migrate on an up-to-date database: %v, %v", applied, err)
	}
}

// iscd serve may run as a role that only reads and writes rows, once the
// schema is migrated by one that may create tables.
func TestServeRoleNeedsNoDDL(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	if _, err := pgstore.Migrate(ctx, dsn, ""); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	role := "rw_" + strconv.FormatInt(time.Now().UnixNano(), 36) // roles are per server
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + role,
		"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO " + role,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rwDSN := strings.Replace(dsn, "postgres://postgres@", "postgres://"+role+"@", 1)
	db, err := pgstore.Open(ctx, rwDSN, pgstore.Options{})
	if err != nil {
		t.Fatalf("open as a role without DDL rights: %v", err)
	}
	defer db.Close()
	if err := db.CreateOrg(ctx, store.Org{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendAudit(ctx, store.AuditEntry{LicenseID: "L", Event: "x"}); err != nil {
		t.Fatal(err)
	}
	// And the role really may not create tables.
	rw, err := pgx.Connect(ctx, rwDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close(ctx)
	if _, err := rw.Exec(ctx, "CREATE TABLE x (a int)"); err == nil {
		t.Fatal("the restricted role created a table")
	}
}

// A bad connection string, and a server that is not there, are errors
// that never show the password.
func TestOpenErrorsHideThePassword(t *testing.T) {
	ctx := context.Background()
	for _, dsn := range []string{
		"postgres://u:hunter2@/db?host=/nonexistent-dir&connect_timeout=2",
		"postgres://u:hunter2@host:notaport/db",
		"host=/nonexistent-dir user=u password=hunter2 dbname=db connect_timeout=2",
	} {
		_, err := pgstore.Open(ctx, dsn, pgstore.Options{})
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%s): %v", pgstore.Redact(dsn), err)
		}
		if errors.Is(err, store.ErrNotFound) {
			t.Errorf("Open: %v", err)
		}
	}
	if got := pgstore.Redact("postgres://u:hunter2@h/db?password=hunter2"); strings.Contains(got, "hunter2") {
		t.Errorf("Redact: %s", got)
	}
}

// The audit log written before it was listed across licences (migration
// 12): its entries get their organisation, from the entry or else from
// its licence, and are listed by organisation in their order.
func TestAuditMigrationFindsEachEntrysOrganisation(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	db, err := pgstore.Open(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutLicense(ctx, store.License{ID: "L", OrgID: "acme", ProductID: "cad", Kind: store.KindFloating, Seats: 1}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// The schema as it was at 11, and entries as they were written then:
	// one naming its organisation, one not (a seat returned), one of a
	// licence that is gone.
	for _, q := range []string{
		"DROP INDEX audit_org", "ALTER TABLE audit DROP COLUMN org_id", "DELETE FROM schema_migrations WHERE version = 12",
		`INSERT INTO audit (license_id, doc) VALUES ('L', '{"time":"2026-01-01T00:00:00Z","licenseId":"L","orgId":"acme","event":"created"}')`,
		`INSERT INTO audit (license_id, doc) VALUES ('L', '{"time":"2026-01-02T00:00:00Z","licenseId":"L","event":"seat-returned"}')`,
		`INSERT INTO audit (license_id, doc) VALUES ('gone', '{"time":"2026-01-03T00:00:00Z","licenseId":"gone","event":"refused"}')`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if applied, err := pgstore.Migrate(ctx, dsn, ""); err != nil || len(applied) != 1 || applied[0] != 12 {
		t.Fatalf("Migrate: %v, %v; want 12 applied", applied, err)
	}
	db, err = pgstore.Open(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.AuditLog(ctx, store.AuditQuery{OrgID: "acme", Limit: 10})
	if err != nil || len(got) != 2 || got[0].Event != "seat-returned" || got[0].OrgID != "acme" || got[1].Event != "created" {
		t.Fatalf("acme's audit log after the migration: %+v, %v", got, err)
	}
	if all, err := db.AuditLog(ctx, store.AuditQuery{Limit: 10}); err != nil || len(all) != 3 || all[0].Event != "refused" || all[0].OrgID != "" {
		t.Fatalf("the whole audit log after the migration: %+v, %v", all, err)
	}
}
