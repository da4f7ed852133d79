package license

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Key string prefixes. The version digit changes if the layout ever does.
const (
	publicKeyPrefix  = "ISK1"  // ISK1.<product>.<kid>.<base64url(32-byte public key)>
	signingKeyPrefix = "ISKS1" // ISKS1.<product>.<kid>.<base64url(32-byte seed)>
)

// maxKeysLen bounds the string given to ParsePublicKeys.
const maxKeysLen = 64 << 10

// ErrBadKey is returned (wrapped, with the reason) by ParsePublicKeys,
// ParseSigningKey and GenerateKey for a key or product that is not well formed.
var ErrBadKey = errors.New("license: malformed key")

var (
	// productPattern is iscd's id rule (internal/server/admin), so that any
	// product iscd accepts can name a key.
	productPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	keyIDPattern   = regexp.MustCompile(`^[0-9a-f]{1,32}$`)
	b64            = base64.RawURLEncoding.Strict()
)

// SigningKey is a product's private Ed25519 key. iscd keeps it and signs
// licence documents with it; it never leaves the server. Its String and
// GoString methods name the key without revealing it, so that logging one
// by mistake leaks nothing.
type SigningKey struct {
	Product string // the product whose licences this key signs
	ID      string // key id: short lower-case hex, unique per product; documents name it
	Private ed25519.PrivateKey
}

// PublicKey verifies the documents of one signing key. A vendor compiles
// its String form into the program.
type PublicKey struct {
	Product string
	ID      string
	Key     ed25519.PublicKey
}

// GenerateKey returns a new signing key for product with a random 8-digit
// hex id.
func GenerateKey(product string) (SigningKey, error) {
	if err := checkProduct(product); err != nil {
		return SigningKey{}, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SigningKey{}, fmt.Errorf("license: generate key: %w", err)
	}
	id := make([]byte, 4)
	if _, err := rand.Read(id); err != nil {
		return SigningKey{}, fmt.Errorf("license: generate key id: %w", err)
	}
	return SigningKey{Product: product, ID: hex.EncodeToString(id), Private: priv}, nil
}

// Public returns the key that verifies k's signatures.
func (k SigningKey) Public() PublicKey {
	pub, _ := k.Private.Public().(ed25519.PublicKey)
	return PublicKey{Product: k.Product, ID: k.ID, Key: pub}
}

// String names the key ("signing key <product>/<id>") without its secret.
func (k SigningKey) String() string { return "signing key " + k.Product + "/" + k.ID }

// GoString is String: %#v must not print the private key either.
func (k SigningKey) GoString() string { return k.String() }

func (k SigningKey) check() error {
	if err := checkProduct(k.Product); err != nil {
		return err
	}
	if !keyIDPattern.MatchString(k.ID) {
		return fmt.Errorf("%w: key id %q is not 1 to 32 lower-case hex digits", ErrBadKey, k.ID)
	}
	if len(k.Private) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: private key of %d bytes, want %d", ErrBadKey, len(k.Private), ed25519.PrivateKeySize)
	}
	return nil
}

// MarshalSigningKey returns k's clear text form,
// "ISKS1.<product>.<kid>.<base64url(32-byte Ed25519 seed)>". It is a secret:
// iscd no longer stores it (it seals the seed, internal/envelope) and reads
// it only to seal the keys an older iscd stored in clear.
func MarshalSigningKey(k SigningKey) (string, error) {
	if err := k.check(); err != nil {
		return "", err
	}
	return signingKeyPrefix + "." + k.Product + "." + k.ID + "." + b64.EncodeToString(k.Private.Seed()), nil
}

// ParseSigningKey reads the form written by MarshalSigningKey.
func ParseSigningKey(s string) (SigningKey, error) {
	product, id, raw, err := splitKey(strings.TrimSpace(s), signingKeyPrefix, ed25519.SeedSize)
	if err != nil {
		return SigningKey{}, err
	}
	return SigningKey{Product: product, ID: id, Private: ed25519.NewKeyFromSeed(raw)}, nil
}

// String returns the key's text form,
// "ISK1.<product>.<kid>.<base64url(32-byte Ed25519 public key)>": what
// `iscctl key export-public` prints and what a program passes to Verify.
func (k PublicKey) String() string {
	return publicKeyPrefix + "." + k.Product + "." + k.ID + "." + b64.EncodeToString(k.Key)
}

// ParsePublicKeys reads one or more keys in the form of PublicKey.String,
// separated by commas or white space (including newlines). A program that
// ships the old and the new key of a rotation accepts documents signed by
// either. The same key given twice counts once; two different keys with
// one product and id are an error.
func ParsePublicKeys(s string) ([]PublicKey, error) {
	if len(s) > maxKeysLen {
		return nil, fmt.Errorf("%w: key list of %d bytes, more than %d", ErrBadKey, len(s), maxKeysLen)
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: no public key given", ErrBadKey)
	}
	var keys []PublicKey
next:
	for i, f := range fields {
		product, id, raw, err := splitKey(f, publicKeyPrefix, ed25519.PublicKeySize)
		if err != nil {
			return nil, fmt.Errorf("public key %d: %w", i+1, err)
		}
		k := PublicKey{Product: product, ID: id, Key: ed25519.PublicKey(raw)}
		for _, prev := range keys {
			if prev.Product == k.Product && prev.ID == k.ID {
				if prev.Key.Equal(k.Key) {
					continue next
				}
				return nil, fmt.Errorf("public key %d: %w: two different keys named %s/%s", i+1, ErrBadKey, product, id)
			}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// splitKey parses "<prefix>.<product>.<kid>.<base64url(n bytes)>". The
// product may itself contain dots, so kid and key are taken from the right.
func splitKey(s, prefix string, n int) (product, id string, raw []byte, err error) {
	rest, ok := strings.CutPrefix(s, prefix+".")
	if !ok {
		return "", "", nil, fmt.Errorf("%w: does not start with %q", ErrBadKey, prefix+".")
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return "", "", nil, fmt.Errorf("%w: want %s.<product>.<kid>.<key>", ErrBadKey, prefix)
	}
	rest, enc := rest[:i], rest[i+1:]
	j := strings.LastIndexByte(rest, '.')
	if j < 0 {
		return "", "", nil, fmt.Errorf("%w: want %s.<product>.<kid>.<key>", ErrBadKey, prefix)
	}
	product, id = rest[:j], rest[j+1:]
	if err := checkProduct(product); err != nil {
		return "", "", nil, err
	}
	if !keyIDPattern.MatchString(id) {
		return "", "", nil, fmt.Errorf("%w: key id %q is not 1 to 32 lower-case hex digits", ErrBadKey, id)
	}
	if strings.ContainsAny(enc, "\r\n") { // the decoder would skip them
		return "", "", nil, fmt.Errorf("%w: line break inside the key", ErrBadKey)
	}
	raw, err = b64.DecodeString(enc)
	if err != nil {
		return "", "", nil, fmt.Errorf("%w: key material is not unpadded base64url: %v", ErrBadKey, err)
	}
	if len(raw) != n {
		return "", "", nil, fmt.Errorf("%w: key material of %d bytes, want %d", ErrBadKey, len(raw), n)
	}
	return product, id, raw, nil
}

func checkProduct(p string) error {
	if !productPattern.MatchString(p) || strings.Contains(p, "..") {
		return fmt.Errorf("%w: product %q must match %s and not contain \"..\"", ErrBadKey, p, productPattern)
	}
	return nil
}
