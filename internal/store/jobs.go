package store

import (
	"context"
	"errors"
	"time"
)

// ErrLeaseLost is returned to a worker that renews or finishes a job whose
// lease it no longer holds: the lease lapsed and the job was queued again
// (or canceled, or finished by another attempt). The worker drops its work.
var ErrLeaseLost = errors.New("store: the job's lease is no longer held by this worker")

// Job states (the protocol's, wire.Job*, say the same).
const (
	JobQueued    = "queued"    // waiting for a worker
	JobRunning   = "running"   // leased to a worker
	JobSucceeded = "succeeded" // the solver exited 0 and its outputs are stored
	JobFailed    = "failed"    // the solver failed, or every attempt was lost
	JobCanceled  = "canceled"  // the owner canceled it
)

// Solver kinds (the protocol's, wire.Solver*, say the same).
const (
	SolverCommand = "command" // a program run with an argument template
	SolverPlugin  = "plugin"  // a native library (include/iscsdk/solver_plugin.h)
)

// Solver says how one of a product's models is solved. Jobs keep a copy of
// the solver as it was when they were submitted.
type Solver struct {
	ProductID string `json:"productId"`
	Name      string `json:"name"` // e.g. "calculix"; workers announce the names they run
	Kind      string `json:"kind"` // SolverCommand or SolverPlugin
	// What runs is the worker's: its configuration names the program and
	// the argument template of each solver it announces (docs/compute.md).
	// The service keeps what is the service's.
	// Outputs are the patterns (path.Match, relative to the job's
	// directory) of the files returned; empty: every file the solver made.
	Outputs []string `json:"outputs,omitempty"`
	// Progress names the parser that turns solver output into percent
	// ("calculix"; "" for none).
	Progress    string        `json:"progress,omitempty"`
	TimeLimit   time.Duration `json:"timeLimit"`   // the default, and the most a job may ask for
	MaxOutput   int64         `json:"maxOutput"`   // bytes of outputs a job may return
	MaxAttempts int           `json:"maxAttempts"` // attempts before a job whose worker keeps dying fails
}

