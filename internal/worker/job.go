package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/chunksync"
	"github.com/iscsdk/iscsdk/internal/link"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/solver/run"
	"github.com/iscsdk/iscsdk/internal/wire"
)

var (
	errCanceled  = errors.New("canceled by its owner")
	errLeaseLost = errors.New("the job's lease was lost")
)

// cacheOrg is the chunk cache's one namespace: chunk ids are content
// hashes, so a chunk is the same whoever's job it came from.
const cacheOrg = "cache"

// job is one leased attempt in progress.
type job struct {
	lease wire.JobLease
	ctx   context.Context
	stop  context.CancelCauseFunc

	sending sync.Mutex // one progress report at a time, in order
	mu      sync.Mutex
	percent *float64
	lines   []string
	nudge   chan struct{} // progress is waiting to be sent
}

func (j *job) report(p run.Progress) {
	j.mu.Lock()
	if p.Percent >= 0 {
		pct := p.Percent
		j.percent = &pct
	}
	j.lines = append(j.lines, p.Lines...)
	if n := len(j.lines); n > wire.MaxJobLogLines {
		j.lines = j.lines[n-wire.MaxJobLogLines:]
	}
	j.mu.Unlock()
	select {
	case j.nudge <- struct{}{}:
	default:
	}
}

func (j *job) take() wire.JobProgress {
	j.mu.Lock()
	defer j.mu.Unlock()
	p := wire.JobProgress{ID: j.lease.ID, Attempt: j.lease.Attempt, Percent: j.percent, Log: j.lines}
	j.percent, j.lines = nil, nil
	return p
}

// run runs one attempt from lease to report.
func (w *Worker) run(ctx context.Context, l wire.JobLease) {
	jctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	j := &job{lease: l, ctx: jctx, stop: stop, nudge: make(chan struct{}, 1)}
	w.mu.Lock()
	w.running[l.ID] = j
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.running, l.ID)
		close(w.ended)
		w.ended = make(chan struct{})
		w.mu.Unlock()
	}()
	log := w.log.With("job", l.ID, "attempt", l.Attempt, "solver", l.Solver)
	log.Info("job started", "main", l.Main)

	// The lease is renewed until the attempt is reported: sending large
	// outputs can take longer than a lease.
	rctx, stopRenewals := context.WithCancel(ctx)
	renewed := make(chan struct{})
	go func() { defer close(renewed); w.renew(rctx, j) }()
	defer func() { stopRenewals(); <-renewed }()

	dir, err := os.MkdirTemp(w.jobsDir, "job-"+l.ID[:8]+"-*")
	var res run.Result
	var inputs map[string]bool
	if err != nil {
		dir = ""
		res = run.Result{ErrorCode: run.CodeStart, Error: fmt.Sprintf("job directory: %v", err)}
	} else {
		if !w.cfg.KeepDirs {
			defer os.RemoveAll(dir)
		}
		res, inputs = w.solve(jctx, j, dir)
	}
	stop(nil)
	if cause := context.Cause(jctx); errors.Is(cause, errLeaseLost) {
		log.Warn("job dropped: its lease was lost (it runs elsewhere)")
		return
	}
	if ctx.Err() != nil {
		// The worker is stopping: iscd queues the job again now, not when
		// its lease lapses (if it cannot be told, the lease does it).
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		err := w.link.Call(rctx, wire.OpWorkerRelease, wire.JobAttemptRef{ID: l.ID, Attempt: l.Attempt}, nil)
		cancel()
		log.Info("job given back: the worker is stopping", "told", err == nil)
		return
	}
	// The last progress, then the outputs and the result.
	j.sending.Lock()
	if p := j.take(); p.Percent != nil || len(p.Log) > 0 {
		_ = w.link.Call(ctx, wire.OpWorkerRenew, p, nil)
	}
	j.sending.Unlock()
	w.finish(ctx, j, dir, res, inputs, log)
}

