//go:build !windows

package main

import (
	"os"
	"syscall"
)

// profileSignal asks a running iscd for heap and goroutine profiles.
var profileSignal os.Signal = syscall.SIGUSR1
