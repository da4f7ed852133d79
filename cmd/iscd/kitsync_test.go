package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeKey(t *testing.T, bits int, pkcs8 bool) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	der, typ := x509.MarshalPKCS1PrivateKey(k), "RSA PRIVATE KEY"
	if pkcs8 {
		if der, err = x509.MarshalPKCS8PrivateKey(k); err != nil {
			t.Fatal(err)
		}
		typ = "PRIVATE KEY"
	}
	f := filepath.Join(t.TempDir(), "kit.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func kitConfig(args ...string) (kitFlags, error) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	k := addKitFlags(fs)
	return k, fs.Parse(args)
}

// The kit key from a file or $ISCD_KIT_KEY, the private key as PKCS#8 or
// PKCS#1 and of 3072 bits at least; a smaller key, a key without the kit
// key, a bad path prefix are refused by flag name.
func TestKitFlags(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "kit.key")
	os.WriteFile(keyFile, []byte("kit-secret\n"), 0o600)
	pkcs8, pkcs1 := writeKey(t, 3072, true), writeKey(t, 3072, false)
	t.Setenv("ISCD_KIT_KEY", "")
	for _, args := range [][]string{{"--kit-key-file", keyFile, "--kit-private-key", pkcs8}, {"--kit-key-file", keyFile, "--kit-private-key", pkcs1}} {
		k, err := kitConfig(args...)
		if err != nil {
			t.Fatal(err)
		}
		c, err := k.config()
		if err != nil || c.KitKey != "kit-secret" || c.PrivateKey == nil || c.Prefix != "/produceAPI/v2/" {
			t.Fatalf("%v: %+v %v", args, c.KitKey, err)
		}
	}
	if k, _ := kitConfig(); true {
		if c, err := k.config(); err != nil || c.KitKey != "" {
			t.Fatalf("no key: %q %v", c.KitKey, err)
		}
	}
	t.Setenv("ISCD_KIT_KEY", "from-env")
	if k, _ := kitConfig(); true {
		if c, err := k.config(); err != nil || c.KitKey != "from-env" {
			t.Fatalf("env: %q %v", c.KitKey, err)
		}
	}
	t.Setenv("ISCD_KIT_KEY", "")
	small := writeKey(t, 2048, true)
	for want, args := range map[string][]string{
		"3072":              {"--kit-key-file", keyFile, "--kit-private-key", small},
		"needs the kit key": {"--kit-private-key", pkcs8},
		"--kit-path":        {"--kit-key-file", keyFile, "--kit-path", "produceAPI"},
		"--kit-key-file":    {"--kit-key-file", filepath.Join(t.TempDir(), "missing")},
		"--kit-sign":        {"--kit-key-file", keyFile, "--kit-sign", "sha1"},
	} {
		k, err := kitConfig(args...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.config(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: %v, want an error naming %q", args, err, want)
		}
	}
}
