// Package release describes an upgrade package of a product as its vendor
// vouches for it: a Statement (product, platform, version, file, size,
// SHA-256, silent-install command) signed with the vendor's Ed25519
// release key. The vendor signs offline (`iscctl release sign`), where it
// builds its packages; iscd stores and serves the signature and never
// holds the key, so neither a compromised iscd nor an admin token can make
// a desktop run code. The SDK verifies the statement against the release
// public keys compiled into the program before it downloads the package,
// and again before it runs the installer.
package release

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/iscsdk/iscsdk/internal/semver"
)

// Limits on a statement's fields.
const (
	MaxSize        = 64 << 30 // bytes in a package
	MaxFileName    = 255
	MaxCommand     = 4096
	MaxNotes       = 64 << 10
	DefaultCommand = "{package}" // run the package itself, without arguments
)

// Errors callers branch on (errors.Is).
var (
	ErrInvalid      = errors.New("release: invalid statement")
	ErrUnknownKey   = errors.New("release: signed by a key the program does not know")
	ErrBadSignature = errors.New("release: bad signature")
	ErrBadKey       = errors.New("release: malformed key")
)

var (
	productPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	platformPattern = regexp.MustCompile(`^[a-z0-9]{1,16}-[a-z0-9]{1,16}$`)
	hexSHA256       = regexp.MustCompile(`^[0-9a-f]{64}$`)
	b64             = base64.RawURLEncoding.Strict()
)

// Statement is what a signature covers: everything that decides which
// bytes are run and how. (Whether a release is forced is the service's
// policy and may change after publishing; it is not signed.)
type Statement struct {
	Product        string `json:"product"`
	Platform       string `json:"platform"` // GOOS-GOARCH of the programs it is for: windows-amd64, linux-amd64
	Version        string `json:"version"`  // semantic version, canonical form
	FileName       string `json:"fileName"` // the package's file name (a base name)
	Size           int64  `json:"size"`
	SHA256         string `json:"sha256"` // of the package, lower-case hex
	InstallCommand string `json:"installCommand"`
}

// Check reports the first field that is not well formed.
func (s Statement) Check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch {
	case !productPattern.MatchString(s.Product) || strings.Contains(s.Product, ".."):
		return bad("product %q is not a product id", s.Product)
	case !platformPattern.MatchString(s.Platform):
		return bad("platform %q: want OS-ARCH as Go names them, e.g. windows-amd64", s.Platform)
	case !hexSHA256.MatchString(s.SHA256):
		return bad("sha256 %q is not 64 lower-case hex digits", s.SHA256)
	case s.Size <= 0 || s.Size > MaxSize:
		return bad("size %d: want 1 byte to %d GiB", s.Size, MaxSize>>30)
	}
	v, err := semver.Parse(s.Version)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if v.String() != s.Version {
		return bad("version %q is not in canonical form (%s)", s.Version, v)
	}
	if err := CheckFileName(s.FileName); err != nil {
		return err
	}
	if _, err := Command(s.InstallCommand, "/p", "/d", s.Version); err != nil {
		return err
	}
	return nil
}

// CheckFileName accepts a package file name: one path element, printable,
// not "." or "..", and no character Windows refuses in a name.
func CheckFileName(name string) error {
	switch {
	case name == "" || name == "." || name == ".." || len(name) > MaxFileName:
		return fmt.Errorf("%w: file name %q", ErrInvalid, name)
	case !utf8.ValidString(name) || strings.ContainsAny(name, `/\:*?"<>|`) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: file name %q holds a character that cannot be in a file name", ErrInvalid, name)
	case strings.HasSuffix(name, ".") || strings.HasSuffix(name, " "):
		return fmt.Errorf("%w: file name %q ends with a dot or a space", ErrInvalid, name)
	}
	return nil
}

// Message is the exact bytes that are signed: a fixed header, then the
// fields one per line (Check has made sure none holds a line break).
func (s Statement) Message() []byte {
	return []byte(strings.Join([]string{"iscsdk-release-v1", s.Product, s.Platform, s.Version, s.FileName,
		fmt.Sprint(s.Size), s.SHA256, s.InstallCommand}, "\n") + "\n")
}

