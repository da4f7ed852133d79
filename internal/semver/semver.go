// Package semver parses and compares semantic versions (SemVer 2.0.0,
// https://semver.org): MAJOR.MINOR.PATCH, an optional pre-release after
// '-' and optional build metadata after '+'.
//
// Unlike golang.org/x/mod/semver it takes versions as desktop programs
// write them, without a leading "v" (one is accepted and ignored), and it
// says what is wrong with a version it refuses. Build metadata is kept
// but, as the specification says, plays no part in precedence.
package semver

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxLen bounds the length of a version string.
const MaxLen = 256

// ErrInvalid is matched (errors.Is) by every error of Parse.
var ErrInvalid = errors.New("semver: invalid version")

// Version is a parsed semantic version.
type Version struct {
	Major, Minor, Patch uint64
	Pre                 []string // pre-release identifiers; nil for a release
	Build               string   // build metadata, without the '+'
}

// Parse reads a version such as "2024.1.3", "2.0.0-rc.1" or
// "1.4.2+build.7". A leading "v" is ignored.
func Parse(s string) (Version, error) {
	var v Version
	bad := func(format string, a ...any) (Version, error) {
		return Version{}, fmt.Errorf("%w %q: %s", ErrInvalid, shorten(s), fmt.Sprintf(format, a...))
	}
	if len(s) > MaxLen {
		return bad("longer than %d bytes", MaxLen)
	}
	rest := strings.TrimPrefix(s, "v")
	if rest == "" {
		return bad("empty; want MAJOR.MINOR.PATCH, e.g. 2024.1.3")
	}
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		v.Build, rest = rest[i+1:], rest[:i]
		if err := identifiers(v.Build, false); err != "" {
			return bad("build metadata: %s", err)
		}
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		pre := rest[i+1:]
		rest = rest[:i]
		if err := identifiers(pre, true); err != "" {
			return bad("pre-release: %s", err)
		}
		v.Pre = strings.Split(pre, ".")
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return bad("want MAJOR.MINOR.PATCH (three numbers separated by dots), e.g. 2024.1.3")
	}
	nums := [3]*uint64{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		if !numeric(p) {
			return bad("%q is not a number", p)
		}
		if len(p) > 1 && p[0] == '0' {
			return bad("%q has a leading zero", p)
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return bad("%q is too large", p)
		}
		*nums[i] = n
	}
	return v, nil
}

// identifiers checks dot-separated identifiers: non-empty, [0-9A-Za-z-];
// numeric pre-release identifiers have no leading zero.
func identifiers(s string, pre bool) string {
	if s == "" {
		return "empty"
	}
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return "an empty identifier"
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
				return fmt.Sprintf("%q holds a character other than letters, digits and '-'", id)
			}
		}
		if pre && numeric(id) && len(id) > 1 && id[0] == '0' {
			return fmt.Sprintf("%q has a leading zero", id)
		}
	}
	return ""
}

func numeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func shorten(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// String returns the canonical form (no leading "v").
func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if len(v.Pre) > 0 {
		s += "-" + strings.Join(v.Pre, ".")
	}
	if v.Build != "" {
		s += "+" + v.Build
	}
	return s
}

// Prerelease reports whether v has a pre-release part.
func (v Version) Prerelease() bool { return len(v.Pre) > 0 }

// Compare returns -1, 0 or +1 as v has lower, equal or higher precedence
// than w (SemVer 2.0.0, section 11): build metadata is ignored, so
// 1.0.0+a and 1.0.0+b are equal.
func (v Version) Compare(w Version) int {
	for _, d := range [3][2]uint64{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(v.Pre) == 0 && len(w.Pre) == 0:
		return 0
	case len(v.Pre) == 0: // a release ranks above its pre-releases
		return 1
	case len(w.Pre) == 0:
		return -1
	}
	for i := 0; i < len(v.Pre) && i < len(w.Pre); i++ {
		if c := compareIdent(v.Pre[i], w.Pre[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(v.Pre) < len(w.Pre):
		return -1
	case len(v.Pre) > len(w.Pre):
		return 1
	}
	return 0
}

// compareIdent orders two pre-release identifiers: numbers numerically,
// below any alphanumeric identifier; those in ASCII order.
func compareIdent(a, b string) int {
	an, bn := numeric(a), numeric(b)
	switch {
	case an && bn:
		if len(a) != len(b) { // no leading zeros: the longer is larger
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	case an:
		return -1
	case bn:
		return 1
	}
	return strings.Compare(a, b)
}

// Compare parses a and b and compares them (see Version.Compare).
func Compare(a, b string) (int, error) {
	va, err := Parse(a)
	if err != nil {
		return 0, err
	}
	vb, err := Parse(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}
