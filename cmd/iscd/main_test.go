package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command"},
		{[]string{"nope"}, `unknown command "nope"`},
		{[]string{"serve", "--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"serve", "--log-level", "loud"}, "--log-level"},
		{[]string{"serve", "--data", t.TempDir(), "--listen", "256.0.0.1:0"}, "no key-encryption key"},
		{[]string{"serve", "--dev", "--data", t.TempDir(), "--listen", "256.0.0.1:0"}, "listen 256.0.0.1:0"},
		{[]string{"serve", "--kek-file", filepath.Join(t.TempDir(), "none")}, "--kek-file"},
		{[]string{"kek", "rotate"}, "--kek-file FILE is needed"},
		{[]string{"kek", "nope"}, `unknown command "nope"`},
	} {
		var out, errb bytes.Buffer
		err := run(tc.args, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("iscd %v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
	var out bytes.Buffer
	if err := run([]string{"version"}, &out, &out); err != nil || !strings.HasPrefix(out.String(), "iscd ") {
		t.Errorf("version: %q %v", out.String(), err)
	}
}

// `iscd worker --solvers FILE` reads the worker's solver flags from a
// file: a well-formed one gets as far as the missing --server, a bad line
// is named with its number.
func TestWorkerSolversFile(t *testing.T) {
	t.Setenv("ISCD_SERVER", "")
	file := func(text string) string {
		p := filepath.Join(t.TempDir(), "solvers.conf")
		os.WriteFile(p, []byte(text), 0o600)
		return p
	}
	for _, tc := range []struct{ text, want string }{
		{"# the machine's solvers\nsolver t=/usr/bin/true -i {stem}\n\nsolver-network t\nsandbox-share /tmp\n", "--server is required"},
		{"solver t=/usr/bin/true\nsolver-network nope\n", "--solver-network nope: no such --solver"},
		{"solver t=/usr/bin/true\nserver http://evil\n", `solvers.conf:2: "server" is not one of`},
		{"solver t=/no/such/solver -i {stem}\n", "solvers.conf:1: solver: solver t: program /no/such/solver"},
		{"solver t=/usr/bin/true\nsolver t=/usr/bin/true\n", "solvers.conf:2: solver: solver t given twice"},
	} {
		var out, errb bytes.Buffer
		err := run([]string{"worker", "--solvers", file(tc.text)}, &out, &errb)
		if err == nil || !strings.Contains(err.Error()+errb.String(), tc.want) {
			t.Errorf("solvers file %q: %v %s, want %q", tc.text, err, errb.String(), tc.want)
		}
	}
}

// The real binary: it starts, says where it listens, and stops cleanly on
// SIGTERM; with $ISCD_TRACE it leaves a Go execution trace there.
func TestServeStopsOnSIGTERM(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "iscd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := t.TempDir()
	tracePath := filepath.Join(t.TempDir(), "iscd.trace")
	cmd := exec.Command(bin, "serve", "--dev", "--data", data, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "ISCD_TRACE="+tracePath)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var logs []string
	for sc.Scan() {
		logs = append(logs, sc.Text())
		if strings.Contains(sc.Text(), `"msg":"listening"`) {
			break
		}
	}
	if _, err := os.Stat(filepath.Join(data, "dev.env")); err != nil {
		t.Fatalf("dev.env missing once listening: %v\n%s", err, strings.Join(logs, "\n"))
	}
	cmd.Process.Signal(syscall.SIGTERM)
	watchdog := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer watchdog.Stop()
	for sc.Scan() { // until iscd exits and its stderr closes
		logs = append(logs, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("iscd exited with %v after SIGTERM\n%s", err, strings.Join(logs, "\n"))
	}
	if !strings.Contains(strings.Join(logs, "\n"), `"msg":"shutting down"`) {
		t.Fatalf("no graceful shutdown in the log:\n%s", strings.Join(logs, "\n"))
	}
	if b, err := os.ReadFile(tracePath); err != nil || !bytes.HasPrefix(b, []byte("go 1.")) || len(b) < 1000 {
		t.Errorf("ISCD_TRACE: want a Go execution trace, got %d bytes (%q...), %v", len(b), b[:min(len(b), 16)], err)
	}
}

func TestMarketplaceKey(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "mkt.key")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ISCD_MARKETPLACE_KEY", "from-env")
	if c, err := marketplaceConfig(file, "acme", "cad"); err != nil || c.AccessKey != "from-file" || !c.Enabled || c.DefaultOrg != "acme" || c.DefaultProduct != "cad" {
		t.Fatalf("key file: %v %v", c, err)
	}
	if c, err := marketplaceConfig("", "", ""); err != nil || c.AccessKey != "from-env" || !c.Enabled {
		t.Fatalf("env: %v %v", c, err)
	}
	t.Setenv("ISCD_MARKETPLACE_KEY", "")
	if c, err := marketplaceConfig("", "", ""); err != nil || c.Enabled {
		t.Fatalf("no key: %v %v", c, err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte(" \n"), 0o600)
	for _, f := range []string{empty, filepath.Join(dir, "missing")} {
		if _, err := marketplaceConfig(f, "", ""); err == nil || !strings.Contains(err.Error(), "--marketplace-key-file") {
			t.Errorf("%s: err = %v", f, err)
		}
	}
}
