package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
	"github.com/iscsdk/iscsdk/internal/transport"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// maxWorkerInflight bounds the requests one worker connection has in
// progress (leases wait, so it is more than a job's handful).
const maxWorkerInflight = 64

// maxLeaseWait bounds how long a lease request waits for a job.
const maxLeaseWait = 30 * time.Second

// worker is a connected worker.
type worker struct {
	id        string // token id "/" name: stable across its reconnects
	name      string
	solvers   []string
	capacity  int
	version   string
	remote    string
	connected time.Time
	conn      *transport.Conn

	mu  sync.Mutex
	seq uint64
}

// Workers lists the workers connected to this iscd.
func (s *Service) Workers() []adminapi.WorkerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]adminapi.WorkerInfo, 0, len(s.workers))
	for _, w := range s.workers {
		running := make([]string, 0, len(s.running[w.id]))
		for id := range s.running[w.id] {
			running = append(running, id)
		}
		slices.Sort(running)
		out = append(out, adminapi.WorkerInfo{ID: w.id, Name: w.name, Solvers: w.solvers, Capacity: w.capacity, Running: running,
			Version: w.version, Remote: w.remote, Connected: w.connected})
	}
	slices.SortFunc(out, func(a, b adminapi.WorkerInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

var upgrader = websocket.Upgrader{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}

// ServeHTTP serves a worker's connection on wire.WorkerPath.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]*wire.Error{"error": {Code: wire.CodeUnavailable, Message: "iscd is shutting down"}})
		return
	}
	tok, err := s.authenticate(r)
	if errors.Is(err, errTokenLookup) { // not the token's fault: the worker retries
		s.log.Error("worker auth", "remote", r.RemoteAddr, "err", err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]*wire.Error{"error": {Code: wire.CodeUnavailable, Message: "cannot check the worker token now"}})
		return
	}
	if err != nil {
		s.log.Info("worker auth refused", "remote", r.RemoteAddr, "err", err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]*wire.Error{"error": {Code: wire.CodeUnauthorized, Message: "invalid or revoked worker token"}})
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	conn := transport.New(ws, transport.Options{})
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		conn.Close(websocket.CloseGoingAway, "iscd is shutting down")
		return
	}
	s.conns[conn] = struct{}{}
	s.served.Add(1)
	s.mu.Unlock()
	defer func() {
		conn.Close(websocket.CloseNormalClosure, "")
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		s.served.Done()
	}()
	s.serveWorker(conn, tok, r.RemoteAddr)
}

// Shutdown closes every worker connection and refuses new ones, then waits
// until their requests have ended (or ctx has): iscd calls it before it
// closes its store. Workers reconnect, to this iscd once it is back or to
// another replica, and carry on with their jobs.
func (s *Service) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	conns := make([]*transport.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		go c.Close(websocket.CloseGoingAway, "iscd is shutting down")
	}
	done := make(chan struct{})
	go func() {
		s.served.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("jobs: worker connections still open: %w", ctx.Err())
	}
}

// errTokenLookup is a worker token that could not be checked (the store
// failed): iscd answers 503, and the worker tries again, where a refused
// token (401) stops it.
var errTokenLookup = errors.New("looking up worker token")

func (s *Service) authenticate(r *http.Request) (store.Token, error) {
	v := r.Header.Get("Authorization")
	bearer, ok := strings.CutPrefix(v, "Bearer ")
	if !ok {
		return store.Token{}, errors.New("no bearer token")
	}
	id, secret, err := token.Parse(token.PrefixWorker, bearer)
	if err != nil {
		return store.Token{}, err
	}
	t, err := s.st.Token(r.Context(), id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return t, fmt.Errorf("%w %s: %w", errTokenLookup, id, err)
	}
	if err != nil {
		return t, fmt.Errorf("token %s: %w", id, err)
	}
	if t.Kind != token.PrefixWorker || !token.Verify(secret, t.Hash) {
		return t, fmt.Errorf("token %s: wrong secret", id)
	}
	if t.Revoked {
		return t, fmt.Errorf("token %s: revoked", id)
	}
	return t, nil
}

