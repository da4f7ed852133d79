package wire

import (
	"strconv"
	"strings"
	"time"
)

// Compute (docs/compute.md). A client uploads a model's chunks with
// files.have and BinChunkPut, then submits a job with a BinJobSubmit frame
// (JobSubmit header, inputs manifest). The job's progress and result reach
// the submitting session as events of kinds KindSolutionProgress and
// KindSolutionResult with operate OperateJobProgress / OperateJobResult;
// the outputs' chunks are fetched with files.chunk.
const (
	OpJobsGet      = "jobs.get"      // body: JobRef; result: JobInfo
	OpJobsCancel   = "jobs.cancel"   // body: JobRef; result: JobInfo
	OpJobsList     = "jobs.list"     // body: JobsList; result: JobsPage, or []JobInfo without a Page (the caller's org, newest first)
	OpJobsManifest = "jobs.manifest" // body: JobRef; answered by a BinManifest frame (the outputs)

	OperateJobProgress = "JobProgress" // params: jobId, state, attempt, worker; percent, log when known
	OperateJobResult   = "JobResult"   // params: jobId, status, exitCode, ...; errorCode, errorMsg on failure
)

// Job states, as JobInfo.State, JobDone.State and the events' "state" and
// "status" say them.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
	JobCanceled  = "canceled"
)

// Solver kinds, as JobLease.Kind says them.
const (
	SolverCommand = "command" // a program run with an argument template
	SolverPlugin  = "plugin"  // a native library loaded by the worker
)

// Error codes of compute.
const (
	CodeUnknownSolver = "unknown_solver" // the product has no such solver
	CodeNoSolver      = "no_solver"      // the product has no solver at all, or several and none was named
	CodeSolverFailed  = "solver_failed"  // the solver exited non-zero
	CodeTimeLimit     = "time_limit"     // the solver ran past its time limit
	CodeOutputLimit   = "output_limit"   // the outputs were larger than allowed
	CodeWorkerLost    = "worker_lost"    // every attempt's worker died
	CodeCanceled      = "canceled"
	CodeQuota         = "quota" // the organisation has as many jobs waiting as it may
	// CodeBadArgument: the model's name or a solver argument begins with
	// '-' (a solver would read it as an option), or arguments were given
	// to a solver that takes none.
	CodeBadArgument = "bad_argument"
)

// Limits of compute requests.
const (
	MaxJobArgs     = 64
	MaxJobLogLines = 200 // lines of solver output kept with a job
	MaxLogLine     = 1024
)

// JobSubmit is the JSON header of a BinJobSubmit frame.
type JobSubmit struct {
	// ID names the job: 32 hex digits chosen by the client, so that a
	// submit retried after a lost answer names the same job.
	ID               string   `json:"id"`
	Solver           string   `json:"solver,omitempty"` // "": the product's only solver
	Main             string   `json:"main"`             // the model's file in the manifest
	Args             []string `json:"args,omitempty"`   // extra solver arguments
	Cores            int      `json:"cores,omitempty"`
	TimeLimitSeconds int64    `json:"timeLimitSeconds,omitempty"`
}

// JobRef names a job.
type JobRef struct {
	ID string `json:"id"`
}

// JobInfo describes a job.
type JobInfo struct {
	ID          string    `json:"id"`
	State       string    `json:"state"` // queued, running, succeeded, failed, canceled
	Solver      string    `json:"solver"`
	Main        string    `json:"main"`
	Attempt     int       `json:"attempt"`
	Worker      string    `json:"worker,omitempty"`
	Created     time.Time `json:"created"`
	Finished    time.Time `json:"finished,omitzero"`
	ExitCode    int       `json:"exitCode"`
	ErrorCode   string    `json:"errorCode,omitempty"`
	Error       string    `json:"error,omitempty"`
	LogTail     []string  `json:"logTail,omitempty"`
	WallSeconds float64   `json:"wallSeconds,omitempty"`
	CPUSeconds  float64   `json:"cpuSeconds,omitempty"`
	OutputSize  int64     `json:"outputSize,omitempty"`
	OutputFiles int       `json:"outputFiles,omitempty"`
}

// Worker protocol, on WorkerPath: a worker authenticates with a worker
// token, says hello, then leases jobs. The service pushes "event" messages
// with operate OperateCancelJob to stop a job.
const (
	WorkerPath = "/v1/worker"

	OpWorkerHello    = "worker.hello"    // body: WorkerHello; result: WorkerWelcome
	OpWorkerLease    = "worker.lease"    // body: WorkerLease; result: JobLease (ID "" when none came within the wait)
	OpWorkerRenew    = "worker.renew"    // body: JobProgress; result: JobRenewed
	OpWorkerManifest = "worker.manifest" // body: JobAttemptRef; answered by a BinManifest frame (the inputs)
	OpWorkerChunk    = "worker.chunk"    // body: JobChunk; answered by a BinChunkData frame
	OpWorkerHave     = "worker.have"     // body: WorkerHave; result: FilesHave (the missing ids)
	OpWorkerRelease  = "worker.release"  // body: JobAttemptRef; the worker gives a job up (it is stopping): queued again at once

	OperateCancelJob = "CancelJob" // params: jobId, attempt
)

