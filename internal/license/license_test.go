package license

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/device"
)

// testKey returns a deterministic signing key, so failures reproduce.
func testKey(t testing.TB, product, id string, seed byte) SigningKey {
	t.Helper()
	return SigningKey{Product: product, ID: id, Private: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))}
}

var (
	t0       = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	thisMach = "04:7C:16:5E:E3:5D|001B_444A_488B_5CEC.|BOARD-1|BFEBFBFF00090672"
)

func mustFingerprint(t testing.TB, s string) device.Fingerprint {
	t.Helper()
	fp, err := device.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// fullDoc sets every field.
func fullDoc(t testing.TB) Document {
	return Document{
		ID: "lic-1", Product: "acme.cad", Org: "org-7", Edition: "pro",
		Features: []string{"solver", "export", "cam", "export"},
		Kind:     KindFloating,
		Device:   device.Hash(mustFingerprint(t, thisMach), "lic-1"),
		Seat:     "seat-3",
		IssuedAt: t0, EffectiveAt: t0, ExpiresAt: t0.AddDate(1, 0, 0), LeaseExpiresAt: t0.Add(time.Hour),
		Grace: 7 * 24 * time.Hour, LeaseGrace: 24 * time.Hour, Trial: true,
	}
}

func sign(t testing.TB, d Document, k SigningKey) string {
	t.Helper()
	s, err := Sign(d, k)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	k := testKey(t, "acme.cad", "a1b2c3d4", 1)
	in := fullDoc(t)
	in.IssuedAt = t0.Add(500 * time.Millisecond).In(time.FixedZone("CET", 3600)) // truncated, made UTC
	s := sign(t, in, k)
	if !strings.HasPrefix(s, "ISL1.a1b2c3d4.") || strings.Count(s, ".") != 3 {
		t.Fatalf("licence string %q has the wrong layout", s)
	}
	got, err := Parse(s, []PublicKey{k.Public()})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := fullDoc(t)
	want.Version, want.KeyID = 1, "a1b2c3d4"
	want.Features = []string{"cam", "export", "solver"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(Sign(doc)) =\n%+v\nwant\n%+v", got, want)
	}
	// Signing the parsed document again gives the same string: one string per document.
	if again := sign(t, got, k); again != s {
		t.Errorf("re-signing changed the string:\n%s\n%s", s, again)
	}
	r := Verify(s, []PublicKey{k.Public()}, thisMach, t0.Add(time.Minute))
	if !r.Valid || r.Code != CodeOK || r.State != StateValid {
		t.Fatalf("Verify = %+v", r)
	}
	if r.LicenseID != "lic-1" || r.Product != "acme.cad" || r.Edition != "pro" || r.Kind != KindFloating || !r.Trial ||
		!reflect.DeepEqual(r.Features, want.Features) || !r.ExpiresAt.Equal(want.ExpiresAt) || !r.LeaseExpiresAt.Equal(want.LeaseExpiresAt) {
		t.Errorf("Verify result fields = %+v", r)
	}
}

func TestPayloadIsCanonicalJSON(t *testing.T) {
	k := testKey(t, "acme.cad", "a1b2c3d4", 1)
	d := Document{ID: "lic-2", Kind: KindNodeLocked, IssuedAt: t0, Features: []string{"b", "a"}}
	s := sign(t, d, k)
	body, err := b64.DecodeString(strings.Split(s, ".")[2])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":1,"id":"lic-2","keyId":"a1b2c3d4","product":"acme.cad","org":"","edition":"","features":["a","b"],` +
		`"kind":"node-locked","device":{},"seat":"","issuedAt":1772366400,"effectiveAt":0,"expiresAt":0,` +
		`"leaseExpiresAt":0,"grace":0,"leaseGrace":0,"trial":false}`
	if string(body) != want {
		t.Errorf("payload\n%s\nwant\n%s", body, want)
	}
}

func TestSignRefuses(t *testing.T) {
	k := testKey(t, "acme.cad", "a1b2c3d4", 1)
	ok := Document{ID: "l", Kind: KindFloating, IssuedAt: t0}
	tests := []struct {
		name string
		edit func(*Document, *SigningKey)
	}{
		{"no id", func(d *Document, _ *SigningKey) { d.ID = "" }},
		{"other product", func(d *Document, _ *SigningKey) { d.Product = "other" }},
		{"unknown kind", func(d *Document, _ *SigningKey) { d.Kind = "site" }},
		{"no kind", func(d *Document, _ *SigningKey) { d.Kind = "" }},
		{"version 2", func(d *Document, _ *SigningKey) { d.Version = 2 }},
		{"negative grace", func(d *Document, _ *SigningKey) { d.Grace = -time.Second }},
		{"negative lease grace", func(d *Document, _ *SigningKey) { d.LeaseGrace = -time.Second }},
		{"empty feature", func(d *Document, _ *SigningKey) { d.Features = []string{"a", ""} }},
		{"raw device id", func(d *Document, _ *SigningKey) { d.Device = device.Hashed{Board: "BOARD-1"} }},
		{"time before 1970", func(d *Document, _ *SigningKey) { d.ExpiresAt = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"time after 9999", func(d *Document, _ *SigningKey) { d.ExpiresAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"short private key", func(_ *Document, k *SigningKey) { k.Private = k.Private[:10] }},
		{"key id not hex", func(_ *Document, k *SigningKey) { k.ID = "K1" }},
		{"bad product", func(_ *Document, k *SigningKey) { k.Product = "a/b" }},
	}
	if _, err := Sign(ok, k); err != nil {
		t.Fatalf("Sign of a good document: %v", err)
	}
	for _, tt := range tests {
		d, kk := ok, k
		tt.edit(&d, &kk)
		if s, err := Sign(d, kk); err == nil {
			t.Errorf("%s: Sign = %q, want an error", tt.name, s)
		}
	}
}

// flip returns s with the decoded segment i (2: payload, 3: signature)
// changed at byte j, re-encoded so that the string stays well formed.
func flip(t *testing.T, s string, i, j int) string {
	parts := strings.Split(s, ".")
	b, err := b64.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	b[j] ^= 0xff
	parts[i] = b64.EncodeToString(b)
	return strings.Join(parts, ".")
}

func TestEveryByteIsSigned(t *testing.T) {
	k := testKey(t, "acme.cad", "a1b2c3d4", 1)
	keys := []PublicKey{k.Public()}
	s := sign(t, fullDoc(t), k)
	parts := strings.Split(s, ".")
	for seg, name := range map[int]string{2: "payload", 3: "signature"} {
		b, _ := b64.DecodeString(parts[seg])
		for j := range b {
			bad := flip(t, s, seg, j)
			if r := Verify(bad, keys, thisMach, t0); r.Valid || r.Code != CodeBadSignature {
				t.Fatalf("%s byte %d flipped: Verify = %s (%s), want bad_signature", name, j, r.Code, r.Message)
			}
			if _, err := Parse(bad, keys); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("%s byte %d flipped: Parse error %v", name, j, err)
			}
		}
	}
	// Every character of the string matters too: no change of one is ok.
	for j := range len(s) {
		for _, c := range []byte{'A', '.', '_', 'z', '1'} {
			if s[j] == c {
				continue
			}
			bad := s[:j] + string(c) + s[j+1:]
			if r := Verify(bad, keys, thisMach, t0); r.Valid {
				t.Fatalf("string with byte %d set to %q verified", j, c)
			}
		}
	}
}

func TestVerifyCodes(t *testing.T) {
	k := testKey(t, "acme.cad", "a1b2c3d4", 1)
	other := testKey(t, "acme.cad", "e5f6a7b8", 2)
	keys := []PublicKey{k.Public()}
	doc := fullDoc(t) // effective t0, lease to t0+1h (+24h grace), expiry t0+1y (+7d grace)
	s := sign(t, doc, k)
	nodeLocked := doc
	nodeLocked.Kind, nodeLocked.LeaseExpiresAt, nodeLocked.LeaseGrace, nodeLocked.Seat = KindNodeLocked, time.Time{}, 0, ""
	unbound := doc
	unbound.Device = device.Hashed{}

	// A document of product "other" signed with acme.cad's key: only a
	// broken or compromised signer makes one, so Sign refuses and we seal
	// by hand.
	wrongProduct := doc
	wrongProduct.Product, wrongProduct.Version, wrongProduct.KeyID = "other", 1, k.ID
	wrongProduct.Features = sortedSet(wrongProduct.Features)
	body, err := encode(wrongProduct)
	if err != nil {
		t.Fatal(err)
	}
	sWrongProduct := seal(body, k)

	sameIDOtherKey := other
	sameIDOtherKey.ID = k.ID
	expiry := doc.ExpiresAt
	lease := doc.LeaseExpiresAt
	tests := []struct {
		name   string
		s      string
		keys   []PublicKey
		device string
		now    time.Time
		code   Code
		state  State
	}{
		{"valid", s, keys, thisMach, t0, CodeOK, StateValid},
		{"signed by another key", s, []PublicKey{other.Public()}, thisMach, t0, CodeUnknownKey, ""},
		{"no keys", s, nil, thisMach, t0, CodeUnknownKey, ""},
		{"another key with the same id", s, []PublicKey{sameIDOtherKey.Public()}, thisMach, t0, CodeBadSignature, ""},
		{"wrong product", sWrongProduct, keys, thisMach, t0, CodeWrongProduct, ""},
		{"key of another product", s, []PublicKey{{Product: "other", ID: k.ID, Key: k.Public().Key}}, thisMach, t0, CodeWrongProduct, ""},
		{"another machine", s, keys, "00:11:22:33:44:55|OTHER-DISK|BOARD-9|BFEBFBFF00090672", t0, CodeWrongDevice, ""},
		{"no device given", s, keys, "", t0, CodeWrongDevice, ""},
		{"bad device string", s, keys, "not a fingerprint", t0, CodeWrongDevice, ""},
		{"device drifted: disk and NIC changed", s, keys, "00:11:22:33:44:55|OTHER-DISK|BOARD-1|BFEBFBFF00090672", t0, CodeOK, StateValid},
		{"device in other case and order", s, keys, "04:7c:16:5e:e3:5d|001b_444a_488b_5cec.|board-1|bfebfbff00090672", t0, CodeOK, StateValid},
		{"unbound, no device", sign(t, unbound, k), keys, "", t0, CodeOK, StateValid},
		{"unbound, junk device", sign(t, unbound, k), keys, "junk", t0, CodeOK, StateValid},
		{"clock set back", s, keys, thisMach, t0.Add(-ClockTolerance - time.Second), CodeClockTampered, ""},
		{"clock slightly behind", s, keys, thisMach, t0.Add(-ClockTolerance + time.Second), CodeNotYetValid, ""},
		{"not yet effective", sign(t, func() Document { d := doc; d.EffectiveAt = t0.Add(24 * time.Hour); return d }(), k),
			keys, thisMach, t0.Add(time.Hour), CodeNotYetValid, ""},
		{"effective at the second", s, keys, thisMach, t0, CodeOK, StateValid},
		{"lease running", s, keys, thisMach, lease.Add(-time.Second), CodeOK, StateValid},
		{"within lease grace", s, keys, thisMach, lease, CodeOK, StateOfflineGrace},
		{"lease grace ending", s, keys, thisMach, lease.Add(24*time.Hour - time.Second), CodeOK, StateOfflineGrace},
		{"lease expired", s, keys, thisMach, lease.Add(24 * time.Hour), CodeLeaseExpired, ""},
		{"node-locked, no lease", sign(t, nodeLocked, k), keys, thisMach, expiry.Add(-time.Second), CodeOK, StateValid},
		{"within grace", sign(t, nodeLocked, k), keys, thisMach, expiry, CodeOK, StateGrace},
		{"grace ending", sign(t, nodeLocked, k), keys, thisMach, expiry.Add(7*24*time.Hour - time.Second), CodeOK, StateGrace},
		{"expired", sign(t, nodeLocked, k), keys, thisMach, expiry.Add(7 * 24 * time.Hour), CodeExpired, ""},
		{"expired beats lease expired", s, keys, thisMach, expiry.Add(8 * 24 * time.Hour), CodeExpired, ""},
		{"too large", strings.Repeat("A", MaxLen+1), keys, thisMach, t0, CodeTooLarge, ""},
		{"empty", "", keys, thisMach, t0, CodeMalformed, ""},
		{"not a licence", "hello", keys, thisMach, t0, CodeMalformed, ""},
	}
	for _, tt := range tests {
		r := Verify(tt.s, tt.keys, tt.device, tt.now)
		if r.Code != tt.code || r.Valid != (tt.code == CodeOK) || r.State != tt.state || r.Message == "" {
			t.Errorf("%s: Verify = {valid %v, code %s, state %q, message %q}, want code %s, state %q",
				tt.name, r.Valid, r.Code, r.State, r.Message, tt.code, tt.state)
		}
		authentic := tt.code != CodeTooLarge && tt.code != CodeMalformed && tt.code != CodeUnknownKey && tt.code != CodeBadSignature
		if authentic != (r.LicenseID != "") {
			t.Errorf("%s: licence fields reported = %v, want %v", tt.name, r.LicenseID != "", authentic)
		}
	}
}

func TestVerifyTooLargeDoesNoWork(t *testing.T) {
	k := testKey(t, "acme.cad", "a1b2c3d4", 1)
	huge := "ISL1.a1b2c3d4." + strings.Repeat("A", 10<<20)
	keys := []PublicKey{k.Public()}
	var r Result
	allocs := testing.AllocsPerRun(5, func() { r = Verify(huge, keys, thisMach, t0) })
	if r.Code != CodeTooLarge || r.Valid {
		t.Fatalf("Verify of 10 MB = %+v", r)
	}
	if allocs != 0 {
		t.Errorf("Verify of 10 MB allocated %v times: it looked at the string", allocs)
	}
	if _, err := Parse(huge, keys); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Parse of 10 MB: %v", err)
	}
}

func TestKeyRotation(t *testing.T) {
	oldKey := testKey(t, "acme.cad", "0001", 1)
	newKey := testKey(t, "acme.cad", "0002", 2)
	keys, err := ParsePublicKeys(oldKey.Public().String() + ",\n  " + newKey.Public().String() + "\n")
	if err != nil {
		t.Fatal(err)
	}
	d := Document{ID: "l", Kind: KindNodeLocked, IssuedAt: t0}
	for _, k := range []SigningKey{oldKey, newKey} {
		if r := Verify(sign(t, d, k), keys, "", t0); !r.Valid {
			t.Errorf("document signed by %s: %s %s", k, r.Code, r.Message)
		}
	}
	if r := Verify(sign(t, d, newKey), keys[:1], "", t0); r.Code != CodeUnknownKey {
		t.Errorf("new document, program with only the old key: %s, want unknown_key", r.Code)
	}
}

func TestMalformedAuthenticPayloads(t *testing.T) {
	// Payloads signed with the right key that still are not documents:
	// only a broken signer makes these, and they must not get through.
	k := testKey(t, "acme.cad", "a1b2c3d4", 1)
	keys := []PublicKey{k.Public()}
	good, err := encode(Document{Version: 1, ID: "l", KeyID: k.ID, Product: "acme.cad", Kind: KindFloating, IssuedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	edits := map[string]func(string) string{
		"whitespace":          func(s string) string { return strings.Replace(s, `,"id"`, `, "id"`, 1) },
		"unknown field":       func(s string) string { return strings.Replace(s, `{`, `{"admin":true,`, 1) },
		"duplicate field":     func(s string) string { return strings.Replace(s, `"id":"l",`, `"id":"x","id":"l",`, 1) },
		"other-case field":    func(s string) string { return strings.Replace(s, `"id"`, `"ID"`, 1) },
		"null features":       func(s string) string { return strings.Replace(s, `"features":[]`, `"features":null`, 1) },
		"unsorted features":   func(s string) string { return strings.Replace(s, `"features":[]`, `"features":["b","a"]`, 1) },
		"duplicate features":  func(s string) string { return strings.Replace(s, `"features":[]`, `"features":["a","a"]`, 1) },
		"null device":         func(s string) string { return strings.Replace(s, `"device":{}`, `"device":null`, 1) },
		"raw device id":       func(s string) string { return strings.Replace(s, `"device":{}`, `"device":{"board":"B1"}`, 1) },
		"version 2":           func(s string) string { return strings.Replace(s, `"version":1`, `"version":2`, 1) },
		"other key id":        func(s string) string { return strings.Replace(s, k.ID, "ffff", 1) },
		"floating-point time": func(s string) string { return strings.Replace(s, `"expiresAt":0`, `"expiresAt":1.5`, 1) },
		"negative time":       func(s string) string { return strings.Replace(s, `"expiresAt":0`, `"expiresAt":-5`, 1) },
		"huge grace":          func(s string) string { return strings.Replace(s, `"grace":0`, `"grace":99999999999`, 1) },
		"trailing data":       func(s string) string { return s + " " },
		"second value":        func(s string) string { return s + "{}" },
		"not an object":       func(string) string { return `[]` },
		"kind missing":        func(s string) string { return strings.Replace(s, `"kind":"floating",`, ``, 1) },
		"escaped id":          func(s string) string { return strings.Replace(s, `"id":"l"`, `"id":"\u006c"`, 1) },
	}
	if r := Verify(seal(good, k), keys, "", t0); !r.Valid {
		t.Fatalf("the unedited payload: %s %s", r.Code, r.Message)
	}
	for name, edit := range edits {
		body := edit(string(good))
		if body == string(good) {
			t.Fatalf("%s: the edit changed nothing", name)
		}
		if r := Verify(seal([]byte(body), k), keys, "", t0); r.Code != CodeMalformed {
			t.Errorf("%s: Verify = %s (%s), want malformed", name, r.Code, r.Message)
		}
	}
}

func TestMalformedStrings(t *testing.T) {
	k := testKey(t, "acme.cad", "a1b2c3d4", 1)
	keys := []PublicKey{k.Public()}
	s := sign(t, Document{ID: "l", Kind: KindFloating, IssuedAt: t0}, k)
	p := strings.Split(s, ".")
	for name, bad := range map[string]string{
		"ISL2 prefix":          "ISL2." + strings.Join(p[1:], "."),
		"three parts":          strings.Join(p[:3], "."),
		"five parts":           s + ".x",
		"upper-case kid":       p[0] + ".A1B2C3D4." + p[2] + "." + p[3],
		"padded payload":       p[0] + "." + p[1] + "." + p[2] + "==." + p[3],
		"standard base64":      p[0] + "." + p[1] + "." + strings.ReplaceAll(p[2], "_", "/") + "x+." + p[3],
		"short signature":      p[0] + "." + p[1] + "." + p[2] + "." + p[3][:40],
		"leading space":        " " + s,
		"trailing newline":     s + "\n",
		"non-canonical base64": p[0] + "." + p[1] + "." + p[2] + "." + p[3][:len(p[3])-1] + nextB64(p[3][len(p[3])-1]),
	} {
		if r := Verify(bad, keys, "", t0); r.Code != CodeMalformed {
			t.Errorf("%s: Verify = %s (%s), want malformed", name, r.Code, r.Message)
		}
	}
}

// nextB64 returns a base64url digit that differs from c only in its low
// bits, which the last digit of an unpadded 64-byte value does not use.
func nextB64(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i^1])
}

func TestParsePublicKeys(t *testing.T) {
	a := testKey(t, "acme.cad", "0001", 1).Public()
	b := testKey(t, "acme", "0002", 2).Public()
	keys, err := ParsePublicKeys("\t" + a.String() + " , " + b.String() + "\r\n" + a.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Product != "acme.cad" || keys[0].ID != "0001" || !keys[0].Key.Equal(a.Key) ||
		keys[1].Product != "acme" || !keys[1].Key.Equal(b.Key) {
		t.Errorf("ParsePublicKeys = %+v", keys)
	}
	enc := b64.EncodeToString(a.Key)
	for name, s := range map[string]string{
		"empty":                "",
		"only separators":      " ,\n, ",
		"private key":          mustMarshal(t, testKey(t, "acme", "0001", 1)),
		"no prefix":            "acme.0001." + enc,
		"other version":        "ISK2.acme.0001." + enc,
		"no kid":               "ISK1.acme." + enc,
		"empty product":        "ISK1..0001." + enc,
		"product with slash":   "ISK1.a/b.0001." + enc,
		"product with ..":      "ISK1.a..b.0001." + enc,
		"kid not hex":          "ISK1.acme.XYZ." + enc,
		"short key":            "ISK1.acme.0001." + enc[:20],
		"padded key":           "ISK1.acme.0001." + enc + "=",
		"one good, one bad":    a.String() + ",ISK1.acme.0001.!!",
		"same id, another key": a.String() + " ISK1.acme.cad.0001." + b64.EncodeToString(b.Key),
		"too long":             strings.Repeat(" ", maxKeysLen+1),
	} {
		if keys, err := ParsePublicKeys(s); !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: ParsePublicKeys = %v, %v; want ErrBadKey", name, keys, err)
		}
	}
}

func mustMarshal(t testing.TB, k SigningKey) string {
	t.Helper()
	s, err := MarshalSigningKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSigningKeyStorage(t *testing.T) {
	k, err := GenerateKey("acme.cad")
	if err != nil {
		t.Fatal(err)
	}
	if len(k.ID) != 8 || !keyIDPattern.MatchString(k.ID) {
		t.Errorf("key id %q", k.ID)
	}
	s := mustMarshal(t, k)
	if !strings.HasPrefix(s, "ISKS1.acme.cad."+k.ID+".") {
		t.Errorf("stored form %q", s)
	}
	back, err := ParseSigningKey(s + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if back.Product != k.Product || back.ID != k.ID || !back.Private.Equal(k.Private) {
		t.Errorf("ParseSigningKey(MarshalSigningKey(k)) = %v", back)
	}
	// Printing a signing key never shows the secret.
	for _, out := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
		if strings.Contains(out, b64.EncodeToString(k.Private.Seed())) || strings.Contains(out, fmt.Sprint([]byte(k.Private))) {
			t.Errorf("printing the key shows its secret: %s", out)
		}
	}
	if _, err := ParseSigningKey(k.Public().String()); !errors.Is(err, ErrBadKey) {
		t.Errorf("ParseSigningKey of a public key: %v", err)
	}
	if _, err := GenerateKey("bad product!"); !errors.Is(err, ErrBadKey) {
		t.Errorf("GenerateKey of a bad product: %v", err)
	}
}

func TestResultJSON(t *testing.T) {
	k := testKey(t, "acme.cad", "a1b2c3d4", 1)
	d := fullDoc(t)
	d.EffectiveAt = time.Time{}
	r := Verify(sign(t, d, k), []PublicKey{k.Public()}, thisMach, t0.Add(2*time.Hour))
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"valid":true,"code":"ok","message":"lease expired at 2026-03-01T13:00:00Z; offline grace until 2026-03-02T13:00:00Z",` +
		`"licenseId":"lic-1","product":"acme.cad","edition":"pro","features":["cam","export","solver"],"kind":"floating","trial":true,` +
		`"issuedAt":"2026-03-01T12:00:00Z","expiresAt":"2027-03-01T12:00:00Z","leaseExpiresAt":"2026-03-01T13:00:00Z","state":"offline-grace"}`
	if string(b) != want {
		t.Errorf("JSON\n%s\nwant\n%s", b, want)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("Unmarshal(Marshal(r)) =\n%+v\nwant\n%+v", back, r)
	}

	b, _ = json.Marshal(Verify("junk", nil, "", t0))
	if want := `{"valid":false,"code":"malformed","message":"license: malformed licence: want ISL1.\u003ckid\u003e.\u003cpayload\u003e.\u003csignature\u003e"}`; string(b) != want {
		t.Errorf("JSON of a failure\n%s\nwant\n%s", b, want)
	}
}

func TestCodesDistinct(t *testing.T) {
	seen := map[Code]bool{}
	for _, c := range []Code{CodeOK, CodeMalformed, CodeTooLarge, CodeUnknownKey, CodeBadSignature, CodeWrongProduct,
		CodeWrongDevice, CodeNotYetValid, CodeExpired, CodeLeaseExpired, CodeClockTampered} {
		if seen[c] || c == "" {
			t.Errorf("code %q repeated or empty", c)
		}
		seen[c] = true
	}
}

// TestDocumentedExample pins the format to the example in docs/licensing.md.
func TestDocumentedExample(t *testing.T) {
	const (
		pub = "ISK1.acme.cad.5f3a9c1e.6kpsY-KcUgq-9VB7Ey7F-ZVHdq6-vnuSQh7qaRRG0iw"
		lic = "ISL1.5f3a9c1e.eyJ2ZXJzaW9uIjoxLCJpZCI6ImxpYy00MiIsImtleUlkIjoiNWYzYTljMWUiLCJwcm9kdWN0IjoiYWNtZS5jYWQiLCJvcmciOiJvcmctNyIsImVkaXRpb24iOiJwcm8iLCJmZWF0dXJlcyI6WyJjYW0iLCJzb2x2ZXIiXSwia2luZCI6ImZsb2F0aW5nIiwiZGV2aWNlIjp7Im1hYyI6WyI2M2M2ZWRjZDRjODBjNjQ4NDc1ZTkyNTM5YzYyZGM3Nzc3NjI5MzBjZWRkZmUwOGRmZTcyM2VkZmM2YmM2NWYwIl0sImRpc2siOlsiMjQ5NGMyM2MzNTNhZjE5NWM0NmU2NjY2OGNlNDk2ZDk5YTE1OTdiZDY2YTlkOWNiNzBkNjhjOTYyN2E2YWM1MiJdLCJjcHUiOiJjMWFjNmYyYjc2MTNhNTZiM2FjNWExZTIxMjQxMjMyM2E0MjI3OGZiZjFjZGJjYWRkZmNhYWViZGVhN2Q3NDQ3In0sInNlYXQiOiJzZWF0LTMiLCJpc3N1ZWRBdCI6MTc3MjM2NjQwMCwiZWZmZWN0aXZlQXQiOjE3NzIzNjY0MDAsImV4cGlyZXNBdCI6MTgwMzkwMjQwMCwibGVhc2VFeHBpcmVzQXQiOjE3NzIzNzAwMDAsImdyYWNlIjo2MDQ4MDAsImxlYXNlR3JhY2UiOjg2NDAwLCJ0cmlhbCI6ZmFsc2V9.YfOxQJxQXh5ShvUSQzg_XiDU0z6DJR3FvKpOTJJOicuzgmQNVCfZ_tf7_q3MKL6_5qfcaJlpzqoACmvEcZDNBw"
		dev = "04:7C:16:5E:E3:5D|001B_444A_488B_5CEC.||BFEBFBFF00090672"
	)
	k := testKey(t, "acme.cad", "5f3a9c1e", 7)
	if got := k.Public().String(); got != pub {
		t.Errorf("public key %s, documented %s", got, pub)
	}
	fp := mustFingerprint(t, dev)
	s := sign(t, Document{
		ID: "lic-42", Org: "org-7", Edition: "pro", Features: []string{"solver", "cam"}, Kind: KindFloating,
		Device: device.Hash(fp, "lic-42"), Seat: "seat-3", IssuedAt: t0, EffectiveAt: t0, ExpiresAt: t0.AddDate(1, 0, 0),
		LeaseExpiresAt: t0.Add(time.Hour), Grace: 7 * 24 * time.Hour, LeaseGrace: 24 * time.Hour,
	}, k)
	if s != lic {
		t.Errorf("licence string\n%s\ndocumented\n%s", s, lic)
	}
	keys, err := ParsePublicKeys(pub)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(Verify(lic, keys, dev, t0.Add(90*time.Minute)))
	want := `{"valid":true,"code":"ok","message":"lease expired at 2026-03-01T13:00:00Z; offline grace until 2026-03-02T13:00:00Z",` +
		`"licenseId":"lic-42","product":"acme.cad","edition":"pro","features":["cam","solver"],"kind":"floating",` +
		`"issuedAt":"2026-03-01T12:00:00Z","effectiveAt":"2026-03-01T12:00:00Z","expiresAt":"2027-03-01T12:00:00Z",` +
		`"leaseExpiresAt":"2026-03-01T13:00:00Z","state":"offline-grace"}`
	if string(b) != want {
		t.Errorf("result\n%s\ndocumented\n%s", b, want)
	}
}
