package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

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
