package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/envelope"
)

func keyring(t *testing.T, keks ...string) *envelope.Keyring {
	t.Helper()
	k, err := envelope.ParseKeyring(strings.Join(keks, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newKEK(t *testing.T) string {
	t.Helper()
	k, err := envelope.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	ctx := context.Background()
	kr := keyring(t, newKEK(t))
	secret := []byte("the seed of a product key, 32 b!")
	aad := []byte("product key cad/0a1b")
	s, err := envelope.Seal(ctx, kr, secret, aad)
	if err != nil {
		t.Fatal(err)
	}
	if !envelope.Sealed(s) || envelope.KEK(s) != kr.Current() || strings.Contains(s, string(secret)) {
		t.Fatalf("sealed form %q", s)
	}
	got, err := envelope.Open(ctx, kr, s, aad)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// Moved to another record: does not open.
	if _, err := envelope.Open(ctx, kr, s, []byte("product key cae/0a1b")); !errors.Is(err, envelope.ErrOpen) {
		t.Errorf("another record's name: %v", err)
	}
	// Any byte changed: does not open.
	for i := len("ISKE1.") + 9; i < len(s); i += 7 {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		if _, err := envelope.Open(ctx, kr, string(b), aad); err == nil {
			t.Fatalf("opened with byte %d changed", i)
		}
	}
	// Another keyring (another KEK): does not open, and says why.
	if _, err := envelope.Open(ctx, keyring(t, newKEK(t)), s, aad); !errors.Is(err, envelope.ErrUnknownKEK) {
		t.Errorf("without the KEK: %v", err)
	}
	if _, err := envelope.Open(ctx, kr, "ISKS1.cad.0a1b.AAAA", aad); !errors.Is(err, envelope.ErrFormat) {
		t.Errorf("a clear key: %v", err)
	}
}

func TestRewrap(t *testing.T) {
	ctx := context.Background()
	oldK, newK := newKEK(t), newKEK(t)
	before := keyring(t, oldK)
	aad := []byte("record")
	s, err := envelope.Seal(ctx, before, []byte("secret"), aad)
	if err != nil {
		t.Fatal(err)
	}
	during := keyring(t, newK, oldK) // the new KEK current, the old one kept
	if got, err := envelope.Open(ctx, during, s, aad); err != nil || string(got) != "secret" {
		t.Fatalf("the old KEK no longer unwraps during the rotation: %v", err)
	}
	s2, changed, err := envelope.Rewrap(ctx, during, s, aad)
	if err != nil || !changed || envelope.KEK(s2) != during.Current() {
		t.Fatalf("Rewrap = %q, %v, %v", s2, changed, err)
	}
	if _, changed, _ := envelope.Rewrap(ctx, during, s2, aad); changed {
		t.Error("a second Rewrap changed it again")
	}
	after := keyring(t, newK) // the old KEK retired
	if got, err := envelope.Open(ctx, after, s2, aad); err != nil || string(got) != "secret" {
		t.Fatalf("after the rotation: %q, %v", got, err)
	}
	if _, err := envelope.Open(ctx, after, s, aad); !errors.Is(err, envelope.ErrUnknownKEK) {
		t.Errorf("the old form opened without the old KEK: %v", err)
	}
}

func TestKeyringFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kek")
	first := newKEK(t)
	if err := os.WriteFile(path, []byte("# iscd's KEK\n"+first+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kr, err := envelope.LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	// Another replica adds a KEK to the file and re-wraps under it: this
	// one reads the file again when it meets the new id.
	second := newKEK(t)
	os.WriteFile(path, []byte(second+"\n"+first+"\n"), 0o600)
	peer, err := envelope.LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := envelope.Seal(ctx, peer, []byte("secret"), []byte("r"))
	if got, err := envelope.Open(ctx, kr, s, []byte("r")); err != nil || string(got) != "secret" || kr.Current() != peer.Current() {
		t.Fatalf("a record wrapped by the peer: %q, %v", got, err)
	}
	os.Chmod(path, 0o644)
	if _, err := envelope.LoadKeyring(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a KEK file others can read: %v", err)
	}
	for name, text := range map[string]string{
		"empty":     "# nothing\n",
		"short key": "ISKEK1.0a.AAAA",
		"twice":     first + "\n" + first,
		"garbage":   "hunter2",
	} {
		if _, err := envelope.ParseKeyring(text); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// What opening a sealed key costs (iscd opens each key once per start;
// then it remembers it).
func BenchmarkOpen(b *testing.B) {
	ctx := context.Background()
	text, _ := envelope.GenerateKEK()
	kr, _ := envelope.ParseKeyring(text)
	s, err := envelope.Seal(ctx, kr, make([]byte, 32), []byte("product key cad/0a1b"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := envelope.Open(ctx, kr, s, []byte("product key cad/0a1b")); err != nil {
			b.Fatal(err)
		}
	}
}
