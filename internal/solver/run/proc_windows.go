package run

import (
	"os"
	"syscall"
)

// procAttr starts a command in a process group of its own.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// stopGroup ends the command. Windows has no polite signal for a console
// program without a console, so both steps kill it.
func stopGroup(p *os.Process, _ bool) { _ = p.Kill() }
