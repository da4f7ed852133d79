// Package keyring keeps one secret of the desktop's user — a signed-in
// program's refresh token — where only that user can read it:
//
//   - on Windows, in a file sealed with DPAPI (CryptProtectData, user
//     scope): the file is worth nothing to another user or machine;
//   - on Linux, in the Secret Service (GNOME Keyring, KeePassXC, KWallet's
//     bridge) when one answers on the session bus with its default
//     collection unlocked — never prompting: a program may run where no
//     one can answer a prompt;
//   - otherwise in a plain file only its owner may read (0600 in a 0700
//     directory).
//
// A Keyring is named by a file path: the file the secret is kept in, or,
// in the Secret Service, the attribute that finds its item.
package keyring

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/iscsdk/iscsdk/internal/atomicfile"
)

// Where a Keyring keeps its secret (Keyring.Where).
const (
	InFile          = "file"           // a 0600 file
	InDPAPI         = "dpapi"          // a file sealed with DPAPI (Windows)
	InSecretService = "secret-service" // the Secret Service (Linux)
)

// ErrNotFound: no secret is kept.
var ErrNotFound = errors.New("keyring: no secret kept")

// maxSecret bounds what is read back: a secret is a token, not a file.
const maxSecret = 16 << 10

// Keyring keeps one secret. Its methods may be called from any goroutine;
// two processes sharing one must take turns themselves (the SDK locks a
// file beside it).
type Keyring struct {
	path  string
	label string
	ss    *secretService // nil: the file (sealed on Windows)
}

// Options tune Open.
type Options struct {
	// Label names the secret where a person may see it (the Secret
	// Service's item label, shown by Seahorse).
	Label string
	// FileOnly keeps the secret in the file even where a Secret Service
	// answers ($ISCSDK_SECRET_STORE=file does the same).
	FileOnly bool
}

// Open returns the keyring of the secret named by path. On Linux it asks
// the session bus, within a second, whether a Secret Service answers with
// its default collection unlocked; if not, the secret goes to the file.
func Open(path string, opts Options) *Keyring {
	k := &Keyring{path: path, label: opts.Label}
	if k.label == "" {
		k.label = filepath.Base(path)
	}
	if !opts.FileOnly && os.Getenv("ISCSDK_SECRET_STORE") != "file" {
		k.ss = openSecretService()
	}
	return k
}

// Where says where the secret is kept: InSecretService, InDPAPI or InFile.
func (k *Keyring) Where() string {
	if k.ss != nil {
		return InSecretService
	}
	return fileKind
}

// Load returns the secret kept, or ErrNotFound. In the Secret Service, a
// secret kept in the file before (when none answered) is still found.
func (k *Keyring) Load() (string, error) {
	if k.ss != nil {
		s, err := k.ss.load(k.path)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return s, err
		}
	}
	b, err := readLimited(k.path)
	if errors.Is(err, os.ErrNotExist) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("keyring: read %s: %w", k.path, err)
	}
	s, err := unseal(b)
	if err != nil {
		return "", fmt.Errorf("keyring: %s: %w", k.path, err)
	}
	if s == "" {
		return "", ErrNotFound
	}
	return s, nil
}

// Save keeps secret, replacing the one kept. When the Secret Service
// fails to take it (it stopped, or locked its collection since Open), the
// secret goes to the file: a program would rather keep its user signed
// in than lose the sign-in.
func (k *Keyring) Save(secret string) error {
	if k.ss != nil {
		if err := k.ss.save(k.path, k.label, secret); err == nil {
			os.Remove(k.path) // a copy kept in the file before
			return nil
		}
	}
	b, err := seal(secret)
	if err != nil {
		return fmt.Errorf("keyring: seal: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(k.path), 0o700); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if err := atomicfile.Write(k.path, b, 0o600); err != nil {
		return fmt.Errorf("keyring: write %s: %w", k.path, err)
	}
	return nil
}

// Delete forgets the secret, wherever it was kept. Nothing kept is no
// error.
func (k *Keyring) Delete() error {
	var err error
	if k.ss != nil {
		err = k.ss.remove(k.path)
	}
	if rmErr := os.Remove(k.path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) && err == nil {
		err = fmt.Errorf("keyring: %w", rmErr)
	}
	return err
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecret+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecret {
		return nil, fmt.Errorf("larger than %d bytes", maxSecret)
	}
	return b, nil
}
