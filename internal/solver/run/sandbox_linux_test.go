package run_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/solver/run"
	"github.com/iscsdk/iscsdk/internal/solver/solvertest"
)

func sandbox(t *testing.T, cfg run.SandboxConfig) *run.Sandbox {
	t.Helper()
	sb, err := run.NewSandbox(cfg)
	if err != nil {
		t.Fatalf("%v (.ci/run installs bubblewrap)", err)
	}
	return sb
}

// A sandboxed solver sees its job directory, /usr and nothing of the
// machine's files: not /etc/passwd, not a secret beside the job, not the
// worker's environment; it cannot write outside the job, and runs under
// the limits, as nobody when the worker is root.
func TestSandboxConfinesTheSolver(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "dev.env")
	os.WriteFile(secret, []byte("ISCD_ADMIN_TOKEN=isa_secret\n"), 0o644)
	os.Chmod(outside, 0o777)
	spec := sh(t, `
		cat /etc/passwd `+secret+` 2>&1
		echo escaped > `+outside+`/escape 2>&1
		echo escaped > /tmp/../`+outside+`/escape2 2>&1
		echo escaped > /escaped 2>&1 && echo "LEAKED root write"
		echo "root: $(ls / | tr '\n' ' ')"
		echo "home: $HOME $PWD"
		echo "uid: $(id -u)"
		echo "limits: $(ulimit -n) $(ulimit -p) $(ulimit -v)"
		echo "env: $ISCD_ADMIN_TOKEN"
		echo ok > result.txt`)
	t.Setenv("ISCD_ADMIN_TOKEN", "isa_secret")
	spec.Sandbox = sandbox(t, run.SandboxConfig{Limits: run.Limits{OpenFiles: 77, Processes: 99, AddressSpace: 1 << 34}})
	res, lines, _, dir := collect(t, context.Background(), spec)
	out := strings.Join(lines, "\n")
	if res.ErrorCode != "" {
		t.Fatalf("result %+v\n%s", res, out)
	}
	if strings.Contains(out, "isa_secret") || strings.Contains(out, "root:x:0") || strings.Contains(out, "LEAKED") {
		t.Fatalf("the solver read the machine's files or environment:\n%s", out)
	}
	for _, f := range []string{"escape", "escape2"} {
		if _, err := os.Stat(filepath.Join(outside, f)); err == nil {
			t.Fatalf("the solver wrote %s outside its job", f)
		}
	}
	want := []string{"root: bin dev etc job lib lib64 proc sbin tmp usr ", "home: /job /job", "limits: 77 99 " + strconv.Itoa(1<<24)}
	if os.Geteuid() == 0 {
		want = append(want, "uid: 65534")
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("no line %q in:\n%s", w, out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "result.txt")); err != nil || string(b) != "ok\n" {
		t.Fatalf("result.txt %q %v: the solver could not write its job", b, err)
	}
}

// A worker whose hard limit of open files is below the default (a
// container's 1,024) gives its solvers that limit rather than failing
// every job; a limit asked for above it is refused at the start, saying
// why. The test runs itself again under prlimit --nofile=300:300.
func TestSandboxUnderALowOpenFilesLimit(t *testing.T) {
	if os.Getenv("RUN_TEST_LOW_NOFILE") == "" {
		prlimit, err := exec.LookPath("prlimit")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(prlimit, "--nofile=300:300", os.Args[0], "-test.run=^TestSandboxUnderALowOpenFilesLimit$", "-test.v")
		cmd.Env = append(os.Environ(), "RUN_TEST_LOW_NOFILE=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestSandboxUnderALowOpenFilesLimit") {
			t.Fatalf("under prlimit --nofile=300:300: %v\n%s", err, out)
		}
		return
	}
	spec := sh(t, `echo "limits: $(ulimit -n)"`)
	spec.Sandbox = sandbox(t, run.SandboxConfig{})
	res, lines, _, _ := collect(t, context.Background(), spec)
	if out := strings.Join(lines, "\n"); res.ErrorCode != "" || !strings.Contains(out, "limits: 300") {
		t.Fatalf("result %+v:\n%s", res, out)
	}
	_, err := run.NewSandbox(run.SandboxConfig{Limits: run.Limits{OpenFiles: 4096}})
	if !errors.Is(err, run.ErrNoSandbox) || !strings.Contains(fmt.Sprint(err), "hard limit (300") {
		t.Fatalf("a limit of 4096 open files under a hard limit of 300: %v", err)
	}
}

