package cabitest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/solver/calculixtest"
)

// Real CalculiX models solved through the C header by the service's
// worker give the very .dat a local ccx run gives.
func TestSolveCalculixModels(t *testing.T) {
	calculixtest.Need(t)
	decks := append([]string{filepath.Join(root, "examples", "data", "beam.inp")}, calculixtest.Decks(t)...)
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
		if want := calculixtest.LocalDat(t, deck); !bytes.Equal(got, want) {
			t.Errorf("model %d %s: the .dat from the cloud (%d bytes) differs from a local ccx run (%d bytes)", i, stem, len(got), len(want))
		}
	}
	p.finish()
}

func TestSolveFailures(t *testing.T) {
	calculixtest.Need(t)
	start(t, nil, "solve", "failures", t.TempDir()).finish()
}
