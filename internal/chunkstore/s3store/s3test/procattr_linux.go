package s3test

import "syscall"

// procAttr has the kernel kill the server when the test process exits,
// however it exits.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