// No network unless the solver's configuration allows it: a connection
// to a port this test listens on fails inside the sandbox, and works for
// a solver with Network.
func TestSandboxNetwork(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	sb := sandbox(t, run.SandboxConfig{})
	for _, network := range []bool{false, true} {
		spec := run.Spec{Main: "model.inp", Sandbox: sb, Command: run.Command{Program: bash, Network: network,
			Args: []string{"-c", `if echo hi > /dev/tcp/127.0.0.1/` + port + `; then echo connected; else echo refused; fi`}}}
		res, lines, _, _ := collect(t, context.Background(), spec)
		want := map[bool]string{false: "refused", true: "connected"}[network]
		if res.ErrorCode != "" || !strings.Contains(strings.Join(lines, "\n"), want) {
			t.Fatalf("network %v: %+v %q, want %q", network, res, lines, want)
		}
	}
}

// Cancel stops the whole sandboxed tree: the solver and the processes
// it started (as the machine sees them) are gone when Run returns.
func TestSandboxCancelKillsTheTree(t *testing.T) {
	spec := sh(t, `sleep 31.4159 & sleep 27.1828 & echo started; wait`)
	spec.Sandbox = sandbox(t, run.SandboxConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	var pids []int
	dir := jobDir(t)
	os.WriteFile(filepath.Join(dir, "model.inp"), nil, 0o600)
	res := run.Run(ctx, dir, spec, func(p run.Progress) {
		if len(p.Lines) > 0 && pids == nil {
			for _, m := range []string{"31.4159", "27.1828"} {
				pid := 0
				for deadline := time.Now().Add(5 * time.Second); pid == 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					pid = solvertest.Pid(m) // the shell says "started" before the kernel has exec'd both
				}
				pids = append(pids, pid)
			}
			cancel()
		}
	})
	if res.ErrorCode != run.CodeCanceled {
		t.Fatalf("result %+v", res)
	}
	for _, pid := range pids {
		if pid == 0 {
			t.Fatal("a child was not found running: the test proves nothing")
		}
		if alive(strconv.Itoa(pid)) {
			t.Fatalf("pid %d outlived the canceled run", pid)
		}
	}
}

// The real CalculiX solves in the sandbox, progress and all.
func TestSandboxRunsCalculix(t *testing.T) {
	ccx, err := run.ParseCommand(run.Presets["calculix"])
	if err != nil {
		t.Skip("ccx not installed")
	}
	deck, err := os.ReadFile("../../../examples/data/beam.inp")
	if err != nil {
		t.Fatal(err)
	}
	dir := jobDir(t)
	os.WriteFile(filepath.Join(dir, "beam.inp"), deck, 0o600)
	var last float64
	res := run.Run(context.Background(), dir, run.Spec{Command: ccx, Main: "beam.inp", Progress: "calculix", Sandbox: sandbox(t, run.SandboxConfig{})},
		func(p run.Progress) { last = p.Percent })
	if res.ErrorCode != "" || res.CPU <= 0 || last != 100 {
		t.Fatalf("result %+v, last percent %v", res, last)
	}
	if dat, err := os.ReadFile(filepath.Join(dir, "beam.dat")); err != nil || !strings.Contains(string(dat), "displacements") {
		t.Fatalf("beam.dat: %.200q %v", dat, err)
	}
}