// Signature is a statement's signature and the key that made it.
type Signature struct {
	KeyID string `json:"keyId"`
	Value string `json:"signature"` // base64url, unpadded
}

// Sign checks s and signs it with the vendor's release key k.
func Sign(s Statement, k PrivateKey) (Signature, error) {
	if err := s.Check(); err != nil {
		return Signature{}, err
	}
	if len(k.Key) != ed25519.PrivateKeySize || !keyIDPattern.MatchString(k.ID) {
		return Signature{}, fmt.Errorf("%w: %s is not a release key", ErrBadKey, k)
	}
	sig := ed25519.Sign(k.Key, s.Message())
	return Signature{KeyID: k.ID, Value: b64.EncodeToString(sig)}, nil
}

// CheckSignature reports whether sig is well formed (a key id and 64
// bytes of base64url), without verifying it: what iscd can check of a
// signature made with a key it does not know.
func CheckSignature(sig Signature) error {
	if !keyIDPattern.MatchString(sig.KeyID) {
		return fmt.Errorf("%w: key id %q is not 1 to 32 lower-case hex digits", ErrBadSignature, sig.KeyID)
	}
	if raw, err := b64.DecodeString(sig.Value); err != nil || len(raw) != ed25519.SignatureSize {
		return fmt.Errorf("%w: not an unpadded base64url Ed25519 signature", ErrBadSignature)
	}
	return nil
}

// Verify checks s and its signature against keys (the vendor's release
// public keys, as the program was given them).
func Verify(s Statement, sig Signature, keys []PublicKey) error {
	if err := s.Check(); err != nil {
		return err
	}
	for _, k := range keys {
		if k.ID != sig.KeyID {
			continue
		}
		raw, err := b64.DecodeString(sig.Value)
		if err != nil || len(raw) != ed25519.SignatureSize {
			return fmt.Errorf("%w: not an Ed25519 signature", ErrBadSignature)
		}
		if !ed25519.Verify(k.Key, s.Message(), raw) {
			return fmt.Errorf("%w: %s %s (%s) does not verify with release key %s", ErrBadSignature, s.Product, s.Version, s.Platform, k.ID)
		}
		return nil
	}
	return fmt.Errorf("%w: release key %q", ErrUnknownKey, sig.KeyID)
}

// SumHex is the lower-case hex form of a SHA-256.
func SumHex(sum [32]byte) string { return hex.EncodeToString(sum[:]) }

// Command expands an install command template into the program and
// arguments to run. The template is split at white space; double quotes
// group words ("C:\Program Files\x" is one); a quote cannot be escaped.
// Placeholders, replaced after splitting so paths with spaces stay one
// argument: {package} (the staged package's absolute path), {dir} (the
// folder it is in) and {version}. An empty template means
// DefaultCommand: the package is the installer.
func Command(tmpl, pkg, dir, version string) ([]string, error) {
	if tmpl == "" {
		tmpl = DefaultCommand
	}
	if len(tmpl) > MaxCommand || !utf8.ValidString(tmpl) || strings.IndexFunc(tmpl, unicode.IsControl) >= 0 {
		return nil, fmt.Errorf("%w: install command: longer than %d bytes, not UTF-8, or holds a control character", ErrInvalid, MaxCommand)
	}
	var args []string
	var cur strings.Builder
	inQuote, inWord := false, false
	for _, r := range tmpl {
		switch {
		case r == '"':
			inQuote, inWord = !inQuote, true
		case unicode.IsSpace(r) && !inQuote:
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("%w: install command %q: a quote is not closed", ErrInvalid, tmpl)
	}
	if inWord {
		args = append(args, cur.String())
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: install command is empty", ErrInvalid)
	}
	r := strings.NewReplacer("{package}", pkg, "{dir}", dir, "{version}", version)
	for i, a := range args {
		args[i] = r.Replace(a)
	}
	return args, nil
}
