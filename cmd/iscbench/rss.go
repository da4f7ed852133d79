package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/iscsdk/iscsdk/sdk"
)

// benchSaveRSS saves a 4 GiB file from a process of its own and reads that
// process's peak RSS. The file is incompressible and unique; with -quick
// it is a 256 MiB random block repeated (the same pipeline runs over 4 GiB,
// but only the first block is sent).
func benchSaveRSS(ctx context.Context, e *env, r *report) error {
	const size = 4 << 30
	file := filepath.Join(e.opt.tmp, "big.bin")
	defer os.Remove(file)
	t := time.Now()
	if err := makeBigFile(file, size, e.opt.quick); err != nil {
		return err
	}
	fmt.Fprintf(e.log, "   4 GiB file made in %.1fs\n", time.Since(t).Seconds())
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
	peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
	what := "unique incompressible data"
	if e.opt.quick {
		what = "a 256 MiB random block repeated (quick)"
	}
	r.add("sdk_rss_save_4g_mib", float64(peak)/1024, "MiB",
		"peak RSS of a process whose only work is SaveTo of a 4 GiB file; baseline: the same process connected, before the save",
		fmt.Sprintf("%s; before the save %.0f MiB; saved in %.1fs (%.0f MB/s), %.0f MB sent", what,
			float64(res.BeforeKiB)/1024, res.Seconds, size/1e6/res.Seconds, float64(res.BytesSent)/1e6))
	return nil
}

type saveRSSResult struct {
	BeforeKiB int64   `json:"beforeKiB"`
	Seconds   float64 `json:"seconds"`
	BytesSent int64   `json:"bytesSent"`
}

// makeBigFile writes size bytes: unique random data, or (repeat) one
// 256 MiB random block over and over.
func makeBigFile(path string, size int64, repeat bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 4<<20)
	if repeat {
		block := filepath.Join(filepath.Dir(path), "block.bin")
		bf, err := os.Create(block)
		if err != nil {
			f.Close()
			return err
		}
		bw := bufio.NewWriterSize(bf, 4<<20)
		err = writeRandom(bw, 42, 256<<20)
		if err == nil {
			err = bw.Flush()
		}
		bf.Close()
		if err != nil {
			f.Close()
			return err
		}
		data, err := os.ReadFile(block)
		os.Remove(block)
		if err != nil {
			f.Close()
			return err
		}
		for n := int64(0); n < size && err == nil; n += int64(len(data)) {
			_, err = w.Write(data)
		}
	} else {
		err = writeRandom(w, 42, size)
	}
	if err == nil {
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
	defer c.ShutOut()
	var res saveRSSResult
	if v := procField("/proc/self/status", "VmHWM"); v != "" {
		res.BeforeKiB, _ = strconv.ParseInt(trimKB(v), 10, 64)
	}
	t := time.Now()
	sr, err := c.SaveTo(ctx, args[0], "/bench/big.bin", 0, sdk.SaveOptions{})
	if err != nil {
		return err
	}
	res.Seconds, res.BytesSent = time.Since(t).Seconds(), sr.BytesSent
	return json.NewEncoder(os.Stdout).Encode(res)
}

func trimKB(v string) string {
	for len(v) > 0 && (v[len(v)-1] < '0' || v[len(v)-1] > '9') {
		v = v[:len(v)-1]
	}
	return v
}
