package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

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
	var solvers listFlag
	fs.Var(&solvers, "solver", "a command solver this worker runs, by name (repeatable); its program must be on PATH")
	plugins := pluginFlag{}
	fs.Var(plugins, "plugin", "NAME=LIBRARY: a native solver plugin this worker runs (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("iscd worker: unexpected argument %q", fs.Arg(0))
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
	w, err := worker.New(worker.Config{URL: *srv, Token: tok, Name: *name, Commands: solvers, Plugins: plugins,
		Capacity: *capacity, Dir: *dir, KeepDirs: *keep, Logger: log})
	if err != nil {
		return err
	}
	defer w.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return w.Run(ctx)
}
