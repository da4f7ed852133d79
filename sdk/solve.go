package sdk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Solve states, as SolveProgress.State and the SolutionProgress event's
// "state" report them.
const (
	SolveUploading   = "uploading"   // the model's chunks go to the service
	SolveQueued      = "queued"      // waiting for a worker
	SolveRunning     = "running"     // the solver runs
	SolveDownloading = "downloading" // the outputs come back
)

// Solve outcomes, as SolveResult.Status.
const (
	SolveSucceeded = wire.JobSucceeded
	SolveFailed    = wire.JobFailed
	SolveCanceled  = wire.JobCanceled
)

// ErrSolveFailed wraps the reason of a solve that did not succeed: the
// solver failed, ran out of time, wrote too much, or was canceled.
var ErrSolveFailed = errors.New("iscsdk: the solve did not succeed")

// SolveOptions tune a solve.
type SolveOptions struct {
	Solver string   // the product's solver to use; "": its only one
	Args   []string // extra solver arguments (only for a solver that takes them)
	Cores  int      // cores to ask for; 0: 1
	// TimeLimit shortens the solver's time limit; 0: the solver's.
	TimeLimit time.Duration
	// Main is the model file within a model folder (modelPath a folder);
	// for a single file it is that file.
	Main string
	// Inputs are more files the model reads (a deck's *INCLUDE files),
	// relative to the model file's folder.
	Inputs []string
	// ResultDir receives the returned files; "": a new folder
	// <workspace>/results/<model>-<job id> .
	ResultDir string
	// Progress is called as the solve goes, one call at a time.
	Progress func(SolveProgress)

	submitted func(jobID string) // GetSolution: the job exists, Cancel can name it
}

// SolveProgress reports a solve in progress.
type SolveProgress struct {
	JobID   string
	State   string   // SolveUploading, SolveQueued, SolveRunning or SolveDownloading
	Percent float64  // -1 when unknown
	Log     []string // new solver output lines
	Attempt int      // the worker attempt (a job whose worker died runs again)
	Worker  string
}

// SolveResult says how a solve ended.
type SolveResult struct {
	JobID       string
	Status      string // SolveSucceeded, SolveFailed or SolveCanceled
	ExitCode    int
	ResultDir   string   // holds the returned files (also after a failure: the solver's log)
	Files       []string // their paths, relative to ResultDir
	ErrorCode   string
	Error       string
	LogTail     []string // the solver's last output lines
	Attempts    int
	WallSeconds float64 // the solver's run time on the worker
	CPUSeconds  float64
	BytesSent   int64 // model bytes uploaded: 0 when the service had them all
	ChunksSent  int
}