// serveWorker runs one worker connection: hello, then requests.
func (s *Service) serveWorker(conn *transport.Conn, tok store.Token, remote string) {
	// A worker's request is finished even if its connection drops, unlike
	// a session's: a job's end, once stored, must also reach the job's
	// owner (done, then result), or the customer's program never hears
	// it. What waits, waits on the connection too (leaseFor), and
	// Shutdown waits for every request.
	ctx := context.Background()
	m, _, err := conn.Read()
	if err != nil {
		return
	}
	var hello wire.WorkerHello
	if m.Type != wire.TypeRequest || m.Op != wire.OpWorkerHello || json.Unmarshal(m.Body, &hello) != nil ||
		hello.Name == "" || len(hello.Name) > 128 || len(hello.Solvers) > 64 || hello.Capacity < 1 || hello.Capacity > 1024 {
		_ = conn.Send(ctx, wire.Failure(max(m.ID, 1), wire.CodeBadRequest, "first message must be a worker.hello with a name, solvers and a capacity of 1..1024"))
		return
	}
	w := &worker{id: tok.ID + "/" + hello.Name, name: hello.Name, solvers: hello.Solvers, capacity: hello.Capacity,
		version: hello.Version, remote: remote, connected: s.now(), conn: conn}
	s.mu.Lock()
	if old := s.workers[w.id]; old != nil { // its jobs carry on: the worker renews them on this connection
		old.conn.Close(websocket.ClosePolicyViolation, "replaced by a new connection of the same worker")
	}
	s.workers[w.id] = w
	s.mu.Unlock()
	s.dropUnknownLeases(ctx, w, hello.Running)
	defer func() {
		s.mu.Lock()
		if s.workers[w.id] == w {
			delete(s.workers, w.id)
		}
		s.mu.Unlock()
	}()
	s.log.Info("worker connected", "worker", w.id, "solvers", hello.Solvers, "capacity", hello.Capacity, "remote", remote)
	s.reply(w, m.ID, wire.WorkerWelcome{WorkerID: w.id, LeaseMS: s.lease.Milliseconds()}, nil)

	sem := make(chan struct{}, maxWorkerInflight)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		m, bin, err := conn.Read()
		if err != nil {
			s.log.Info("worker disconnected", "worker", w.id, "err", transport.Describe(err))
			return
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			defer func() {
				if r := recover(); r != nil {
					s.log.Error("worker request panicked", "worker", w.id, "panic", r)
				}
			}()
			if m == nil {
				s.workerFrame(ctx, w, bin)
				return
			}
			if m.Type != wire.TypeRequest {
				_ = conn.Send(ctx, wire.Failure(max(m.ID, 1), wire.CodeBadRequest, "unexpected message "+m.Type))
				return
			}
			out, err := s.workerOps.Call(ctx, w, m.Op, m.Body)
			s.reply(w, m.ID, out, err)
		}()
	}
}

// reply answers request id of w.
func (s *Service) reply(w *worker, id uint64, out any, err error) {
	session.Answer(w.conn, s.log.With("worker", w.id), id, "worker request", out, err)
}

// handleWorkers registers the worker endpoint's requests and frames.
func (s *Service) handleWorkers() {
	r := &s.workerOps
	session.Handle(r, wire.OpWorkerLease, func(ctx context.Context, w *worker, req wire.WorkerLease) (any, error) {
		return s.leaseFor(ctx, w, min(time.Duration(req.WaitMS)*time.Millisecond, maxLeaseWait))
	})
	session.Handle(r, wire.OpWorkerRenew, s.renew)
	session.Handle(r, wire.OpWorkerRelease, s.release)
	session.Handle(r, wire.OpWorkerManifest, s.inputs)
	session.Handle(r, wire.OpWorkerChunk, s.inputChunk)
	session.Handle(r, wire.OpWorkerHave, s.have)
	session.HandleFrame(r, wire.BinJobChunk, s.putChunk)
	session.HandleFrame(r, wire.BinJobDone, s.done)
}

// release gives back an attempt the worker will not finish.
func (s *Service) release(ctx context.Context, w *worker, req wire.JobAttemptRef) (struct{}, error) {
	if _, err := s.held(ctx, w, req.ID, req.Attempt); err != nil {
		return struct{}{}, err
	}
	s.dropLease(ctx, w, req.ID, req.Attempt, "the worker is stopping")
	return struct{}{}, nil
}

// inputs answers the inputs manifest of a job the worker holds.
func (s *Service) inputs(ctx context.Context, w *worker, req wire.JobAttemptRef) (any, error) {
	j, err := s.held(ctx, w, req.ID, req.Attempt)
	if err != nil {
		return nil, err
	}
	in, err := s.st.JobManifest(ctx, j.ID, false)
	if err != nil {
		return nil, err
	}
	return session.Binary{Kind: wire.BinManifest, Data: in}, nil
}

