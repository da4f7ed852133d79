// Package worker is iscd's compute worker: it connects to iscd with a
// worker token, announces the solvers it can run, leases jobs, and for each
// one fetches the inputs (through a local chunk cache), runs the solver in a
// fresh private directory under the job's limits, streams progress, uploads
// the outputs and reports how the run ended. It is pure Go: native solver
// plugins are loaded with purego, so `iscd worker` builds with CGO_ENABLED=0.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/link"
	"github.com/iscsdk/iscsdk/internal/metrics"
	"github.com/iscsdk/iscsdk/internal/solver/plugin"
	"github.com/iscsdk/iscsdk/internal/solver/run"
	"github.com/iscsdk/iscsdk/internal/transport"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Config configures a worker.
type Config struct {
	URL   string // iscd's base URL (http://host:port) or its /v1/worker URL
	Token string // a worker token (iscctl worker token)
	// Name identifies the worker to iscd (with its token); it must be
	// unique among the token's workers. "": hostname-pid.
	Name string
	// Commands are the command solvers this worker runs, by name: the
	// program and its argument template (run.ParseCommand). They are the
	// worker's alone: a job names a solver and brings a model and, for a
	// template with {args}, arguments, never a program or an option.
	Commands map[string]run.Command
	// Plugins maps plugin solver names to their shared libraries.
	Plugins map[string]string
	// PluginHost is an iscd binary whose `plugin-host` command runs a
	// plugin solve in the sandbox, in a process of its own (cmd/iscd sets
	// its own executable). "": plugins run in the worker's process,
	// outside the sandbox.
	PluginHost string
	// Sandbox configures the sandbox every command solver runs in
	// (run.NewSandbox). A worker that cannot build it does not start.
	Sandbox run.SandboxConfig
	// NoSandbox runs command solvers without a sandbox (`iscd worker
	// --sandbox=off`): each job can then read and write whatever the
	// worker's account can. Only for a machine whose every model is trusted.
	NoSandbox bool
	Capacity  int    // jobs at once; 0: 1
	Dir       string // where job directories are made; "": the system's temporary directory
	// CacheDir holds the chunks of inputs fetched before, so a model
	// solved again is not downloaded again; "": Dir/chunk-cache.
	CacheDir string
	KeepDirs bool // leave job directories behind (for debugging)
	Logger   *slog.Logger
	// Metrics, if set, counts the jobs run (`iscd worker --metrics-listen`).
	Metrics *metrics.Worker
}

// Worker runs jobs for one iscd.
type Worker struct {
	cfg     Config
	log     *slog.Logger
	iscd    *endpoint  // where it connects
	link    *link.Link // requests and answers, on the connection of the moment
	cache   chunkstore.Store
	plugins map[string]*plugin.Plugin
	sandbox *run.Sandbox // nil: NoSandbox
	lease   atomic.Int64 // iscd's lease (a time.Duration), learnt at each connect; jobs read it
	jobsDir string       // this worker's job directories

	mu      sync.Mutex
	running map[string]*job
	ended   chan struct{} // closed and replaced when a job ends
}

