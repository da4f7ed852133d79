// Package jobs is iscd's compute service: clients submit models to be
// solved, workers lease the jobs and report back, and the job's owner
// session hears of its progress and result as events. The queue itself is
// the store's (store.Jobs): it outlives iscd restarts, and a worker that
// dies loses its lease and the job runs again elsewhere.
package jobs

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/server/page"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/transport"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Defaults of a solver that leaves them unset.
const (
	DefaultLease       = 30 * time.Second // a worker renews at a third of it
	DefaultTimeLimit   = time.Hour
	DefaultMaxOutput   = 4 << 30
	DefaultMaxAttempts = 3
	MaxCores           = 1024
)

// Config tunes the service.
type Config struct {
	// Lease is how long a worker holds a job between renewals; a worker
	// silent for longer loses it. 0: DefaultLease.
	Lease time.Duration
	// MaxWaiting bounds an organisation's jobs queued or running at once;
	// a submit past it is refused (CodeQuota). 0: DefaultMaxWaiting.
	MaxWaiting int
}

// DefaultMaxWaiting is an organisation's default bound on jobs not ended.
const DefaultMaxWaiting = 1000

// Gate says whether an organisation may use compute for a product: nil,
// or the error its client gets (licensing.Service: the licence gates).
type Gate interface {
	RequireForCompute(ctx context.Context, orgID, productID string) error
}

// Service is the compute service of one iscd.
type Service struct {
	st         Store
	chunks     chunkstore.Store
	hub        *session.Hub
	workerOps  session.Router[*worker] // the worker endpoint's requests
	gate       Gate
	log        *slog.Logger
	lease      time.Duration
	maxWaiting int
	now        func() time.Time
	metrics    Metrics

	mu      sync.Mutex
	queued  chan struct{} // closed and replaced when a job is queued
	workers map[string]*worker
	logs    map[string][]string // recent solver lines of running jobs
	percent map[string]float64  // how far running jobs are, as their workers last said
	relayFn func(Notice)        // to the other replicas
	// running is what each worker holds: worker id → job id → attempt,
	// from its lease (or a renewal) to the attempt's end or lapse.
	running map[string]map[string]int
	leasing map[string]int               // worker id → leases being made (counted against its capacity)
	freed   chan struct{}                // closed and replaced when a worker's job ends
	closing bool                         // Shutdown was called
	conns   map[*transport.Conn]struct{} // open worker connections
	served  sync.WaitGroup               // one per worker connection
}

// Store is the part of iscd's store the compute service uses: the job
// queue and its solvers, the seats of the licence a job is metered
// against, and the workers' tokens.
type Store interface {
	store.Jobs
	Licenses(ctx context.Context, orgID, productID string) ([]store.License, error)
	Seats(ctx context.Context, licenseID string) ([]store.Seat, error)
	CreateToken(ctx context.Context, t store.Token) error
	Token(ctx context.Context, id string) (store.Token, error)
	Tokens(ctx context.Context, userID string) ([]store.Token, error)
	RevokeToken(ctx context.Context, id string) error
}

// Metrics is told what the queue's rules did (iscd's metrics): how long
// each of their store transactions took, by op ("lease_job",
// "finish_job", "cancel_job", "expire_leases"), how long a leased job
// waited, each job that reached a final state, and how long a finished
// attempt ran.
type Metrics interface {
	StoreCall(op string, d time.Duration)
	JobLeased(wait time.Duration)
	JobFinished(state string)
	JobRan(d time.Duration)
}

// noMetrics is the Metrics of a service nobody measures.
type noMetrics struct{}

func (noMetrics) StoreCall(string, time.Duration) {}
func (noMetrics) JobLeased(time.Duration)         {}
func (noMetrics) JobFinished(string)              {}
func (noMetrics) JobRan(time.Duration)            {}

// Measure has m told what the queue's rules do. Call it before serving.
func (s *Service) Measure(m Metrics) { s.metrics = m }

// New returns the service and registers its client operations on hub.
// A submit passes gate first.
func New(st Store, chunks chunkstore.Store, hub *session.Hub, gate Gate, log *slog.Logger, cfg Config) *Service {
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.MaxWaiting <= 0 {
		cfg.MaxWaiting = DefaultMaxWaiting
	}
	s := &Service{st: st, metrics: noMetrics{}, chunks: chunks, hub: hub, gate: gate, log: log, lease: cfg.Lease, maxWaiting: cfg.MaxWaiting,
		now:    func() time.Time { return time.Now().UTC() },
		queued: make(chan struct{}), workers: map[string]*worker{}, logs: map[string][]string{}, percent: map[string]float64{},
		running: map[string]map[string]int{}, leasing: map[string]int{}, freed: make(chan struct{}),
		conns: map[*transport.Conn]struct{}{}}
	session.HandleFrame(hub, wire.BinJobSubmit, s.submit)
	session.Handle(hub, wire.OpJobsGet, s.get)
	session.Handle(hub, wire.OpJobsCancel, s.cancel)
	session.Handle(hub, wire.OpJobsList, s.list)
	session.Handle(hub, wire.OpJobsManifest, s.outputs)
	s.handleWorkers()
	return s
}

