//go:build linux || darwin || freebsd || netbsd

package plugin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The tests build the example heat plugin and the fake plugins of testdata
// with gcc into a temporary directory, once, then load them. They use no
// cgo themselves: `CGO_ENABLED=0 go test` runs them as a pure-Go worker
// would (make test does).

var (
	root     string            // the repository
	libs     map[string]string // name -> built library
	buildErr error
)

func TestMain(m *testing.M) {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	root = filepath.Join(wd, "..", "..", "..")
	dir, err := os.MkdirTemp("", "solverplugin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		buildPlugins(dir)
		return m.Run()
	}()
	os.Exit(code)
}

// buildPlugins compiles the plugins into dir, recording the first failure in buildErr.
func buildPlugins(dir string) {
	if _, err := exec.LookPath("gcc"); err != nil {
		buildErr = errors.New("gcc not found: the solver plugin tests are SKIPPED (apt-get install gcc)")
		return
	}
	include := filepath.Join(root, "include")
	builds := []struct {
		name, src string
		flags     []string
	}{
		{"heat", "examples/solver-plugin/heat.c", []string{"-O2", "-lm"}},
		{"fake", "internal/solver/plugin/testdata/fake.c", nil},
		{"noSolve", "internal/solver/plugin/testdata/fake.c", []string{"-DFAKE_NO_SOLVE"}},
		{"version99", "internal/solver/plugin/testdata/fake.c", []string{"-DFAKE_VERSION=99"}},
		{"status7", "internal/solver/plugin/testdata/fake.c", []string{"-DFAKE_STATUS=7"}},
		{"statusMinus7", "internal/solver/plugin/testdata/fake.c", []string{"-DFAKE_STATUS=-7"}},
		{"statusCanceled", "internal/solver/plugin/testdata/fake.c", []string{"-DFAKE_STATUS=-2"}},
	}
	libs = make(map[string]string)
	for _, b := range builds {
		out := filepath.Join(dir, "lib"+b.name+".so")
		args := []string{"-shared", "-fPIC", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror",
			"-I" + include, filepath.Join(root, b.src), "-o", out}
		args = append(args, b.flags...)
		if msg, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("gcc %s: %v\n%s", b.src, err, msg)
			return
		}
		libs[b.name] = out
	}
}

func lib(t *testing.T, name string) string {
	t.Helper()
	if buildErr != nil {
		if strings.Contains(buildErr.Error(), "SKIPPED") {
			t.Skip(buildErr)
		}
		t.Fatal(buildErr)
	}
	return libs[name]
}