// New checks cfg and loads the plugins.
func New(cfg Config) (*Worker, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Token == "" {
		return nil, errors.New("worker: no worker token")
	}
	if cfg.Capacity <= 0 {
		cfg.Capacity = 1
	}
	if cfg.Name == "" {
		host, _ := os.Hostname()
		cfg.Name = host + "-" + strconv.Itoa(os.Getpid())
	}
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(os.TempDir(), "iscd-worker")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("worker: job directory: %w", err)
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(cfg.Dir, "chunk-cache")
	}
	// Job directories go below one folder per worker name, emptied at
	// start: what a killed worker left behind is removed by its next run.
	jobsDir := filepath.Join(cfg.Dir, "jobs-"+safeName(cfg.Name))
	if !cfg.KeepDirs {
		if err := os.RemoveAll(jobsDir); err != nil {
			return nil, fmt.Errorf("worker: job directory: %w", err)
		}
	}
	if err := os.MkdirAll(jobsDir, 0o700); err != nil {
		return nil, fmt.Errorf("worker: job directory: %w", err)
	}
	cache, err := chunkstore.NewDir(cfg.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("worker: chunk cache: %w", err)
	}
	w := &Worker{cfg: cfg, log: cfg.Logger, cache: cache, jobsDir: jobsDir, plugins: map[string]*plugin.Plugin{}, running: map[string]*job{}, ended: make(chan struct{})}
	if cfg.NoSandbox {
		w.log.Error("SOLVERS RUN WITHOUT A SANDBOX (--sandbox=off): every job can read, write and send whatever this worker's account can")
	} else if len(cfg.Commands) > 0 || len(cfg.Plugins) > 0 && cfg.PluginHost != "" {
		if w.sandbox, err = run.NewSandbox(cfg.Sandbox); err != nil {
			return nil, fmt.Errorf("worker: %w (install bubblewrap, or run with --sandbox=off on a machine whose every model is trusted)", err)
		}
		w.log.Info("solvers run in a sandbox", "sandbox", w.sandbox.Describe())
		if w.sandbox.AsOtherUser() {
			// The sandbox's user enters the job directories, and nothing
			// else of these folders: it may pass, not list.
			for _, d := range []string{cfg.Dir, jobsDir} {
				if err := os.Chmod(d, 0o711); err != nil {
					return nil, fmt.Errorf("worker: job directory: %w", err)
				}
			}
		}
	}
	for name, c := range cfg.Commands {
		if c.Program == "" || !filepath.IsAbs(c.Program) {
			return nil, fmt.Errorf("worker: solver %s: its program must be an absolute path (run.ParseCommand resolves one)", name)
		}
		if _, dup := cfg.Plugins[name]; dup {
			return nil, fmt.Errorf("worker: solver %s is both a command and a plugin", name)
		}
		if w.sandbox != nil {
			if err := w.sandbox.Check(jobsDir, c); err != nil {
				return nil, fmt.Errorf("worker: solver %s: %w", name, err)
			}
		}
	}
	if len(cfg.Plugins) > 0 && !cfg.NoSandbox && cfg.PluginHost == "" {
		w.log.Warn("plugin solvers run inside the worker's process, outside the sandbox: load only plugins you trust with any model")
	}
	for name, path := range cfg.Plugins {
		if w.sandbox != nil && cfg.PluginHost != "" {
			if err := w.sandbox.Check(jobsDir, run.Command{Program: cfg.PluginHost, ReadOnly: []string{filepath.Dir(path)}}); err != nil {
				w.Close()
				return nil, fmt.Errorf("worker: solver %s: %w", name, err)
			}
		}
		p, err := plugin.Open(path)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("worker: solver %s: %w", name, err)
		}
		w.plugins[name] = p
	}
	if len(w.solvers()) == 0 {
		w.Close()
		return nil, errors.New("worker: no solvers: name command solvers or plugins")
	}
	w.link = link.New()
	w.iscd, err = newEndpoint(cfg.URL, cfg.Token)
	if err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Close unloads the plugins. Call it after Run has returned.
