//go:build !windows

package main

import (
	"os"
	"syscall"
)

// profileSignal asks a running iscd for heap and goroutine profiles.
var profileSignal os.Signal = syscall.SIGUSR1

// cpuProfileSignal starts and ends a CPU profile (ISCD_CPUPROFILE).
var cpuProfileSignal os.Signal = syscall.SIGUSR2
