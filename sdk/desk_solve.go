package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/wire"
)

// solutionOptions is GetSolution's options JSON.
type solutionOptions struct {
	Solver           string   `json:"solver"`
	Args             []string `json:"args"`
	Cores            int      `json:"cores"`
	TimeLimitSeconds int64    `json:"timeLimitSeconds"`
	Main             string   `json:"main"`
	Inputs           []string `json:"inputs"`
	ResultDir        string   `json:"resultDir"`
}

// solution is a GetSolution in progress, for Cancel.
type solution struct {
	cancel   context.CancelFunc
	mu       sync.Mutex
	jobID    string
	canceled bool // Cancel came before the solve had started
}

// GetSolution solves a model in the cloud (Solve, asynchronously).
// optionsJSON (may be empty) is an object with any of: solver, args,
// cores, timeLimitSeconds, main (the model file of a model folder), inputs
// (more files of the model, relative to its folder), resultDir.
// SolutionProgress events with the returned request id report the state
// (uploading, queued, running, downloading) with percent and new log lines
// when known; one SolutionResult event ends it with status
// success/failed/canceled, resultDir, exitCode, and errorCode and errorMsg
// on failure.
func (d *Desk) GetSolution(filePath, optionsJSON string, comeBack json.RawMessage) (uint64, error) {
	c := d.c
	abs, cb, err := d.checkLocal(filePath, comeBack)
	if err != nil {
		return 0, err
	}
	var o solutionOptions
	if strings.TrimSpace(optionsJSON) != "" {
		if err := checkText("options", optionsJSON, 64<<10); err != nil {
			return 0, err
		}
		dec := json.NewDecoder(strings.NewReader(optionsJSON))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			return 0, fmt.Errorf("%w: options: %v", ErrInvalidArgument, err)
		}
	}
	st, err := os.Stat(abs)
	if err != nil {
		return 0, fmt.Errorf("%w: model: %v", ErrInvalidArgument, err)
	}
	main := o.Main
	if !st.IsDir() {
		main = filepath.Base(abs)
	}
	if err := checkSolverWords(main, o.Args); err != nil {
		return 0, err
	}
	id := c.nextRequest.Add(1)
	sol := &solution{}
	c.mu.Lock()
	if c.solutions == nil {
		c.solutions = map[uint64]*solution{}
	}
	c.solutions[id] = sol
	c.mu.Unlock()
	opt := SolveOptions{Solver: o.Solver, Args: o.Args, Cores: o.Cores, TimeLimit: time.Duration(o.TimeLimitSeconds) * time.Second,
		Main: o.Main, Inputs: o.Inputs, ResultDir: o.ResultDir}
	opt.submitted = func(jobID string) {
		sol.mu.Lock()
		sol.jobID = jobID
		sol.mu.Unlock()
	}
	opt.Progress = func(p SolveProgress) {
		params := map[string]string{"state": p.State, "jobId": p.JobID}
		if p.Percent >= 0 {
			params["percent"] = strconv.FormatFloat(p.Percent, 'f', -1, 64)
		}
		if len(p.Log) > 0 {
			params["log"] = strings.Join(p.Log, "\n")
		}
		if p.Attempt > 0 {
			params["attempt"] = strconv.Itoa(p.Attempt)
		}
		if p.Worker != "" {
			params["worker"] = p.Worker
		}
		c.emit(Event{Type: EventSolutionProgress, RequestID: id, Operate: EventSolutionProgress.String(), Params: params, ComeBack: cb})
	}
	c.goAsync(func(ctx context.Context) {
		ctx, cancel := context.WithCancel(ctx)
		sol.mu.Lock()
		sol.cancel = cancel
		if sol.canceled {
			cancel()
		}
		sol.mu.Unlock()
		defer func() {
			cancel()
			c.mu.Lock()
			delete(c.solutions, id)
			c.mu.Unlock()
		}()
		res, err := c.Solve(ctx, abs, opt)
		p := map[string]string{"status": "success", "jobId": res.JobID, "exitCode": strconv.Itoa(res.ExitCode), "resultDir": res.ResultDir,
			"files": strconv.Itoa(len(res.Files)), "bytesSent": strconv.FormatInt(res.BytesSent, 10),
			"wallSeconds": strconv.FormatFloat(res.WallSeconds, 'f', 3, 64), "attempts": strconv.Itoa(res.Attempts)}
		if err != nil {
			p["status"] = "failed"
			if res.Status == SolveCanceled {
				p["status"] = "canceled"
			}
			p["errorCode"], p["errorMsg"] = res.ErrorCode, res.Error
			if res.ErrorCode == "" {
				p["errorCode"], p["errorMsg"] = errorCode(err)
			}
			if len(res.LogTail) > 0 {
				p["logTail"] = strings.Join(res.LogTail, "\n")
			}
		}
		// The request is forgotten before its result is told: a host that
		// cancels it on the result hears ErrUnknownRequest.
		c.mu.Lock()
		delete(c.solutions, id)
		c.mu.Unlock()
		c.emit(Event{Type: EventSolutionResult, RequestID: id, Operate: EventSolutionResult.String(), Params: p, ComeBack: cb})
	})
	return id, nil
}

// ErrUnknownRequest: Cancel of a request id that names no solve in
// progress (never started, or finished). It is an ErrInvalidArgument too.
var ErrUnknownRequest = fmt.Errorf("%w: no solution in progress has that request id", ErrInvalidArgument)

// Cancel stops a GetSolution: a job on the service is canceled there (its
// worker stops the solver), and the SolutionResult event says "canceled";
// a solve still uploading stops at once.
func (d *Desk) Cancel(requestID uint64) error {
	c := d.c
	if c.shut.Load() {
		return ErrShutOut
	}
	c.mu.Lock()
	sol := c.solutions[requestID]
	c.mu.Unlock()
	if sol == nil {
		return fmt.Errorf("%w: %d", ErrUnknownRequest, requestID)
	}
	sol.mu.Lock()
	jobID, cancel := sol.jobID, sol.cancel
	sol.canceled = true // a solve not started yet starts canceled
	sol.mu.Unlock()
	if jobID == "" {
		if cancel != nil {
			cancel()
		}
		return nil
	}
	ctx, done := context.WithTimeout(c.ctx, 10*time.Second)
	defer done()
	return c.call(ctx, wire.OpJobsCancel, wire.JobRef{ID: jobID}, nil)
}