// Info is what a client sees of a job.
func Info(j store.Job) wire.JobInfo {
	return wire.JobInfo{ID: j.ID, State: j.State, Solver: j.Solver.Name, Main: j.Main, Attempt: j.Attempt(), Worker: j.Worker(),
		Created: j.Created, Finished: j.Finished, ExitCode: j.ExitCode, ErrorCode: j.ErrorCode, Error: j.Error, LogTail: j.LogTail,
		WallSeconds: j.WallSeconds, CPUSeconds: j.CPUSeconds, OutputSize: j.OutputSize, OutputFiles: j.OutputFiles}
}

// checkJobID accepts 32 lower-case hex digits.
func checkJobID(id string) error {
	if len(id) != 32 || strings.ToLower(id) != id {
		return wire.Errorf(wire.CodeBadRequest, "job id must be 32 lower-case hex digits")
	}
	if _, err := hex.DecodeString(id); err != nil {
		return wire.Errorf(wire.CodeBadRequest, "job id must be 32 lower-case hex digits")
	}
	return nil
}

// checkArgs refuses solver arguments a solver would read as options; their
// number and size were checked with the request (wire.JobSubmit.Check).
func checkArgs(args []string) error {
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			return wire.Errorf(wire.CodeBadArgument, "solver argument %q begins with '-': a solver would read it as an option", a)
		}
	}
	return nil
}

// solverFor picks the product's solver named name ("" for its only one).
func (s *Service) solverFor(ctx context.Context, product, name string) (store.Solver, error) {
	solvers, err := s.st.Solvers(ctx, product)
	if err != nil {
		return store.Solver{}, err
	}
	if name == "" {
		if len(solvers) == 1 {
			return solvers[0], nil
		}
		if len(solvers) == 0 {
			return store.Solver{}, wire.Errorf(wire.CodeNoSolver, "product %s has no solver configured", product)
		}
		names := make([]string, len(solvers))
		for i, sv := range solvers {
			names[i] = sv.Name
		}
		return store.Solver{}, wire.Errorf(wire.CodeNoSolver, "product %s has several solvers (%s): name one", product, strings.Join(names, ", "))
	}
	for _, sv := range solvers {
		if sv.Name == name {
			return sv, nil
		}
	}
	return store.Solver{}, wire.Errorf(wire.CodeUnknownSolver, "product %s has no solver %q", product, name)
}