// inputChunk answers a chunk of the organisation of a job the worker holds.
func (s *Service) inputChunk(ctx context.Context, w *worker, req wire.JobChunk) (any, error) {
	j, err := s.held(ctx, w, req.ID, req.Attempt)
	if err != nil {
		return nil, err
	}
	id, err := chunkstore.ParseID(req.Chunk)
	if err != nil {
		return nil, wire.Errorf(wire.CodeBadRequest, "chunk id %q: %v", req.Chunk, err)
	}
	enc, err := s.chunks.Get(ctx, j.OrgID, id)
	if errors.Is(err, chunkstore.ErrNotFound) {
		return nil, wire.Errorf(wire.CodeNotFound, "chunk %s not found", req.Chunk)
	}
	if err != nil {
		return nil, err
	}
	return session.Binary{Kind: wire.BinChunkData, ChunkID: id, Data: enc}, nil
}

// have answers which of the given chunks the organisation of a job the
// worker holds lacks.
func (s *Service) have(ctx context.Context, w *worker, req wire.WorkerHave) (wire.FilesHave, error) {
	j, err := s.held(ctx, w, req.ID, req.Attempt)
	if err != nil {
		return wire.FilesHave{}, err
	}
	ids, err := chunkstore.ParseIDs(req.IDs)
	if err != nil {
		return wire.FilesHave{}, wire.Errorf(wire.CodeBadRequest, "%v", err)
	}
	missing, err := chunkstore.Missing(ctx, s.chunks, j.OrgID, ids)
	return wire.FilesHave{IDs: missing}, err
}

// holds records that worker runs attempt of job.
func (s *Service) holds(worker, job string, attempt int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdsLocked(worker, job, attempt)
}

func (s *Service) holdsLocked(worker, job string, attempt int) {
	if s.running[worker] == nil {
		s.running[worker] = map[string]int{}
	}
	s.running[worker][job] = attempt
}

// released records that worker no longer runs attempt of job: it ended,
// or its lease was lost.
func (s *Service) released(worker, job string, attempt int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[worker][job] != attempt {
		return
	}
	delete(s.running[worker], job)
	if len(s.running[worker]) == 0 {
		delete(s.running, worker)
	}
	close(s.freed) // lease requests waiting at capacity look again
	s.freed = make(chan struct{})
}

// dropUnknownLeases queues again, at once, the jobs leased to w (as this
// iscd's store says) that w says it does not run: the answer to its lease
// request was lost with a connection, and waiting for the lease to lapse
// would only delay them.
func (s *Service) dropUnknownLeases(ctx context.Context, w *worker, running []wire.JobAttemptRef) {
	js, err := s.st.ListJobs(ctx, store.JobFilter{State: store.JobRunning})
	if err != nil {
		s.log.Error("list running jobs", "err", err)
		return
	}
	runs := map[string]int{}
	for _, r := range running {
		runs[r.ID] = r.Attempt
	}
	dropped := false
	for _, j := range js {
		if j.Worker() != w.id || runs[j.ID] == j.Attempt() {
			continue
		}
		dropped = s.endLease(ctx, w, j.ID, j.Attempt(), "it was leased to a worker that never got it") || dropped
	}
	if dropped {
		s.expire(ctx)
	}
}

// dropLease queues attempt of job again at once (or ends it, as a lapsed
// lease would: canceled if asked, failed after its attempts).
func (s *Service) dropLease(ctx context.Context, w *worker, job string, attempt int, why string) {
	if s.endLease(ctx, w, job, attempt, why) {
		s.expire(ctx)
	}
}

// endLease makes attempt's lease end now; the next expiry acts on it.
func (s *Service) endLease(ctx context.Context, w *worker, job string, attempt int, why string) bool {
	if _, err := RenewJob(ctx, s.st, job, w.id, attempt, s.now().Add(-time.Nanosecond)); err != nil {
		return false
	}
	s.log.Info("job lease given up", "job", job, "worker", w.id, "attempt", attempt, "why", why)
	return true
}

// Bounds on the text a worker reports, so that the events and answers
// that carry it fit in a message however the JSON escapes it ('<' is six
// bytes there): a job's log tail, error and error code.
const (
	maxLogTail   = 32 << 10
	maxError     = 4 << 10
	maxErrorCode = 64
)

