// Package run runs one job's solver in a prepared directory, under the
// job's limits: a command solver — a program and argument template of the
// worker's own configuration (Command) — as a child process with a clean
// environment, in a Sandbox that sees only the job (bubblewrap on Linux, a
// job object and a restricted token on Windows); or a native plugin
// (internal/solver/plugin), in the sandbox through a plugin host process
// (HostPlugin), or in this process. It reports progress and the solver's
// output lines as they come, keeps the whole output in the directory as
// solver.log, and says how the run ended.
package run

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/iscsdk/iscsdk/internal/solver/plugin"
)

// LogFile is the file in the job's directory that receives the solver's
// standard output and error (a command's) or log lines (a plugin's).
const LogFile = "solver.log"

// Error codes of a run that did not end with the solver's own exit.
const (
	CodeSolverFailed = "solver_failed" // non-zero exit
	CodeTimeLimit    = "time_limit"
	CodeOutputLimit  = "output_limit"
	CodeCanceled     = "canceled"
	CodeStart        = "solver_start" // the solver could not be started
	// CodeBadArgument: the model's name or an argument begins with '-',
	// or the job has arguments for a solver that takes none
	// (wire.CodeBadArgument says the same).
	CodeBadArgument = "bad_argument"
)

// Spec is what to run.
type Spec struct {
	Command Command        // a command solver, as the worker's configuration defines it
	Plugin  *plugin.Plugin // or a plugin solver: in this process, unconfined, unless
	// PluginHost is set: then PluginHost (an iscd binary) runs the
	// library PluginPath in the sandbox as a command (HostPlugin).
	PluginHost string
	PluginPath string
	Sandbox    *Sandbox // confines a command; nil: none (the worker's operator said so)
	Main       string   // the model's file in the directory
	Args       []string // the job's extra arguments
	Cores      int
	TimeLimit  time.Duration // 0: none
	MaxOutput  int64         // bytes the directory may grow by; 0: no limit
	Progress   string        // the progress parser: "calculix" or ""
	Env        []string      // extra KEY=VALUE for a command (ISCSDK_JOB_ID ...)
}

// Progress is reported while the solver runs: Percent is -1 when unknown.
type Progress struct {
	Percent float64
	Lines   []string
}

// Result is how a run ended. ErrorCode is "" for a solver that exited 0.
type Result struct {
	ExitCode  int
	ErrorCode string
	Error     string
	LogTail   []string
	Wall      time.Duration
	CPU       time.Duration
}

// TailLines is how many of the solver's last output lines a Result keeps.
const TailLines = 40

// reportEvery spaces progress reports.
const reportEvery = 200 * time.Millisecond

// watchEvery is how often the directory's size is checked against MaxOutput.
const watchEvery = 250 * time.Millisecond

// Run runs spec in dir and returns when the solver has ended (its whole
// process group, for a command). Canceling ctx stops it (Result.ErrorCode
// CodeCanceled); so do the time and output limits. report is called from
// one goroutine at a time, at most every 200 ms and once at the end.
func Run(ctx context.Context, dir string, spec Spec, report func(Progress)) Result {
	start := time.Now()
	base, err := dirSize(dir)
	if err != nil {
		return Result{ErrorCode: CodeStart, Error: fmt.Sprintf("job directory: %v", err)}
	}
	logf, err := os.OpenFile(filepath.Join(dir, LogFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return Result{ErrorCode: CodeStart, Error: fmt.Sprintf("solver log: %v", err)}
	}
	defer logf.Close()

	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	if spec.TimeLimit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, spec.TimeLimit, errTimeLimit)
		defer cancel()
	}
	if spec.MaxOutput > 0 {
		go watchSize(ctx, dir, base+spec.MaxOutput+headroom, stop)
	}

	out := newOutput(logf, parser(spec, dir), report)
	var res Result
	switch {
	case spec.Plugin != nil && spec.PluginHost != "" && spec.Sandbox != nil:
		hosted, err := hostedPlugin(spec)
		if err != nil {
			return Result{ErrorCode: CodeStart, Error: err.Error()}
		}
		out.marks = true
		res = runCommand(ctx, dir, hosted, out)
	case spec.Plugin != nil:
		res = runPlugin(ctx, dir, spec, out)
	default:
		res = runCommand(ctx, dir, spec, out)
	}
	res.Wall = time.Since(start)
	out.flush(true)
	res.LogTail = out.tail()

	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errTimeLimit):
		res.ErrorCode, res.Error = CodeTimeLimit, fmt.Sprintf("the solver ran past its time limit of %s and was stopped", spec.TimeLimit)
	case errors.Is(cause, errOutputLimit):
		res.ErrorCode, res.Error = CodeOutputLimit, fmt.Sprintf("the solver wrote more than its output limit of %d bytes and was stopped", spec.MaxOutput)
	case ctx.Err() != nil && res.ErrorCode == "":
		res.ErrorCode, res.Error = CodeCanceled, "canceled"
	case res.ErrorCode == "" && res.ExitCode != 0:
		res.ErrorCode = CodeSolverFailed
		res.Error = fmt.Sprintf("the solver exited with status %d", res.ExitCode)
		if n := len(res.LogTail); n > 0 {
			res.Error += ": " + res.LogTail[n-1]
		}
	}
	if res.ErrorCode == "" && spec.MaxOutput > 0 {
		if size, err := dirSize(dir); err == nil && size-base > spec.MaxOutput+headroom {
			res.ErrorCode, res.Error = CodeOutputLimit, fmt.Sprintf("the solver wrote %d bytes, more than its output limit of %d", size-base, spec.MaxOutput)
		}
	}
	return res
}