func (w *Worker) Close() error {
	var errs []error
	for _, p := range w.plugins {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}

func (w *Worker) solvers() []string {
	var out []string
	for name := range w.cfg.Commands {
		out = append(out, name)
	}
	for name := range w.plugins {
		out = append(out, name)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// Run works until ctx ends: it connects (again after every drop, with
// backoff), leases jobs up to its capacity and runs them. Jobs in progress
// when the connection drops carry on and report once it is back. When ctx
// ends, running jobs are stopped and Run returns after they have. If iscd
// refuses the token, Run returns ErrTokenRefused (after its running jobs
// have ended: their leases are lost anyway).
func (w *Worker) Run(ctx context.Context) error {
	var jobs sync.WaitGroup
	defer jobs.Wait()
	hello := wire.WorkerHello{Name: w.cfg.Name, Solvers: w.solvers(), Capacity: w.cfg.Capacity, Version: "iscd-worker/1"}
	slots := make(chan struct{}, w.cfg.Capacity)
	type connection struct {
		conn    *transport.Conn
		welcome wire.WorkerWelcome
	}
	dial := func(ctx context.Context, _ int) (connection, error) {
		hello.Running = w.runningJobs()
		conn, welcome, err := w.iscd.dial(ctx, w.link.NextID(), hello)
		if errors.Is(err, ErrTokenRefused) {
			err = link.Permanent(err)
		}
		return connection{conn, welcome}, err
	}
	failed := func(attempt int, err error) { w.log.Warn("cannot reach iscd", "err", err, "attempt", attempt) }
	c, err := dial(ctx, 0)
	if err != nil && ctx.Err() == nil && !errors.Is(err, ErrTokenRefused) {
		failed(0, err)
		c, err = link.Reconnect(ctx, reconnectBackoff, dial, failed)
	}
	for {
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			return err // the token was refused
		}
		w.lease.Store(int64(time.Duration(c.welcome.LeaseMS) * time.Millisecond))
		w.cfg.Metrics.Connected(true)
		w.log.Info("worker connected", "id", c.welcome.WorkerID, "solvers", hello.Solvers, "capacity", hello.Capacity)
		connCtx, drop := context.WithCancel(ctx)
		var leasers sync.WaitGroup
		for range w.cfg.Capacity {
			leasers.Go(func() { w.leaseLoop(connCtx, ctx, slots, &jobs) })
		}
		stop := context.AfterFunc(ctx, func() {
			w.waitIdle(stopGrace) // the jobs stopping give themselves back on this connection
			c.conn.Close(websocket.CloseNormalClosure, "worker stopping")
		})
		err = w.serve(c.conn)
		w.cfg.Metrics.Connected(false)
		stop()
		drop()
		leasers.Wait()
		if ctx.Err() != nil {
			return nil
		}
		w.log.Warn("disconnected from iscd; reconnecting", "err", err)
		c, err = link.Reconnect(ctx, reconnectBackoff, dial, failed)
	}
}

// leaseWait is how long one lease request waits for a job.
const leaseWait = 25 * time.Second

// leaseLoop asks for a job whenever a slot is free, until connCtx ends;
// jobs run under ctx (they outlive the connection).
func (w *Worker) leaseLoop(connCtx, ctx context.Context, slots chan struct{}, jobs *sync.WaitGroup) {
	for {
		select {
		case slots <- struct{}{}:
		case <-connCtx.Done():
			return
		}
		var l wire.JobLease
		err := w.link.Call(connCtx, wire.OpWorkerLease, wire.WorkerLease{WaitMS: leaseWait.Milliseconds()}, &l)
		if err != nil || l.ID == "" {
			<-slots
			if err != nil {
				if connCtx.Err() == nil && !errors.Is(err, link.ErrDisconnected) {
					w.log.Error("lease", "err", err)
				}
				select { // let the connection end or recover
				case <-connCtx.Done():
					return
				case <-time.After(time.Second):
				}
			}
			continue
		}
		jobs.Go(func() {
			defer func() { <-slots }()
			w.run(ctx, l)
		})
	}
}

// pushed handles an event iscd pushed: a cancel.
func (w *Worker) pushed(ev *wire.Event) {
	if ev.Operate != wire.OperateCancelJob {
		return
	}
	w.mu.Lock()
	j := w.running[ev.Params["jobId"]]
	w.mu.Unlock()
	if j != nil && strconv.Itoa(j.lease.Attempt) == ev.Params["attempt"] {
		w.log.Info("job canceled by iscd", "job", j.lease.ID)
		j.stop(errCanceled)
	}
}

// safeName is name as a file name: letters, digits, '-', '_' and '.' kept,
// the rest '_'.
func safeName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	if s := string(b); s != "." && s != ".." {
		return s
	}
	return "_"
}

// stopGrace bounds how long a stopping worker keeps its connection for its
// jobs to give themselves back.
const stopGrace = 5 * time.Second

// waitIdle waits until no job runs, or for d.
func (w *Worker) waitIdle(d time.Duration) {
	timeout := time.After(d)
	for {
		w.mu.Lock()
		n, ended := len(w.running), w.ended
		w.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ended:
		case <-timeout:
			return
		}
	}
}

// runningJobs lists the attempts running now.
func (w *Worker) runningJobs() []wire.JobAttemptRef {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]wire.JobAttemptRef, 0, len(w.running))
	for _, j := range w.running {
		out = append(out, wire.JobAttemptRef{ID: j.lease.ID, Attempt: j.lease.Attempt})
	}
	return out
}

// Running lists the ids of the jobs running now.
func (w *Worker) Running() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.running))
	for id := range w.running {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}