// submit queues a job from a BinJobSubmit frame whose input chunks are
// stored. A submit repeated with the same id answers the job it made.
func (s *Service) submit(ctx context.Context, c session.Caller, h wire.JobSubmit, f wire.Frame) (any, error) {
	if err := checkJobID(h.ID); err != nil {
		return nil, err
	}
	if j, err := s.st.Job(ctx, h.ID); err == nil {
		if j.OrgID != c.OrgID || j.SessionID != c.Session {
			return nil, wire.Errorf(wire.CodeConflict, "job id %s is taken", h.ID)
		}
		return Info(j), nil // a retry
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err := s.gate.RequireForCompute(ctx, c.OrgID, c.ProductID); err != nil {
		return nil, err
	}
	if err := s.checkQuota(ctx, c.OrgID); err != nil {
		return nil, err
	}
	if err := checkArgs(h.Args); err != nil {
		return nil, err
	}
	if strings.HasPrefix(h.Main, "-") {
		return nil, wire.Errorf(wire.CodeBadArgument, "model file %q begins with '-': a solver would read it as an option", h.Main)
	}
	if h.Cores < 0 || h.Cores > MaxCores || h.TimeLimitSeconds < 0 {
		return nil, wire.Errorf(wire.CodeBadRequest, "cores must be 0..%d and the time limit not negative", MaxCores)
	}
	sv, err := s.solverFor(ctx, c.ProductID, h.Solver)
	if err != nil {
		return nil, err
	}
	m, err := manifest.Decode(f.Payload)
	if err != nil {
		return nil, wire.Errorf(wire.CodeBadRequest, "inputs manifest: %v", err)
	}
	var size int64
	hasMain := false
	for _, file := range m.Files {
		size += file.Size
		hasMain = hasMain || file.Path == h.Main
	}
	if n, path, id, err := m.Missing(ctx, s.chunks, c.OrgID); err != nil {
		return nil, err
	} else if n > 0 {
		return nil, wire.Errorf(wire.CodeMissingChunks, "chunk %s of %s is not stored (%d missing): send it first", id, path, n)
	}
	if !hasMain {
		return nil, wire.Errorf(wire.CodeBadRequest, "the model file %q is not among the inputs", h.Main)
	}
	limit := sv.TimeLimit
	if limit <= 0 {
		limit = DefaultTimeLimit
	}
	if want := time.Duration(h.TimeLimitSeconds) * time.Second; want > 0 && want < limit {
		limit = want
	}
	j := store.Job{ID: h.ID, OrgID: c.OrgID, UserID: c.UserID, SessionID: c.Session, ProductID: c.ProductID,
		LicenseID: s.licenseOf(ctx, c), Solver: sv, Main: h.Main, Args: h.Args, Cores: max(h.Cores, 1), TimeLimit: limit,
		InputHash: m.Hash(), InputSize: size, Created: s.now()}
	if err := s.st.CreateJob(ctx, j, f.Payload); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, wire.Errorf(wire.CodeConflict, "job id %s is taken", h.ID)
		}
		return nil, err
	}
	j.State = store.JobQueued
	s.log.Info("job queued", "job", j.ID, "org", j.OrgID, "solver", sv.Name, "main", j.Main, "inputBytes", size)
	s.progress(ctx, j, nil, nil)
	s.wake()
	return Info(j), nil
}

// checkQuota refuses a submit when the org has MaxWaiting jobs not ended:
// a client in a loop cannot fill the queue and the store.
func (s *Service) checkQuota(ctx context.Context, org string) error {
	n := 0
	for _, state := range []string{store.JobQueued, store.JobRunning} {
		js, err := s.st.ListJobs(ctx, store.JobFilter{OrgID: org, State: state, Limit: s.maxWaiting})
		if err != nil {
			return err
		}
		n += len(js)
	}
	if n >= s.maxWaiting {
		return wire.Errorf(wire.CodeQuota, "the organisation has %d jobs queued or running, the most it may have; wait for some to end", n)
	}
	return nil
}

// licenseOf is the licence a session's solves are metered against: the
// one it holds a seat of, else the org's first licence of the product.
func (s *Service) licenseOf(ctx context.Context, c session.Caller) string {
	ls, err := s.st.Licenses(ctx, c.OrgID, c.ProductID)
	if err != nil || len(ls) == 0 {
		return ""
	}
	for _, l := range ls {
		seats, err := s.st.Seats(ctx, l.ID)
		if err != nil {
			continue
		}
		for _, seat := range seats {
			if seat.SessionID == c.Session {
				return l.ID
			}
		}
	}
	return ls[0].ID
}

// job loads a job of the caller's org.
func (s *Service) job(ctx context.Context, c session.Caller, ref wire.JobRef) (store.Job, error) {
	if err := checkJobID(ref.ID); err != nil {
		return store.Job{}, err
	}
	j, err := s.st.Job(ctx, ref.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && j.OrgID != c.OrgID) {
		return store.Job{}, wire.Errorf(wire.CodeNotFound, "job %s not found", ref.ID)
	}
	return j, err
}

func (s *Service) get(ctx context.Context, c session.Caller, ref wire.JobRef) (wire.JobInfo, error) {
	j, err := s.job(ctx, c, ref)
	if err != nil {
		return wire.JobInfo{}, err
	}
	return Info(j), nil
}

func (s *Service) list(ctx context.Context, c session.Caller, req wire.JobsList) (any, error) {
	if req.Page == nil {
		// A client before paging: the 100 newest, as it always got.
		js, err := s.st.ListJobs(ctx, store.JobFilter{OrgID: c.OrgID, Limit: 100})
		if err != nil {
			return nil, err
		}
		out := make([]wire.JobInfo, len(js))
		for i, j := range js {
			out[i] = Info(j)
		}
		return out, nil
	}
	js, err := s.st.ListJobs(ctx, store.JobFilter{OrgID: c.OrgID})
	if err != nil {
		return nil, err
	}
	js, next, err := pageOfJobs(js, *req.Page)
	if err != nil {
		return nil, err
	}
	out := wire.JobsPage{Jobs: make([]wire.JobInfo, len(js)), Next: next}
	for i, j := range js {
		out.Jobs[i] = Info(j)
	}
	return out, nil
}

