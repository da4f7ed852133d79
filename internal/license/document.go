package license

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/device"
)

// Format constants; docs/licensing.md describes the layout.
const (
	// MaxLen is the longest licence string Parse and Verify look at; a
	// longer one is refused before any other work.
	MaxLen = 64 << 10

	// FormatVersion is the Document.Version this package signs and reads.
	FormatVersion = 1

	stringPrefix = "ISL1"
	// signatureDomain is prepended to the payload to form the signed
	// message, so that a licence signature can never be mistaken for (or
	// made from) a signature over anything else the key might sign.
	signatureDomain = "iscsdk-license-v1\n"
)

// Licence kinds.
const (
	KindFloating   = "floating"    // one of N concurrent seats, held as a lease
	KindNodeLocked = "node-locked" // bound to one of up to N devices
)

// Errors returned by Parse (wrapped, with context). Verify reports them as
// the result codes of the same names.
var (
	ErrTooLarge     = errors.New("license: licence string too large")
	ErrMalformed    = errors.New("license: malformed licence")
	ErrUnknownKey   = errors.New("license: signed by an unknown key")
	ErrBadSignature = errors.New("license: bad signature")
	ErrWrongProduct = errors.New("license: licence for another product")
)

// maxDuration bounds Grace and LeaseGrace (100 years) and maxUnix the times
// (the end of year 9999), so that no arithmetic on them overflows and every
// time has an RFC 3339 form.
const (
	maxDuration = 100 * 365 * 24 * time.Hour
	maxUnix     = 253402300799
)

// Document is the content of a licence string. Times have one-second
// precision; a zero time means "not set" (see each field).
type Document struct {
	Version  int    // FormatVersion; Sign fills in a zero
	ID       string // licence id, also the salt of Device
	KeyID    string // id of the signing key; Sign fills it in
	Product  string // must equal the signing key's product; Sign fills in an empty one
	Org      string // the organisation the licence belongs to
	Edition  string // edition or SKU
	Features []string
	Kind     string        // KindFloating or KindNodeLocked
	Device   device.Hashed // the bound device (device.Hash with salt ID); zero: not bound
	Seat     string        // the seat (floating) this document was issued for, if any

	IssuedAt       time.Time     // when iscd signed it; Sign fills in a zero with the current time
	EffectiveAt    time.Time     // valid from; zero: no separate start
	ExpiresAt      time.Time     // the licence ends; zero: perpetual
	LeaseExpiresAt time.Time     // the lease (floating seat, offline use) ends; zero: no lease
	Grace          time.Duration // still usable this long after ExpiresAt
	LeaseGrace     time.Duration // still usable this long after LeaseExpiresAt (offline)
	Trial          bool
}

// payload is the signed JSON: the fields of Document in the same order,
// times as Unix seconds (0 for a zero time), durations as seconds. Every
// field is always present, so encoding/json's output is canonical.
type payload struct {
	Version        int           `json:"version"`
	ID             string        `json:"id"`
	KeyID          string        `json:"keyId"`
	Product        string        `json:"product"`
	Org            string        `json:"org"`
	Edition        string        `json:"edition"`
	Features       []string      `json:"features"`
	Kind           string        `json:"kind"`
	Device         device.Hashed `json:"device"`
	Seat           string        `json:"seat"`
	IssuedAt       int64         `json:"issuedAt"`
	EffectiveAt    int64         `json:"effectiveAt"`
	ExpiresAt      int64         `json:"expiresAt"`
	LeaseExpiresAt int64         `json:"leaseExpiresAt"`
	Grace          int64         `json:"grace"`
	LeaseGrace     int64         `json:"leaseGrace"`
	Trial          bool          `json:"trial"`
}

var hashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Sign returns the licence string of doc signed with key:
// "ISL1.<kid>.<base64url(payload)>.<base64url(signature)>". It sets
// doc.KeyID (and a zero Version, Product or IssuedAt), truncates times to
// seconds, and sorts and de-duplicates Features and the Device hashes.
// It refuses a document that would not verify: no id, a product other than
// the key's, an unknown kind, a negative grace, a raw device id.
func Sign(doc Document, key SigningKey) (string, error) {
	if err := key.check(); err != nil {
		return "", fmt.Errorf("sign licence %s: %w", doc.ID, err)
	}
	if doc.Version == 0 {
		doc.Version = FormatVersion
	}
	if doc.Product == "" {
		doc.Product = key.Product
	}
	if doc.Product != key.Product {
		return "", fmt.Errorf("sign licence %s: product %q with a key of product %q", doc.ID, doc.Product, key.Product)
	}
	if doc.IssuedAt.IsZero() {
		doc.IssuedAt = time.Now()
	}
	doc.KeyID = key.ID
	doc.Features = sortedSet(doc.Features)
	doc.Device.MACs = sortedSet(doc.Device.MACs)
	doc.Device.Disks = sortedSet(doc.Device.Disks)
	body, err := encode(doc)
	if err != nil {
		return "", fmt.Errorf("sign licence %s: %w", doc.ID, err)
	}
	return seal(body, key), nil
}

// seal signs payload bytes as they are and assembles the licence string.
func seal(body []byte, key SigningKey) string {
	sig := ed25519.Sign(key.Private, signedMessage(body))
	return stringPrefix + "." + key.ID + "." + b64.EncodeToString(body) + "." + b64.EncodeToString(sig)
}

func signedMessage(body []byte) []byte {
	return append([]byte(signatureDomain), body...)
}

// Parse checks the signature of a licence string with the key among keys
// whose ID is the string's kid, then decodes and checks the document. On
// ErrWrongProduct it also returns the (authentic) document; on any other
// error, a zero Document. Parse does not look at devices or times: Verify
// does.
//
// The order of the checks is fixed: length, layout, key, signature over
// the exact payload bytes, and only then the JSON, which must be in the
// canonical form Sign writes.
func Parse(s string, keys []PublicKey) (Document, error) {
	if len(s) > MaxLen {
		return Document{}, fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, len(s), MaxLen)
	}
	// base64's decoder skips '\r' and '\n': accept only the string's own
	// alphabet, so that no byte of it can change without failing.
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return Document{}, fmt.Errorf("%w: byte %d is not a base64url character or '.'", ErrMalformed, i)
		}
	}
	parts := strings.Split(s, ".")
	if len(parts) != 4 || parts[0] != stringPrefix {
		return Document{}, fmt.Errorf("%w: want %s.<kid>.<payload>.<signature>", ErrMalformed, stringPrefix)
	}
	kid := parts[1]
	if !keyIDPattern.MatchString(kid) {
		return Document{}, fmt.Errorf("%w: key id is not 1 to 32 lower-case hex digits", ErrMalformed)
	}
	body, err := b64.DecodeString(parts[2])
	if err != nil {
		return Document{}, fmt.Errorf("%w: payload is not unpadded base64url", ErrMalformed)
	}
	sig, err := b64.DecodeString(parts[3])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Document{}, fmt.Errorf("%w: signature is not %d bytes of unpadded base64url", ErrMalformed, ed25519.SignatureSize)
	}

	var key PublicKey
	known := false
	for _, k := range keys {
		if k.ID != kid || len(k.Key) != ed25519.PublicKeySize {
			continue
		}
		known = true
		if ed25519.Verify(k.Key, signedMessage(body), sig) {
			key = k
			break
		}
	}
	if !known {
		return Document{}, fmt.Errorf("%w: key id %s", ErrUnknownKey, kid)
	}
	if key.Key == nil {
		return Document{}, fmt.Errorf("%w (key id %s)", ErrBadSignature, kid)
	}

	// From here on the payload is authentic: it is what the key's holder
	// signed. It must also be exactly what Sign writes for the document it
	// decodes to, so that no two strings carry one document and no JSON
	// quirk (duplicate or differently cased keys, nulls) gets through.
	doc, err := decode(body)
	if err != nil {
		return Document{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if doc.KeyID != kid {
		return Document{}, fmt.Errorf("%w: payload names key %q, string names %q", ErrMalformed, doc.KeyID, kid)
	}
	if doc.Product != key.Product {
		return doc, fmt.Errorf("%w: licence %s is for %q, the key for %q", ErrWrongProduct, doc.ID, doc.Product, key.Product)
	}
	return doc, nil
}

// encode returns the canonical payload of a checked document.
func encode(d Document) ([]byte, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	features := d.Features
	if features == nil {
		features = []string{}
	}
	return json.Marshal(payload{
		Version: d.Version, ID: d.ID, KeyID: d.KeyID, Product: d.Product, Org: d.Org, Edition: d.Edition,
		Features: features, Kind: d.Kind, Device: d.Device, Seat: d.Seat,
		IssuedAt: unix(d.IssuedAt), EffectiveAt: unix(d.EffectiveAt), ExpiresAt: unix(d.ExpiresAt),
		LeaseExpiresAt: unix(d.LeaseExpiresAt),
		Grace:          int64(d.Grace / time.Second), LeaseGrace: int64(d.LeaseGrace / time.Second),
		Trial: d.Trial,
	})
}

// decode reads a payload, which must be exactly encode's output for the
// document it holds.
func decode(body []byte) (Document, error) {
	var p payload
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Document{}, fmt.Errorf("payload: %v", err)
	}
	for _, t := range []int64{p.IssuedAt, p.EffectiveAt, p.ExpiresAt, p.LeaseExpiresAt} {
		if t < 0 || t > maxUnix {
			return Document{}, fmt.Errorf("time %d out of range", t)
		}
	}
	for _, g := range []int64{p.Grace, p.LeaseGrace} {
		if g < 0 || g > int64(maxDuration/time.Second) {
			return Document{}, fmt.Errorf("grace of %d seconds out of range", g)
		}
	}
	if len(p.Features) == 0 {
		p.Features = nil
	}
	d := Document{
		Version: p.Version, ID: p.ID, KeyID: p.KeyID, Product: p.Product, Org: p.Org, Edition: p.Edition,
		Features: p.Features, Kind: p.Kind, Device: p.Device, Seat: p.Seat,
		IssuedAt: fromUnix(p.IssuedAt), EffectiveAt: fromUnix(p.EffectiveAt), ExpiresAt: fromUnix(p.ExpiresAt),
		LeaseExpiresAt: fromUnix(p.LeaseExpiresAt),
		Grace:          time.Duration(p.Grace) * time.Second, LeaseGrace: time.Duration(p.LeaseGrace) * time.Second,
		Trial: p.Trial,
	}
	again, err := encode(d)
	if err != nil {
		return Document{}, err
	}
	if !bytes.Equal(again, body) {
		return Document{}, errors.New("payload is not in canonical form")
	}
	return d, nil
}

