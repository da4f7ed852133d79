package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// A wanLink is a link of the shaped-link group: a rate set with tc's
// token bucket filter on the loopback of a network namespace, and a round
// trip added by toxiproxy (half each way).
type wanLink struct {
	name string // in the keys: 100m_0ms
	rate int64  // bits per second
	rtt  time.Duration
}

var wanLinks = []wanLink{
	{"100m_0ms", 100e6, 0},
	{"100m_20ms", 100e6, 20 * time.Millisecond},
	{"1g_0ms", 1e9, 0},
	{"1g_5ms", 1e9, 5 * time.Millisecond},
}

// wanCorpusSize is the shaped-link group's corpus: 96 MiB (quick 24).
func wanCorpusSize(quick bool) int64 {
	if quick {
		return 24 << 20
	}
	return 96 << 20
}

// wanResult is what the child in the namespace measured on one link.
type wanResult struct {
	Cold, Resave             float64 // iscsdk, seconds
	ColdBytes, ResaveBytes   int64   // iscsdk, encoded bytes sent
	RsyncCold, RsyncResave   float64 // rsync -a to a daemon
	RsyncZCold, RsyncZResave float64 // rsync -az
	RcloneCold, RcloneResave float64 // rclone copy to rclone serve sftp
	Edits                    []string
}

// benchWAN runs iscd, an rsync daemon and an rclone SFTP server inside a
// network namespace whose loopback is shaped to each link in turn, and
// saves the corpus (cold, then after 10 edits) with iscsdk, rsync, rsync -z
// and rclone. It needs root (ip netns, tc) and toxiproxy in BUILD/tools.
func benchWAN(ctx context.Context, e *env, r *report) error {
	why := ""
	toxi := filepath.Join(e.opt.build, "tools", "toxiproxy-server")
	switch {
	case os.Geteuid() != 0:
		why = "needs root (ip netns, tc)"
	case !statOK(toxi):
		why = toxi + " missing (make bench installs it: toxiproxy v2.5.0)"
	}
	for _, tool := range []string{"ip", "tc", "rsync", "rclone"} {
		if _, err := exec.LookPath(tool); err != nil && why == "" {
			why = tool + " not installed"
		}
	}
	if why != "" {
		for _, l := range wanLinks {
			for _, k := range wanKeys {
				r.skip("wan_"+l.name+"_"+k.key, k.unit, k.what, why)
			}
		}
		return nil
	}
	repo := filepath.Dir(e.opt.include)
	c, err := makeCorpus(filepath.Join(e.opt.tmp, "wan-corpus"), wanCorpusSize(e.opt.quick), repo)
	if err != nil {
		return err
	}
	defer os.RemoveAll(c.dir)
	fmt.Fprintf(e.log, "   corpus: %s\n", c.describe())

	ns := fmt.Sprintf("iscbench%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add: %v: %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", ns).Run()
	// A link's MTU, not loopback's 64 KiB: tbf's bucket must hold a packet.
	if out, err := exec.Command("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "mtu", "1500", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("ip link: %v: %s", err, out)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for i, l := range wanLinks {
		burst := max(l.rate/8/100, 64<<10) // 10 ms of the rate
		if out, err := exec.Command("ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", "lo", "root", "tbf",
			"rate", strconv.FormatInt(l.rate, 10)+"bit", "burst", strconv.FormatInt(burst, 10), "latency", "400ms").CombinedOutput(); err != nil {
			return fmt.Errorf("tc: %v: %s", err, out)
		}
		tmp := filepath.Join(e.opt.tmp, fmt.Sprintf("wan%d", i))
		var out, errOut bytes.Buffer
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, self, "wan-link", "-dir", c.dir, "-build", e.opt.build,
			"-tmp", tmp, "-rtt", l.rtt.String(), "-toxiproxy", toxi, "-seed", strconv.Itoa(i))
		cmd.Stdout, cmd.Stderr = &out, &errOut
		t := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("link %s: %v: %s", l.name, err, errOut.String())
		}
		os.RemoveAll(tmp)
		var res wanResult
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			return fmt.Errorf("link %s: %v: %s", l.name, err, out.String())
		}
		fmt.Fprintf(e.log, "   %s: %+v (%.0fs)\n", l.name, res, time.Since(t).Seconds())
		l.report(r, res, c.size)
	}
	return nil
}

var wanKeys = []struct{ key, unit, what string }{
	{"save_cold_vs_rsync_z", "ratio", "iscsdk cold save time / rsync -az's to a daemon over the same link"},
	{"save_cold_vs_rsync", "ratio", "iscsdk cold save time / rsync -a's"},
	{"save_cold_vs_rclone", "ratio", "iscsdk cold save time / rclone copy's to rclone serve sftp"},
	{"resave_vs_rsync", "ratio", "iscsdk re-save after 10 edits / rsync -a's"},
	{"resave_vs_rsync_z", "ratio", "iscsdk re-save after 10 edits / rsync -az's"},
	{"resave_vs_rclone", "ratio", "iscsdk re-save after 10 edits / rclone's"},
	{"link_utilisation", "ratio", "iscsdk cold save: bytes on the wire per second / the link's rate"},
}