func open(t *testing.T, name string) *Plugin {
	t.Helper()
	p, err := Open(lib(t, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// heatJob makes a workdir holding model.heat with text.
func heatJob(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "model.heat"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// report is one call of the progress function.
type report struct {
	percent float64
	line    string
}

func summary(t *testing.T, dir string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "summary.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := make(map[string]string)
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, _ := strings.Cut(s.Text(), " ")
		m[k] = v
	}
	return m
}

func number(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestBuiltWithoutCgo(t *testing.T) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		t.Skip("no build info")
	}
	for _, s := range info.Settings {
		if s.Key == "CGO_ENABLED" {
			t.Logf("CGO_ENABLED=%s", s.Value)
		}
	}
}

func TestSolvePlate(t *testing.T) {
	p := open(t, "heat")
	if p.Name() != "heat 1.0" {
		t.Errorf("Name() = %q", p.Name())
	}
	dir := t.TempDir()
	plate, err := os.ReadFile(filepath.Join(root, "examples/solver-plugin/plate.heat"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plate.heat"), plate, 0o600); err != nil {
		t.Fatal(err)
	}
	var reports []report
	code, err := p.Solve(context.Background(), dir, `{"input": "plate.heat"}`, func(percent float64, line string) {
		reports = append(reports, report{percent, line})
	})
	if code != 0 || err != nil {
		t.Fatalf("Solve = %d, %v; reports %v", code, err, reports)
	}

	s := summary(t, dir)
	if s["converged"] != "yes" || s["grid"] != "41 41" {
		t.Errorf("summary %v", s)
	}
	if c := number(t, s["center_temperature"]); c < 25-1e-6 || c > 25+1e-6 {
		t.Errorf("center temperature %v, want 25", c)
	}
	if number(t, s["max_temperature"]) != 100 || number(t, s["min_temperature"]) != 0 {
		t.Errorf("max/min temperature %s/%s, want 100/0", s["max_temperature"], s["min_temperature"])
	}
	if it := number(t, s["iterations"]); it < 2 || it >= 20000 {
		t.Errorf("iterations %v", it)
	}
	csv, err := os.ReadFile(filepath.Join(dir, "result.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(csv), "\n"); n != 1+41*41 {
		t.Errorf("result.csv has %d lines, want %d", n, 1+41*41)
	}

	var lines []string
	last := -1.0
	for _, r := range reports {
		if r.percent < last || r.percent > 100 {
			t.Errorf("percent went from %v to %v", last, r.percent)
		}
		last = r.percent
		if r.line != "" {
			lines = append(lines, r.line)
		}
	}
	if len(reports) < 5 || last != 100 {
		t.Errorf("%d reports, last percent %v", len(reports), last)
	}
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "heat: 41 x 41 grid") ||
		!strings.HasPrefix(lines[len(lines)-1], "converged at iteration") {
		t.Errorf("log lines %q", lines)
	}
}

const longModel = "nx 301\nny 301\ntop 100\nbottom 0\nleft 0\nright 0\n" +
	"tolerance 1e-15\nmax_iterations 1000000\nlog_every 100\n"

// A context canceled from another goroutine mid-solve stops the plugin at
// its next report: at most one report reaches the progress function after
// cancel returns, and the solve ends long before its iteration limit.
func TestCancelMidSolve(t *testing.T) {
	p := open(t, "heat")
	dir := heatJob(t, longModel)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	started := make(chan struct{})
	var canceled atomic.Bool
	var reports, afterCancel int
	var lastLine string
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-started
		cancel()
		canceled.Store(true)
	}()
	code, err := p.Solve(ctx, dir, "", func(percent float64, line string) {
		reports++
		if canceled.Load() {
			afterCancel++
		}
		if line != "" {
			lastLine = line
		}
		if reports == 2 {
			close(started)
		}
	})
	<-done
	if code != StatusCanceled || !errors.Is(err, ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Solve = %d, %v; want %d, canceled", code, err, StatusCanceled)
	}
	if afterCancel > 1 {
		t.Errorf("%d reports reached the progress function after cancel", afterCancel)
	}
	if _, err := os.Stat(filepath.Join(dir, "summary.txt")); err == nil {
		t.Error("a canceled solve wrote summary.txt")
	}
	// A report comes at least every sweep on this grid, and the last log line
	// before the stop names the iteration reached.
	if reports >= 1000000 {
		t.Errorf("%d reports: the solve ran to its iteration limit", reports)
	}
	if strings.HasPrefix(lastLine, "iteration ") {
		it, _, _ := strings.Cut(strings.TrimPrefix(lastLine, "iteration "), ":")
		if n := number(t, it); n >= 1000000 {
			t.Errorf("stopped at iteration %v, the limit", n)
		}
	}
	t.Logf("%d reports; last line %q", reports, lastLine)
}

// Canceling from inside the progress function stops the plugin at once:
// that report is the last.
func TestCancelFromProgress(t *testing.T) {
	p := open(t, "heat")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	stop := errors.New("job canceled by the engineer")
	reports := 0
	code, err := p.Solve(ctx, heatJob(t, longModel), "{}", func(percent float64, line string) {
		reports++
		if reports == 3 {
			cancel(stop)
		}
	})
	if code != StatusCanceled || !errors.Is(err, ErrCanceled) || !errors.Is(err, stop) {
		t.Fatalf("Solve = %d, %v", code, err)
	}
	if reports != 3 {
		t.Errorf("%d reports, want 3", reports)
	}
}

func TestCanceledBeforeStart(t *testing.T) {
	p := open(t, "heat")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, err := p.Solve(ctx, heatJob(t, longModel), "{}", func(float64, string) { t.Error("progress called") })
	if code != StatusCanceled || !errors.Is(err, ErrCanceled) {
		t.Fatalf("Solve = %d, %v", code, err)
	}
}

func TestDeadline(t *testing.T) {
	p := open(t, "heat")
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	code, err := p.Solve(ctx, heatJob(t, longModel), "{}", nil)
	if code != StatusCanceled || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Solve = %d, %v", code, err)
	}
}

// A panic in the progress function stays in Go, stops the solve, and leaves
// the plugin usable.
func TestProgressPanic(t *testing.T) {
	p := open(t, "heat")
	code, err := p.Solve(context.Background(), heatJob(t, longModel), "{}", func(float64, string) {
		panic("boom")
	})
	if code != StatusCanceled || !errors.Is(err, ErrProgressPanic) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Solve = %d, %v", code, err)
	}
	dir := heatJob(t, "nx 5\nny 5\ntop 1\nbottom 1\nleft 1\nright 1\n")
	if code, err := p.Solve(context.Background(), dir, "{}", nil); code != 0 || err != nil {
		t.Fatalf("Solve after a panic = %d, %v", code, err)
	}
}