// logTail returns the last lines of log that fit the bounds: at most
// wire.MaxJobLogLines lines of at most wire.MaxLogLine bytes, maxLogTail
// bytes in all.
func logTail(log []string) []string {
	if len(log) > wire.MaxJobLogLines {
		log = log[len(log)-wire.MaxJobLogLines:]
	}
	size := 0
	for i := len(log) - 1; i >= 0; i-- {
		log[i] = cut(log[i], wire.MaxLogLine)
		if size += len(log[i]); size > maxLogTail {
			return log[i+1:]
		}
	}
	return log
}

// cut returns s cut to at most n bytes.
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// within returns m with only its smallest files that fit in limit bytes
// together.
func within(m *manifest.Manifest, limit int64) *manifest.Manifest {
	files := slices.Clone(m.Files)
	slices.SortFunc(files, func(a, b manifest.File) int { return cmp.Compare(a.Size, b.Size) })
	var size int64
	n := 0
	for n < len(files) && size+files[n].Size <= limit {
		size += files[n].Size
		n++
	}
	return &manifest.Manifest{Chunker: m.Chunker, HashID: m.HashID, Files: files[:n]}
}

// bounded returns a worker's report of an attempt's solver and CPU
// seconds within what iscd saw: not negative, solver time at most the
// time the attempt was held (from its lease to its end, on iscd's clock,
// which an honest worker's own measure is inside), CPU time at most that
// on the most cores a job may ask for.
func bounded(wall, cpu float64, held time.Duration) (float64, float64) {
	limit := max(held.Seconds(), 0)
	return min(max(wall, 0), limit), min(max(cpu, 0), limit*MaxCores)
}

// codeLeaseLost answers a worker that no longer holds a job's lease.
const codeLeaseLost = "lease_lost"

// held loads a job whose current attempt w holds.
func (s *Service) held(ctx context.Context, w *worker, id string, attempt int) (store.Job, error) {
	j, err := s.st.Job(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return j, wire.Errorf(wire.CodeNotFound, "job %s not found", id)
	}
	if err != nil {
		return j, err
	}
	if j.State != store.JobRunning || j.Attempt() != attempt || j.Worker() != w.id {
		return j, wire.Errorf(codeLeaseLost, "job %s attempt %d is not leased to this worker", id, attempt)
	}
	return j, nil
}

// leaseFor gives w the oldest job it can run, waiting up to wait for one.
// A worker holding as many jobs as its capacity gets none until one ends.
func (s *Service) leaseFor(ctx context.Context, w *worker, wait time.Duration) (any, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		queued, freed := s.queued, s.freed
		full := len(s.running[w.id])+s.leasing[w.id] >= w.capacity
		if full {
			queued = nil // wait for a job of its to end instead
		} else {
			s.leasing[w.id]++
			freed = nil
		}
		s.mu.Unlock()
		if !full {
			now := s.now()
			start := time.Now()
			j, err := LeaseJob(ctx, s.st, w.id, w.solvers, now, now.Add(s.lease))
			s.metrics.StoreCall("lease_job", time.Since(start))
			if err == nil {
				s.metrics.JobLeased(now.Sub(j.Created))
			}
			s.mu.Lock()
			if s.leasing[w.id]--; s.leasing[w.id] == 0 {
				delete(s.leasing, w.id)
			}
			if err == nil {
				s.holdsLocked(w.id, j.ID, j.Attempt())
			}
			s.mu.Unlock()
			if err == nil {
				s.log.Info("job leased", "job", j.ID, "worker", w.id, "attempt", j.Attempt())
				s.progress(ctx, j, nil, nil)
				return lease(j), nil
			}
			if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
		select {
		case <-queued:
		case <-freed:
		case <-deadline.C:
			return wire.JobLease{}, nil
		case <-w.conn.Done():
			return wire.JobLease{}, nil
		}
	}
}

func lease(j store.Job) wire.JobLease {
	maxOut := j.Solver.MaxOutput
	if maxOut <= 0 {
		maxOut = DefaultMaxOutput
	}
	return wire.JobLease{ID: j.ID, Attempt: j.Attempt(), Solver: j.Solver.Name, Kind: j.Solver.Kind,
		Outputs: j.Solver.Outputs, Progress: j.Solver.Progress, Main: j.Main, Args: j.Args, Cores: j.Cores,
		TimeLimitSeconds: int64(j.TimeLimit / time.Second), MaxOutput: maxOut, InputHash: j.InputHash}
}