func (l wanLink) report(r *report, res wanResult, size int64) {
	link := fmt.Sprintf("%d Mbit/s, %s round trip", l.rate/1e6, l.rtt)
	detail := fmt.Sprintf("%s; %.1f MB: iscsdk %.2fs (%.1f MB sent), rsync %.2fs, rsync -z %.2fs, rclone %.2fs; after the edits iscsdk %.2fs (%.0f KB), rsync %.2fs, rsync -z %.2fs, rclone %.2fs",
		link, float64(size)/1e6, res.Cold, float64(res.ColdBytes)/1e6, res.RsyncCold, res.RsyncZCold, res.RcloneCold,
		res.Resave, float64(res.ResaveBytes)/1e3, res.RsyncResave, res.RsyncZResave, res.RcloneResave)
	vals := []float64{res.Cold / res.RsyncZCold, res.Cold / res.RsyncCold, res.Cold / res.RcloneCold,
		res.Resave / res.RsyncResave, res.Resave / res.RsyncZResave, res.Resave / res.RcloneResave,
		float64(res.ColdBytes) * 8 / res.Cold / float64(l.rate)}
	for i, k := range wanKeys {
		r.add("wan_"+l.name+"_"+k.key, vals[i], k.unit, k.what+" ("+link+")", detail)
	}
}

// helperWANLink is the child of benchWAN inside the namespace: it starts
// iscd, an rsync daemon, rclone serve sftp and (for a round trip)
// toxiproxy in front of each, copies the corpus with each tool, edits it,
// copies again, and prints a wanResult.
func helperWANLink(args []string) error {
	fs := flag.NewFlagSet("wan-link", flag.ContinueOnError)
	dir := fs.String("dir", "", "the corpus")
	build := fs.String("build", "build", "build directory")
	tmp := fs.String("tmp", "", "a directory of its own")
	rtt := fs.Duration("rtt", 0, "round trip to add")
	toxi := fs.String("toxiproxy", "", "toxiproxy-server")
	seed := fs.Uint64("seed", 0, "of the edits")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
	}()
	start := func(name string, args ...string) error {
		cmd := exec.Command(name, args...)
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
		return nil
	}

	iscd, err := servertest.StartBinary(filepath.Join(*build, "bin", "iscd"), filepath.Join(*tmp, "iscd"))
	if err != nil {
		return err
	}
	defer iscd.Stop()
	rsyncPort, sftpPort := freePort(), freePort()
	rdir := filepath.Join(*tmp, "rsyncd")
	for _, d := range []string{"plain", "z", "rclone"} {
		os.MkdirAll(filepath.Join(rdir, d), 0o755)
	}
	// As root the daemon needs uid = root, or it cannot write.
	conf := fmt.Sprintf("use chroot = false\nuid = root\ngid = root\n[plain]\npath = %s/plain\nread only = false\n[z]\npath = %s/z\nread only = false\n", rdir, rdir)
	os.WriteFile(filepath.Join(rdir, "rsyncd.conf"), []byte(conf), 0o644)
	if err := start("rsync", "--daemon", "--no-detach", "--address=127.0.0.1", "--port="+strconv.Itoa(rsyncPort), "--config="+filepath.Join(rdir, "rsyncd.conf")); err != nil {
		return err
	}
	if err := start("rclone", "serve", "sftp", filepath.Join(rdir, "rclone"), "--addr", "127.0.0.1:"+strconv.Itoa(sftpPort), "--user", "bench", "--pass", "bench",
		"--config", filepath.Join(*tmp, "rclone.conf")); err != nil {
		return err
	}
	iscdAddr := strings.TrimSuffix(strings.TrimPrefix(iscd.Env["ISCSDK_ENDPOINT"], "ws://"), "/v1/session")
	targets := map[string]string{"iscd": iscdAddr, "rsync": "127.0.0.1:" + strconv.Itoa(rsyncPort), "sftp": "127.0.0.1:" + strconv.Itoa(sftpPort)}
	for _, a := range targets {
		if err := waitListening(a); err != nil {
			return err
		}
	}
	if *rtt > 0 {
		api := "127.0.0.1:" + strconv.Itoa(freePort())
		if err := start(*toxi, "-host", "127.0.0.1", "-port", strings.Split(api, ":")[1]); err != nil {
			return err
		}
		if err := waitListening(api); err != nil {
			return err
		}
		for name, up := range targets {
			listen := "127.0.0.1:" + strconv.Itoa(freePort())
			if err := toxiproxy(api, name, listen, up, *rtt/2); err != nil {
				return err
			}
			targets[name] = listen
		}
	}
	obscured, err := exec.Command("rclone", "obscure", "bench").Output()
	if err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(targets["sftp"])
	rcloneEnv := append(os.Environ(), "RCLONE_CONFIG_WAN_TYPE=sftp", "RCLONE_CONFIG_WAN_HOST="+host, "RCLONE_CONFIG_WAN_PORT="+port,
		"RCLONE_CONFIG_WAN_USER=bench", "RCLONE_CONFIG_WAN_PASS="+strings.TrimSpace(string(obscured)))
	tool := func(env []string, name string, args ...string) (float64, error) {
		cmd := exec.Command(name, args...)
		cmd.Env = env
		t := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%s: %v: %s", name, err, out)
		}
		return time.Since(t).Seconds(), nil
	}
	peers := func(res *wanResult, resave bool) error {
		rs := "rsync://" + targets["rsync"] + "/"
		steps := []struct {
			into *float64
			env  []string
			args []string
		}{
			{&res.RsyncCold, nil, []string{"rsync", "-a", *dir + "/", rs + "plain/"}},
			{&res.RsyncZCold, nil, []string{"rsync", "-az", *dir + "/", rs + "z/"}},
			{&res.RcloneCold, rcloneEnv, []string{"rclone", "copy", "--config", filepath.Join(*tmp, "rclone.conf"), *dir, "wan:" + filepath.Join(rdir, "rclone")}},
		}
		for _, s := range steps {
			into := s.into
			if resave {
				switch into {
				case &res.RsyncCold:
					into = &res.RsyncResave
				case &res.RsyncZCold:
					into = &res.RsyncZResave
				default:
					into = &res.RcloneResave
				}
			}
			d, err := tool(s.env, s.args[0], s.args[1:]...)
			if err != nil {
				return err
			}
			*into = d
		}
		return nil
	}

	endpoint := "ws://" + targets["iscd"] + "/v1/session"
	c, err := sdk.Init(ctx, sdk.Config{Endpoint: endpoint, Token: iscd.Env["ISCSDK_TOKEN"], ProductID: iscd.Env["ISCSDK_PRODUCT"],
		AppVersion: "iscbench", WorkspaceDir: filepath.Join(*tmp, "ws"), CredentialsFile: filepath.Join(*tmp, "none"), LogLevel: "warn", NoBrowser: true})
	if err != nil {
		return err
	}
	defer c.Close()
	var res wanResult
	t := time.Now()
	cold, err := c.SaveTo(ctx, *dir, "/wan/corpus", 0, sdk.SaveOptions{Assembly: true})
	if err != nil {
		return err
	}
	res.Cold, res.ColdBytes = time.Since(t).Seconds(), cold.BytesSent
	if err := peers(&res, false); err != nil {
		return err
	}
	if res.Edits, err = editTen(*dir, *seed); err != nil {
		return err
	}
	t = time.Now()
	re, err := c.SaveTo(ctx, *dir, "/wan/corpus", cold.Version, sdk.SaveOptions{Assembly: true})
	if err != nil {
		return err
	}
	res.Resave, res.ResaveBytes = time.Since(t).Seconds(), re.BytesSent
	if err := peers(&res, true); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// toxiproxy adds a proxy from listen to upstream with half the round trip
