//go:build !linux && !windows

package run

import (
	"errors"
	"os/exec"
	"runtime"
)

type sandboxSys struct{}

func newSandboxSys(SandboxConfig) (sandboxSys, error) {
	return sandboxSys{}, errors.New("iscd has no solver sandbox on " + runtime.GOOS)
}

func (sandboxSys) describe() string       { return "none" }
func (sandboxSys) home(dir string) string { return dir }
func (sandboxSys) confine(*exec.Cmd, string, Command) (jail, error) {
	return nil, errors.New("no sandbox on " + runtime.GOOS)
}

func (sandboxSys) asOtherUser() bool           { return false }
func (sandboxSys) check(string, Command) error { return errors.New("no sandbox on " + runtime.GOOS) }

// hardOpenFiles: there is no limit of open files a solver inherits here.
func hardOpenFiles() (int, bool) { return 0, false }