// solve fetches the inputs into dir and runs the solver there. It
// returns the inputs' paths too: they are not sent back.
func (w *Worker) solve(ctx context.Context, j *job, dir string) (run.Result, map[string]bool) {
	l := j.lease
	var inputs map[string]bool
	// A connection that drops while the inputs come is not the model's
	// fault: fetch again once it is back (files written are started over).
	var dirErr error
	err := link.Policy{Attempts: finishAttempts, Retrying: func(attempt int, _ error) {
		w.log.Info("inputs interrupted by a dropped connection; fetching again", "job", l.ID, "attempt", attempt)
	}}.Do(ctx, func(attempt int) error {
		if attempt > 1 {
			if dirErr = clearDir(dir); dirErr != nil {
				return dirErr
			}
		}
		var err error
		inputs, err = w.fetchInputs(ctx, j, dir)
		return err
	})
	if dirErr != nil {
		return run.Result{ErrorCode: run.CodeStart, Error: fmt.Sprintf("job directory: %v", dirErr)}, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return run.Result{ErrorCode: run.CodeCanceled, Error: "canceled"}, inputs
		}
		return run.Result{ErrorCode: run.CodeStart, Error: fmt.Sprintf("fetch the inputs: %v", err)}, inputs
	}
	// What runs is this worker's: the lease names a solver, and the
	// worker's configuration says which program that is. The cores too:
	// a job asks for up to jobs.MaxCores, and gets at most this machine's
	// CPUs, so that its threads do not crowd out the other jobs here.
	spec := run.Spec{Main: l.Main, Args: l.Args, Cores: min(max(l.Cores, 1), runtime.NumCPU()), Progress: l.Progress,
		TimeLimit: time.Duration(l.TimeLimitSeconds) * time.Second, MaxOutput: l.MaxOutput, Sandbox: w.sandbox,
		Env: []string{"ISCSDK_JOB_ID=" + l.ID, "ISCSDK_JOB_ATTEMPT=" + strconv.Itoa(l.Attempt)}}
	if c, ok := w.cfg.Commands[l.Solver]; ok {
		spec.Command = c
	} else if spec.Plugin = w.plugins[l.Solver]; spec.Plugin == nil {
		return run.Result{ErrorCode: run.CodeStart, Error: fmt.Sprintf("this worker has no solver %s", l.Solver)}, inputs
	} else if w.cfg.PluginHost != "" {
		spec.PluginHost, spec.PluginPath = w.cfg.PluginHost, w.cfg.Plugins[l.Solver]
	}
	for i, a := range append([]string{l.Main}, l.Args...) {
		what := "argument"
		if i == 0 {
			what = "model"
		}
		if err := run.CheckArgument(what, a); err != nil {
			return run.Result{ErrorCode: run.CodeBadArgument, Error: err.Error()}, inputs
		}
	}
	res := run.Run(ctx, dir, spec, j.report)
	if errors.Is(context.Cause(ctx), errCanceled) {
		res.ErrorCode, res.Error = run.CodeCanceled, "canceled"
	}
	return res, inputs
}

// clearDir empties dir.
func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// renew keeps the lease alive and sends progress as it comes, until ctx
// ends; a renewal answered with cancel stops the job.
func (w *Worker) renew(ctx context.Context, j *job) {
	lease := time.Duration(w.lease.Load())
	every := max(lease/3, 50*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-j.nudge:
		}
		// A renewal in flight when the attempt is reported still arrives
		// (run waits for this goroutine); j.sending keeps the progress in
		// order with run's last report.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(time.Duration(w.lease.Load()), time.Second))
		var r wire.JobRenewed
		j.sending.Lock()
		err := w.link.Call(cctx, wire.OpWorkerRenew, j.take(), &r)
		j.sending.Unlock()
		cancel()
		var we *wire.Error
		switch {
		case errors.As(err, &we) && we.Code == "lease_lost":
			j.stop(errLeaseLost)
			return
		case err == nil && r.Cancel:
			j.stop(errCanceled)
		}
	}
}