// A model the solver rejects is a failure with the solver's code, not an
// error, and its reason is the last log line.
func TestSolverFailure(t *testing.T) {
	p := open(t, "heat")
	var last string
	code, err := p.Solve(context.Background(), heatJob(t, "nx 5\nny five\n"), "{}", func(_ float64, line string) {
		last = line
	})
	if code != 2 || err != nil {
		t.Fatalf("Solve = %d, %v; want 2, nil", code, err)
	}
	if !strings.Contains(last, "line 2") {
		t.Errorf("last log line %q", last)
	}
	code, err = p.Solve(context.Background(), t.TempDir(), `{"input": "missing.heat"}`, nil)
	if code != 1 || err != nil {
		t.Fatalf("Solve = %d, %v; want 1, nil", code, err)
	}
}

func TestArguments(t *testing.T) {
	p := open(t, "fake")
	var got []report
	args := `{"units": "°C", "cores": 4}`
	code, err := p.Solve(context.Background(), t.TempDir(), args, func(percent float64, line string) {
		got = append(got, report{percent, line})
	})
	if code != 0 || err != nil || len(got) != 1 || got[0] != (report{50, args}) {
		t.Fatalf("Solve = %d, %v; reports %v", code, err, got)
	}
	for _, bad := range []string{"[1]", "null", "{", `{"a": "b\u0000"}` + "\x00"} {
		if _, err := p.Solve(context.Background(), t.TempDir(), bad, nil); err == nil {
			t.Errorf("arguments %q: no error", bad)
		}
	}
	if _, err := p.Solve(context.Background(), filepath.Join(t.TempDir(), "none"), "", nil); err == nil {
		t.Error("a missing workdir: no error")
	}
}

