package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/iscsdk/iscsdk/sdk"
)

// partsCount is the parts group's assembly: 10,000 parts (quick 2,000).
func partsCount(quick bool) int {
	if quick {
		return 2000
	}
	return 10000
}

// makeParts writes n parts of 1-4 KB, 100 to a folder, as a CAD
// assembly's small parts are: text with numbers, partly compressible.
func makeParts(dir string, n int) (int64, error) {
	r := rand.New(rand.NewPCG(18, 18))
	var total int64
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("sub%03d", i/100), fmt.Sprintf("part%05d.prt", i))
		if i%100 == 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return 0, err
			}
		}
		size := 1024 + r.IntN(3072)
		b := make([]byte, 0, size+64)
		for len(b) < size {
			b = fmt.Appendf(b, "#%d = CARTESIAN_POINT('',(%.6f,%.6f,%.6f));\n", len(b), r.Float64()*100, r.Float64()*100, r.Float64()*100)
		}
		if err := os.WriteFile(p, b[:size], 0o644); err != nil {
			return 0, err
		}
		total += int64(size)
	}
	return total, nil
}

// benchParts saves an assembly of many small parts, cold and after one
// part is edited, beside rsync and rclone copying the same folder: the
// per-file costs (stat, manifest entries, have/want, the commit).
func benchParts(ctx context.Context, e *env, r *report) error {
	n := partsCount(e.opt.quick)
	dir := filepath.Join(e.opt.tmp, "parts")
	size, err := makeParts(dir, n)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := e.startISCD("parts")
	if err != nil {
		return err
	}
	c, err := e.client(ctx, s, "parts")
	if err != nil {
		return err
	}
	defer c.Close()
	// The parts were just written: a stat cache would not trust stamps
	// this fresh (racy window, 2 s) and hash them once more; an engineer's
	// parts are older than that.
	time.Sleep(2100 * time.Millisecond)

	t := time.Now()
	cold, err := c.SaveTo(ctx, dir, "/bench/parts", 0, sdk.SaveOptions{Assembly: true})
	coldTime := time.Since(t)
	if err != nil {
		return err
	}
	peers := startPeers(ctx, e, dir, "parts")
	defer peers.close()
	peers.cold(ctx)

	i := min(4242, n-1)
	edited := filepath.Join(dir, fmt.Sprintf("sub%03d", i/100), fmt.Sprintf("part%05d.prt", i))
	f, err := os.OpenFile(edited, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	f.WriteAt([]byte("EDITED"), 100)
	f.Close()
	t = time.Now()
	re, err := c.SaveTo(ctx, dir, "/bench/parts", cold.Version, sdk.SaveOptions{Assembly: true})
	reTime := time.Since(t)
	if err != nil {
		return err
	}
	peers.resave(ctx)

	what := fmt.Sprintf("%d parts of 1-4 KB (%.1f MB)", n, float64(size)/1e6)
	r.add("parts_cold_s", coldTime.Seconds(), "s", "SaveTo of "+what+" as one assembly, to an empty iscd",
		fmt.Sprintf("%d chunks, %.1f MB on the wire", cold.ChunksTotal, float64(cold.BytesSent)/1e6))
	r.add("parts_resave_s", reTime.Seconds(), "s", "the re-save after one part is edited",
		fmt.Sprintf("%d of %d files read, %d chunks sent", re.FilesRead, n, re.ChunksSent))
	for _, x := range []struct {
		key, what, why string
		mine, theirs   time.Duration
	}{
		{"parts_cold_vs_rsync", "rsync -a to a loopback rsync daemon, cold", peers.rsyncWhy, coldTime, peers.rsyncCold},
		{"parts_cold_vs_rclone", "rclone copy to a local remote, cold", peers.rcloneWhy, coldTime, peers.rcloneCold},
		{"parts_resave_vs_rsync", "rsync -a after the edit", peers.rsyncWhy, reTime, peers.rsyncRe},
		{"parts_resave_vs_rclone", "rclone copy after the edit", peers.rcloneWhy, reTime, peers.rcloneRe},
	} {
		base := "iscsdk time / " + x.what + ", " + what
		if x.why != "" {
			r.skip(x.key, "ratio", base, x.why)
			continue
		}
		r.add(x.key, x.mine.Seconds()/x.theirs.Seconds(), "ratio", base,
			fmt.Sprintf("iscsdk %.2fs, peer %.2fs", x.mine.Seconds(), x.theirs.Seconds()))
	}
	return nil
}
