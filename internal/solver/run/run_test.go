package run_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/solver/run"
)

func sh(t *testing.T, script string) run.Spec {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the command tests use sh")
	}
	return run.Spec{Command: run.Command{Program: "/bin/sh", Args: []string{"-c", script}}, Main: "model.inp"}
}

// jobDir is a fresh job directory whose path a sandbox's user (nobody,
// under a root worker) can reach, as a worker's are.
func jobDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

// collect runs spec in a fresh directory and returns the result and every
// reported line and percent.
func collect(t *testing.T, ctx context.Context, spec run.Spec) (run.Result, []string, []float64, string) {
	t.Helper()
	dir := jobDir(t)
	if err := os.WriteFile(filepath.Join(dir, spec.Main), []byte("model\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	var pcts []float64
	res := run.Run(ctx, dir, spec, func(p run.Progress) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, p.Lines...)
		pcts = append(pcts, p.Percent)
	})
	return res, lines, pcts, dir
}

func TestCommandOutputIsReportedAndLogged(t *testing.T) {
	spec := sh(t, `echo "solving $(basename $0)"; echo warn >&2; test "$HOME" = "$PWD" && test -z "$SECRET" && echo clean-env; exit 0`)
	t.Setenv("SECRET", "worker-only")
	res, lines, _, dir := collect(t, context.Background(), spec)
	if res.ErrorCode != "" || res.ExitCode != 0 {
		t.Fatalf("result %+v", res)
	}
	want := []string{"solving sh", "warn", "clean-env"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Fatalf("reported lines %q, want %q", lines, want)
	}
	log, _ := os.ReadFile(filepath.Join(dir, run.LogFile))
	if string(log) != "solving sh\nwarn\nclean-env\n" {
		t.Fatalf("solver.log: %q", log)
	}
}

func TestCommandFailureSaysWhy(t *testing.T) {
	res, _, _, _ := collect(t, context.Background(), sh(t, `echo reading; echo "*ERROR: no elements" ; exit 3`))
	if res.ExitCode != 3 || res.ErrorCode != run.CodeSolverFailed || !strings.Contains(res.Error, "*ERROR: no elements") {
		t.Fatalf("result %+v", res)
	}
	if n := len(res.LogTail); n != 2 || res.LogTail[n-1] != "*ERROR: no elements" {
		t.Fatalf("log tail %q", res.LogTail)
	}
}

func TestTimeLimitStopsTheWholeGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	spec := sh(t, `sleep 30 & echo $! > `+pidFile+`; wait`)
	spec.TimeLimit = 300 * time.Millisecond
	res, _, _, _ := collect(t, context.Background(), spec)
	if res.ErrorCode != run.CodeTimeLimit {
		t.Fatalf("result %+v", res)
	}
	pid, _ := os.ReadFile(pidFile)
	if alive(strings.TrimSpace(string(pid))) {
		t.Fatalf("the solver's child %s outlived the time limit", pid)
	}
}

func TestCancelStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	spec := sh(t, `echo started; exec sleep 30`)
	var res run.Result
	done := make(chan struct{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "model.inp"), nil, 0o600)
	go func() {
		defer close(done)
		res = run.Run(ctx, dir, spec, func(p run.Progress) {
			if len(p.Lines) > 0 {
				cancel()
			}
		})
	}()
	<-done
	if res.ErrorCode != run.CodeCanceled {
		t.Fatalf("result %+v", res)
	}
	if res.Wall > 5*time.Second {
		t.Fatalf("cancel took %s", res.Wall) // generous: this is a hang check, not a timing
	}
}

func TestOutputLimit(t *testing.T) {
	spec := sh(t, `while :; do head -c 65536 /dev/zero >> big.out; done`)
	spec.MaxOutput = 1 << 20
	res, _, _, _ := collect(t, context.Background(), spec)
	if res.ErrorCode != run.CodeOutputLimit {
		t.Fatalf("result %+v", res)
	}
}