func TestNotAPlugin(t *testing.T) {
	_, err := Open(lib(t, "noSolve"))
	if !errors.Is(err, ErrNotPlugin) || !strings.Contains(err.Error(), "iscsdk_solver_solve") {
		t.Errorf("Open(a library without iscsdk_solver_solve) = %v", err)
	}
	text := filepath.Join(t.TempDir(), "model.so")
	if err := os.WriteFile(text, []byte("not a library"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(text); err == nil || !strings.Contains(err.Error(), text) {
		t.Errorf("Open(a text file) = %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.so")); err == nil {
		t.Error("Open(a missing file): no error")
	}
}

func TestWrongABIVersion(t *testing.T) {
	_, err := Open(lib(t, "version99"))
	if !errors.Is(err, ErrABIVersion) || !strings.Contains(err.Error(), "version 99") {
		t.Errorf("Open = %v", err)
	}
}

func TestStatuses(t *testing.T) {
	for _, tc := range []struct {
		lib     string
		code    int
		wantErr bool
	}{
		{"fake", 0, false},
		{"status7", 7, false},
		{"statusMinus7", -7, true},
		{"statusCanceled", StatusCanceled, true}, // canceled without being asked
	} {
		p := open(t, tc.lib)
		code, err := p.Solve(context.Background(), t.TempDir(), "", nil)
		if code != tc.code || (err != nil) != tc.wantErr || errors.Is(err, ErrCanceled) {
			t.Errorf("%s: Solve = %d, %v", tc.lib, code, err)
		}
	}
}

func TestClose(t *testing.T) {
	path := lib(t, "fake")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if a.lib != b.lib {
		t.Error("two Plugins of one library do not share it")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
	if _, err := a.Solve(context.Background(), t.TempDir(), "", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Solve after Close = %v", err)
	}
	if code, err := b.Solve(context.Background(), t.TempDir(), "", nil); code != 0 || err != nil {
		t.Errorf("Solve on the other Plugin = %d, %v", code, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// More loads and solves than purego has callbacks (2000) work: the package
// creates one callback in all.
func TestManyLoads(t *testing.T) {
	path := lib(t, "fake")
	dir := t.TempDir()
	for i := range 2100 {
		p, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		code, err := p.Solve(context.Background(), dir, "", func(float64, string) { calls++ })
		if code != 0 || err != nil || calls != 1 {
			t.Fatalf("solve %d = %d, %v, %d reports", i, code, err, calls)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Solves on one library from several goroutines run one at a time, each
// with its own progress function.
func TestConcurrentSolves(t *testing.T) {
	p := open(t, "heat")
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			top := float64(10 * (i + 1))
			dir := heatJob(t, fmt.Sprintf("nx 21\nny 21\ntop %v\nbottom 0\nleft 0\nright 0\ntolerance 1e-9\n", top))
			var lines int
			code, err := p.Solve(context.Background(), dir, "", func(_ float64, line string) {
				if line != "" {
					lines++
				}
			})
			if code != 0 || err != nil || lines < 2 {
				t.Errorf("solve %d = %d, %v, %d lines", i, code, err, lines)
				return
			}
			s := summary(t, dir)
			if c := number(t, s["center_temperature"]); c < top/4-1e-6 || c > top/4+1e-6 {
				t.Errorf("solve %d: center %v, want %v", i, c, top/4)
			}
		}()
	}
	wg.Wait()
}

// TestHeatExampleC compiles and runs the example plugin's own C tests
// (examples/solver-plugin/heat_test.c, which includes heat.c), also with the
// address and undefined-behaviour sanitizers where gcc has them.
func TestHeatExampleC(t *testing.T) {
	lib(t, "heat") // skips without gcc
	src := filepath.Join(root, "examples/solver-plugin/heat_test.c")
	for _, b := range []struct {
		name  string
		flags []string
	}{
		{"plain", []string{"-O2"}},
		{"sanitized", []string{"-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"}},
	} {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			exe := filepath.Join(dir, "heat_test")
			args := append([]string{"-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror",
				"-I" + filepath.Join(root, "include")}, b.flags...)
			args = append(args, src, "-o", exe, "-lm")
			if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
				if b.name == "sanitized" {
					t.Skipf("SKIPPED: gcc cannot build with sanitizers here: %v\n%s", err, out)
				}
				t.Fatalf("gcc: %v\n%s", err, out)
			}
			scratch := filepath.Join(dir, "scratch")
			if err := os.Mkdir(scratch, 0o700); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(exe, scratch).CombinedOutput()
			t.Logf("heat_test: %s", out)
			if err != nil || !strings.Contains(string(out), " passed, 0 failed") {
				t.Fatalf("heat_test failed: %v", err)
			}
		})
	}
}

// BenchmarkSolve measures a solve's fixed cost: argument checks, the call
// into C and one progress report back into Go.
func BenchmarkSolve(b *testing.B) {
	if buildErr != nil {
		b.Skip(buildErr)
	}
	p, err := Open(libs["fake"])
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	dir := b.TempDir()
	for b.Loop() {
		if code, err := p.Solve(context.Background(), dir, "{}", func(float64, string) {}); code != 0 || err != nil {
			b.Fatal(code, err)
		}
	}
}

// BenchmarkReport measures one progress report: the heat plugin on a grid
// small enough that the sweeps cost little next to the reports.
func BenchmarkReport(b *testing.B) {
	if buildErr != nil {
		b.Skip(buildErr)
	}
	p, err := Open(libs["heat"])
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	dir := b.TempDir()
	// 4 x 3: two interior points, relaxed so little they never converge; a
	// report every 8 sweeps, each with a log line
	model := "nx 4\nny 3\ntop 1\nbottom 0\nleft 0\nright 0\ntolerance 1e-300\nomega 1e-9\nlog_every 8\n" +
		"max_iterations " + strconv.Itoa(8*max(b.N, 1)) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "model.heat"), []byte(model), 0o600); err != nil {
		b.Fatal(err)
	}
	reports := 0
	b.ResetTimer()
	p.Solve(context.Background(), dir, "{}", func(float64, string) { reports++ })
	b.StopTimer()
	if reports < b.N {
		b.Fatalf("%d reports for b.N %d", reports, b.N)
	}
}

// TestHeader compiles a minimal plugin against solver_plugin.h as strict C99
// and as C++11, as a vendor's build would.
func TestHeader(t *testing.T) {
	lib(t, "fake") // skips without gcc
	src := `#include <iscsdk/solver_plugin.h>
#include <stddef.h>
ISCSDK_SOLVER_EXPORT int32_t ISCSDK_SOLVER_CALL iscsdk_solver_abi_version(void) { return ISCSDK_SOLVER_PLUGIN_ABI_VERSION; }
ISCSDK_SOLVER_EXPORT const char* ISCSDK_SOLVER_CALL iscsdk_solver_name(void) { return "header test"; }
ISCSDK_SOLVER_EXPORT int32_t ISCSDK_SOLVER_CALL iscsdk_solver_solve(const char* workdir, const char* args_json,
        iscsdk_solver_progress_fn progress, void* user_data)
{
    (void)workdir;
    (void)args_json;
    return progress(user_data, ISCSDK_SOLVER_PROGRESS_UNKNOWN, NULL) ? ISCSDK_SOLVER_CANCELED : ISCSDK_SOLVER_OK;
}
`
	dir := t.TempDir()
	for _, c := range []struct{ compiler, file, std string }{
		{"gcc", "p.c", "-std=c99"},
		{"g++", "p.cpp", "-std=c++11"},
	} {
		if _, err := exec.LookPath(c.compiler); err != nil {
			t.Logf("SKIPPED: %s not found", c.compiler)
			continue
		}
		file := filepath.Join(dir, c.file)
		if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(c.compiler, c.std, "-pedantic", "-Wall", "-Wextra", "-Werror",
			"-I"+filepath.Join(root, "include"), "-shared", "-fPIC", file, "-o", file+".so").CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", c.compiler, c.std, err, out)
		}
		p, err := Open(file + ".so")
		if err != nil {
			t.Fatal(err)
		}
		if code, err := p.Solve(context.Background(), dir, "", nil); code != 0 || err != nil || p.Name() != "header test" {
			t.Errorf("%s: Solve = %d, %v; name %q", c.compiler, code, err, p.Name())
		}
		p.Close()
	}
}
