package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
)

// heapProfileOnSignal writes a heap profile of the process to the file
// named by $ISCD_HEAPPROFILE, read once at start, each time iscd gets
// SIGUSR1, until ctx ends; a collection runs first, so the profile shows
// what is live. Beside it, FILE.goroutine lists the goroutines by stack
// (with their count and the memory their stacks take first), which the
// heap profile leaves out. Without the variable it does nothing. For
// profiling only: `go tool pprof -sample_index=inuse_space iscd FILE`
// (docs/benchmarks.md: where an idle session's memory goes).
func heapProfileOnSignal(ctx context.Context, stderr io.Writer) {
	path := os.Getenv("ISCD_HEAPPROFILE")
	if path == "" || profileSignal == nil {
		return
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, profileSignal)
	go func() {
		defer signal.Stop(usr1)
		for {
			select {
			case <-ctx.Done():
				return
			case <-usr1:
			}
			runtime.GC()
			if err := writeProfiles(path); err != nil {
				fmt.Fprintln(stderr, "iscd: ISCD_HEAPPROFILE:", err)
			}
		}
	}()
}

func writeProfiles(path string) error {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if err := writeFile(path, func(w io.Writer) error { return pprof.Lookup("heap").WriteTo(w, 0) }); err != nil {
		return err
	}
	return writeFile(path+".goroutine", func(w io.Writer) error {
		fmt.Fprintf(w, "# %d goroutines; stacks %d KiB; heap in use %d KiB; from the OS %d KiB\n",
			runtime.NumGoroutine(), m.StackInuse>>10, m.HeapInuse>>10, m.Sys>>10)
		return pprof.Lookup("goroutine").WriteTo(w, 1)
	})
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
