// Package solvertest helps the tests that run solvers in the worker's
// sandbox: a sandboxed solver sees its own PID namespace, so the pid it
// writes is not the machine's; the tests find its process by its command
// line instead.
package solvertest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Pid returns the pid, as this machine sees it, of the process whose
// command line holds marker (a path only that solver was given), skipping
// bubblewrap's own processes and zombies; 0 when none runs.
func Pid(marker string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmdline, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(marker)) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		comm, rest, _ := strings.Cut(string(stat), ") ")
		if strings.HasSuffix(comm, "(bwrap") || strings.HasPrefix(rest, "Z") {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(d)); err == nil && pid != os.Getpid() {
			return pid
		}
	}
	return 0
}
