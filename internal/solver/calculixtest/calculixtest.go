// Package calculixtest helps the tests that solve real CalculiX models:
// it finds ccx, the test decks of Debian's calculix-ccx-test package, and
// runs a deck locally to compare a cloud solve's results with.
package calculixtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// DecksDir holds the real test cases of the calculix-ccx-test package.
const DecksDir = "/usr/share/doc/calculix-ccx-test/examples/test"

// Models are small, fast, single-file decks of DecksDir that print results
// into their .dat.
var Models = []string{"truss", "simplebeam", "b31", "scheibe", "beamlin"}

// Need returns the path of ccx, or skips the test when CalculiX is not
// installed (.ci/run installs it).
func Need(t testing.TB) string {
	t.Helper()
	ccx, err := exec.LookPath("ccx")
	if err != nil {
		t.Skip("ccx (CalculiX) not installed: apt-get install calculix-ccx calculix-ccx-test")
	}
	return ccx
}

// Decks returns the paths of Models; the test fails if the package that
// holds them is missing while ccx is installed.
func Decks(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, m := range Models {
		p := filepath.Join(DecksDir, m+".inp")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%v: apt-get install calculix-ccx-test", err)
		}
		out = append(out, p)
	}
	return out
}

// LocalDat solves a copy of deck with the local ccx and returns the .dat
// it wrote.
func LocalDat(t testing.TB, deck string) []byte {
	t.Helper()
	ccx := Need(t)
	dir := t.TempDir()
	data, err := os.ReadFile(deck)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(deck)
	stem := strings.TrimSuffix(name, filepath.Ext(name))
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ccx, "-i", stem)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("local ccx %s: %v\n%s", name, err, out)
	}
	dat, err := os.ReadFile(filepath.Join(dir, stem+".dat"))
	if err != nil {
		t.Fatal(err)
	}
	return dat
}
