package release

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Key string prefixes. A release key is not a licence key (internal/license
// writes ISK1/ISKS1): iscd holds the licence keys, the vendor alone holds
// its release key, and the two forms cannot be confused.
const (
	publicKeyPrefix  = "ISR1"  // ISR1.<kid>.<base64url(32-byte public key)>
	privateKeyPrefix = "ISRS1" // ISRS1.<kid>.<base64url(32-byte seed)>
)

// maxKeysLen bounds the string given to ParsePublicKeys.
const maxKeysLen = 64 << 10

var keyIDPattern = regexp.MustCompile(`^[0-9a-f]{1,32}$`)

// PrivateKey is a vendor's release key: it signs the statements of every
// release of the vendor's products, offline, where the vendor builds them.
// iscd never sees it. String and GoString name it without its secret.
type PrivateKey struct {
	ID  string // short lower-case hex; signatures name it
	Key ed25519.PrivateKey
}

// PublicKey verifies release signatures. A vendor compiles its String form
// into the program (sdk Config.ReleaseKeys, iscsdk_options.release_key).
type PublicKey struct {
	ID  string
	Key ed25519.PublicKey
}

// GenerateKey returns a new release key with a random 8-digit hex id.
func GenerateKey() (PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("release: generate key: %w", err)
	}
	id := make([]byte, 4)
	if _, err := rand.Read(id); err != nil {
		return PrivateKey{}, fmt.Errorf("release: generate key id: %w", err)
	}
	return PrivateKey{ID: hex.EncodeToString(id), Key: priv}, nil
}

// Public returns the key that verifies k's signatures.
func (k PrivateKey) Public() PublicKey {
	pub, _ := k.Key.Public().(ed25519.PublicKey)
	return PublicKey{ID: k.ID, Key: pub}
}

// String names the key without its secret.
func (k PrivateKey) String() string { return "release key " + k.ID }

// GoString is String: %#v must not print the private key either.
func (k PrivateKey) GoString() string { return k.String() }

// Marshal returns the key's file form, "ISRS1.<kid>.<base64url(seed)>".
// It is the vendor's secret.
func (k PrivateKey) Marshal() string {
	return privateKeyPrefix + "." + k.ID + "." + b64.EncodeToString(k.Key.Seed())
}

// ParsePrivateKey reads the form written by Marshal (surrounding white
// space, such as a file's last newline, is ignored).
func ParsePrivateKey(s string) (PrivateKey, error) {
	id, raw, err := splitKey(strings.TrimSpace(s), privateKeyPrefix, ed25519.SeedSize)
	if err != nil {
		return PrivateKey{}, err
	}
	return PrivateKey{ID: id, Key: ed25519.NewKeyFromSeed(raw)}, nil
}

// String returns the key's text form, "ISR1.<kid>.<base64url(key)>": what
// `iscctl release key generate` prints and a program is configured with.
func (k PublicKey) String() string {
	return publicKeyPrefix + "." + k.ID + "." + b64.EncodeToString(k.Key)
}

// ParsePublicKeys reads one or more keys in the form of PublicKey.String,
// separated by commas or white space. A program that ships the old and the
// new key of a rotation accepts releases signed by either. Two different
// keys with one id are an error.
func ParsePublicKeys(s string) ([]PublicKey, error) {
	if len(s) > maxKeysLen {
		return nil, fmt.Errorf("%w: release key list of %d bytes, more than %d", ErrBadKey, len(s), maxKeysLen)
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: no release public key given", ErrBadKey)
	}
	var keys []PublicKey
next:
	for i, f := range fields {
		id, raw, err := splitKey(f, publicKeyPrefix, ed25519.PublicKeySize)
		if err != nil {
			return nil, fmt.Errorf("release public key %d: %w", i+1, err)
		}
		k := PublicKey{ID: id, Key: ed25519.PublicKey(raw)}
		for _, prev := range keys {
			if prev.ID == k.ID {
				if prev.Key.Equal(k.Key) {
					continue next
				}
				return nil, fmt.Errorf("release public key %d: %w: two different keys with id %s", i+1, ErrBadKey, id)
			}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// splitKey parses "<prefix>.<kid>.<base64url(n bytes)>".
func splitKey(s, prefix string, n int) (id string, raw []byte, err error) {
	rest, ok := strings.CutPrefix(s, prefix+".")
	if !ok {
		hint := ""
		if strings.HasPrefix(s, "ISK") {
			hint = " (this is a licence key; releases are verified with the vendor's release key)"
		}
		return "", nil, fmt.Errorf("%w: does not start with %q%s", ErrBadKey, prefix+".", hint)
	}
	id, enc, ok := strings.Cut(rest, ".")
	if !ok || !keyIDPattern.MatchString(id) {
		return "", nil, fmt.Errorf("%w: want %s.<kid>.<key>, kid 1 to 32 lower-case hex digits", ErrBadKey, prefix)
	}
	if strings.ContainsAny(enc, "\r\n") { // the decoder would skip them
		return "", nil, fmt.Errorf("%w: line break inside the key", ErrBadKey)
	}
	raw, err = b64.DecodeString(enc)
	if err != nil {
		return "", nil, fmt.Errorf("%w: key material is not unpadded base64url: %v", ErrBadKey, err)
	}
	if len(raw) != n {
		return "", nil, fmt.Errorf("%w: key material of %d bytes, want %d", ErrBadKey, len(raw), n)
	}
	return id, raw, nil
}

// A Signer signs the statement of a package as it is published: a
// PrivateKey, or a Signed made before (offline, elsewhere).
type Signer interface {
	Sign(Statement) (Signature, error)
}

// Sign signs s with k (see the function Sign).
func (k PrivateKey) Sign(s Statement) (Signature, error) { return Sign(s, k) }

// Signed is a statement with its signature, as `iscctl release sign`
// writes it to a file for `iscctl release publish --signature`.
type Signed struct {
	Statement Statement `json:"statement"`
	Signature Signature `json:"signature"`
}

// Sign returns the signature if s is the statement that was signed, and
// an ErrInvalid naming the first field that differs otherwise: the
// package or the flags given to publish are not those that were signed.
func (p Signed) Sign(s Statement) (Signature, error) {
	a, b := p.Statement, s
	for _, f := range []struct{ name, signed, now string }{
		{"product", a.Product, b.Product}, {"platform", a.Platform, b.Platform}, {"version", a.Version, b.Version},
		{"file name", a.FileName, b.FileName}, {"size", fmt.Sprint(a.Size), fmt.Sprint(b.Size)},
		{"SHA-256", a.SHA256, b.SHA256}, {"install command", a.InstallCommand, b.InstallCommand},
	} {
		if f.signed != f.now {
			return Signature{}, fmt.Errorf("%w: the signed %s is %q, the release's is %q", ErrInvalid, f.name, f.signed, f.now)
		}
	}
	return p.Signature, CheckSignature(p.Signature)
}
