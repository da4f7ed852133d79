// Package token makes and checks the bearer secrets of iscd: API tokens,
// admin tokens, session resume tokens and the sign-in's tokens.
//
// A token reads "<prefix>_<id>_<secret>". The id finds the stored record; the
// secret is kept only as its SHA-256 and compared in constant time, so a copy
// of the store lets nobody authenticate.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// Prefixes say what a token is for, so that a leaked one is easy to
// recognise and a token of one kind is never accepted as another.
const (
	PrefixAPI     = "isk" // a user's API token (SDK sessions, iscctl)
	PrefixAdmin   = "isa" // the operator's admin token
	PrefixResume  = "isr" // a session's resume token
	PrefixWorker  = "isw" // a compute worker's token
	PrefixAccess  = "isc" // a signed-in program's short-lived access token
	PrefixRefresh = "isf" // a signed-in program's refresh token
	PrefixDevice  = "isd" // a device authorization grant's device code
	PrefixFlow    = "isb" // a browser sign-in under way (the state it carries)
	PrefixCode    = "isz" // an authorization code, for a program's loopback
	PrefixConsole = "iso" // a browser's console session (its cookie)
)

// MaxLen bounds a token presented by a client.
const MaxLen = 256

// ErrMalformed is returned by Parse for a string that is not a token of the
// expected kind.
var ErrMalformed = errors.New("token: malformed")

// New returns a fresh token of the given kind, its id and the hash to store.
func New(prefix string) (tok, id, hash string) {
	id = ID()
	secret := base64.RawURLEncoding.EncodeToString(randomBytes(24))
	tok = prefix + "_" + id + "_" + secret
	return tok, id, Hash(secret)
}

// Parse splits a presented token into its id and secret.
func Parse(prefix, tok string) (id, secret string, err error) {
	if len(tok) > MaxLen || !strings.HasPrefix(tok, prefix+"_") {
		return "", "", ErrMalformed
	}
	id, secret, ok := strings.Cut(tok[len(prefix)+1:], "_")
	if !ok || id == "" || secret == "" {
		return "", "", ErrMalformed
	}
	return id, secret, nil
}

// Hash returns the hex SHA-256 of a secret: what the store keeps.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Verify reports, in constant time, whether secret hashes to storedHash.
func Verify(secret, storedHash string) bool {
	h := Hash(secret)
	return subtle.ConstantTimeCompare([]byte(h), []byte(storedHash)) == 1
}

// ID returns a random 16-hex-digit identifier (no "_", safe in tokens,
// paths and URLs).
func ID() string { return hex.EncodeToString(randomBytes(8)) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("token: crypto/rand failed: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	return b
}

// NewWithID returns a fresh token of the given kind carrying id, and the
// hash to store: for records whose id is chosen elsewhere (a refresh
// token names its family, a device code its grant).
func NewWithID(prefix, id string) (tok, hash string) {
	secret := base64.RawURLEncoding.EncodeToString(randomBytes(24))
	return prefix + "_" + id + "_" + secret, Hash(secret)
}
