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

// JobTx is what a job transaction's function may do.
type JobTx interface {
	// PutJob stores a job's record; where it stands in the queue (queued,
	// or running until its lease) follows from its State and
	// LeaseExpires.
	PutJob(j Job) error
	// PutOutputs stores a job's outputs manifest.
	PutOutputs(id string, manifest []byte) error
	// PutUsage stores a usage record, once per SN (a repeat is dropped).
	PutUsage(u UsageRecord) error
}

// JobFilter selects jobs; zero fields match everything.
type JobFilter struct {
	OrgID string
	State string
	Limit int // newest first; 0: all
}

// Jobs is the job queue and its solvers, as records and the transactions
// over them. The rules (a queued job is leased to one worker at a time,
// only the holder of the current attempt's lease renews or finishes it, a
// lapsed lease queues the job again or fails it, a cancel) are the job
// service's (internal/server/jobs), run in these transactions.
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

	// UpdateJob runs fn in one transaction on a job: no other transaction
	// changes it until fn returns (its row locked across replicas).
	// ErrNotFound without the job; fn's error aborts the transaction and
	// is returned.
	UpdateJob(ctx context.Context, id string, fn func(tx JobTx, j Job) error) error
	// UpdateQueuedJob runs fn in one transaction on the oldest queued job
	// (by Created, then ID) whose solver is one of solvers, as UpdateJob
	// does; a job another transaction holds is passed over, so workers
	// leasing at once, from any replica, take different jobs and never
	// wait for each other. ErrNotFound if there is none.
	UpdateQueuedJob(ctx context.Context, solvers []string, fn func(tx JobTx, j Job) error) error
	// UpdateLapsedJobs runs fn on each running job whose lease lapsed
	// before now, all in one transaction; jobs another transaction holds
	// are passed over (replicas expiring at once see each lapsed lease
	// once).
	UpdateLapsedJobs(ctx context.Context, now time.Time, fn func(tx JobTx, j Job) error) error

	// Usage lists an org's usage records whose End is in [from, to).
	Usage(ctx context.Context, orgID string, from, to time.Time) ([]UsageRecord, error)
}