// headroom is what the directory may grow by beyond MaxOutput: the solver's
// log, which is returned too.
const headroom = 1 << 20

var (
	errTimeLimit   = errors.New("time limit")
	errOutputLimit = errors.New("output limit")
)

func watchSize(ctx context.Context, dir string, limit int64, stop context.CancelCauseFunc) {
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if size, err := dirSize(dir); err == nil && size > limit {
				stop(errOutputLimit)
				return
			}
		}
	}
}

// dirSize is the size of the regular files below dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed by the solver meanwhile
			}
			return err
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n, err
}

func runPlugin(ctx context.Context, dir string, spec Spec, out *output) Result {
	b, err := json.Marshal(struct {
		Input string   `json:"input"`
		Cores int      `json:"cores"`
		Args  []string `json:"args,omitempty"`
	}{spec.Main, max(spec.Cores, 1), spec.Args})
	if err != nil {
		return Result{ErrorCode: CodeStart, Error: err.Error()}
	}
	args := string(b)
	code, err := spec.Plugin.Solve(ctx, dir, args, func(percent float64, line string) {
		out.percent(percent)
		if line != "" {
			out.line(line)
		}
	})
	res := Result{ExitCode: code}
	if err != nil && ctx.Err() == nil {
		res.ErrorCode, res.Error = CodeSolverFailed, err.Error()
	}
	return res
}

// output collects a solver's lines: into the log file, the tail, the
// progress parser and, batched, the report function.
type output struct {
	mu      sync.Mutex
	log     io.Writer
	parse   func(line string) (percent float64, ok bool)
	report  func(Progress)
	pending []string
	pct     float64
	changed bool
	marks   bool // a plugin host's output: its progress marks are percents, not lines
	last    time.Time
	ring    []string
}

func newOutput(log io.Writer, parse func(string) (float64, bool), report func(Progress)) *output {
	return &output{log: log, parse: parse, report: report, pct: -1}
}

func (o *output) line(s string) {
	s = strings.TrimRight(s, "\r\n")
	if o.marks {
		if p, ok := progressLine(s); ok {
			o.percent(p)
			return
		}
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	o.mu.Lock()
	fmt.Fprintln(o.log, s)
	if len(s) > maxLine {
		s = s[:maxLine]
	}
	if p, ok := o.parse(s); ok && p != o.pct {
		o.pct, o.changed = p, true
	}
	o.ring = append(o.ring, s)
	if len(o.ring) > TailLines {
		o.ring = o.ring[len(o.ring)-TailLines:]
	}
	if strings.TrimSpace(s) != "" && len(o.pending) < maxPending {
		o.pending = append(o.pending, s)
	}
	o.mu.Unlock()
	o.flush(false)
}

// maxLine bounds one reported line; maxPending the lines of one report.
const (
	maxLine    = 1024
	maxPending = 200
)

func (o *output) percent(p float64) {
	o.mu.Lock()
	if p >= 0 && p != o.pct {
		o.pct, o.changed = p, true
	}
	o.mu.Unlock()
	o.flush(false)
}

func (o *output) flush(final bool) {
	o.mu.Lock()
	if o.report == nil || (!final && time.Since(o.last) < reportEvery) || (len(o.pending) == 0 && !o.changed) {
		o.mu.Unlock()
		return
	}
	p := Progress{Percent: o.pct, Lines: o.pending}
	o.pending, o.changed, o.last = nil, false, time.Now()
	o.report(p) // under mu: reports never overlap and keep their order
	o.mu.Unlock()
}

func (o *output) tail() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ring...)
}

// scanLines feeds r's lines to out until r ends.
func scanLines(r io.Reader, out *output) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		out.line(sc.Text())
	}
	io.Copy(io.Discard, r) // a line over 1 MiB: drain, so the solver never blocks
}
