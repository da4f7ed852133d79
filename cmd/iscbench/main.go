// Command iscbench measures iscsdk against the physical limits of the
// machine it runs on and against the tools people would use instead, side
// by side in one run (docs/benchmarks.md). `make bench` builds and runs it.
//
//	iscbench [-build DIR] [-include DIR] [-out FILE] [-quick] [-only LIST]
//
// It starts the real iscd (BUILD/bin/iscd serve --dev on a temporary data
// directory), drives it with the Go SDK and, for the C ABI figures, with
// small C programs compiled against BUILD/lib/libiscsdk.so. Every figure is
// printed beside the baseline it is divided by or compared with, measured
// in the same run. BENCH_QUICK=1 (or -quick) runs a reduced set in under
// two minutes. Peers (rsync, rclone) are used when installed and skipped,
// saying so, when not: the benchmark installs nothing. The scale group
// runs iscd replicas and workers on a throwaway PostgreSQL started from
// Debian's server binaries, and is skipped, saying so, without them.
//
// The same binary also runs the helper processes of some figures (a save
// whose peak RSS is read, groups of idle sessions, a bare WebSocket server):
// those are hidden sub-commands, started by the benchmark itself.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		if run, ok := helpers[os.Args[1]]; ok {
			if err := run(os.Args[2:]); err != nil {
				fmt.Fprintf(os.Stderr, "iscbench %s: %v\n", os.Args[1], err)
				os.Exit(1)
			}
			return
		}
	}
	if err := bench(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "iscbench:", err)
		os.Exit(1)
	}
}

// helpers are the sub-commands the benchmark starts as child processes.
var helpers = map[string]func(args []string) error{
	"save-rss":   helperSaveRSS,
	"wan-link":   helperWANLink,
	"sessions":   helperSessions,
	"ws-idle":    helperWSIdle,
	"ws-clients": helperWSClients,
}

// options of one run.
type options struct {
	build   string // make's build directory: bin/iscd, lib/libiscsdk.so
	include string // the C headers
	quick   bool
	only    map[string]bool // groups to run; empty: all
	keep    bool            // keep the temporary directory
	tmp     string
}

func (o options) cores() int { return runtime.NumCPU() }

// A suite is one group of figures.
type suite struct {
	name string
	run  func(ctx context.Context, e *env, r *report) error
}

var suites = []suite{
	{"data", benchData},
	{"parts", benchParts},
	{"wan", benchWAN},
	{"rss", benchSaveRSS},
	{"cabi", benchCABI},
	{"sessions", benchSessions},
	{"compute", benchCompute},
	{"scale", benchScale},
}

