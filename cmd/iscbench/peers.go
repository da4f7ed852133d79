package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// peers runs the tools people use instead, on the same corpus at the same
// moments: rsync to a loopback rsync daemon, rclone to a local remote. A
// peer that is not installed is skipped, saying so.
type peers struct {
	e      *env
	src    string // the folder copied
	name   string // of the group: its daemon's and remote's folders
	rsyncd *exec.Cmd
	port   int
	// times of the cold copy and the re-copy after the edits; 0: not run
	rsyncCold, rsyncRe, rcloneCold, rcloneRe time.Duration
	rsyncWhy, rcloneWhy                      string // why skipped
}

func startPeers(ctx context.Context, e *env, src, name string) *peers {
	p := &peers{e: e, src: src, name: name}
	if _, err := exec.LookPath("rsync"); err != nil {
		p.rsyncWhy = "rsync not installed (apt-get install rsync)"
	} else if err := p.startRsyncd(ctx); err != nil {
		p.rsyncWhy = "rsync daemon: " + err.Error()
	}
	if _, err := exec.LookPath("rclone"); err != nil {
		p.rcloneWhy = "rclone not installed (apt-get install rclone)"
	}
	return p
}

// startRsyncd runs `rsync --daemon` on a free loopback port with one
// writable module, bench, in the run's temporary directory.
func (p *peers) startRsyncd(ctx context.Context) error {
	dir := filepath.Join(p.e.opt.tmp, p.name+"-rsyncd")
	if err := os.MkdirAll(filepath.Join(dir, "dst"), 0o755); err != nil {
		return err
	}
	conf := fmt.Sprintf("pid file = %s/rsyncd.pid\nuse chroot = false\nuid = %d\ngid = %d\nlog file = %s/rsyncd.log\n"+
		"[bench]\npath = %s/dst\nread only = false\n", dir, os.Getuid(), os.Getgid(), dir, dir)
	if err := os.WriteFile(filepath.Join(dir, "rsyncd.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	p.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p.rsyncd = exec.Command("rsync", "--daemon", "--no-detach", "--address=127.0.0.1", "--port="+strconv.Itoa(p.port),
		"--config="+filepath.Join(dir, "rsyncd.conf"))
	if err := p.rsyncd.Start(); err != nil {
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(p.port)); err == nil {
			conn.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond) // polling a port another process opens
	}
	return fmt.Errorf("did not listen on 127.0.0.1:%d within 10s", p.port)
}

func (p *peers) close() {
	if p.rsyncd != nil {
		p.rsyncd.Process.Kill()
		p.rsyncd.Wait()
	}
}

// rsync copies the corpus with `rsync -a` (as people type it: no -z).
func (p *peers) rsync(ctx context.Context) (time.Duration, error) {
	return p.timed(ctx, "rsync", "-a", p.src+"/", "rsync://127.0.0.1:"+strconv.Itoa(p.port)+"/bench/")
}

// rclone copies the corpus with `rclone copy` to a remote of type local.
func (p *peers) rclone(ctx context.Context) (time.Duration, error) {
	dst := filepath.Join(p.e.opt.tmp, p.name+"-rclone-dst")
	return p.timed(ctx, "rclone", "copy", "--config", filepath.Join(p.e.opt.tmp, "rclone.conf"), p.src, "benchlocal:"+dst)
}

func (p *peers) timed(ctx context.Context, name string, args ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "RCLONE_CONFIG_BENCHLOCAL_TYPE=local")
	t := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s: %v: %s", name, err, out)
	}
	return time.Since(t), nil
}

func (p *peers) cold(ctx context.Context) {
	var err error
	if p.rsyncWhy == "" {
		if p.rsyncCold, err = p.rsync(ctx); err != nil {
			p.rsyncWhy = err.Error()
		}
	}
	if p.rcloneWhy == "" {
		if p.rcloneCold, err = p.rclone(ctx); err != nil {
			p.rcloneWhy = err.Error()
		}
	}
}

func (p *peers) resave(ctx context.Context) {
	var err error
	if p.rsyncWhy == "" {
		if p.rsyncRe, err = p.rsync(ctx); err != nil {
			p.rsyncWhy = err.Error()
		}
	}
	if p.rcloneWhy == "" {
		if p.rcloneRe, err = p.rclone(ctx); err != nil {
			p.rcloneWhy = err.Error()
		}
	}
}

// report adds the ratios: iscsdk's time / the peer's (below 1: iscsdk is faster).
func (p *peers) report(r *report, cold, re time.Duration) {
	for _, x := range []struct {
		key, what, why string
		mine, theirs   time.Duration
	}{
		{"rsync_cold_ratio", "rsync -a to a loopback rsync daemon, cold", p.rsyncWhy, cold, p.rsyncCold},
		{"rsync_resave_ratio", "rsync -a to a loopback rsync daemon, after the edits (its delta transfer)", p.rsyncWhy, re, p.rsyncRe},
		{"rclone_cold_ratio", "rclone copy to a local remote, cold", p.rcloneWhy, cold, p.rcloneCold},
		{"rclone_resave_ratio", "rclone copy to a local remote, after the edits (whole changed files)", p.rcloneWhy, re, p.rcloneRe},
	} {
		base := "iscsdk save time / " + x.what
		if x.why != "" {
			r.skip(x.key, "ratio", base, x.why)
			continue
		}
		r.add(x.key, x.mine.Seconds()/x.theirs.Seconds(), "ratio", base,
			fmt.Sprintf("iscsdk %.2fs, peer %.2fs", x.mine.Seconds(), x.theirs.Seconds()))
	}
}