// pageOfJobs sorts js newest first (by wire.JobKey) and cuts the page p.
func pageOfJobs(js []store.Job, p wire.Page) ([]store.Job, string, error) {
	key := func(j store.Job) string { return wire.JobKey(j.Created, j.ID) }
	slices.SortFunc(js, func(a, b store.Job) int { return strings.Compare(key(a), key(b)) })
	return page.Cut(js, key, p)
}

func (s *Service) outputs(ctx context.Context, c session.Caller, ref wire.JobRef) (any, error) {
	j, err := s.job(ctx, c, ref)
	if err != nil {
		return nil, err
	}
	m, err := s.st.JobManifest(ctx, j.ID, true)
	if errors.Is(err, store.ErrNotFound) {
		return nil, wire.Errorf(wire.CodeNotFound, "job %s has no outputs (it is %s)", j.ID, j.State)
	}
	if err != nil {
		return nil, err
	}
	return session.Binary{Kind: wire.BinManifest, Data: m}, nil
}

func (s *Service) cancel(ctx context.Context, c session.Caller, ref wire.JobRef) (wire.JobInfo, error) {
	j, err := s.job(ctx, c, ref)
	if err != nil {
		return wire.JobInfo{}, err
	}
	j, err = s.Cancel(ctx, j.ID)
	if err != nil {
		return wire.JobInfo{}, err
	}
	return Info(j), nil
}

// Cancel cancels a job: at once if queued; a running one is stopped by its
// worker, which is told now.
func (s *Service) Cancel(ctx context.Context, id string) (store.Job, error) {
	return s.cancelFor(ctx, id, "", "")
}

// StopLicensed cancels the queued and running jobs of l's organisation and
// product when l was frozen or released (code says which) and the
// organisation is left without a licence that allows compute: each ends
// canceled with code and a reason naming the licence. It is
// licensing.Service's OnStop hook.
func (s *Service) StopLicensed(ctx context.Context, l store.License, code string) {
	gateErr := s.gate.RequireForCompute(ctx, l.OrgID, l.ProductID)
	if gateErr == nil {
		return // the product needs no licence for compute, or another one allows it
	}
	reason := fmt.Sprintf("canceled: licence %s was %s", l.ID, strings.ToLower(l.Status))
	for _, state := range []string{store.JobRunning, store.JobQueued} {
		js, err := s.st.ListJobs(ctx, store.JobFilter{OrgID: l.OrgID, State: state, Limit: s.maxWaiting})
		if err != nil {
			s.log.Error("cancel a stopped licence's jobs", "license", l.ID, "err", err)
			return
		}
		for _, j := range js {
			if j.ProductID != l.ProductID {
				continue
			}
			if _, err := s.cancelFor(ctx, j.ID, code, reason); err != nil {
				s.log.Error("cancel a stopped licence's job", "license", l.ID, "job", j.ID, "err", err)
			}
		}
	}
}

// cancelFor cancels a job with a reason for its result ("": a plain cancel).
func (s *Service) cancelFor(ctx context.Context, id, code, reason string) (store.Job, error) {
	now := s.now()
	start := time.Now()
	j, err := CancelJob(ctx, s.st, id, code, reason, now)
	s.metrics.StoreCall("cancel_job", time.Since(start))
	if err != nil {
		return j, err
	}
	if j.State == store.JobCanceled && j.Finished.Equal(now) {
		s.metrics.JobFinished(store.JobCanceled) // a queued job, canceled at once
	}
	switch {
	// Canceled by this call (it was queued: maybe again, after a lost
	// attempt), not earlier: the store ends it at now.
	case j.State == store.JobCanceled && j.Finished.Equal(now):
		s.log.Info("job canceled while queued", "job", id)
		s.result(ctx, j)
	case j.State == store.JobRunning:
		s.log.Info("job cancel requested", "job", id, "worker", j.Worker(), "code", code)
		if !s.tellCancel(j) {
			s.relay(Notice{CancelJob: j.ID}) // its worker is connected to another replica
		}
	}
	return j, nil
}

// progress tells the job's owner where it stands.
func (s *Service) progress(ctx context.Context, j store.Job, percent *float64, lines []string) {
	p := map[string]string{"jobId": j.ID, "state": j.State, "attempt": strconv.Itoa(j.Attempt())}
	if w := j.Worker(); w != "" && j.State == store.JobRunning {
		p["worker"] = w
	}
	if percent != nil && *percent >= 0 {
		p["percent"] = strconv.FormatFloat(*percent, 'f', -1, 64)
	}
	if len(lines) > 0 {
		p["log"] = strings.Join(lines, "\n")
	}
	s.publish(ctx, j, wire.Event{Kind: wire.KindSolutionProgress, Operate: wire.OperateJobProgress, Params: p})
}