// renew extends a lease, passes progress on to the owner, and says
// whether the job is to stop.
func (s *Service) renew(ctx context.Context, w *worker, p wire.JobProgress) (any, error) {
	p.Log = logTail(p.Log)
	j, err := RenewJob(ctx, s.st, p.ID, w.id, p.Attempt, s.now().Add(s.lease))
	if errors.Is(err, store.ErrLeaseLost) {
		s.released(w.id, p.ID, p.Attempt)
		return nil, wire.Errorf(codeLeaseLost, "job %s attempt %d is not leased to this worker", p.ID, p.Attempt)
	}
	if err != nil {
		return nil, err
	}
	s.holds(w.id, j.ID, p.Attempt) // again after an iscd restart
	if p.Percent != nil && (math.IsNaN(*p.Percent) || *p.Percent < 0 || *p.Percent > 100) {
		p.Percent = nil // not a percent: a worker's bug, not the engineer's news
	}
	if p.Percent != nil || len(p.Log) > 0 {
		s.mu.Lock()
		if len(p.Log) > 0 {
			lines := append(s.logs[j.ID], p.Log...)
			if len(lines) > wire.MaxJobLogLines {
				lines = lines[len(lines)-wire.MaxJobLogLines:]
			}
			s.logs[j.ID] = lines
		}
		if p.Percent != nil {
			s.percent[j.ID] = *p.Percent
		}
		s.mu.Unlock()
		s.progress(ctx, j, p.Percent, p.Log)
	}
	return wire.JobRenewed{Cancel: j.CancelRequested}, nil
}

// tellCancel pushes a cancel to the worker running j, if it is connected
// here; otherwise it learns at its next renewal.
// It reports whether the worker is connected here.
func (s *Service) tellCancel(j store.Job) bool {
	s.mu.Lock()
	w := s.workers[j.Worker()]
	s.mu.Unlock()
	if w == nil {
		return false
	}
	w.mu.Lock()
	w.seq++
	seq := w.seq
	w.mu.Unlock()
	ev := &wire.Event{Operate: wire.OperateCancelJob, Params: map[string]string{"jobId": j.ID, "attempt": strconv.Itoa(j.Attempt())}}
	_ = w.conn.Send(context.Background(), &wire.Message{Type: wire.TypeEvent, Seq: seq, Event: ev})
	return true
}

// workerFrame handles a binary frame from a worker: an output chunk, or
// the end of a job.
func (s *Service) workerFrame(ctx context.Context, w *worker, b []byte) {
	f, err := wire.DecodeFrame(b)
	if err != nil {
		s.log.Info("bad binary frame from worker", "worker", w.id, "err", err)
		w.conn.Close(websocket.CloseUnsupportedData, "malformed binary frame")
		return
	}
	out, err := s.workerOps.CallFrame(ctx, w, f)
	s.reply(w, f.ID, out, err)
}

func (s *Service) putChunk(ctx context.Context, w *worker, h wire.JobChunk, f wire.Frame) (any, error) {
	j, err := s.held(ctx, w, h.ID, h.Attempt)
	if err != nil {
		return nil, err
	}
	id, err := chunkstore.ParseID(h.Chunk)
	if err != nil {
		return nil, wire.Errorf(wire.CodeBadRequest, "chunk id %q: %v", h.Chunk, err)
	}
	if err := s.chunks.Put(ctx, j.OrgID, id, f.Payload); err != nil {
		switch {
		case errors.Is(err, chunkstore.ErrNoSpace):
			return nil, wire.Errorf(wire.CodeStorageFull, "the service's storage is full")
		case errors.Is(err, chunkstore.ErrMismatch), errors.Is(err, chunkstore.ErrEncoding), errors.Is(err, chunkstore.ErrTooLarge):
			return nil, wire.Errorf(wire.CodeBadChunk, "chunk %s: %v", id, err)
		}
		return nil, err
	}
	return struct{}{}, nil
}

