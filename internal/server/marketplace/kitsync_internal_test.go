package marketplace

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
)

// The sync signature is HMAC-SHA256 over key + nonce + timestamp + body,
// keyed with the kit key, computed here from its definition.
func TestSyncSignIsTheGuidesFormula(t *testing.T) {
	m := hmac.New(sha256.New, []byte("kit"))
	m.Write([]byte("kit" + "n0nce" + "1767225600000" + `{"tenantId":"T"}`))
	if got, want := SyncSign("kit", "n0nce", "1767225600000", []byte(`{"tenantId":"T"}`)), hex.EncodeToString(m.Sum(nil)); got != want {
		t.Fatalf("SyncSign = %s, want %s", got, want)
	}
}

// SignBodyHMAC is the production interface's formula with the kit key; a
// handler refuses a way it does not know.
func TestSyncSignBodyHMAC(t *testing.T) {
	body := []byte(`{"tenantId":"T"}`)
	if got, want := SyncSignWith(SignBodyHMAC, "kit", "n", "1767225600000", body), Sign("kit", "n", "1767225600000", body); got != want {
		t.Fatalf("body-hmac: %s, want %s", got, want)
	}
	if SyncSignWith(SignBody, "kit", "n", "1767225600000", body) != SyncSign("kit", "n", "1767225600000", body) {
		t.Fatal("SignBody is not SyncSign")
	}
	if _, err := NewSync(SyncConfig{KitKey: "k", Sign: "sha1"}, nil, nil, nil); err == nil {
		t.Fatal("an unknown signature way was accepted")
	}
}

func TestSyncTimeStamp(t *testing.T) {
	want := time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC) // 11:04:05.678 in UTC+8
	for ts, w := range map[string]time.Time{
		"20260102110405678": want,
		"20260102110405":    want.Truncate(time.Second),
		"":                  {},
		"2026-01-02":        {},
		"20261302110405678": {},
	} {
		if got := (syncCommon{TimeStamp: ts}).at(); !got.Equal(w) {
			t.Errorf("timeStamp %q: %v, want %v", ts, got, w)
		}
	}
	if !stale(want, want.Add(time.Millisecond)) || stale(want, want) || stale(time.Time{}, want) {
		t.Error("stale: an older call is stale, the same or an unknown one is not")
	}
}

func TestCheckTree(t *testing.T) {
	d := func(code, parent string) store.Department {
		return store.Department{Code: code, Name: code, Parent: parent}
	}
	for name, tc := range map[string]struct {
		tree []store.Department
		ok   bool
	}{
		"empty":          {nil, true},
		"forest":         {[]store.Department{d("a", ""), d("b", "a"), d("c", "b"), d("x", "")}, true},
		"unknown parent": {[]store.Department{d("a", ""), d("b", "zz")}, false},
		"self parent":    {[]store.Department{d("a", "a")}, false},
		"cycle of three": {[]store.Department{d("r", ""), d("a", "c"), d("b", "a"), d("c", "b")}, false},
		"twice":          {[]store.Department{d("a", ""), d("a", "")}, false},
	} {
		err := checkTree(tc.tree)
		var f *failure
		if tc.ok != (err == nil) || (err != nil && (!errors.As(err, &f) || f.code != ResultBadTree)) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Both OAEP variants decrypt; a 2048-bit key is refused.
func TestDecryptSecret(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}
	for _, mgf := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		ct, err := rsa.EncryptOAEPWithOptions(rand.Reader, &key.PublicKey, []byte("secret"), &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: mgf})
		if err != nil {
			t.Fatal(err)
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			if pt, err := decryptSecret(key, enc.EncodeToString(ct)); err != nil || string(pt) != "secret" {
				t.Errorf("MGF1-%v: %q %v", mgf, pt, err)
			}
		}
	}
	ct, _ := rsa.EncryptOAEP(crypto.SHA1.New(), rand.Reader, &key.PublicKey, []byte("secret"), nil)
	if _, err := decryptSecret(key, base64.StdEncoding.EncodeToString(ct)); err == nil || !strings.Contains(err.Error(), "OAEP") {
		t.Errorf("OAEP with SHA-1 (not accepted): %v", err)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 2048)
	if _, err := NewSync(SyncConfig{KitKey: "k", PrivateKey: small}, nil, nil, nil); err == nil {
		t.Error("a 2048-bit kit key was accepted")
	}
	if _, err := NewSync(SyncConfig{}, nil, nil, nil); err == nil {
		t.Error("a sync handler without a kit key was made")
	}
}

// The config prints no key, however it is printed.
func TestSyncConfigHidesKeys(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	c := SyncConfig{KitKey: "kit-secret-value", PrivateKey: key, Prefix: "/p/"}
	var buf strings.Builder
	slog.New(slog.NewTextHandler(&buf, nil)).Info("cfg", "sync", c)
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), buf.String()} {
		if strings.Contains(out, "kit-secret-value") || strings.Contains(out, key.D.String()[:20]) {
			t.Fatalf("a key was printed: %s", out)
		}
	}
}
