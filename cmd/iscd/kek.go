package main

// The key-encryption key (KEK) that wraps the products' licence signing
// keys at rest (internal/envelope, docs/deploy.md): where iscd serve reads
// it, and the iscd kek commands that make and rotate it.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/iscsdk/iscsdk/internal/atomicfile"
	"github.com/iscsdk/iscsdk/internal/envelope"
	"github.com/iscsdk/iscsdk/internal/server"
)

// envKEK holds the KEK (or several, the current one first) when no
// --kek-file is given.
const envKEK = "ISCD_KEK"

func addKEKFlag(fs *flag.FlagSet) *string {
	return fs.String("kek-file", os.Getenv("ISCD_KEK_FILE"), "the key-encryption key file that seals the licence signing keys (iscd kek generate); else $"+envKEK+" holds the key; $ISCD_KEK_FILE")
}

// loadKEK returns the KEK keyring of --kek-file, else of $ISCD_KEK; nil
// with neither (dev mode then keeps one in its data directory).
func loadKEK(file string, dev bool) (envelope.Wrapper, error) {
	if file != "" {
		k, err := envelope.LoadKeyring(file)
		if err != nil {
			return nil, fmt.Errorf("--kek-file: %w", err)
		}
		return k, nil
	}
	if text := os.Getenv(envKEK); text != "" {
		// Read once: what iscd starts (the dev worker's solvers, an
		// installer) does not inherit it.
		os.Unsetenv(envKEK)
		k, err := envelope.ParseKeyring(text)
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", envKEK, err)
		}
		return k, nil
	}
	if dev {
		return nil, nil
	}
	return nil, fmt.Errorf("no key-encryption key: give iscd serve --kek-file FILE or $%s (iscd kek generate --out FILE makes one; keep it apart from the database: docs/deploy.md)", envKEK)
}

// rewrapOnHangup re-reads the KEK and re-wraps the signing keys under its
// current key each time iscd gets SIGHUP, until ctx ends: a KEK rotation
// without a restart.
func rewrapOnHangup(ctx context.Context, srv *server.Server, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if _, err := srv.RewrapKeys(ctx); err != nil {
				log.Error("SIGHUP: re-wrap the signing keys", "err", err)
			}
		}
	}
}

const kekUsage = `usage: iscd kek <command> [flags]

  generate --out FILE        make a KEK file (mode 0600) with one new key
  rotate --kek-file FILE     put a new key first in the file (the current one); the others stay and still unwrap
  rewrap --kek-file FILE [--data DIR | --db URL] [--retire]
                             re-wrap every signing key under the file's current key, now (the store must not be
                             in use by an iscd on the embedded store: send that iscd SIGHUP instead); --retire
                             then drops the other keys from the file
`

func kekCommand(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, kekUsage)
		return errors.New("iscd kek: no command")
	}
	fs := flag.NewFlagSet("iscd kek "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch args[0] {
	case "generate":
		out := fs.String("out", "", "the file to write (it must not exist)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *out == "" {
			return errors.New("iscd kek generate: --out FILE is needed")
		}
		text, err := envelope.GenerateKEK()
		if err != nil {
			return err
		}
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("iscd kek generate: %w", err)
		}
		_, werr := f.WriteString(text + "\n")
		if err := errors.Join(werr, f.Close()); err != nil {
			os.Remove(*out)
			return fmt.Errorf("iscd kek generate: %w", err)
		}
		fmt.Fprintf(stdout, "wrote KEK %s to %s: keep it apart from the database and its backups\n", strings.Split(text, ".")[1], *out)
		return nil
	case "rotate":
		file := addKEKFlag(fs)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *file == "" {
			return errors.New("iscd kek rotate: --kek-file FILE is needed")
		}
		old, err := envelope.LoadKeyring(*file)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		text, err := envelope.GenerateKEK()
		if err != nil {
			return err
		}
		if err := atomicfile.Write(*file, append([]byte(text+"\n"), b...), 0o600); err != nil {
			return fmt.Errorf("iscd kek rotate: %w", err)
		}
		fmt.Fprintf(stdout, "KEK %s is now current in %s; %s still unwrap.\n"+
			"Next: put the file on every replica, then send each iscd SIGHUP (or restart it) to re-wrap the\n"+
			"signing keys, or run iscd kek rewrap; then iscd kek rewrap --retire drops the old keys.\n",
			strings.Split(text, ".")[1], *file, strings.Join(old.IDs(), ", "))
		return nil
	case "rewrap":
		file := addKEKFlag(fs)
		data := fs.String("data", envOr("ISCD_DATA", "iscd-data"), "data directory of the service; $ISCD_DATA")
		retire := fs.Bool("retire", false, "then drop every key but the current one from the file")
		db := addDBFlags(fs)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *file == "" {
			return errors.New("iscd kek rewrap: --kek-file FILE is needed")
		}
		kr, err := envelope.LoadKeyring(*file)
		if err != nil {
			return err
		}
		srv, err := db.openOnce(*data, warnings(stderr), server.Config{KEK: kr})
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		rep, err := srv.RewrapKeys(ctx)
		if err := errors.Join(err, srv.Shutdown(context.Background())); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d signing keys: %d re-wrapped, %d sealed (were in clear), all under KEK %s\n", rep.Keys, rep.Rewrapped, rep.Sealed, rep.KEK)
		if *retire {
			b, err := os.ReadFile(*file)
			if err != nil {
				return err
			}
			var cur string
			for _, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "ISKEK1."+rep.KEK+".") {
					cur = strings.TrimSpace(line)
				}
			}
			if cur == "" {
				return fmt.Errorf("iscd kek rewrap --retire: KEK %s is no longer in %s: nothing retired", rep.KEK, *file)
			}
			if err := atomicfile.Write(*file, []byte(cur+"\n"), 0o600); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "retired every KEK but %s from %s\n", rep.KEK, *file)
		}
		return nil
	}
	fmt.Fprint(stderr, kekUsage)
	return fmt.Errorf("iscd kek: unknown command %q", args[0])
}
