package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/iscsdk/iscsdk/internal/metrics"
	solverrun "github.com/iscsdk/iscsdk/internal/solver/run"
	"github.com/iscsdk/iscsdk/internal/worker"
)

// pluginFlag collects NAME=LIBRARY flags.
type pluginFlag map[string]string

func (p pluginFlag) String() string { return fmt.Sprint(map[string]string(p)) }

func (p pluginFlag) Set(v string) error {
	name, lib, ok := strings.Cut(v, "=")
	if !ok || name == "" || lib == "" {
		return errors.New("want NAME=LIBRARY")
	}
	p[name] = lib
	return nil
}

// solverFlag collects the worker's command solvers: NAME=PROGRAM ARGS...
// (the argument template, solverrun.ParseCommand), or a preset's NAME alone
// (calculix).
type solverFlag map[string]solverrun.Command

func (s solverFlag) String() string { return fmt.Sprint(map[string]solverrun.Command(s)) }

func (s solverFlag) Set(v string) error {
	name, def, ok := strings.Cut(v, "=")
	if !ok {
		if def, ok = solverrun.Presets[name]; !ok {
			return fmt.Errorf("want NAME=PROGRAM ARGS... (e.g. calculix='/usr/bin/ccx -i {stem}'); a bare name is one of the presets %v", slices.Sorted(maps.Keys(solverrun.Presets)))
		}
	}
	if name == "" || strings.ContainsAny(name, "= \t") {
		return fmt.Errorf("solver name %q", name)
	}
	if _, dup := s[name]; dup {
		return fmt.Errorf("solver %s given twice", name)
	}
	c, err := solverrun.ParseCommand(def)
	if err != nil {
		return fmt.Errorf("solver %s: %w", name, err)
	}
	s[name] = c
	return nil
}

// self is this binary, whose plugin-host command runs plugin solves in
// the sandbox; "" (plugins in the worker's process) if it cannot be found.
func self() string {
	p, err := os.Executable()
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	}
	return p
}

// sandboxFlag is --sandbox: on (the default) or off.
type sandboxFlag bool

func (f *sandboxFlag) String() string {
	if *f {
		return "on"
	}
	return "off"
}

func (f *sandboxFlag) Set(v string) error {
	switch v {
	case "on":
		*f = true
	case "off":
		*f = false
	default:
		return errors.New("want on or off")
	}
	return nil
}

// sandboxFlags adds the sandbox's flags to fs.
func sandboxFlags(fs *flag.FlagSet, prefix string) (on *sandboxFlag, cfg *solverrun.SandboxConfig) {
	on, cfg = new(sandboxFlag), new(solverrun.SandboxConfig)
	*on = true
	fs.Var(on, prefix+"sandbox", "on: every command solver runs in a sandbox, and without one the worker does not start; off: solvers run unconfined (only where every model is trusted)")
	fs.Func(prefix+"sandbox-share", "a directory every solver may read and write besides its job's (repeatable)", func(v string) error {
		cfg.Share = append(cfg.Share, v)
		return nil
	})
	fs.Int64Var(&cfg.Limits.AddressSpace, prefix+"solver-memory", solverrun.DefaultLimits.AddressSpace, "bytes of address space a solver's process may map (Windows: memory of the whole job)")
	fs.IntVar(&cfg.Limits.Processes, prefix+"solver-processes", solverrun.DefaultLimits.Processes, "processes a solver may run at once")
	fs.Int64Var(&cfg.Limits.FileSize, prefix+"solver-file-size", solverrun.DefaultLimits.FileSize, "bytes one file of a solver may reach")
	fs.IntVar(&cfg.Limits.OpenFiles, prefix+"solver-open-files", 0, fmt.Sprintf("files a solver's process may hold open (default %d, or the worker's hard limit when lower)", solverrun.DefaultLimits.OpenFiles))
	return on, cfg
}

