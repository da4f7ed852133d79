package server

// Keys iscd holds: the KEK that wraps the products' licence signing keys
// at rest, and, in dev mode only, a dev KEK and a dev release key.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/iscsdk/iscsdk/internal/atomicfile"
	"github.com/iscsdk/iscsdk/internal/envelope"
	"github.com/iscsdk/iscsdk/internal/release"
	"github.com/iscsdk/iscsdk/internal/server/federation"
	"github.com/iscsdk/iscsdk/internal/server/licensing"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
)

// sealKeys seals every product key under the current KEK (licensing
// SealKeys) and fails, saying why, when this iscd cannot open them: it
// would sign nothing.
func (s *Server) sealKeys(ctx context.Context) error {
	if _, err := s.licenses.SealKeys(ctx); err != nil {
		if errors.Is(err, envelope.ErrUnknownKEK) || errors.Is(err, envelope.ErrOpen) {
			return fmt.Errorf("iscd: the products' signing keys do not open with this KEK (start iscd with the KEK file or $ISCD_KEK that sealed them): %w", err)
		}
		return fmt.Errorf("iscd: %w", err)
	}
	return nil
}

// RewrapKeys reads the KEK again (a keyring from a file re-reads it) and
// re-wraps every product key, and every organisation's unified-login
// client secret, under its current KEK: the second step of a KEK
// rotation, done while iscd serves (iscd serve does it on SIGHUP).
func (s *Server) RewrapKeys(ctx context.Context) (licensing.KeysReport, error) {
	if r, ok := s.cfg.KEK.(interface{ Reload() error }); ok {
		if err := r.Reload(); err != nil {
			return licensing.KeysReport{}, fmt.Errorf("iscd: re-read the KEK: %w", err)
		}
	}
	rep, err := s.licenses.SealKeys(ctx)
	if err != nil {
		return rep, fmt.Errorf("iscd: re-wrap the signing keys: %w", err)
	}
	s.log.Info("licence signing keys re-wrapped", "keys", rep.Keys, "rewrapped", rep.Rewrapped, "sealed", rep.Sealed, "kek", rep.KEK)
	// The unified login's client secrets are sealed under the same KEK
	// (applicationSync): re-wrapped too, or retiring the old KEK would
	// lose them.
	kek := s.cfg.KitSync.KEK
	if kek == nil {
		kek = s.cfg.KEK
	}
	n, err := marketplace.RewrapLoginSecrets(ctx, s.store, kek)
	if err != nil {
		return rep, fmt.Errorf("iscd: re-wrap the unified login's client secrets: %w", err)
	}
	m, err := federation.RewrapSecrets(ctx, s.store, s.cfg.KEK)
	if err != nil {
		return rep, fmt.Errorf("iscd: re-wrap the OIDC providers' client secrets: %w", err)
	}
	s.log.Info("client secrets re-wrapped", "rewrapped", n+m, "kek", rep.KEK)
	return rep, nil
}

// devKEKFile is where dev mode keeps its KEK.
const devKEKFile = "dev.kek"

// devKEK gives a dev-mode service given no KEK the one in its data
// directory, made on the first dev start. It is beside the store it
// protects, so it protects nothing there: dev mode only.
func devKEK(cfg *Config) error {
	if cfg.KEK != nil {
		return nil
	}
	path := filepath.Join(cfg.DataDir, devKEKFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "iscd.db")); err == nil {
			// Keys an older iscd stored in clear are sealed with the new
			// KEK; keys sealed with a dev.kek since lost do not open, and
			// Start says so.
			cfg.Logger.Warn("dev mode: the data directory has a store but no dev.kek; a new one is made", "file", path)
		}
		text, err := envelope.GenerateKEK()
		if err != nil {
			return err
		}
		if err := atomicfile.Write(path, []byte(text+"\n"), 0o600); err != nil {
			return fmt.Errorf("iscd: write the dev KEK: %w", err)
		}
		cfg.Logger.Warn("dev mode made a key-encryption key and keeps it beside the store it protects; give a production iscd its KEK with --kek-file or $ISCD_KEK, kept apart from the database (docs/deploy.md)", "file", path)
	}
	k, err := envelope.LoadKeyring(path)
	if err != nil {
		return fmt.Errorf("iscd: dev KEK: %w", err)
	}
	cfg.KEK = k
	return nil
}

// devReleaseKeyFile is where dev mode keeps the release key it made.
const devReleaseKeyFile = "dev-release.key"

// devReleaseKey returns dev mode's release key, made on the first dev
// start. A vendor keeps its release key offline and iscd never sees it;
// dev mode holds one only so that `make demo` and the tests can sign what
// they publish (iscctl release publish reads $ISCD_RELEASE_KEY_FILE).
func (s *Server) devReleaseKey() (release.PrivateKey, string, error) {
	path, err := filepath.Abs(filepath.Join(s.cfg.DataDir, devReleaseKeyFile))
	if err != nil {
		return release.PrivateKey{}, "", fmt.Errorf("iscd: dev release key: %w", err)
	}
	if b, err := os.ReadFile(path); err == nil {
		k, err := release.ParsePrivateKey(string(b))
		if err != nil {
			return k, "", fmt.Errorf("iscd: dev release key %s: %w", path, err)
		}
		return k, path, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return release.PrivateKey{}, "", fmt.Errorf("iscd: dev release key: %w", err)
	}
	k, err := release.GenerateKey()
	if err != nil {
		return k, "", err
	}
	if err := atomicfile.Write(path, []byte(k.Marshal()+"\n"), 0o600); err != nil {
		return k, "", fmt.Errorf("iscd: write the dev release key: %w", err)
	}
	s.log.Warn("dev mode made a release key and keeps it in its data directory; a vendor keeps its release key offline, never beside iscd",
		"file", path, "key", k.Public().String())
	return k, path, nil
}