// JobAttempt is one run of a job on a worker.
type JobAttempt struct {
	Worker  string    `json:"worker"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	Outcome string    `json:"outcome,omitempty"` // a final state, or "lost" (the lease lapsed)
}

// Job is a model to be solved: its inputs (a manifest, kept beside it), the
// solver, and where it stands.
type Job struct {
	ID        string        `json:"id"` // chosen by the client: a retried submit names the same job
	OrgID     string        `json:"orgId"`
	UserID    string        `json:"userId"`
	SessionID string        `json:"sessionId"` // the owner: events go there
	ProductID string        `json:"productId"`
	LicenseID string        `json:"licenseId,omitempty"` // metered against
	Solver    Solver        `json:"solver"`
	Main      string        `json:"main"` // the model's file among the inputs
	Args      []string      `json:"args,omitempty"`
	Cores     int           `json:"cores"`
	TimeLimit time.Duration `json:"timeLimit"`
	InputHash string        `json:"inputHash"`
	InputSize int64         `json:"inputSize"`

	State           string       `json:"state"`
	Attempts        []JobAttempt `json:"attempts,omitempty"`
	LeaseExpires    time.Time    `json:"leaseExpires,omitzero"` // while running
	CancelRequested bool         `json:"cancelRequested,omitempty"`
	// CancelCode and CancelReason say why a cancel was requested, for the
	// result ("" and "": its owner or an operator canceled it).
	CancelCode   string    `json:"cancelCode,omitempty"`
	CancelReason string    `json:"cancelReason,omitempty"`
	Created      time.Time `json:"created"`
	Finished     time.Time `json:"finished,omitzero"`

	JobResult
}

// Attempt is the number of the current (or last) attempt; 0 before the first.
func (j Job) Attempt() int { return len(j.Attempts) }

// Worker is the worker holding (or last holding) the job.
func (j Job) Worker() string {
	if len(j.Attempts) == 0 {
		return ""
	}
	return j.Attempts[len(j.Attempts)-1].Worker
}

// Done reports whether the job reached a final state.
func (j Job) Done() bool {
	return j.State == JobSucceeded || j.State == JobFailed || j.State == JobCanceled
}

// JobResult is how a job ended.
type JobResult struct {
	ExitCode    int      `json:"exitCode"`
	ErrorCode   string   `json:"errorCode,omitempty"`
	Error       string   `json:"error,omitempty"`
	LogTail     []string `json:"logTail,omitempty"` // the solver's last output lines
	WallSeconds float64  `json:"wallSeconds,omitempty"`
	CPUSeconds  float64  `json:"cpuSeconds,omitempty"`
	OutputHash  string   `json:"outputHash,omitempty"` // of the outputs manifest's content
	OutputSize  int64    `json:"outputSize,omitempty"`
	OutputFiles int      `json:"outputFiles,omitempty"`
}

// UsageRecord is the solver time of one finished attempt, in the shape of
// the marketplace's usage push (docs/compute.md). SN is unique.
type UsageRecord struct {
	SN            string    `json:"meteringSn"` // job id "-" attempt
	OrgID         string    `json:"orgId"`
	LicenseID     string    `json:"licenseId,omitempty"`
	ProductID     string    `json:"productId"`
	UserID        string    `json:"userId"`
	JobID         string    `json:"jobId"`
	Solver        string    `json:"solver"`
	Begin         time.Time `json:"beginTime"`
	End           time.Time `json:"endTime"`
	SolverSeconds float64   `json:"solverSeconds"` // wall time of the solver
	CPUSeconds    float64   `json:"cpuSeconds"`
}

// JobFilter selects jobs; zero fields match everything.
type JobFilter struct {
	OrgID string
	State string
	Limit int // newest first; 0: all
}

// Jobs is the job queue and its solvers. The embedded backend keeps it in
// its file; a distributed backend implements the same contract: a queued
// job is leased to one worker at a time, and only the holder of the
// current attempt's lease can finish it.
type Jobs interface {
	// PutSolver creates or replaces a product's solver.
	PutSolver(ctx context.Context, s Solver) error
	// Solvers lists a product's solvers ("" lists every product's).
	Solvers(ctx context.Context, productID string) ([]Solver, error)
	DeleteSolver(ctx context.Context, productID, name string) error

	// CreateJob queues j (State JobQueued) with its inputs manifest;
	// ErrExists if a job of that id exists.
	CreateJob(ctx context.Context, j Job, inputs []byte) error
	Job(ctx context.Context, id string) (Job, error)
	// JobManifest returns a job's inputs manifest, or its outputs one.
	JobManifest(ctx context.Context, id string, outputs bool) ([]byte, error)
	ListJobs(ctx context.Context, f JobFilter) ([]Job, error)

	// LeaseJob starts a new attempt of the oldest queued job whose solver
	// is one of solvers, on worker, until expires; ErrNotFound if none.
	LeaseJob(ctx context.Context, worker string, solvers []string, now, expires time.Time) (Job, error)
	// RenewJob extends the lease of attempt; ErrLeaseLost unless worker
	// holds it. The job returned tells whether a cancel was requested.
	RenewJob(ctx context.Context, id, worker string, attempt int, expires time.Time) (Job, error)
	// FinishJob ends attempt with r.State ∈ {succeeded, failed, canceled},
	// storing the outputs manifest (nil for none) and, if u is not nil,
	// its usage record, all at once; ErrLeaseLost unless worker holds the
	// attempt's lease.
	FinishJob(ctx context.Context, id, worker string, attempt int, state string, r JobResult, outputs []byte, u *UsageRecord, now time.Time) (Job, error)
	// CancelJob cancels a queued job at once (its Finished is now; its
	// ErrorCode and Error are code and reason, "canceled" and "canceled
	// before it started" when empty); a running one gets CancelRequested,
	// CancelCode and CancelReason (its worker stops it and finishes it
	// canceled, or it ends canceled when its lease lapses). A finished job
	// is unchanged.
	CancelJob(ctx context.Context, id, code, reason string, now time.Time) (Job, error)
	// ExpireLeases ends the attempts whose lease lapsed before now: the
	// job is queued again, or failed when it has had its solver's
	// MaxAttempts, or canceled if a cancel was requested. It returns the
	// jobs it changed.
	ExpireLeases(ctx context.Context, now time.Time) ([]Job, error)

	// Usage lists an org's usage records whose End is in [from, to).
	Usage(ctx context.Context, orgID string, from, to time.Time) ([]UsageRecord, error)
}
