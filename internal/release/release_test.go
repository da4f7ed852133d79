package release_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/license"
	"github.com/iscsdk/iscsdk/internal/release"
)

func statement() release.Statement {
	return release.Statement{Product: "acme-cad", Platform: "linux-amd64", Version: "2.0.0", FileName: "acme-2.0.0.run",
		Size: 1234, SHA256: strings.Repeat("ab", 32), InstallCommand: `{package} --silent --log "{dir}/install log.txt"`}
}

func TestSignAndVerify(t *testing.T) {
	k, err := release.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s := statement()
	sig, err := release.Sign(s, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := release.CheckSignature(sig); err != nil {
		t.Fatalf("CheckSignature: %v", err)
	}
	keys := []release.PublicKey{k.Public()}
	if err := release.Verify(s, sig, keys); err != nil {
		t.Fatalf("verify: %v", err)
	}
	// Every signed field matters.
	for name, change := range map[string]func(*release.Statement){
		"product":  func(s *release.Statement) { s.Product = "acme-cae" },
		"platform": func(s *release.Statement) { s.Platform = "windows-amd64" },
		"sha256":   func(s *release.Statement) { s.SHA256 = strings.Repeat("cd", 32) },
		"size":     func(s *release.Statement) { s.Size++ },
		"command":  func(s *release.Statement) { s.InstallCommand = "{package} --evil" },
		"version":  func(s *release.Statement) { s.Version = "2.0.1" },
		"file":     func(s *release.Statement) { s.FileName = "other.run" },
	} {
		s2 := statement()
		change(&s2)
		if err := release.Verify(s2, sig, keys); !errors.Is(err, release.ErrBadSignature) {
			t.Errorf("%s changed: %v, want ErrBadSignature", name, err)
		}
	}
	flipped := []byte(sig.Value)
	flipped[3] ^= 1
	if err := release.Verify(s, release.Signature{KeyID: sig.KeyID, Value: string(flipped)}, keys); !errors.Is(err, release.ErrBadSignature) {
		t.Errorf("altered signature: %v", err)
	}
	other, _ := release.GenerateKey()
	if err := release.Verify(s, sig, []release.PublicKey{other.Public()}); !errors.Is(err, release.ErrUnknownKey) {
		t.Errorf("unknown key: %v", err)
	}
	// Another key given the signer's id does not verify it either.
	if err := release.Verify(s, sig, []release.PublicKey{{ID: k.ID, Key: other.Public().Key}}); !errors.Is(err, release.ErrBadSignature) {
		t.Errorf("another key under the signer's id: %v", err)
	}
}

func TestKeyForms(t *testing.T) {
	k, err := release.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	back, err := release.ParsePrivateKey(k.Marshal() + "\n")
	if err != nil || back.ID != k.ID || !back.Key.Equal(k.Key) {
		t.Fatalf("ParsePrivateKey(Marshal()) = %v, %v", back, err)
	}
	if strings.Contains(fmt.Sprintf("%v %#v %s", k, k, k), k.Marshal()[len("ISRS1."+k.ID+"."):]) {
		t.Fatal("formatting a release key prints its secret")
	}
	other, _ := release.GenerateKey()
	keys, err := release.ParsePublicKeys(k.Public().String() + ",\n " + other.Public().String() + " " + k.Public().String())
	if err != nil || len(keys) != 2 || keys[0].ID != k.ID || keys[1].ID != other.ID {
		t.Fatalf("ParsePublicKeys = %v, %v", keys, err)
	}
	lic, _ := license.GenerateKey("acme-cad")
	for name, s := range map[string]string{
		"a licence key":   lic.Public().String(),
		"a private key":   k.Marshal(),
		"nothing":         " , ",
		"short material":  "ISR1.0a." + strings.Repeat("A", 20),
		"bad id":          "ISR1.XY." + strings.TrimPrefix(k.Public().String(), "ISR1."+k.ID+"."),
		"two keys one id": k.Public().String() + "," + "ISR1." + k.ID + "." + strings.TrimPrefix(other.Public().String(), "ISR1."+other.ID+"."),
	} {
		if _, err := release.ParsePublicKeys(s); !errors.Is(err, release.ErrBadKey) {
			t.Errorf("%s: ParsePublicKeys = %v, want ErrBadKey", name, err)
		}
	}
	if _, err := release.ParsePrivateKey(k.Public().String()); !errors.Is(err, release.ErrBadKey) {
		t.Errorf("a public key as private: %v", err)
	}
}

func TestCheckRefusesBadFields(t *testing.T) {
	for name, change := range map[string]func(*release.Statement){
		"version":        func(s *release.Statement) { s.Version = "2.0" },
		"non-canonical":  func(s *release.Statement) { s.Version = "v2.0.0" },
		"platform":       func(s *release.Statement) { s.Platform = "Windows" },
		"file with path": func(s *release.Statement) { s.FileName = "../x.exe" },
		"file dots":      func(s *release.Statement) { s.FileName = ".." },
		"sha":            func(s *release.Statement) { s.SHA256 = "00" },
		"size":           func(s *release.Statement) { s.Size = 0 },
		"command quote":  func(s *release.Statement) { s.InstallCommand = `"{package}` },
		"command line":   func(s *release.Statement) { s.InstallCommand = "{package}\nrm -rf /" },
		"product":        func(s *release.Statement) { s.Product = "a/b" },
	} {
		s := statement()
		change(&s)
		if err := s.Check(); !errors.Is(err, release.ErrInvalid) {
			t.Errorf("%s: Check() = %v", name, err)
		}
	}
}

func TestCommand(t *testing.T) {
	for _, tc := range []struct {
		tmpl string
		want []string
	}{
		{"", []string{"/w s/p.run"}},
		{"{package} /S", []string{"/w s/p.run", "/S"}},
		{`msiexec /i "{package}" /qn /l*v "{dir}\log {version}.txt"`, []string{"msiexec", "/i", "/w s/p.run", "/qn", "/l*v", `/w s\log 2.0.0.txt`}},
		{`sh {package}  --mode=unattended`, []string{"sh", "/w s/p.run", "--mode=unattended"}},
	} {
		got, err := release.Command(tc.tmpl, "/w s/p.run", "/w s", "2.0.0")
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Command(%q) = %q, %v; want %q", tc.tmpl, got, err, tc.want)
		}
	}
}
