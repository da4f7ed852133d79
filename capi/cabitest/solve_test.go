package cabitest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ccxTestModels are small real test cases of the Debian package
// calculix-ccx-test (.ci/run installs it), beside the example's beam.
var ccxTestModels = []string{"truss", "simplebeam", "b31", "scheibe", "beamlin"}

const ccxTestDir = "/usr/share/doc/calculix-ccx-test/examples/test"

func needCCX(t *testing.T) string {
	t.Helper()
	ccx, err := exec.LookPath("ccx")
	if err != nil {
		t.Skip("ccx (CalculiX) not installed: apt-get install calculix-ccx calculix-ccx-test")
	}
	return ccx
}

// localDat runs the local ccx on a copy of deck and returns its .dat.
func localDat(t *testing.T, ccx, deck string) []byte {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(deck)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(deck)
	stem := strings.TrimSuffix(name, ".inp")
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

// Real CalculiX models solved through the C header by the service's
// worker give the very .dat a local ccx run gives.
func TestSolveCalculixModels(t *testing.T) {
	ccx := needCCX(t)
	decks := []string{filepath.Join(root, "examples", "data", "beam.inp")}
	for _, m := range ccxTestModels {
		p := filepath.Join(ccxTestDir, m+".inp")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%v: apt-get install calculix-ccx-test", err)
		}
		decks = append(decks, p)
	}
	dir := t.TempDir()
	p := start(t, nil, "solve", append([]string{"models", dir}, decks...)...)
	for i, deck := range decks {
		rest := p.expect("result ")
		f := strings.Fields(rest)
		if len(f) != 3 || f[1] != "success" {
			t.Fatalf("%s: %q", deck, rest)
		}
		stem := strings.TrimSuffix(filepath.Base(deck), ".inp")
		got, err := os.ReadFile(filepath.Join(f[2], stem+".dat"))
		if err != nil {
			t.Fatalf("%s: %v", deck, err)
		}
		if want := localDat(t, ccx, deck); !bytes.Equal(got, want) {
			t.Errorf("model %d %s: the .dat from the cloud (%d bytes) differs from a local ccx run (%d bytes)", i, stem, len(got), len(want))
		}
	}
	p.finish()
}

func TestSolveFailures(t *testing.T) {
	needCCX(t)
	start(t, nil, "solve", "failures", t.TempDir()).finish()
}