// of latency each way.
func toxiproxy(api, name, listen, upstream string, oneWay time.Duration) error {
	post := func(path string, v any) error {
		b, _ := json.Marshal(v)
		resp, err := http.Post("http://"+api+path, "application/json", bytes.NewReader(b))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("toxiproxy %s: %s", path, resp.Status)
		}
		return nil
	}
	if err := post("/proxies", map[string]any{"name": name, "listen": listen, "upstream": upstream, "enabled": true}); err != nil {
		return err
	}
	for _, stream := range []string{"upstream", "downstream"} {
		if err := post("/proxies/"+name+"/toxics", map[string]any{"name": "latency_" + stream, "type": "latency", "stream": stream,
			"attributes": map[string]any{"latency": oneWay.Milliseconds(), "jitter": 0}}); err != nil {
			return err
		}
	}
	return waitListening(listen)
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitListening polls addr until a connection succeeds (another process
// opens it).
func waitListening(addr string) error {
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s after 15s", addr)
}

// editTen makes the data group's kind of edits to the files of dir of at
// least 256 KiB: 5 overwrites of 8 bytes and 5 inserts of 40, in 10 files.
func editTen(dir string, seed uint64) ([]string, error) {
	var big []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil && info.Size() >= 256<<10 {
				big = append(big, p)
			}
		}
		return nil
	})
	slices.Sort(big)
	if len(big) < 10 {
		return nil, errors.New("fewer than 10 files of 256 KiB to edit")
	}
	rng := rand.New(rand.NewPCG(seed, 0xed17))
	rng.Shuffle(len(big), func(i, j int) { big[i], big[j] = big[j], big[i] })
	var out []string
	for i, p := range big[:10] {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		at := rng.IntN(len(b) - 64)
		if i < 5 {
			copy(b[at:], "EDITED!!")
		} else {
			b = slices.Insert(b, at, []byte(strings.Repeat("inserted", 5))...)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%s@%d", filepath.Base(p), at))
	}
	return out, nil
}

func statOK(p string) bool { _, err := os.Stat(p); return err == nil }
