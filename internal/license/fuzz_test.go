package license

import (
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary strings to Parse and Verify: they never panic,
// and anything accepted is authentic: Verify does not call it malformed or
// forged, and signing the parsed document again gives the same string.
func FuzzParse(f *testing.F) {
	k := testKey(f, "acme.cad", "a1b2c3d4", 1)
	keys := []PublicKey{k.Public(), testKey(f, "acme.cad", "0002", 2).Public()}
	s := sign(f, fullDoc(f), k)
	f.Add(s)
	f.Add(sign(f, Document{ID: "x", Kind: KindNodeLocked, IssuedAt: t0}, k))
	f.Add(flip(&testing.T{}, s, 2, 10))
	f.Add(strings.Replace(s, "ISL1", "ISL2", 1))
	f.Add("ISL1.a1b2c3d4..")
	f.Add("ISL1...")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		doc, err := Parse(s, keys)
		r := Verify(s, keys, thisMach, t0.Add(time.Hour))
		if err != nil {
			if r.Valid {
				t.Fatalf("Parse refused %q (%v) but Verify accepted it", s, err)
			}
			return
		}
		switch r.Code {
		case CodeTooLarge, CodeMalformed, CodeUnknownKey, CodeBadSignature:
			t.Fatalf("Parse accepted %q but Verify says %s", s, r.Code)
		}
		again, err := Sign(doc, k)
		if err != nil || again != s {
			t.Fatalf("re-signing the parsed document: %q, %v; want %q", again, err, s)
		}
	})
}

// FuzzSignedPayload signs arbitrary payload bytes with the right key, to
// reach the JSON decoding that a forged signature never gets to: an
// accepted payload is exactly Sign's encoding of the document it holds.
func FuzzSignedPayload(f *testing.F) {
	k := testKey(f, "acme.cad", "a1b2c3d4", 1)
	keys := []PublicKey{k.Public()}
	for _, d := range []Document{fullDoc(f), {Version: 1, ID: "x", KeyID: k.ID, Product: "acme.cad", Kind: KindNodeLocked, IssuedAt: t0}} {
		d.Features = sortedSet(d.Features)
		d.Version, d.KeyID = 1, k.ID
		body, err := encode(d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s := seal(body, k)
		doc, err := Parse(s, keys)
		if err != nil {
			return
		}
		if again, err := Sign(doc, k); err != nil || again != s {
			t.Fatalf("payload %q accepted, but re-signing gives %q, %v", body, again, err)
		}
		_ = Verify(s, keys, thisMach, t0)
	})
}
