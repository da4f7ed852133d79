package semver_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/semver"
)

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.0.0", "1.0.0", 0},
		{"2024.1.3", "2024.1.3", 0},
		{"v1.2.3", "1.2.3", 0},                // a leading v is ignored
		{"1.0.0+build.1", "1.0.0+build.2", 0}, // build metadata has no precedence
		{"1.0.0+20240101", "1.0.0", 0},
		{"1.0.0", "2.0.0", -1},
		{"2.0.0", "2.1.0", -1},
		{"2.1.0", "2.1.1", -1},
		{"1.10.0", "1.9.0", 1}, // numbers, not strings
		{"2024.2.0", "2024.10.0", -1},
		// The specification's own chain (section 11).
		{"1.0.0-alpha", "1.0.0-alpha.1", -1},
		{"1.0.0-alpha.1", "1.0.0-alpha.beta", -1},
		{"1.0.0-alpha.beta", "1.0.0-beta", -1},
		{"1.0.0-beta", "1.0.0-beta.2", -1},
		{"1.0.0-beta.2", "1.0.0-beta.11", -1},
		{"1.0.0-beta.11", "1.0.0-rc.1", -1},
		{"1.0.0-rc.1", "1.0.0", -1},
		{"1.0.0-rc.1+build.5", "1.0.0-rc.1", 0},
		{"2.0.0-rc.1", "1.9.9", 1}, // a pre-release of a higher version is higher
		{"1.0.0-1", "1.0.0-a", -1}, // numeric identifiers rank below alphanumeric ones
		{"1.0.0-A", "1.0.0-a", -1}, // ASCII order
	} {
		got, err := semver.Compare(tc.a, tc.b)
		if err != nil || got != tc.want {
			t.Errorf("Compare(%q, %q) = %d, %v; want %d", tc.a, tc.b, got, err, tc.want)
		}
		back, _ := semver.Compare(tc.b, tc.a)
		if back != -tc.want {
			t.Errorf("Compare(%q, %q) = %d; want %d", tc.b, tc.a, back, -tc.want)
		}
	}
}

func TestParseRefusesGarbage(t *testing.T) {
	for _, tc := range []struct{ in, why string }{
		{"", "empty"},
		{"v", "empty"},
		{"1.2", "MAJOR.MINOR.PATCH"},
		{"1.2.3.4", "MAJOR.MINOR.PATCH"},
		{"latest", "MAJOR.MINOR.PATCH"},
		{"1.x.3", `"x" is not a number`},
		{"01.2.3", "leading zero"},
		{"1.2.-3", `"" is not a number`}, // "1.2." then the pre-release "3"
		{"1.2.3-", "pre-release: empty"},
		{"1.2.3-alpha..1", "empty identifier"},
		{"1.2.3-01", "leading zero"},
		{"1.2.3+", "build metadata: empty"},
		{"1.2.3+a_b", "character"},
		{"1.2.3 ", "not a number"},
		{"99999999999999999999.0.0", "too large"},
		{strings.Repeat("1", 300), "longer than"},
	} {
		_, err := semver.Parse(tc.in)
		if err == nil || !errors.Is(err, semver.ErrInvalid) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("Parse(%q) = %v; want an ErrInvalid saying %q", tc.in, err, tc.why)
		}
	}
}

func TestParseKeepsEveryPart(t *testing.T) {
	v, err := semver.Parse("v2.0.0-rc.1+exp.sha.5114f85")
	if err != nil {
		t.Fatal(err)
	}
	if v.Major != 2 || v.Minor != 0 || v.Patch != 0 || !v.Prerelease() || v.Build != "exp.sha.5114f85" {
		t.Fatalf("parsed %+v", v)
	}
	if v.String() != "2.0.0-rc.1+exp.sha.5114f85" {
		t.Fatalf("String() = %q", v.String())
	}
}

func ExampleCompare() {
	c, _ := semver.Compare("2024.1.3", "2024.2.0-rc.1")
	fmt.Println(c)
	_, err := semver.Parse("2024.1")
	fmt.Println(err)
	// Output:
	// -1
	// semver: invalid version "2024.1": want MAJOR.MINOR.PATCH (three numbers separated by dots), e.g. 2024.1.3
}

// FuzzParse: no input panics; what parses prints in a form that parses to
// an equal version, and compares equal to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1.2.3", "v2024.1.3", "1.0.0-rc.1+build.5", "1.0.0-0.3.7", "1..2", "1.2.3-01", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := semver.Parse(s)
		if err != nil {
			return
		}
		w, err := semver.Parse(v.String())
		if err != nil || v.Compare(w) != 0 || w.String() != v.String() {
			t.Fatalf("%q parsed as %q, which reparses as %q (%v)", s, v, w, err)
		}
	})
}