// done ends an attempt: its outputs (every chunk stored, every path
// inside the job), its result and its usage, then tells the owner.
func (s *Service) done(ctx context.Context, w *worker, h wire.JobDone, f wire.Frame) (any, error) {
	j, err := s.held(ctx, w, h.ID, h.Attempt)
	if err != nil {
		return nil, err
	}
	switch h.State {
	case store.JobSucceeded, store.JobFailed, store.JobCanceled:
	default:
		return nil, wire.Errorf(wire.CodeBadRequest, "a job cannot end %q", h.State)
	}
	h.LogTail, h.ErrorCode, h.Error = logTail(h.LogTail), cut(h.ErrorCode, maxErrorCode), cut(h.Error, maxError)
	// The times are the worker's word, and solver time is billed: a
	// hostile worker (or a solver that took its token) would bill the
	// customer any amount. They are bounded by what iscd saw.
	started, now := j.Attempts[len(j.Attempts)-1].Started, s.now()
	if wall, cpu := bounded(h.WallSeconds, h.CPUSeconds, now.Sub(started)); wall != h.WallSeconds || cpu != h.CPUSeconds {
		s.log.Warn("worker reported more time than it held the job", "job", j.ID, "worker", w.id, "attempt", h.Attempt,
			"wallSeconds", h.WallSeconds, "cpuSeconds", h.CPUSeconds, "heldSeconds", now.Sub(started).Seconds())
		h.WallSeconds, h.CPUSeconds = wall, cpu
	}
	r := store.JobResult{ExitCode: h.ExitCode, ErrorCode: h.ErrorCode, Error: h.Error, LogTail: h.LogTail,
		WallSeconds: h.WallSeconds, CPUSeconds: h.CPUSeconds}
	var outputs []byte
	var m *manifest.Manifest
	if len(f.Payload) > 0 {
		if m, err = manifest.Decode(f.Payload); err != nil {
			return nil, wire.Errorf(wire.CodeBadRequest, "outputs manifest: %v", err)
		}
		for _, file := range m.Files {
			r.OutputSize += file.Size
		}
		if n, path, id, err := m.Missing(ctx, s.chunks, j.OrgID); err != nil {
			return nil, err
		} else if n > 0 {
			return nil, wire.Errorf(wire.CodeMissingChunks, "chunk %s of output %s is not stored (%d missing): send it first", id, path, n)
		}
		r.OutputFiles, r.OutputHash, outputs = len(m.Files), m.Hash(), f.Payload
	}
	if limit := lease(j).MaxOutput; r.OutputSize > limit+(1<<20) {
		// A worker stops its solver near the limit, so outputs this far
		// over it come from a broken or hostile worker, whatever state it
		// claims: one stored chunk repeated names any size, and the
		// customer's program downloads it. The smallest files that fit
		// the limit are kept (the solver's log among them).
		s.log.Warn("worker sent outputs over the limit", "job", j.ID, "worker", w.id, "attempt", h.Attempt, "bytes", r.OutputSize, "limit", limit)
		h.State, r.ErrorCode = store.JobFailed, wire.CodeOutputLimit
		r.Error = fmt.Sprintf("the outputs are %d bytes, more than the limit of %d", r.OutputSize, limit)
		m = within(m, limit)
		r.OutputSize, r.OutputFiles, r.OutputHash, outputs = 0, 0, "", nil
		if len(m.Files) > 0 {
			if outputs, err = manifest.Encode(m); err != nil {
				return nil, err
			}
			r.OutputFiles, r.OutputHash = len(m.Files), m.Hash()
			for _, file := range m.Files {
				r.OutputSize += file.Size
			}
		}
	}
	if j.CancelRequested && h.State != store.JobSucceeded {
		h.State = store.JobCanceled
		r.ErrorCode, r.Error = canceledResult(j, "")
	}
	u := &store.UsageRecord{SN: j.ID + "-" + strconv.Itoa(j.Attempt()), OrgID: j.OrgID, LicenseID: j.LicenseID, ProductID: j.ProductID,
		UserID: j.UserID, JobID: j.ID, Solver: j.Solver.Name, Begin: started, End: now,
		SolverSeconds: h.WallSeconds, CPUSeconds: h.CPUSeconds}
	if u.SolverSeconds == 0 {
		u = nil // nothing ran: nothing to bill
	}
	start := time.Now()
	j, err = FinishJob(ctx, s.st, j.ID, w.id, h.Attempt, h.State, r, outputs, u, now)
	s.metrics.StoreCall("finish_job", time.Since(start))
	if err == nil {
		s.metrics.JobFinished(j.State)
		if n := len(j.Attempts); n > 0 {
			s.metrics.JobRan(now.Sub(j.Attempts[n-1].Started))
		}
	}
	if errors.Is(err, store.ErrLeaseLost) {
		s.released(w.id, h.ID, h.Attempt)
		return nil, wire.Errorf(codeLeaseLost, "job %s attempt %d is not leased to this worker", h.ID, h.Attempt)
	}
	if err != nil {
		return nil, err
	}
	s.released(w.id, j.ID, h.Attempt)
	s.log.Info("job finished", "job", j.ID, "state", j.State, "worker", w.id, "attempt", j.Attempt(),
		"exitCode", j.ExitCode, "wallSeconds", j.WallSeconds, "outputBytes", j.OutputSize)
	s.result(ctx, j)
	return Info(j), nil
}
