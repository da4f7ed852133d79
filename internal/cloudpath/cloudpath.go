// Package cloudpath checks the paths of cloud files: "/folder/part.prt".
//
// A cloud path is absolute, slash-separated, UTF-8, at most MaxLen bytes,
// with no trailing slash, and each of its names follows the manifest's
// element rule (manifest.CheckName): no empty, "." or ".." name, no
// backslash, ':', character Windows refuses (< > " | ? *), control
// character or bidirectional override, no name
// ending in a dot or a space, no Windows device name (CON, aux.prt, COM¹,
// ...), so that every client can create the file it names. Paths are
// compared as they are (case-sensitive).
package cloudpath

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/iscsdk/iscsdk/internal/manifest"
)

// MaxLen bounds a cloud path, and MaxSegment one name in it.
const (
	MaxLen     = 1024
	MaxSegment = 255
)

// ErrInvalid is wrapped by every error of Check.
var ErrInvalid = errors.New("invalid cloud path")

// Check returns p if it is a valid cloud path, else an error that says why.
func Check(p string) (string, error) {
	bad := func(why string) (string, error) { return "", fmt.Errorf("%w %q: %s", ErrInvalid, p, why) }
	switch {
	case len(p) > MaxLen:
		return bad(fmt.Sprintf("longer than %d bytes", MaxLen))
	case !utf8.ValidString(p):
		return bad("not valid UTF-8")
	case !strings.HasPrefix(p, "/"):
		return bad("it must start with /")
	case p == "/":
		return bad("the root is not a file")
	case strings.HasSuffix(p, "/"):
		return bad("it must not end with /")
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		var nameErr *manifest.NameError
		switch err := manifest.CheckName(seg); {
		case seg == "":
			return bad("empty name between slashes")
		case len(seg) > MaxSegment:
			return bad(fmt.Sprintf("a name longer than %d bytes", MaxSegment))
		case errors.As(err, &nameErr):
			return "", &nameRuleError{path: p, name: nameErr}
		}
	}
	return p, nil
}

// Dir returns the folder of a valid path ("/" for a top-level file).
func Dir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// Base returns the last name of a valid path.
func Base(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// nameRuleError is Check's error for a name that breaks the manifest's
// element rule: it matches ErrInvalid and, with errors.As, the
// *manifest.NameError that says which rule.
type nameRuleError struct {
	path string
	name *manifest.NameError
}

func (e *nameRuleError) Error() string {
	return fmt.Sprintf("%v %q: %q %s", ErrInvalid, e.path, e.name.Name, e.name.Reason)
}

func (e *nameRuleError) Unwrap() []error { return []error{ErrInvalid, e.name} }