// WorkerHello announces a worker.
type WorkerHello struct {
	Name     string   `json:"name"`
	Solvers  []string `json:"solvers"`
	Capacity int      `json:"capacity"` // jobs at once
	Version  string   `json:"version,omitempty"`
	// Running are the jobs the worker runs (it reconnected): a job leased
	// to it that is not among them never reached it, and is queued again
	// at once.
	Running []JobAttemptRef `json:"running,omitempty"`
}

// WorkerWelcome answers WorkerHello.
type WorkerWelcome struct {
	WorkerID string `json:"workerId"`
	LeaseMS  int64  `json:"leaseMs"` // renew well within this
}

// WorkerLease asks for a job, waiting up to WaitMS for one.
type WorkerLease struct {
	WaitMS int64 `json:"waitMs"`
}

// JobLease is a job given to a worker.
type JobLease struct {
	ID      string `json:"id"`
	Attempt int    `json:"attempt"`
	Solver  string `json:"solver"`
	// Kind is the product's word for the solver (command or plugin); the
	// worker runs what its own configuration names Solver, nothing the
	// lease says: a lease carries no program, path or option.
	Kind             string   `json:"kind"`
	Outputs          []string `json:"outputs,omitempty"`
	Progress         string   `json:"progress,omitempty"`
	Main             string   `json:"main"`
	Args             []string `json:"args,omitempty"`
	Cores            int      `json:"cores"`
	TimeLimitSeconds int64    `json:"timeLimitSeconds"`
	MaxOutput        int64    `json:"maxOutput"`
	InputHash        string   `json:"inputHash"`
}

// JobAttemptRef names one attempt of a job.
type JobAttemptRef struct {
	ID      string `json:"id"`
	Attempt int    `json:"attempt"`
}

// JobProgress renews a lease and reports progress.
type JobProgress struct {
	ID      string   `json:"id"`
	Attempt int      `json:"attempt"`
	Percent *float64 `json:"percent,omitempty"`
	Log     []string `json:"log,omitempty"` // new output lines
}

// JobRenewed answers JobProgress.
type JobRenewed struct {
	Cancel bool `json:"cancel"` // stop the solver and finish canceled
}

// JobChunk names a chunk of a job's inputs (worker.chunk) or, as the header
// of a BinJobChunk frame, one of its outputs.
type JobChunk struct {
	ID      string `json:"id"`
	Attempt int    `json:"attempt"`
	Chunk   string `json:"chunk"` // hex SHA-256
}

// WorkerHave asks which chunks of a job's org the service lacks.
type WorkerHave struct {
	ID      string   `json:"id"`
	Attempt int      `json:"attempt"`
	IDs     []string `json:"ids"`
}

// JobDone is the JSON header of a BinJobDone frame; the outputs manifest
// follows (empty when there are none).
type JobDone struct {
	ID          string   `json:"id"`
	Attempt     int      `json:"attempt"`
	State       string   `json:"state"` // succeeded, failed or canceled
	ExitCode    int      `json:"exitCode"`
	ErrorCode   string   `json:"errorCode,omitempty"`
	Error       string   `json:"error,omitempty"`
	LogTail     []string `json:"logTail,omitempty"`
	WallSeconds float64  `json:"wallSeconds"`
	CPUSeconds  float64  `json:"cpuSeconds"`
}

// ResultParams are the params of the OperateJobResult event that says how
// job j ended: the service sends them, and a client that asked for the job
// instead (its event was lost) reads the same from JobInfo.
func (j JobInfo) ResultParams() map[string]string {
	p := map[string]string{"jobId": j.ID, "status": j.State, "attempt": strconv.Itoa(j.Attempt),
		"exitCode": strconv.Itoa(j.ExitCode), "outputFiles": strconv.Itoa(j.OutputFiles), "outputSize": strconv.FormatInt(j.OutputSize, 10),
		"wallSeconds": strconv.FormatFloat(j.WallSeconds, 'f', 3, 64), "cpuSeconds": strconv.FormatFloat(j.CPUSeconds, 'f', 3, 64)}
	if j.ErrorCode != "" {
		p["errorCode"], p["errorMsg"] = j.ErrorCode, j.Error
	}
	if len(j.LogTail) > 0 {
		p["logTail"] = strings.Join(j.LogTail, "\n")
	}
	return p
}
