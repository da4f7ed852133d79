package run

import "syscall"

// groupAttr also asks the kernel to kill the solver if the worker dies
// (kill -9 included): its job is re-run elsewhere, and a solver left
// running would only burn the machine.
func groupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
