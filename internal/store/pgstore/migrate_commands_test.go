package pgstore_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/iscsdk/iscsdk/internal/store/pgstore"
	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
)

// Migration 0004: a database from before the worker decided what runs
// keeps its solvers and jobs, without the command lines the service used
// to hand workers.
func TestMigrationDropsSolverCommands(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// The schema as of migration 0003, and data written then.
	files, _ := filepath.Glob("migrations/000[123]_*.sql")
	sort.Strings(files)
	if len(files) != 3 {
		t.Fatalf("migrations 1-3: %v", files)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		sql, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, string(sql)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := conn.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", i+1, filepath.Base(f)); err != nil {
			t.Fatal(err)
		}
	}
	old := `{"productId":"p","name":"calculix","kind":"command","command":["/bin/sh","-c","id"],"outputs":["*.dat"],"progress":"calculix","timeLimit":3600000000000,"maxOutput":0,"maxAttempts":3}`
	for _, q := range []string{
		`INSERT INTO products (id, doc) VALUES ('p', '{"id":"p","name":"P"}')`,
		`INSERT INTO solvers (product_id, name, doc) VALUES ('p', 'calculix', '` + old + `')`,
		`INSERT INTO jobs (id, org_id, state, solver, created_ns, doc, inputs) VALUES ('j1', 'o', 'queued', 'calculix', 1, '{"id":"j1","orgId":"o","solver":` + old + `,"main":"beam.inp"}', '')`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	if _, err := pgstore.Migrate(ctx, dsn, ""); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SELECT doc::text FROM solvers", "SELECT doc::text FROM jobs"} {
		var doc string
		if err := conn.QueryRow(ctx, q).Scan(&doc); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(doc, `"command": [`) || strings.Contains(doc, "/bin/sh") || !strings.Contains(doc, `"outputs": ["*.dat"]`) {
			t.Errorf("%s after the migration: %s", q, doc)
		}
	}
	db, err := pgstore.Open(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ss, err := db.Solvers(ctx, "p")
	if err != nil || len(ss) != 1 || ss[0].Progress != "calculix" || ss[0].MaxAttempts != 3 {
		t.Fatalf("solvers after the migration: %+v %v", ss, err)
	}
	j, err := db.Job(ctx, "j1")
	if err != nil || j.Solver.Name != "calculix" || j.Main != "beam.inp" {
		t.Fatalf("job after the migration: %+v %v", j, err)
	}
}
