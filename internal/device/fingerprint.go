package device

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxLen is the longest fingerprint string, in bytes, that Parse accepts and
// Info produces (compat-api.md: at most 5 KB).
const MaxLen = 5 * 1024

// Errors returned by Parse. Callers branch on them with errors.Is.
var (
	// ErrTooLarge: the string is longer than MaxLen.
	ErrTooLarge = errors.New("device: fingerprint longer than 5 KB")
	// ErrMalformed: the string is not valid UTF-8, does not have exactly
	// four "|"-separated parts, or holds a control character.
	ErrMalformed = errors.New("device: malformed fingerprint")
)

// Fingerprint is a parsed device fingerprint. The lists are upper-cased,
// sorted and free of duplicates and empty entries when they come from
// Parse; Info keeps the order in which it found them.
type Fingerprint struct {
	MACs  []string // network interface addresses, e.g. "04:7C:16:5E:E3:5D"
	Disks []string // disk serial numbers or ids
	Board string   // main board serial, or the fallback described in the package doc
	CPU   string   // EDX and EAX of CPUID leaf 1 in hex, e.g. "BFEBFBFF00090672"
}

// String formats f as "MAC|diskId|boardId|cpuId", lists comma-separated.
// It does not normalise: format the result of Parse for the canonical form.
func (f Fingerprint) String() string {
	return strings.Join(f.MACs, ",") + "|" + strings.Join(f.Disks, ",") + "|" + f.Board + "|" + f.CPU
}

// IsZero reports whether every part of f is empty.
func (f Fingerprint) IsZero() bool {
	return len(f.MACs) == 0 && len(f.Disks) == 0 && f.Board == "" && f.CPU == ""
}

// Parse reads a fingerprint "MAC|diskId|boardId|cpuId" and normalises it:
// every value is trimmed of spaces and upper-cased, empty list entries are
// dropped, and the lists are sorted and de-duplicated, so that two strings
// naming the same hardware in another order or case parse equal. Any part
// may be empty, but there must be exactly four.
func Parse(s string) (Fingerprint, error) {
	if len(s) > MaxLen {
		return Fingerprint{}, fmt.Errorf("%w (%d bytes)", ErrTooLarge, len(s))
	}
	if !utf8.ValidString(s) {
		return Fingerprint{}, fmt.Errorf("%w: not valid UTF-8", ErrMalformed)
	}
	if i := strings.IndexFunc(s, isControl); i >= 0 {
		return Fingerprint{}, fmt.Errorf("%w: control character at byte %d", ErrMalformed, i)
	}
	parts := strings.Split(s, "|")
	if len(parts) != 4 {
		return Fingerprint{}, fmt.Errorf("%w: %d parts separated by \"|\", want 4 (MAC|disk|board|cpu)", ErrMalformed, len(parts))
	}
	return Fingerprint{
		MACs:  normList(strings.Split(parts[0], ",")),
		Disks: normList(strings.Split(parts[1], ",")),
		Board: norm(parts[2]),
		CPU:   norm(parts[3]),
	}.normalized(), nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func norm(v string) string { return strings.ToUpper(strings.TrimSpace(v)) }

// normList upper-cases and trims every entry, drops empty ones, sorts and
// de-duplicates. It returns nil for an empty result.
func normList(vs []string) []string {
	var out []string
	for _, v := range vs {
		if v = norm(v); v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (f Fingerprint) normalized() Fingerprint {
	return Fingerprint{MACs: normList(f.MACs), Disks: normList(f.Disks), Board: norm(f.Board), CPU: norm(f.CPU)}
}

// Same reports whether current is the device that stored was taken from,
// tolerating drift (see "The drift rule" in the package doc): at least two
// of the four parts must match, a list part matching when the two lists
// share an entry and a single part when both are equal and non-empty. When
// either fingerprint has fewer than two non-empty parts, every non-empty
// part of stored must match instead. A stored fingerprint with no parts
// matches nothing. Both are normalised first, so the arguments need not
// come from Parse.
func Same(stored, current Fingerprint) bool {
	return sameParts(partsOf(stored.normalized()), partsOf(current.normalized()))
}

// parts holds the four parts of a fingerprint, or of its hash, as sets:
// a single part is a set of at most one value.
type parts [4][]string

func partsOf(f Fingerprint) parts {
	return parts{f.MACs, f.Disks, single(f.Board), single(f.CPU)}
}

func single(v string) []string {
	if v == "" {
		return nil
	}
	return []string{v}
}

func (p parts) nonEmpty() int {
	n := 0
	for _, s := range p {
		if len(s) > 0 {
			n++
		}
	}
	return n
}

// sameParts is the drift rule, shared by Same and Hashed.Matches.
func sameParts(stored, current parts) bool {
	ns := stored.nonEmpty()
	if ns == 0 {
		return false
	}
	if ns < 2 || current.nonEmpty() < 2 {
		for i := range stored {
			if len(stored[i]) > 0 && !intersects(stored[i], current[i]) {
				return false
			}
		}
		return true
	}
	matched := 0
	for i := range stored {
		if intersects(stored[i], current[i]) {
			matched++
		}
	}
	return matched >= 2
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
