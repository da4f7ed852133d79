package keyring_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/keyring"
)

const token = "isf_0123456789abcdef_s3cretS3cretS3cret"

// TestFile: without a Secret Service the secret is kept in the file —
// 0600 in a 0700 directory on Unix, sealed with DPAPI on Windows (this
// test runs under Wine in make test-windows: the file holds no trace of
// the secret) — read back by another Keyring, replaced, and deleted.
func TestFile(t *testing.T) {
	path := filepath.Join(tempDir(t), "signin", "a.token")
	k := keyring.Open(path, keyring.Options{FileOnly: true})
	if _, err := k.Load(); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("Load before Save: %v, want ErrNotFound", err)
	}
	if err := k.Save(token); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "windows" {
		if k.Where() != keyring.InDPAPI {
			t.Errorf("Where = %q, want %q", k.Where(), keyring.InDPAPI)
		}
		if strings.Contains(string(raw), "s3cret") || strings.Contains(string(raw), "isf_") || len(raw) < len(token) {
			t.Fatalf("the file holds the secret in clear: %q", raw)
		}
	} else {
		if k.Where() != keyring.InFile {
			t.Errorf("Where = %q, want %q", k.Where(), keyring.InFile)
		}
		for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode().Perm(), err, want)
			}
		}
	}
	again := keyring.Open(path, keyring.Options{FileOnly: true})
	if got, err := again.Load(); err != nil || got != token {
		t.Fatalf("Load = %q, %v", got, err)
	}
	if err := again.Save(token + "2"); err != nil {
		t.Fatal(err)
	}
	if got, err := k.Load(); err != nil || got != token+"2" {
		t.Fatalf("Load after the other replaced it = %q, %v", got, err)
	}
	if err := k.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the file after Delete: %v", err)
	}
	if _, err := again.Load(); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("Load after Delete: %v, want ErrNotFound", err)
	}
	if err := k.Delete(); err != nil {
		t.Errorf("Delete of nothing: %v", err)
	}
}

// TestFileDamaged: a file that is not what Save wrote (damaged, or on
// Windows sealed by another user or machine) is an error, not a secret;
// one larger than any token is refused unread.
func TestFileDamaged(t *testing.T) {
	path := filepath.Join(tempDir(t), "a.token")
	k := keyring.Open(path, keyring.Options{FileOnly: true})
	if err := os.WriteFile(path, make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := k.Load(); err == nil {
		t.Fatalf("Load of a 64 KiB file = %.20q, want an error", s)
	}
	if runtime.GOOS != "windows" {
		return
	}
	if err := k.Save(token); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	os.WriteFile(path, raw[:len(raw)/2], 0o600)
	if s, err := k.Load(); err == nil {
		t.Fatalf("Load of a cut DPAPI blob = %q, want an error", s)
	}
	os.WriteFile(path, []byte(token), 0o600) // in clear, as no Save writes it here
	if s, err := k.Load(); err == nil {
		t.Fatalf("Load of a token in clear = %q, want an error", s)
	}
}

// tempDir is t.TempDir, except that a directory Wine cannot remove (its
// RemoveAll fails with "Invalid function") fails no test.
func tempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "keyring")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
