// Package winpath canonicalises Windows local paths, so that every form
// of a path that Windows accepts for one file gives one string: drive
// letters with '\' or '/', a rooted path without a drive ("\work\part.stp"
// and "/work/part.stp": the current drive), a path relative to the current
// directory or to a drive's ("C:part.stp"), UNC paths, "\\?\" and "\\.\"
// long paths, and another letter case (Key).
//
// The functions are pure string work, with the current directory passed
// in, so that they are tested on every system; the SDK uses them on
// Windows. What they cannot see is the file system: 8.3 short names
// (PROGRA~1), symbolic links, junctions and SUBST drives name the same file
// under another canonical path.
package winpath

import (
	"errors"
	"fmt"
	"strings"
)

// ErrPath is wrapped by the errors of Abs.
var ErrPath = errors.New("not a usable Windows path")

// Abs returns the canonical absolute form of p, a path as a Windows
// program may pass it, with cwd the current directory (itself absolute):
// "C:\dir\file" (an upper-case drive letter) or "\\server\share\dir\file",
// with '\' between names, no "." or ".." names, no empty names, and no
// trailing dots or spaces on a name (Windows drops them: "part.stp." is
// "part.stp"). A "\\?\" path is taken as it is, except for its prefix.
// Device paths ("\\.\pipe\x", "\\.\PhysicalDrive0") and device names
// (C:\work\aux.prt opens AUX) are refused.
func Abs(p, cwd string) (string, error) {
	bad := func(why string) (string, error) { return "", fmt.Errorf("%w: %q: %s", ErrPath, p, why) }
	if p == "" {
		return bad("empty")
	}
	if strings.ContainsRune(p, 0) {
		return bad("contains NUL")
	}
	// \\?\ paths skip Win32's normalisation: only the prefix goes.
	if rest, ok := cutPrefixFold(p, `\\?\`); ok {
		if unc, ok := cutPrefixFold(rest, `UNC\`); ok {
			root, rel, ok := uncRoot(unc)
			if !ok {
				return bad("a UNC path needs a server and a share")
			}
			return joinRoot(root, rel), nil
		}
		if isDrive(rest) && len(rest) >= 3 && rest[2] == '\\' {
			return joinRoot(upperDrive(rest[:2]), rest[3:]), nil
		}
		return bad(`a \\?\ path that names no drive or share`)
	}
	p = strings.ReplaceAll(p, "/", `\`)
	if rest, ok := cutPrefixFold(p, `\\.\`); ok {
		if isDrive(rest) && (len(rest) == 2 || rest[2] == '\\') {
			p = rest // \\.\C:\x is C:\x
		} else {
			return bad("a device, not a file")
		}
	}
	var root, rel string
	switch {
	case strings.HasPrefix(p, `\\`): // UNC: \\server\share\rest
		var ok bool
		if root, rel, ok = uncRoot(p[2:]); !ok {
			return bad("a UNC path needs a server and a share")
		}
	case isDrive(p) && len(p) >= 3 && p[2] == '\\': // C:\rest
		root, rel = upperDrive(p[:2]), p[3:]
	case isDrive(p): // C:rest, relative to that drive's current directory
		root, rel = upperDrive(p[:2]), p[2:]
		if croot, crel, err := split(cwd); err == nil && strings.EqualFold(croot, root) {
			rel = crel + `\` + rel
		}
	case strings.HasPrefix(p, `\`): // \rest: the current drive (or share)
		croot, _, err := split(cwd)
		if err != nil {
			return "", err
		}
		root, rel = croot, p[1:]
	default: // relative to the current directory
		croot, crel, err := split(cwd)
		if err != nil {
			return "", err
		}
		root, rel = croot, crel+`\`+p
	}
	var names []string
	for name := range strings.SplitSeq(rel, `\`) {
		switch name {
		case "..":
			if len(names) > 0 { // ".." of a root is the root
				names = names[:len(names)-1]
			}
			continue
		}
		// Win32 drops trailing dots and spaces: "x." is "x", "..." is ".".
		if name = strings.TrimRight(name, ". "); name == "" {
			continue
		}
		if IsDevice(name) {
			return bad(fmt.Sprintf("%q is a device, not a file", name))
		}
		names = append(names, name)
	}
	return joinRoot(root, strings.Join(names, `\`)), nil
}

// split returns the root ("C:" or "\\server\share") and the rest of the
// current directory, which must be absolute.
func split(cwd string) (root, rel string, err error) {
	c := strings.ReplaceAll(cwd, "/", `\`)
	if rest, ok := cutPrefixFold(c, `\\?\`); ok {
		c = rest
		if unc, ok := cutPrefixFold(c, `UNC\`); ok {
			c = `\\` + unc
		}
	}
	switch {
	case isDrive(c) && (len(c) == 2 || c[2] == '\\'):
		return upperDrive(c[:2]), strings.TrimPrefix(c[2:], `\`), nil
	case strings.HasPrefix(c, `\\`):
		if root, rel, ok := uncRoot(c[2:]); ok {
			return root, rel, nil
		}
	}
	return "", "", fmt.Errorf("%w: the current directory %q is not absolute", ErrPath, cwd)
}

// uncRoot splits "server\share\rest" into the root and rest of a UNC
// path; false without a server or a share.
func uncRoot(unc string) (root, rel string, ok bool) {
	server, rest, _ := strings.Cut(unc, `\`)
	share, rest, _ := strings.Cut(rest, `\`)
	return `\\` + server + `\` + share, rest, server != "" && share != ""
}

func joinRoot(root, rel string) string {
	rel = strings.Trim(rel, `\`)
	if rel == "" {
		if strings.HasPrefix(root, `\\`) {
			return root
		}
		return root + `\`
	}
	return root + `\` + rel
}

// Key is how canonical paths compare: Windows file names ignore case.
func Key(canonical string) string { return strings.ToLower(canonical) }

// Within reports whether the canonical path p is root or inside it.
func Within(p, root string) bool {
	p, root = Key(p), strings.TrimSuffix(Key(root), `\`)
	return p == root || strings.HasPrefix(p, root+`\`)
}

// IsAbs reports whether Windows reads p without the current directory of
// its drive: "C:\x", "C:/x", "\\server\share", "\\?\..."; and, as the SDK
// takes it, a rooted path without a drive ("\x", "/x": the current drive).
func IsAbs(p string) bool {
	return strings.HasPrefix(p, `\`) || strings.HasPrefix(p, "/") ||
		isDrive(p) && len(p) >= 3 && (p[2] == '\\' || p[2] == '/')
}

func isDrive(p string) bool {
	return len(p) >= 2 && p[1] == ':' && ('a' <= p[0] && p[0] <= 'z' || 'A' <= p[0] && p[0] <= 'Z')
}

func upperDrive(d string) string { return strings.ToUpper(d[:1]) + ":" }

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// IsDevice reports whether the file name name opens a device on Windows, with or
// without an extension: Windows reads the part before the first dot,
// ignoring trailing spaces, in any case, and takes the superscript digits
// ¹ ² ³ as digits of COM and LPT.
func IsDevice(name string) bool {
	base, _, _ := strings.Cut(name, ".")
	base = strings.ToUpper(strings.TrimRight(base, " "))
	switch base {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if !strings.HasPrefix(base, "COM") && !strings.HasPrefix(base, "LPT") {
		return false
	}
	switch base[3:] {
	case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
		return true
	}
	return false
}
