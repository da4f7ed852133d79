package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The schema's migrations, NNNN_name.sql, applied in order; an applied
// migration is never edited, a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateLock is the advisory lock key that serialises migrations: replicas
// starting at once apply each migration once, the others wait and find
// them done.
const migrateLock = 0x69736364_00000001 // "iscd", 1

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		base := strings.TrimPrefix(e, "migrations/")
		num, name, ok := strings.Cut(strings.TrimSuffix(base, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", base)
		}
		data, err := migrationFiles.ReadFile(e)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{v, name, string(data)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := range out {
		if out[i].version != i+1 {
			return nil, fmt.Errorf("migration %d is missing", i+1)
		}
	}
	return out, nil
}

// Migrate brings the database at dsn up to this build's schema and returns
// the versions it applied (none when it was up to date).
func Migrate(ctx context.Context, dsn string, password string) ([]int, error) {
	db, err := Open(ctx, dsn, Options{Password: password, NoMigrate: true})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return migrate(ctx, db.pool)
}

// migrate applies the missing migrations, each in its own transaction,
// holding the migration lock throughout.
func migrate(ctx context.Context, pool *pgxpool.Pool) ([]int, error) {
	all, err := migrations()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrateLock)); err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrateLock))

	// An up-to-date database needs no DDL at all, so that iscd serve may
	// run as a role that only reads and writes rows.
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return nil, fmt.Errorf("migrations table: %w", err)
	}
	if !exists {
		_, err = conn.Exec(ctx, `CREATE TABLE schema_migrations (
			version integer PRIMARY KEY,
			name    text NOT NULL,
			applied timestamptz NOT NULL DEFAULT now())`)
		if err != nil {
			return nil, fmt.Errorf("migrations table: %w", err)
		}
	}
	var have int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&have); err != nil {
		return nil, fmt.Errorf("schema version: %w", err)
	}
	applied := []int{}
	for _, m := range all {
		if m.version <= have {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
		}
		applied = append(applied, m.version)
	}
	return applied, nil
}

// SchemaVersion is the newest migration this build applies.
func SchemaVersion() int {
	all, err := migrations()
	if err != nil || len(all) == 0 {
		return 0
	}
	return all[len(all)-1].version
}
