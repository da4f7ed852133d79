package appinfo_test

import (
	"encoding/base64"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/appinfo"
)

// The reference's vector, computed with Java 17's SHA1PRNG, KeyGenerator
// and Cipher "AES/CBC/PKCS5Padding".
func TestJavaVector(t *testing.T) {
	key, err := appinfo.Key("testAccessKey123", appinfo.AES128)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(key); got != "0413c5de84a4312c10f237cf102c14f9" {
		t.Errorf("key = %s, want 0413c5de84a4312c10f237cf102c14f9", got)
	}
	got, err := appinfo.EncryptIV("testAccessKey123", appinfo.AES128, "abcdEFGH12345678", "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if want := "abcdEFGH12345678qONdFppd47Y2XluFqc+tW3F2MY9T7xJvA0V+B5GqfhQ="; got != want {
		t.Errorf("value = %s, want %s", got, want)
	}
	// AES-256's key is the same stream, 32 bytes long.
	k256, _ := appinfo.Key("testAccessKey123", appinfo.AES256)
	if len(k256) != 32 || hex.EncodeToString(k256[:16]) != "0413c5de84a4312c10f237cf102c14f9" {
		t.Errorf("AES-256 key = %x: want 32 bytes starting with the AES-128 key", k256)
	}
}

// Both types round-trip through an independent decryption: openssl's
// AES-CBC with the derived key and the IV from the value's front.
func TestOpenSSLDecrypts(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	for _, typ := range []string{appinfo.AES256, appinfo.AES128} {
		for _, plain := range []string{"admin@example.com", "", "exactly sixteen!", "pässwörd-Ünïcode-0123456789-0123456789"} {
			v, err := appinfo.Encrypt("k-"+typ, typ, plain)
			if err != nil {
				t.Fatal(err)
			}
			iv := v[:appinfo.IVLen]
			for _, c := range iv {
				if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
					t.Fatalf("IV %q is not alphanumeric", iv)
				}
			}
			key, _ := appinfo.Key("k-"+typ, typ)
			cipher := map[string]string{appinfo.AES256: "-aes-256-cbc", appinfo.AES128: "-aes-128-cbc"}[typ]
			cmd := exec.Command(openssl, "enc", "-d", cipher, "-K", hex.EncodeToString(key), "-iv", hex.EncodeToString([]byte(iv)))
			ct, err := base64.StdEncoding.DecodeString(v[appinfo.IVLen:])
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdin = strings.NewReader(string(ct))
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("openssl type %s: %v", typ, err)
			}
			if string(out) != plain {
				t.Errorf("type %s: openssl decrypted %q, want %q", typ, out, plain)
			}
			if back, err := appinfo.Decrypt("k-"+typ, typ, v); err != nil || back != plain {
				t.Errorf("Decrypt = %q, %v", back, err)
			}
			if back, err := appinfo.Decrypt("another key", typ, v); err == nil && back == plain {
				t.Errorf("another key decrypted the value")
			}
		}
	}
	if _, err := appinfo.Encrypt("k", "3", "x"); err == nil {
		t.Error("encryptType 3 accepted")
	}
}