// result tells the job's owner how it ended.
func (s *Service) result(ctx context.Context, j store.Job) {
	p := Info(j).ResultParams()
	s.mu.Lock()
	delete(s.logs, j.ID)
	delete(s.percent, j.ID)
	s.mu.Unlock()
	s.publish(ctx, j, wire.Event{Kind: wire.KindSolutionResult, Operate: wire.OperateJobResult, Params: p})
}

func (s *Service) publish(ctx context.Context, j store.Job, ev wire.Event) {
	if _, err := s.hub.Publish(ctx, j.SessionID, ev); err != nil {
		s.log.Info("job event not delivered: its session is gone", "job", j.ID, "session", j.SessionID, "err", err)
	}
}

// Wake tells the workers waiting here that a job may have been queued
// (by another replica).
func (s *Service) Wake() { s.wake() }

// wake tells waiting workers that a job was queued.
func (s *Service) wake() {
	s.mu.Lock()
	close(s.queued)
	s.queued = make(chan struct{})
	s.mu.Unlock()
}

// Run expires the leases of silent workers until ctx ends: their jobs are
// queued again (or fail after their attempts, or end canceled).
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(max(s.lease/4, 50*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.expire(ctx)
		}
	}
}

func (s *Service) expire(ctx context.Context) {
	start := time.Now()
	changed, err := ExpireLeases(ctx, s.st, s.now())
	s.metrics.StoreCall("expire_leases", time.Since(start))
	for _, j := range changed {
		if j.State == store.JobFailed || j.State == store.JobCanceled {
			s.metrics.JobFinished(j.State)
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("expire job leases", "err", err)
		}
		return
	}
	requeued := false
	for _, j := range changed {
		last := j.Attempts[len(j.Attempts)-1]
		s.released(last.Worker, j.ID, len(j.Attempts))
		s.log.Warn("job lease lapsed", "job", j.ID, "worker", last.Worker, "attempt", len(j.Attempts), "now", j.State)
		if j.State == store.JobQueued {
			requeued = true
			s.progress(ctx, j, nil, []string{fmt.Sprintf("worker %s was lost; the job is queued again", last.Worker)})
			continue
		}
		s.result(ctx, j)
	}
	if requeued {
		s.wake()
	}
}

// Notice is news for the other iscd replicas sharing the store: a job to
// stop, or a worker token revoked (whose workers may be connected there).
type Notice struct {
	CancelJob   string `json:"cancelJob,omitempty"`
	RevokeToken string `json:"revokeToken,omitempty"`
}

// Relay sets the function that passes notices to the other replicas
// (server.watch does, on a shared store); without one there are none.
func (s *Service) Relay(fn func(Notice)) {
	s.mu.Lock()
	s.relayFn = fn
	s.mu.Unlock()
}

func (s *Service) relay(n Notice) {
	s.mu.Lock()
	fn := s.relayFn
	s.mu.Unlock()
	if fn != nil {
		fn(n)
	}
}

// Heard acts on a notice from another replica for the workers connected
// here.
func (s *Service) Heard(ctx context.Context, n Notice) {
	if n.CancelJob != "" {
		if j, err := s.st.Job(ctx, n.CancelJob); err == nil && j.State == store.JobRunning {
			s.tellCancel(j)
		}
	}
	if n.RevokeToken != "" {
		s.disconnectToken(n.RevokeToken)
	}
}

// Recheck does what the notices lost while this replica did not hear the
// others would have done: the workers connected here whose token was
// revoked are disconnected, and those running a job whose cancel was asked
// are told.
func (s *Service) Recheck(ctx context.Context) {
	tokens := map[string]bool{}
	var held []string
	s.mu.Lock()
	for wid := range s.workers {
		tok, _, _ := strings.Cut(wid, "/")
		tokens[tok] = true
	}
	for _, js := range s.running {
		for id := range js {
			held = append(held, id)
		}
	}
	s.mu.Unlock()
	for tok := range tokens {
		if t, err := s.st.Token(ctx, tok); err == nil && t.Revoked {
			s.disconnectToken(tok)
		}
	}
	for _, id := range held {
		if j, err := s.st.Job(ctx, id); err == nil && j.State == store.JobRunning && j.CancelRequested {
			s.tellCancel(j)
		}
	}
}
