package main

import "os"

// profileSignal: Windows has no SIGUSR1, so ISCD_HEAPPROFILE does nothing
// there.
var profileSignal os.Signal

// cpuProfileSignal: none on Windows, so ISCD_CPUPROFILE does nothing there.
var cpuProfileSignal os.Signal
