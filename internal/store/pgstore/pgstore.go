// Package pgstore is iscd's store on PostgreSQL, for several iscd replicas
// sharing one database. It implements the same interfaces, with the same
// errors and guarantees, as the embedded boltstore; what keeps them true
// across replicas is written beside each method (row locks, transactions).
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iscsdk/iscsdk/internal/store"
)

// DefaultRetention is how many unacknowledged events a session keeps.
const DefaultRetention = 4096

// Options tune a DB beyond what the connection string says.
type Options struct {
	// Retention bounds the events kept per session; <= 0: DefaultRetention.
	Retention int
	// Password, if set, overrides the connection string's password (and
	// $PGPASSWORD, which is read otherwise).
	Password string
	// NoMigrate opens the database as it is, without applying migrations
	// (they are applied by default).
	NoMigrate bool
	// Logger gets what the store notices in the background (WatchEvents
	// reconnecting); nil: nothing is logged.
	Logger *slog.Logger
}

// DB is a store.Store on a PostgreSQL database.
type DB struct {
	pool      *pgxpool.Pool
	retention int
	logger    *slog.Logger
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at dsn (a postgres:// URL or a key=value
// connection string; the libpq environment variables fill in what it
// leaves out) and brings its schema up to date.
func Open(ctx context.Context, dsn string, opt Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// Never let the connection string (and its password) through.
		msg := strings.ReplaceAll(err.Error(), dsn, Redact(dsn))
		return nil, fmt.Errorf("database %s: %s", Redact(dsn), msg)
	}
	if opt.Password != "" {
		cfg.ConnConfig.Password = opt.Password
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", Redact(dsn), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s: %w", Redact(dsn), err)
	}
	if !opt.NoMigrate {
		if _, err := migrate(ctx, pool); err != nil {
			pool.Close()
			return nil, fmt.Errorf("database %s: %w", Redact(dsn), err)
		}
	}
	if opt.Retention <= 0 {
		opt.Retention = DefaultRetention
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &DB{pool: pool, retention: opt.Retention, logger: opt.Logger}, nil
}

// Close closes the connections.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

var (
	kvPassword  = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)`)
	urlPassword = regexp.MustCompile(`(://[^:/@]*:)[^@]*@`)
)

// Redact returns dsn with its password replaced, fit for logs and errors.
func Redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	// Not a URL url.Parse takes (a key=value string, or a bad URL): mask
	// what could be a password in either form.
	return kvPassword.ReplaceAllString(urlPassword.ReplaceAllString(dsn, "${1}xxxxx@"), "${1}xxxxx")
}

// tx runs fn in a transaction and commits it if fn returns nil.
func (d *DB) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, d.pool, fn)
}

// querier is what pool and transaction have in common.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// getDoc reads one record's doc with a query returning one json column.
func getDoc[T any](ctx context.Context, q querier, what, sql string, args ...any) (T, error) {
	var v T
	var data []byte
	err := q.QueryRow(ctx, sql, args...).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return v, fmt.Errorf("%s: %w", what, err)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// listDocs reads the docs a query returns, in its order; never nil.
func listDocs[T any](ctx context.Context, q querier, sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func isForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // the store's records are plain data
	}
	return data
}
