package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/iscsdk/iscsdk/internal/server"
)

// adminToken makes an owner's admin token in the store and prints it once:
// the first token of a deployment whose data directory no one can read
// (a pod's: kubectl exec deploy/iscd -- iscd admin-token ..., docs/deploy.md).
// Whoever can run it holds the store's credentials, which are already
// every power an owner token gives.
func adminToken(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("iscd admin-token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr("ISCD_DATA", "iscd-data"), "data directory of the embedded store (not while an iscd holds it); $ISCD_DATA")
	name := fs.String("name", "operator", "what the token is for (iscctl admin-token list shows it)")
	db := addDBFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("iscd admin-token: unexpected argument %q", fs.Arg(0))
	}
	srv, err := db.openOnce(*data, warnings(stderr), server.Config{})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	secret, err := srv.MintAdminToken(ctx, *name)
	if err := errors.Join(err, srv.Shutdown(context.Background())); err != nil {
		return fmt.Errorf("iscd admin-token: %w", err)
	}
	fmt.Fprintln(stdout, secret)
	return nil
}
