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

// EndlessDeck never ends on its own: ten million increments of a
// one-element static step (CalculiX prints each one, so the job is seen
// running). For tests that cancel, freeze or time out a solve.
const EndlessDeck = `*NODE
1,0,0,0
2,1,0,0
3,1,1,0
4,0,1,0
5,0,0,1
6,1,0,1
7,1,1,1
8,0,1,1
*ELEMENT,TYPE=C3D8,ELSET=EALL
1,1,2,3,4,5,6,7,8
*NSET,NSET=BOTTOM
1,2,3,4
*NSET,NSET=TOP
5,6,7,8
*BOUNDARY
BOTTOM,1,3
*MATERIAL,NAME=STEEL
*ELASTIC
210000.,0.3
*SOLID SECTION,ELSET=EALL,MATERIAL=STEEL
*STEP,INC=100000000,NLGEOM
*STATIC,DIRECT
1.E-7,1.
*CLOAD
TOP,3,-10.
*END STEP
`

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
