package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/store/pgstore"
)

// dbFlags are the flags that choose the metadata store.
type dbFlags struct {
	url          *string
	passwordFile *string
}

func addDBFlags(fs *flag.FlagSet) *dbFlags {
	return &dbFlags{
		url:          fs.String("db", os.Getenv("ISCD_DB"), "metadata store: a PostgreSQL URL (postgres://USER@HOST:PORT/DB?sslmode=verify-full) shared by replicas; empty: the embedded file DATA/iscd.db; $ISCD_DB"),
		passwordFile: fs.String("db-password-file", "", "file holding the database password (else the URL's, or $PGPASSWORD)"),
	}
}

// config returns the connection string and the password from the file.
func (f *dbFlags) config() (dsn, password string, err error) {
	dsn = strings.TrimSpace(*f.url)
	if dsn == "" {
		if *f.passwordFile != "" {
			return "", "", errors.New("--db-password-file needs --db")
		}
		return "", "", nil
	}
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return "", "", fmt.Errorf("--db %s: want a postgres:// URL", pgstore.Redact(dsn))
	}
	if *f.passwordFile != "" {
		data, err := os.ReadFile(*f.passwordFile)
		if err != nil {
			return "", "", fmt.Errorf("--db-password-file: %w", err)
		}
		if password = strings.TrimRight(string(data), "\r\n"); password == "" {
			return "", "", fmt.Errorf("--db-password-file %s is empty", *f.passwordFile)
		}
	}
	return dsn, password, nil
}

// openOnce opens the service's stores for a command that runs once and
// exits (admin-token, gc, kek rewrap), beside or instead of a running
// iscd: no periodic collection, its log given (warnings, to stderr). cfg
// gives what else the command needs (chunks, KEK).
func (f *dbFlags) openOnce(data string, log *slog.Logger, cfg server.Config) (*server.Server, error) {
	dsn, password, err := f.config()
	if err != nil {
		return nil, err
	}
	cfg.DataDir, cfg.GCInterval, cfg.Logger, cfg.Database, cfg.DatabasePassword = data, -1, log, dsn, password
	return server.Open(cfg)
}

// warnings is the log of a command that runs once: warnings and errors,
// to stderr.
func warnings(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// migrate applies the schema migrations the database lacks and exits.
// iscd serve applies them too; this is for upgrades run as their own step.
func migrate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("iscd migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := addDBFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("iscd migrate: unexpected argument %q", fs.Arg(0))
	}
	dsn, password, err := db.config()
	if err != nil {
		return err
	}
	if dsn == "" {
		return errors.New("iscd migrate: --db is needed (the embedded store migrates itself)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	applied, err := pgstore.Migrate(ctx, dsn, password)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "%s: schema version %d, up to date\n", pgstore.Redact(dsn), pgstore.SchemaVersion())
		return nil
	}
	fmt.Fprintf(stdout, "%s: applied migrations %v, schema version %d\n", pgstore.Redact(dsn), applied, pgstore.SchemaVersion())
	return nil
}
