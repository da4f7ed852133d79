//go:build unix

package run

import (
	"os"
	"syscall"
)

// procAttr puts a command in a process group of its own, so that stopping
// it stops everything it started.
func procAttr() *syscall.SysProcAttr { return groupAttr() }

// stopGroup signals p's process group: SIGTERM, or SIGKILL when kill.
func stopGroup(p *os.Process, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-p.Pid, sig)
}
