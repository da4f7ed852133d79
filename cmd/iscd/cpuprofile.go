package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
)

// cpuProfileOnSignal writes CPU profiles of the process to the file named
// by $ISCD_CPUPROFILE, read once at start: SIGUSR2 starts a profile, the
// next SIGUSR2 (or iscd's stop) ends it and writes the file, and so on,
// each profile replacing the last. So a profile covers what a benchmark
// asks for, a cold save say, and nothing of the start or the rest
// (`iscbench` sends the signals around its cold save when
// $ISCBENCH_CPUPROFILE is set). Without the variable it does nothing. For
// profiling only: `go tool pprof iscd FILE` (docs/benchmarks.md). The
// returned function ends a profile still running, and the listening.
func cpuProfileOnSignal(ctx context.Context, stderr io.Writer) (stop func()) {
	path := os.Getenv("ISCD_CPUPROFILE")
	if path == "" || cpuProfileSignal == nil {
		return func() {}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, cpuProfileSignal)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer signal.Stop(sig)
		var f *os.File // the profile running, if any
		end := func() {
			if f == nil {
				return
			}
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintln(stderr, "iscd: ISCD_CPUPROFILE:", err)
			}
			f = nil
		}
		defer end()
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
			}
			if f != nil {
				end()
				continue
			}
			var err error
			if f, err = os.Create(path); err == nil {
				if err = pprof.StartCPUProfile(f); err != nil {
					f.Close()
					f = nil
				}
			}
			if err != nil {
				fmt.Fprintln(stderr, "iscd: ISCD_CPUPROFILE:", err)
			}
		}
	}()
	return func() { cancel(); <-done }
}