func TestParseCommand(t *testing.T) {
	c, err := run.ParseCommand(`sh -c 'echo "{main}"' solver {args}`)
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(c.Program) || strings.Join(c.Args, "|") != `-c|echo "{main}"|solver|{args}` || !c.TakesArgs() {
		t.Fatalf("%+v", c)
	}
	for def, want := range map[string]string{
		"no-such-solver-iscsdk -i {stem}": "no-such-solver-iscsdk",
		"{main}":                          "placeholder",
		"sh x{args}":                      "{args} must stand alone",
		"":                                "no program",
		"sh 'open":                        "single quote is not closed",
	} {
		if _, err := run.ParseCommand(def); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error saying %q", def, err, want)
		}
	}
}

func TestExpand(t *testing.T) {
	c := run.Command{Program: "/usr/bin/ccx", Args: []string{"-i", "{stem}", "{args}", "-t", "{cores}"}}
	got, err := c.Expand("beam.inp", []string{"o", "x"}, 4)
	if err != nil || strings.Join(got, " ") != "/usr/bin/ccx -i beam o x -t 4" {
		t.Fatalf("%q %v", got, err)
	}
	noArgs := run.Command{Program: "/usr/bin/ccx", Args: []string{"-i", "{stem}"}}
	for _, tc := range []struct {
		c    run.Command
		main string
		args []string
	}{
		{noArgs, "beam.inp", []string{"evil"}}, // a template without {args}
		{c, "-o.inp", nil},                     // a model the solver would read as an option
		{c, "beam.inp", []string{"x", "--evil"}},
		{c, "-", nil},
	} {
		if _, err := tc.c.Expand(tc.main, tc.args, 1); !errors.Is(err, run.ErrBadArgument) {
			t.Errorf("%q %q: %v, want ErrBadArgument", tc.main, tc.args, err)
		}
	}
	res, _, _, _ := collect(t, context.Background(), run.Spec{Command: c, Main: "-o.inp"})
	if res.ErrorCode != run.CodeBadArgument {
		t.Fatalf("a model named -o.inp: %+v", res)
	}
}

// CalculiX's own output drives the percent: the real solver, if installed.
func TestCalculixProgress(t *testing.T) {
	ccx, err := exec.LookPath("ccx")
	if err != nil {
		t.Skip("ccx not installed")
	}
	deck, err := os.ReadFile("../../../examples/data/beam.inp")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "beam.inp"), deck, 0o600)
	var pcts []float64
	res := run.Run(context.Background(), dir, run.Spec{Command: run.Command{Program: ccx, Args: []string{"-i", "{stem}"}}, Main: "beam.inp", Progress: "calculix"},
		func(p run.Progress) { pcts = append(pcts, p.Percent) })
	if res.ErrorCode != "" || res.CPU <= 0 {
		t.Fatalf("result %+v", res)
	}
	if len(pcts) == 0 || pcts[len(pcts)-1] != 100 {
		t.Fatalf("percents %v, want to end at 100", pcts)
	}
	if dat, _ := os.ReadFile(filepath.Join(dir, "beam.dat")); !bytes.Contains(dat, []byte("displacements")) {
		t.Fatalf("beam.dat: %.200q", dat)
	}
}

// aliveNow reports whether a process exists and is not a zombie (a killed
// orphan may wait for a container's init to reap it).
func aliveNow(pid string) bool {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// alive reports whether pid still runs 5 seconds from now: a process that
// was sent SIGKILL ends at once, but its exit need not have completed when
// its pipe closed.
func alive(pid string) bool {
	for deadline := time.Now().Add(5 * time.Second); aliveNow(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return true
		}
	}
	return false
}

// A child that escaped the solver's process group (a new session) and
// keeps its output open does not hold the job: the run ends with the
// solver, while that child still lives.
func TestEscapedChildDoesNotHoldTheRun(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid")
	}
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "escaped.pid")
	spec := sh(t, `setsid sh -c 'echo $$ > `+pidFile+`; exec sleep 30' & while [ ! -s `+pidFile+` ]; do sleep 0.01; done; echo solved`)
	res, lines, _, _ := collect(t, context.Background(), spec)
	pid, _ := os.ReadFile(pidFile)
	t.Cleanup(func() { exec.Command("kill", "-9", strings.TrimSpace(string(pid))).Run() })
	if res.ErrorCode != "" || strings.Join(lines, "|") != "solved" {
		t.Fatalf("result %+v, lines %q", res, lines)
	}
	if !aliveNow(strings.TrimSpace(string(pid))) {
		t.Fatal("the escaped child is gone: the test proves nothing")
	}
}