// Solve sends a model to the service, waits while a worker solves it, and
// downloads the results. It survives dropped connections (a result that
// arrives while the program is offline is delivered on reconnect). If ctx
// ends, the job is canceled on the service. An error is returned with a
// result whose Status is not SolveSucceeded; it wraps ErrSolveFailed and a
// *wire.Error with the service's code when the solver failed.
func (c *Client) Solve(ctx context.Context, modelPath string, opt SolveOptions) (SolveResult, error) {
	if c.shut.Load() {
		return SolveResult{}, ErrShutOut
	}
	files, main, err := solveInputs(modelPath, opt)
	if err != nil {
		return SolveResult{}, err
	}
	if err := checkSolverWords(main, opt.Args); err != nil {
		return SolveResult{ErrorCode: wire.CodeBadArgument, Error: err.Error()}, err
	}
	id := newJobID()
	res := SolveResult{JobID: id, Status: SolveFailed}
	events := c.solves.watch(id)
	defer c.solves.forget(id)
	report := func(p SolveProgress) {
		if opt.Progress != nil {
			p.JobID = id
			opt.Progress(p)
		}
	}

	// Upload and submit: a dropped connection resumes; chunks the service
	// has are not sent again.
	report(SolveProgress{State: SolveUploading, Percent: -1})
	var info wire.JobInfo
	err = transferPolicy.Do(ctx, func(int) error { return c.submit(ctx, files, main, id, opt, &res, &info) })
	if err != nil && ctx.Err() != nil { // canceled while uploading
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = c.tryCall(cctx, wire.OpJobsCancel, wire.JobRef{ID: id}, nil) // the submit may have reached the service
		cancel()
		res.Status, res.ErrorCode, res.Error = SolveCanceled, wire.CodeCanceled, "canceled: "+context.Cause(ctx).Error()
		return res, fmt.Errorf("solve %s: %w: %w", modelPath, ErrSolveFailed, ctx.Err())
	}
	if err != nil {
		return res, fmt.Errorf("solve %s: %w", modelPath, err)
	}
	if opt.submitted != nil {
		opt.submitted(id)
	}

	// Wait for the result, passing progress on. Canceling ctx cancels the job.
	var final *Event
	poll := time.NewTicker(solvePoll)
	defer poll.Stop()
	for final == nil {
		select {
		case <-poll.C:
			// A result event can be lost (the session ended while the
			// program slept past its resume window): ask now and then.
			var info wire.JobInfo
			if err := c.tryCall(ctx, wire.OpJobsGet, wire.JobRef{ID: id}, &info); err == nil && jobDone(info.State) {
				final = &Event{Operate: wire.OperateJobResult, Params: info.ResultParams()}
			}
		case e := <-events:
			switch e.Operate {
			case wire.OperateJobResult:
				final = &e
			case wire.OperateJobProgress:
				p := SolveProgress{State: e.Params["state"], Percent: -1, Worker: e.Params["worker"]}
				p.Attempt, _ = strconv.Atoi(e.Params["attempt"])
				if v, err := strconv.ParseFloat(e.Params["percent"], 64); err == nil {
					p.Percent = v
				}
				if l := e.Params["log"]; l != "" {
					p.Log = strings.Split(l, "\n")
				}
				report(p)
			}
		case <-c.ctx.Done(): // Close has canceled the job
			res.Status, res.ErrorCode, res.Error = SolveCanceled, wire.CodeCanceled, "canceled: the client shut out"
			return res, fmt.Errorf("solve %s: %w: %w", modelPath, ErrSolveFailed, ErrShutOut)
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = c.tryCall(cctx, wire.OpJobsCancel, wire.JobRef{ID: id}, nil)
			cancel()
			res.Status, res.ErrorCode, res.Error = SolveCanceled, wire.CodeCanceled, "canceled: "+context.Cause(ctx).Error()
			return res, fmt.Errorf("solve %s: %w: %w", modelPath, ErrSolveFailed, ctx.Err())
		}
	}
	p := final.Params
	res.Status = p["status"]
	res.ExitCode, _ = strconv.Atoi(p["exitCode"])
	res.Attempts, _ = strconv.Atoi(p["attempt"])
	res.WallSeconds, _ = strconv.ParseFloat(p["wallSeconds"], 64)
	res.CPUSeconds, _ = strconv.ParseFloat(p["cpuSeconds"], 64)
	res.ErrorCode, res.Error = p["errorCode"], p["errorMsg"]
	if t := p["logTail"]; t != "" {
		res.LogTail = strings.Split(t, "\n")
	}
	if n, _ := strconv.Atoi(p["outputFiles"]); n > 0 {
		report(SolveProgress{State: SolveDownloading, Percent: -1})
		dir := opt.ResultDir
		if dir == "" {
			stem := strings.TrimSuffix(filepath.Base(main), filepath.Ext(main))
			dir = filepath.Join(c.cfg.WorkspaceDir, "results", stem+"-"+id[:12])
		}
		if res.Files, err = c.fetchOutputs(ctx, id, dir); err != nil {
			return res, fmt.Errorf("solve %s: results: %w", modelPath, err)
		}
		res.ResultDir = dir
	}
	if res.Status != SolveSucceeded {
		return res, fmt.Errorf("solve %s: %w: %w", modelPath, ErrSolveFailed, &wire.Error{Code: res.ErrorCode, Message: res.Error})
	}
	return res, nil
}

// solvePoll is how often a solve waiting for its result asks for its job.
var solvePoll = 30 * time.Second

func jobDone(state string) bool {
	return state == SolveSucceeded || state == SolveFailed || state == SolveCanceled
}

// solveInputs lists a model's files: the model file and opt.Inputs, or
// every file of a model folder.
// checkSolverWords refuses a model file name or a solver argument that
// begins with '-': a solver would read it as an option (the service and
// the worker refuse it too). The error is an ErrInvalidArgument and a
// *wire.Error with code bad_argument.
func checkSolverWords(main string, args []string) error {
	what := "model file"
	for _, w := range append([]string{main}, args...) {
		if strings.HasPrefix(w, "-") {
			return fmt.Errorf("%w: %w", ErrInvalidArgument, &wire.Error{Code: wire.CodeBadArgument,
				Message: fmt.Sprintf("%s %q begins with '-': a solver would read it as an option", what, w)})
		}
		what = "solver argument"
	}
	return nil
}

func solveInputs(modelPath string, opt SolveOptions) ([]localFile, string, error) {
	if err := checkText("model path", modelPath, maxPathLen); err != nil {
		return nil, "", err
	}
	abs, err := localAbs(modelPath)
	if err != nil {
		return nil, "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, "", err
	}
	if st.IsDir() {
		files, err := listLocal(abs, true)
		if err != nil {
			return nil, "", err
		}
		if opt.Main == "" {
			return nil, "", fmt.Errorf("%w: a model folder needs Main, the model file in it", ErrInvalidArgument)
		}
		for _, f := range files {
			if f.rel == opt.Main {
				return files, opt.Main, nil
			}
		}
		return nil, "", fmt.Errorf("%w: %s is not in %s", ErrInvalidArgument, opt.Main, abs)
	}
	files, err := listLocal(abs, false)
	if err != nil {
		return nil, "", err
	}
	seen := map[string]bool{files[0].rel: true}
	for _, in := range opt.Inputs {
		rel := filepath.ToSlash(filepath.Clean(in))
		if err := manifest.CheckPath(rel); err != nil {
			return nil, "", fmt.Errorf("%w: input %q: %v", ErrInvalidArgument, in, err)
		}
		if seen[rel] {
			continue
		}
		seen[rel] = true
		p := filepath.Join(filepath.Dir(abs), filepath.FromSlash(rel))
		info, err := os.Stat(p)
		if err != nil {
			return nil, "", err
		}
		if !info.Mode().IsRegular() {
			return nil, "", fmt.Errorf("%w: input %s is not a regular file", ErrInvalidArgument, p)
		}
		files = append(files, localFile{abs: p, rel: rel, info: info})
	}
	return files, files[0].rel, nil
}