// fetchInputs writes the job's input files into dir, taking chunks from
// the cache where it has them. It returns the inputs' paths.
func (w *Worker) fetchInputs(ctx context.Context, j *job, dir string) (map[string]bool, error) {
	ref := wire.JobAttemptRef{ID: j.lease.ID, Attempt: j.lease.Attempt}
	f, err := w.link.Fetch(ctx, wire.OpWorkerManifest, ref, wire.BinManifest)
	if err != nil {
		return nil, err
	}
	m, err := manifest.Decode(f.Payload)
	if err != nil {
		return nil, fmt.Errorf("inputs manifest: %w", err)
	}
	names := map[string]bool{}
	for _, file := range m.Files {
		names[file.Path] = true
		if err := w.fetchFile(ctx, j, dir, file); err != nil {
			return nil, fmt.Errorf("%s: %w", file.Path, err)
		}
	}
	return names, nil
}

func (w *Worker) fetchFile(ctx context.Context, j *job, dir string, file manifest.File) error {
	dst := filepath.Join(dir, filepath.FromSlash(file.Path)) // manifest.Decode checked the path
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	for _, ch := range file.Chunks {
		enc, err := w.cache.Get(ctx, cacheOrg, ch.ID)
		if err != nil {
			f, err := w.link.Fetch(ctx, wire.OpWorkerChunk, wire.JobChunk{ID: j.lease.ID, Attempt: j.lease.Attempt, Chunk: ch.ID.String()}, wire.BinChunkData)
			if err != nil {
				return err
			}
			if err := chunkstore.Verify(cacheOrg, ch.ID, f.Payload); err != nil {
				return err
			}
			enc = f.Payload
			if err := w.cache.Put(ctx, cacheOrg, ch.ID, enc); err != nil {
				w.log.Warn("chunk cache", "err", err)
			}
		}
		data, err := chunkstore.Decode(enc)
		if err != nil {
			return err
		}
		if _, err := out.Write(data); err != nil {
			return err
		}
	}
	return out.Close()
}

// outputs lists the files the job returns: those the solver made that
// match the solver's output patterns (every one when it has none), and its
// log. Inputs, symbolic links and anything not a regular file stay behind.
func outputs(dir string, patterns []string, inputs map[string]bool) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if inputs[rel] && rel != run.LogFile {
			return nil
		}
		if rel == run.LogFile || len(patterns) == 0 || matches(patterns, rel) {
			if manifest.CheckPath(rel) == nil {
				out = append(out, rel)
			}
		}
		return nil
	})
	return out, err
}

func matches(patterns []string, rel string) bool {
	for _, pat := range patterns {
		if ok, _ := path.Match(pat, rel); ok {
			return true
		}
		if ok, _ := path.Match(pat, path.Base(rel)); ok && !strings.Contains(pat, "/") {
			return true
		}
	}
	return false
}

// finishAttempts bounds how often the end of a job is retried over
// dropped connections.
const finishAttempts = 20

// finish uploads the outputs and reports the result, retrying over
// dropped connections and transient errors; iscd refusing it (the lease
// was lost, a bad report) ends it.
func (w *Worker) finish(ctx context.Context, j *job, dir string, res run.Result, inputs map[string]bool, log *slog.Logger) {
	state := wire.JobSucceeded
	switch res.ErrorCode {
	case "":
	case run.CodeCanceled:
		state = wire.JobCanceled
	default:
		state = wire.JobFailed
	}
	w.cfg.Metrics.JobFinished(state, res.Wall)
	err := finishPolicy.Do(ctx, func(int) error { return w.report(ctx, j, dir, state, res, inputs) })
	switch {
	case err == nil:
		log.Info("job finished", "state", state, "exitCode", res.ExitCode, "wall", res.Wall)
	case refused(err):
		log.Warn("job report refused", "err", err)
	default:
		log.Warn("job report not delivered", "err", err)
	}
}

