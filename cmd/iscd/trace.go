package main

import (
	"fmt"
	"io"
	"os"
	"runtime/trace"
)

// startTrace writes a Go execution trace of the process to the file named
// by $ISCD_TRACE, read once at start, until the returned function is called
// (iscd serve calls it when it stops, after SIGTERM). Without the variable
// it does nothing. For profiling only: `go tool trace FILE`, or
// `go tool trace -pprof=sync FILE` for where goroutines waited.
func startTrace(stderr io.Writer) func() {
	path := os.Getenv("ISCD_TRACE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = trace.Start(f)
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "iscd: ISCD_TRACE:", err)
		return func() {}
	}
	return func() {
		trace.Stop()
		if err := f.Close(); err != nil {
			fmt.Fprintln(stderr, "iscd: ISCD_TRACE:", err)
		}
	}
}