// listFlag collects repeated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	if v == "" {
		return errors.New("empty")
	}
	*l = append(*l, v)
	return nil
}

// readSolversFile applies the solver flags of the file at path to fs: a
// worker's solvers kept in one file (`iscd worker --solvers FILE`).
func readSolversFile(fs *flag.FlagSet, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, _ := strings.Cut(line, " ")
		switch name {
		case "solver", "solver-network", "plugin", "sandbox-share":
		default:
			return fmt.Errorf("%s:%d: %q is not one of solver, solver-network, plugin, sandbox-share", path, i+1, name)
		}
		if err := fs.Set(name, strings.TrimSpace(value)); err != nil {
			return fmt.Errorf("%s:%d: %s: %w", path, i+1, name, err)
		}
	}
	return nil
}

// runWorker runs `iscd worker`: a compute worker connected to an iscd. It
// stops on SIGINT/SIGTERM; jobs it was running are re-queued by iscd when
// their leases lapse.
func runWorker(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("iscd worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	srv := fs.String("server", envOr("ISCD_SERVER", ""), "iscd's URL, e.g. https://iscd.example.com; $ISCD_SERVER")
	tokenFile := fs.String("token-file", "", "file holding the worker token (iscctl worker token); $ISCD_WORKER_TOKEN holds the token itself otherwise")
	name := fs.String("name", "", "this worker's name, unique among the token's workers (default: hostname-pid)")
	capacity := fs.Int("capacity", 1, "jobs run at once")
	dir := fs.String("dir", "", "where job directories and the chunk cache go (default: the system's temporary directory)")
	keep := fs.Bool("keep-dirs", false, "leave job directories behind, for debugging")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	solvers := solverFlag{}
	fs.Var(solvers, "solver", "NAME=PROGRAM ARGS...: a command solver this worker runs and its argument template ({stem}, {main}, {cores}, {args}); NAME alone for a preset (calculix); repeatable")
	var network listFlag
	fs.Var(&network, "solver-network", "NAME: this solver may use the network (a licence server); others have none (repeatable)")
	sandbox, sandboxCfg := sandboxFlags(fs, "")
	plugins := pluginFlag{}
	fs.Var(plugins, "plugin", "NAME=LIBRARY: a native solver plugin this worker runs (repeatable)")
	fs.Func("solvers", "a file of the flags above that name solvers, one a line without its dashes: solver NAME=PROGRAM ARGS..., solver-network NAME, plugin NAME=LIBRARY, sandbox-share DIR; # comments", func(path string) error {
		return readSolversFile(fs, path)
	})
	metricsFl := addMetricsFlags(fs, "; without it the worker serves none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("iscd worker: unexpected argument %q", fs.Arg(0))
	}
	metricsCfg, err := metricsFl.config()
	if err != nil {
		return fmt.Errorf("iscd worker: %w", err)
	}
	for _, n := range network {
		c, ok := solvers[n]
		if !ok {
			return fmt.Errorf("iscd worker: --solver-network %s: no such --solver", n)
		}
		c.Network = true
		solvers[n] = c
	}
	if *srv == "" {
		return errors.New("iscd worker: --server is required")
	}
	tok := os.Getenv("ISCD_WORKER_TOKEN")
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("iscd worker: %w", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	var w *worker.Worker
	m := metrics.NewWorker(max(*capacity, 1), func() int { return len(w.Running()) })
	w, err = worker.New(worker.Config{URL: *srv, Token: tok, Name: *name, Commands: solvers, Plugins: plugins, PluginHost: self(),
		Sandbox: *sandboxCfg, NoSandbox: !bool(*sandbox), Capacity: *capacity, Dir: *dir, KeepDirs: *keep, Logger: log, Metrics: m})
	if err != nil {
		return err
	}
	defer w.Close()
	ms, err := serveMetrics(metricsCfg, m.Registry(), log)
	if err != nil {
		return err
	}
	if ms != nil {
		defer ms.Close()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return w.Run(ctx)
}