// finishPolicy repeats the end of a job until iscd takes it or refuses
// it: anything else (a dropped connection, a local failure, iscd failing
// inside or stopping) may pass.
var finishPolicy = link.Policy{Attempts: finishAttempts, Transient: func(err error) bool { return !refused(err) },
	Backoff: link.Backoff{Base: 200 * time.Millisecond, Max: 3 * time.Second}}

// refused reports whether iscd refused a request for a reason that will
// not pass (not one of its own failures, nor its shutting down).
func refused(err error) bool {
	var we *wire.Error
	return errors.As(err, &we) && we.Code != wire.CodeInternal && we.Code != wire.CodeUnavailable
}

// report uploads the outputs and sends the job's end.
func (w *Worker) report(ctx context.Context, j *job, dir string, state string, res run.Result, inputs map[string]bool) error {
	var enc []byte
	if dir != "" {
		names, err := outputs(dir, j.lease.Outputs, inputs)
		if err != nil {
			return err
		}
		files := make([]manifest.File, 0, len(names))
		for _, name := range names {
			f, err := w.upload(ctx, j, filepath.Join(dir, filepath.FromSlash(name)))
			if err != nil {
				return err
			}
			f.Path = name
			files = append(files, f)
		}
		if len(files) > 0 {
			if enc, err = manifest.Encode(manifest.New(files...)); err != nil {
				return err
			}
		}
	}
	hdr, _ := json.Marshal(wire.JobDone{ID: j.lease.ID, Attempt: j.lease.Attempt, State: state, ExitCode: res.ExitCode,
		ErrorCode: res.ErrorCode, Error: res.Error, LogTail: res.LogTail, WallSeconds: res.Wall.Seconds(), CPUSeconds: res.CPU.Seconds()})
	return w.link.SendFrame(ctx, wire.Frame{Kind: wire.BinJobDone, Header: hdr, Payload: enc}, nil)
}

// upload chunks one output file and sends the chunks iscd lacks: in
// rounds of up to 16 MiB, one put at a time.
func (w *Worker) upload(ctx context.Context, j *job, p string) (manifest.File, error) {
	f, err := os.Open(p)
	if err != nil {
		return manifest.File{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return manifest.File{}, err
	}
	up := chunksync.New(ctx, outputChunks{w.link, j.lease.ID, j.lease.Attempt}, chunksync.Options{BatchBytes: 16 << 20, Puts: 1})
	entry, err := manifest.Build(ctx, f, up.Add)
	if err != nil {
		up.Wait()
		return entry, err
	}
	if err := up.Flush(); err != nil {
		return entry, err
	}
	entry.Mode, entry.ModTime = info.Mode().Perm(), info.ModTime()
	return entry, nil
}

// outputChunks is iscd's chunk store as a job's outputs reach it:
// worker.have, then each chunk in a job chunk frame.
type outputChunks struct {
	link    *link.Link
	job     string
	attempt int
}

func (o outputChunks) Missing(ctx context.Context, ids []string) ([]string, error) {
	var have wire.FilesHave
	err := o.link.Call(ctx, wire.OpWorkerHave, wire.WorkerHave{ID: o.job, Attempt: o.attempt, IDs: ids}, &have)
	return have.IDs, err
}

func (o outputChunks) Head(dst []byte, id chunkstore.ID, size int) ([]byte, error) {
	hdr, err := json.Marshal(wire.JobChunk{ID: o.job, Attempt: o.attempt, Chunk: id.String()})
	if err != nil {
		return nil, err
	}
	return wire.AppendFrameHead(dst, wire.Frame{Kind: wire.BinJobChunk, Header: hdr}, size)
}

func (o outputChunks) Put(ctx context.Context, c *chunksync.Chunk) error {
	return o.link.SendEncoded(ctx, c.Frame(), nil)
}
