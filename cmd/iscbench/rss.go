package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/iscsdk/iscsdk/sdk"
)

// benchSaveRSS saves a 4 GiB file from a process of its own and reads that
// process's peak RSS. The file is incompressible and unique; with -quick
// it is 512 MiB of the same (the peak does not grow with the size of the
// file: docs/benchmarks.md).
func benchSaveRSS(ctx context.Context, e *env, r *report) error {
	size := int64(4 << 30)
	if e.opt.quick {
		size = 512 << 20
	}
	file := filepath.Join(e.opt.tmp, "big.bin")
	defer os.Remove(file)
	t := time.Now()
	if err := makeBigFile(file, size); err != nil {
		return err
	}
	fmt.Fprintf(e.log, "   %d MiB file made in %.1fs\n", size>>20, time.Since(t).Seconds())
	s, err := e.startISCD("rss")
	if err != nil {
		return err
	}
	defer os.RemoveAll(s.data)
	defer s.Stop()

	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, "save-rss", file, filepath.Join(e.opt.tmp, "rss-ws"))
	cmd.Env = os.Environ()
	for k, v := range s.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = e.log
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("save-rss: %w", err)
	}
	var res saveRSSResult
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("save-rss said %q: %w", out, err)
	}
	// The process's own high-water mark. Not wait4's ru_maxrss: Go starts
	// a child with clone(CLONE_VM|CLONE_VFORK), and exec folds the parent's
	// peak into the child's maxrss (it read the benchmark's own ~230 MiB).
	peak := res.PeakKiB
	if peak == 0 {
		return fmt.Errorf("save-rss: no VmHWM in /proc/self/status")
	}
	what := "unique incompressible data"
	if e.opt.quick {
		what = "quick: 512 MiB, not 4 GiB"
	}
	r.add("sdk_rss_save_4g_mib", float64(peak)/1024, "MiB",
		"peak RSS (VmHWM) of a process whose only work is SaveTo of a 4 GiB file; baseline: the same process connected, before the save",
		fmt.Sprintf("%s; before the save %.0f MiB; saved in %.1fs (%.0f MB/s), %.0f MB sent; Go runtime at the end: %d MiB from the OS, heap spans %d MiB (%d released), %d GCs", what,
			float64(res.BeforeKiB)/1024, res.Seconds, float64(size)/1e6/res.Seconds, float64(res.BytesSent)/1e6,
			res.SysMiB, res.HeapSysMiB, res.HeapReleasedMiB, res.NumGC))
	return nil
}

type saveRSSResult struct {
	BeforeKiB int64   `json:"beforeKiB"` // VmHWM after connecting
	PeakKiB   int64   `json:"peakKiB"`   // VmHWM after the save
	Seconds   float64 `json:"seconds"`
	BytesSent int64   `json:"bytesSent"`
	// The Go runtime's view at the end: memory obtained from the OS, the
	// heap's part of it, the most the heap ever had in spans, collections.
	SysMiB, HeapSysMiB, HeapReleasedMiB uint64
	NumGC                               uint32
}

// makeBigFile writes size bytes of unique random data.
func makeBigFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 4<<20)
	if err = writeRandom(w, 42, size); err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// helperSaveRSS is `iscbench save-rss FILE WORKSPACE`: connect with the
// environment's ISCSDK_* settings, save FILE, print a saveRSSResult.
func helperSaveRSS(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: save-rss FILE WORKSPACE")
	}
	ctx := context.Background()
	c, err := sdk.Init(ctx, sdk.Config{AppVersion: "iscbench", WorkspaceDir: args[1], LogLevel: "warn",
		CredentialsFile: filepath.Join(args[1], "no-credentials")})
	if err != nil {
		return err
	}
	defer c.Close()
	var res saveRSSResult
	if v := procField("/proc/self/status", "VmHWM"); v != "" {
		res.BeforeKiB, _ = strconv.ParseInt(trimKB(v), 10, 64)
	}
	if path := os.Getenv("ISCBENCH_HEAPPROFILE"); path != "" {
		stop := profilePeakHeap(path)
		defer stop()
	}
	t := time.Now()
	sr, err := c.SaveTo(ctx, args[0], "/bench/big.bin", 0, sdk.SaveOptions{})
	if err != nil {
		return err
	}
	res.Seconds, res.BytesSent = time.Since(t).Seconds(), sr.BytesSent
	if v := procField("/proc/self/status", "VmHWM"); v != "" {
		res.PeakKiB, _ = strconv.ParseInt(trimKB(v), 10, 64)
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	res.SysMiB, res.HeapSysMiB, res.HeapReleasedMiB, res.NumGC = m.Sys>>20, m.HeapSys>>20, m.HeapReleased>>20, m.NumGC
	return json.NewEncoder(os.Stdout).Encode(res)
}

func trimKB(v string) string {
	for len(v) > 0 && (v[len(v)-1] < '0' || v[len(v)-1] > '9') {
		v = v[:len(v)-1]
	}
	return v
}

// profilePeakHeap writes a heap profile to path whenever the heap in use
// is a new high (checked every 100 ms), so that the last one written shows
// where the memory was at the peak. For `ISCBENCH_HEAPPROFILE=FILE
// iscbench save-rss ...` by hand (docs/benchmarks.md).
func profilePeakHeap(path string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var peak uint64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse <= peak+peak/20 {
				continue
			}
			peak = m.HeapInuse
			if f, err := os.Create(path); err == nil {
				pprof.WriteHeapProfile(f)
				f.Close()
			}
			fmt.Fprintf(os.Stderr, "heap in use %d MiB (sys %d MiB)\n", m.HeapInuse>>20, m.Sys>>20)
		}
	}()
	return func() { close(done); <-finished }
}
