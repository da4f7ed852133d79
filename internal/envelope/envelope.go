// Package envelope keeps secrets at rest with envelope encryption: each
// secret is sealed with a fresh data key (AES-256-GCM), and the data key
// is wrapped by a key-encryption key (KEK) that lives outside the
// database — a file or an environment variable (Keyring), or a cloud KMS
// behind the same small Wrapper interface. A dump of the database alone
// opens nothing.
//
// Both layers bind the record's identity as associated data, so a sealed
// secret moved to another record (another product's key row) does not
// open. Rotating the KEK re-wraps the data keys only (Rewrap): the sealed
// secrets do not change, and a record wrapped by an older KEK opens as
// long as the Wrapper still holds that KEK.
package envelope

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Errors callers branch on (errors.Is).
var (
	// ErrUnknownKEK: the record is wrapped by a KEK the Wrapper does not
	// hold (the service was started without its KEK, or with another).
	ErrUnknownKEK = errors.New("envelope: wrapped by a key-encryption key this service does not have")
	// ErrOpen: the record does not open: altered, moved to another
	// record, or the KEK of that id is not the one that wrapped it.
	ErrOpen = errors.New("envelope: the sealed secret does not open")
	// ErrFormat: not a sealed secret.
	ErrFormat = errors.New("envelope: not a sealed secret")
)

// A Wrapper wraps and unwraps data keys with a key-encryption key it
// holds and the store never sees. A cloud KMS implements it with its
// encrypt and decrypt calls (the KEK id is the KMS key's version).
type Wrapper interface {
	// Current is the id of the KEK that Wrap uses now.
	Current() string
	// Wrap encrypts dataKey with the current KEK, binding aad, and
	// returns that KEK's id with the result.
	Wrap(ctx context.Context, dataKey, aad []byte) (kekID string, wrapped []byte, err error)
	// Unwrap decrypts what Wrap returned under kekID; ErrUnknownKEK if
	// it does not hold that KEK.
	Unwrap(ctx context.Context, kekID string, wrapped, aad []byte) ([]byte, error)
}

// prefix starts every sealed secret:
// "ISKE1.<kek id>.<base64url(wrapped data key)>.<base64url(nonce|ciphertext)>".
const prefix = "ISKE1"

var b64 = base64.RawURLEncoding.Strict()

// Sealed reports whether s has the form Seal writes (and not, say, a key
// stored in clear by an older iscd).
func Sealed(s string) bool { return strings.HasPrefix(s, prefix+".") }

// KEK returns the id of the KEK that wrapped sealed ("" if it is not a
// sealed secret).
func KEK(sealed string) string {
	p, err := parse(sealed)
	if err != nil {
		return ""
	}
	return p.kek
}

// Seal encrypts secret under a new data key, wraps the data key with w's
// current KEK and returns the text to store. aad names the record (e.g.
// "product key <product>/<id>"); Open must be given the same.
func Seal(ctx context.Context, w Wrapper, secret, aad []byte) (string, error) {
	dk := make([]byte, 32)
	if _, err := rand.Read(dk); err != nil {
		return "", fmt.Errorf("envelope: data key: %w", err)
	}
	defer clear(dk)
	ct, err := gcmSeal(dk, secret, dataAAD(aad))
	if err != nil {
		return "", err
	}
	kek, wrapped, err := w.Wrap(ctx, dk, aad)
	if err != nil {
		return "", fmt.Errorf("envelope: wrap the data key: %w", err)
	}
	return format(parts{kek, wrapped, ct}), nil
}

// Open returns the secret sealed in s for the record named aad.
func Open(ctx context.Context, w Wrapper, s string, aad []byte) ([]byte, error) {
	p, err := parse(s)
	if err != nil {
		return nil, err
	}
	dk, err := w.Unwrap(ctx, p.kek, p.wrapped, aad)
	if err != nil {
		return nil, err
	}
	defer clear(dk)
	return gcmOpen(dk, p.sealed, dataAAD(aad))
}

// Rewrap returns s with its data key wrapped by w's current KEK, and
// whether that changed anything (false: it is wrapped by it already). The
// secret itself is not decrypted.
func Rewrap(ctx context.Context, w Wrapper, s string, aad []byte) (string, bool, error) {
	p, err := parse(s)
	if err != nil {
		return s, false, err
	}
	if p.kek == w.Current() {
		return s, false, nil
	}
	dk, err := w.Unwrap(ctx, p.kek, p.wrapped, aad)
	if err != nil {
		return s, false, err
	}
	defer clear(dk)
	if _, err := gcmOpen(dk, p.sealed, dataAAD(aad)); err != nil {
		return s, false, err // never re-wrap what would not open
	}
	kek, wrapped, err := w.Wrap(ctx, dk, aad)
	if err != nil {
		return s, false, fmt.Errorf("envelope: wrap the data key: %w", err)
	}
	return format(parts{kek, wrapped, p.sealed}), true, nil
}

// dataAAD is the associated data of the secret under its data key: the
// record, in another domain than the wrap's.
func dataAAD(aad []byte) []byte { return append([]byte("iscsdk-envelope-data-v1\n"), aad...) }

type parts struct {
	kek             string
	wrapped, sealed []byte
}

func format(p parts) string {
	return prefix + "." + p.kek + "." + b64.EncodeToString(p.wrapped) + "." + b64.EncodeToString(p.sealed)
}

func parse(s string) (parts, error) {
	f := strings.Split(s, ".")
	if len(f) != 4 || f[0] != prefix || !kekIDPattern.MatchString(f[1]) {
		return parts{}, ErrFormat
	}
	wrapped, err1 := b64.DecodeString(f[2])
	sealed, err2 := b64.DecodeString(f[3])
	if err1 != nil || err2 != nil {
		return parts{}, ErrFormat
	}
	return parts{f[1], wrapped, sealed}, nil
}

// gcmSeal encrypts with AES-256-GCM under key: nonce | ciphertext.
func gcmSeal(key, plaintext, aad []byte) ([]byte, error) {
	g, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize(), g.NonceSize()+len(plaintext)+g.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("envelope: nonce: %w", err)
	}
	return g.Seal(nonce, nonce, plaintext, aad), nil
}

func gcmOpen(key, sealed, aad []byte) ([]byte, error) {
	g, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < g.NonceSize()+g.Overhead() {
		return nil, ErrOpen
	}
	out, err := g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("envelope: a key of %d bytes, want 32", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}
