package sdk

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/iscsdk/iscsdk/internal/winpath"
)

// localAbs returns the absolute form of a local path the host gave. On
// Windows it is the canonical form of internal/winpath, so that every form
// of one file's path that Windows accepts ("C:\w\a.stp", "c:/w/a.stp",
// "\w\a.stp" and "/w/a.stp" on the current drive C:, "\\?\C:\w\a.stp",
// UNC paths) is one path to the SDK: a file opened from the cloud under
// one form is saved back under another, and the workspace given as
// "/tmp/ws" under Wine is Z:\tmp\ws. Elsewhere it is filepath.Abs.
func localAbs(p string) (string, error) {
	if runtime.GOOS != "windows" {
		return filepath.Abs(p)
	}
	cwd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	abs, err := winpath.Abs(p, cwd)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	return abs, nil
}

// isAbsLocal reports whether p names a file without the current
// directory: on Windows also a rooted path without a drive ("/tmp/x.lic":
// the current drive), which filepath.IsAbs does not count.
func isAbsLocal(p string) bool {
	if runtime.GOOS == "windows" {
		return winpath.IsAbs(p)
	}
	return filepath.IsAbs(p)
}