func newJobID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// submit uploads the inputs' missing chunks and submits the job (again:
// a repeated submit names the same job).
func (c *Client) submit(ctx context.Context, files []localFile, main, id string, opt SolveOptions, res *SolveResult, info *wire.JobInfo) error {
	var sr SaveResult
	up := newUploader(ctx, c, &sr, func(int64, bool) {})
	defer func() { res.BytesSent, res.ChunksSent = res.BytesSent+sr.BytesSent, res.ChunksSent+sr.ChunksSent }()
	var entries []manifest.File
	for _, lf := range files {
		entry, err := up.file(lf)
		if err != nil {
			return err
		}
		entries = append(entries, entry)
	}
	if err := up.flush(); err != nil {
		return err
	}
	enc, err := manifest.Encode(manifest.New(entries...))
	if err != nil {
		return err
	}
	hdr, _ := json.Marshal(wire.JobSubmit{ID: id, Solver: opt.Solver, Main: main, Args: opt.Args, Cores: opt.Cores,
		TimeLimitSeconds: int64(opt.TimeLimit / time.Second)})
	if err := c.sendFrame(ctx, wire.Frame{Kind: wire.BinJobSubmit, Header: hdr, Payload: enc}, info); err != nil {
		if errors.Is(err, wire.ErrTooLarge) {
			return fmt.Errorf("%w: the model's manifest (%d bytes) is larger than a frame", ErrInvalidArgument, len(enc))
		}
		return err
	}
	return nil
}

// fetchOutputs downloads a finished job's outputs into dir.
func (c *Client) fetchOutputs(ctx context.Context, id, dir string) ([]string, error) {
	var f *wire.Frame
	err := transferPolicy.Do(ctx, func(int) error {
		var err error
		f, err = c.fetch(ctx, wire.OpJobsManifest, wire.JobRef{ID: id}, wire.BinManifest)
		return err
	})
	if err != nil {
		return nil, err
	}
	m, err := manifest.Decode(f.Payload) // checks every path stays inside
	if err != nil {
		return nil, fmt.Errorf("outputs manifest: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(m.Files))
	var or OpenResult
	for _, file := range m.Files {
		dst := filepath.Join(dir, filepath.FromSlash(file.Path))
		err := transferPolicy.Do(ctx, func(int) error { return c.download(ctx, wire.OpFilesChunk, file, dst, &or, func(int64) {}) })
		if err != nil {
			return names, fmt.Errorf("%s: %w", file.Path, err)
		}
		names = append(names, file.Path)
	}
	return names, nil
}

// solveRouter hands the service's job events to the Solve waiting for
// them; they are the SDK's, not the host's (the host gets
// SolutionProgress and SolutionResult events with its request id).
type solveRouter struct {
	mu      sync.Mutex
	waiting map[string]chan Event
}

func newSolveRouter() *solveRouter { return &solveRouter{waiting: map[string]chan Event{}} }

// solveEventBuffer bounds the events of one solve not yet taken: progress
// beyond it is dropped (the result never is: it is the last).
const solveEventBuffer = 1024

func (r *solveRouter) watch(id string) <-chan Event {
	ch := make(chan Event, solveEventBuffer)
	r.mu.Lock()
	r.waiting[id] = ch
	r.mu.Unlock()
	return ch
}

func (r *solveRouter) forget(id string) {
	r.mu.Lock()
	delete(r.waiting, id)
	r.mu.Unlock()
}

// watched lists the jobs being waited for.
func (r *solveRouter) watched() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.waiting))
	for id := range r.waiting {
		ids = append(ids, id)
	}
	return ids
}

// cancelSolves cancels the jobs of the solves in progress (at Close:
// their results would reach no one), as far as ctx allows.
func (c *Client) cancelSolves(ctx context.Context) {
	for _, id := range c.solves.watched() {
		if err := c.tryCall(ctx, wire.OpJobsCancel, wire.JobRef{ID: id}, nil); err != nil {
			c.log.Info("cancel job at shut-out", "job", id, "err", err)
		}
	}
}

// deliver takes a job event; it reports false for any other event.
func (r *solveRouter) deliver(e Event) bool {
	if e.Operate != wire.OperateJobProgress && e.Operate != wire.OperateJobResult {
		return false
	}
	r.mu.Lock()
	ch := r.waiting[e.Params["jobId"]]
	r.mu.Unlock()
	if ch == nil {
		return true // a job nobody here waits for (a previous run of the program)
	}
	if e.Operate == wire.OperateJobResult {
		ch <- e // room is kept for it: progress stops at the buffer's end minus one
		return true
	}
	if len(ch) < cap(ch)-1 {
		ch <- e
	}
	return true
}