func bench(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("iscbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	out := fs.String("out", "build/bench.json", "where to write the results as JSON")
	fs.StringVar(&o.build, "build", "build", "the build directory of make build (bin/iscd, lib/libiscsdk.so)")
	fs.StringVar(&o.include, "include", "include", "the directory of iscsdk/iscsdk.h")
	fs.BoolVar(&o.quick, "quick", os.Getenv("BENCH_QUICK") == "1", "the reduced set (also BENCH_QUICK=1)")
	only := fs.String("only", "", "comma-separated groups to run: "+suiteNames())
	tmp := fs.String("tmp", "", "parent of the temporary directory (default: the system's; the corpus needs ~3 GiB, the 4 GiB save ~9 GiB)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *only != "" {
		o.only = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			if !slices.ContainsFunc(suites, func(x suite) bool { return x.name == s }) {
				return fmt.Errorf("-only: unknown group %q (groups: %s)", s, suiteNames())
			}
			o.only[s] = true
		}
	}
	var err error
	if o.build, err = filepath.Abs(o.build); err != nil {
		return err
	}
	if o.include, err = filepath.Abs(o.include); err != nil {
		return err
	}
	for _, f := range []string{filepath.Join(o.build, "bin", "iscd"), filepath.Join(o.build, "lib", "libiscsdk.so")} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%s: run make build first: %w", f, err)
		}
	}
	if o.tmp, err = os.MkdirTemp(*tmp, "iscbench-"); err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(stderr, "keeping", o.tmp)
	} else {
		defer os.RemoveAll(o.tmp)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	r := &report{Machine: readMachine(), Quick: o.quick, Date: start.Format("2006-01-02"), log: stderr}
	e := &env{opt: o, log: stderr}
	defer e.close()
	for _, s := range suites {
		if o.only != nil && !o.only[s.name] {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		t := time.Now()
		fmt.Fprintf(stderr, "== %s\n", s.name)
		if err := s.run(ctx, e, r); err != nil {
			r.failed(s.name, err)
			fmt.Fprintf(stderr, "== %s FAILED: %v\n", s.name, err)
			continue
		}
		fmt.Fprintf(stderr, "== %s done in %.1fs\n", s.name, time.Since(t).Seconds())
	}
	r.Seconds = math.Round(time.Since(start).Seconds()*10) / 10
	r.Machine.LoadAfter = loadAverage()
	r.print(stdout)
	if err := r.write(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %s (%.0f s)\n", *out, r.Seconds)
	if len(r.Failed) > 0 {
		return errors.New("some groups failed: " + strings.Join(sortedKeys(r.Failed), ", "))
	}
	return ctx.Err()
}

func suiteNames() string {
	var n []string
	for _, s := range suites {
		n = append(n, s.name)
	}
	return strings.Join(n, ",")
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// A figure is one measured number with the baseline it is read against.
type figure struct {
	Key      string   `json:"-"`
	Value    *float64 `json:"value"` // nil: skipped
	Unit     string   `json:"unit"`
	Baseline string   `json:"baseline"`          // what it is compared with or divided by
	Detail   string   `json:"detail,omitempty"`  // the raw numbers behind it
	Skipped  string   `json:"skipped,omitempty"` // why there is no value
}

// report collects the figures of a run.
type report struct {
	Date    string             `json:"date"`
	Quick   bool               `json:"quick"`
	Seconds float64            `json:"seconds"`
	Machine machine            `json:"machine"`
	Figures map[string]*figure `json:"figures"`
	Failed  map[string]string  `json:"failed,omitempty"`
	order   []string
	log     io.Writer
}

// add records a figure; baseline says what it is read against.
func (r *report) add(key string, v float64, unit, baseline, detail string) {
	v = round(v)
	r.put(key, &figure{Value: &v, Unit: unit, Baseline: baseline, Detail: detail})
	fmt.Fprintf(r.log, "   %-28s %12s %-6s %s\n", key, fmtValue(v), unit, detail)
}

// skip records a figure that could not be measured here, and why.
func (r *report) skip(key, unit, baseline, why string) {
	r.put(key, &figure{Unit: unit, Baseline: baseline, Skipped: why})
	fmt.Fprintf(r.log, "   %-28s SKIPPED: %s\n", key, why)
}

func (r *report) put(key string, f *figure) {
	if r.Figures == nil {
		r.Figures = map[string]*figure{}
	}
	f.Key = key
	if _, ok := r.Figures[key]; !ok {
		r.order = append(r.order, key)
	}
	r.Figures[key] = f
}

func (r *report) failed(group string, err error) {
	if r.Failed == nil {
		r.Failed = map[string]string{}
	}
	r.Failed[group] = err.Error()
}

// round keeps four significant digits.
func round(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	p := math.Pow(10, 3-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}

func fmtValue(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.4g", v)
	}
}

// print writes the table: figure, value, unit, baseline.
func (r *report) print(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "\niscbench %s  quick=%v  %d cores  %s  %s  load %s → %s\n\n",
		r.Date, r.Quick, m.Cores, m.CPU, m.Go, m.LoadBefore, m.LoadAfter)
	fmt.Fprintf(w, "%-28s %12s %-6s  %s\n", "figure", "value", "unit", "baseline")
	fmt.Fprintf(w, "%s\n", strings.Repeat("-", 100))
	for _, k := range r.order {
		f := r.Figures[k]
		if f.Value == nil {
			fmt.Fprintf(w, "%-28s %12s %-6s  skipped: %s\n", k, "-", f.Unit, f.Skipped)
			continue
		}
		fmt.Fprintf(w, "%-28s %12s %-6s  %s\n", k, fmtValue(*f.Value), f.Unit, f.Baseline)
	}
	for g, err := range r.Failed {
		fmt.Fprintf(w, "group %s FAILED: %s\n", g, err)
	}
}

// write stores the report as JSON: every figure's value as a top-level
// number (null when skipped), and its details under "figures".
func (r *report) write(path string) error {
	top := map[string]any{}
	for k, f := range r.Figures {
		if f.Value == nil {
			top[k] = nil
		} else {
			top[k] = *f.Value
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	var rest map[string]any
	if err := json.Unmarshal(b, &rest); err != nil {
		return err
	}
	for k, v := range rest {
		top[k] = v
	}
	out, err := json.MarshalIndent(top, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}