// check holds the rules a document must meet to be signed or accepted.
func (d Document) check() error {
	switch {
	case d.Version != FormatVersion:
		return fmt.Errorf("version %d, want %d", d.Version, FormatVersion)
	case d.ID == "":
		return errors.New("no licence id")
	case !keyIDPattern.MatchString(d.KeyID):
		return fmt.Errorf("key id %q is not 1 to 32 lower-case hex digits", d.KeyID)
	case d.Kind != KindFloating && d.Kind != KindNodeLocked:
		return fmt.Errorf("kind %q, want %q or %q", d.Kind, KindFloating, KindNodeLocked)
	case d.IssuedAt.IsZero():
		return errors.New("no issue time")
	case d.Grace < 0 || d.Grace > maxDuration || d.LeaseGrace < 0 || d.LeaseGrace > maxDuration:
		return errors.New("grace period negative or over 100 years")
	}
	if err := checkProduct(d.Product); err != nil {
		return err
	}
	for _, t := range []time.Time{d.IssuedAt, d.EffectiveAt, d.ExpiresAt, d.LeaseExpiresAt} {
		if !t.IsZero() && (t.Unix() < 1 || t.Unix() > maxUnix) {
			return fmt.Errorf("time %s out of range", t)
		}
	}
	if !isSortedSet(d.Features) || slices.Contains(d.Features, "") {
		return errors.New("features must be non-empty, sorted and distinct")
	}
	h := d.Device
	if !isSortedSet(h.MACs) || !isSortedSet(h.Disks) {
		return errors.New("device hashes must be sorted and distinct")
	}
	for _, v := range slices.Concat(h.MACs, h.Disks, []string{h.Board, h.CPU}) {
		if v != "" && !hashPattern.MatchString(v) {
			return errors.New("device part is not a hex SHA-256 (bind with device.Hash, not a raw fingerprint)")
		}
	}
	return nil
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

func sortedSet(vs []string) []string {
	if len(vs) == 0 {
		return nil
	}
	out := slices.Clone(vs)
	slices.Sort(out)
	return slices.Compact(out)
}

func isSortedSet(vs []string) bool {
	for i := 1; i < len(vs); i++ {
		if vs[i-1] >= vs[i] {
			return false
		}
	}
	return true
}
