package jobs

import (
	"math"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server/admin"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// MountAdmin adds the compute endpoints (adminapi/compute.go) to the
// admin API.
func (s *Service) MountAdmin(a *admin.API) {
	p := adminapi.Prefix
	read, compute := adminapi.RoleReadOnly, adminapi.RoleCompute
	a.Handle(read, "GET "+p+"/products/{id}/solvers", s.listSolvers)
	a.Handle(compute, "PUT "+p+"/products/{id}/solvers/{name}", s.putSolver)
	a.Handle(compute, "DELETE "+p+"/products/{id}/solvers/{name}", s.deleteSolver)
	a.Handle(read, "GET "+p+"/jobs", s.listJobs)
	a.Handle(read, "GET "+p+"/jobs/{id}", s.showJob)
	a.Handle(read, "GET "+p+"/jobs/{id}/logs", s.jobLogs)
	a.Handle(compute, "POST "+p+"/jobs/{id}/cancel", s.cancelJob)
	a.Handle(read, "GET "+p+"/workers", func(w http.ResponseWriter, _ *http.Request) { admin.Reply(w, http.StatusOK, s.Workers()) })
	a.Handle(compute, "POST "+p+"/workers/tokens", s.createWorkerToken)
	a.Handle(read, "GET "+p+"/workers/tokens", s.listWorkerTokens)
	a.Handle(compute, "DELETE "+p+"/workers/tokens/{id}", s.revokeWorkerToken)
	a.Handle(read, "GET "+p+"/usage", s.usage)
}

func (s *Service) listSolvers(w http.ResponseWriter, r *http.Request) {
	ss, err := s.st.Solvers(r.Context(), r.PathValue("id"))
	if err != nil {
		admin.StoreFail(w, s.log, "solvers", err)
		return
	}
	out := make([]adminapi.Solver, len(ss))
	for i, sv := range ss {
		out[i] = solverOut(sv)
	}
	admin.Reply(w, http.StatusOK, out)
}

// CheckSolver says what is wrong with a solver's definition, or "".
func CheckSolver(sv store.Solver) string {
	switch {
	case sv.Kind != store.SolverCommand && sv.Kind != store.SolverPlugin:
		return `kind must be "command" or "plugin"`
	case len(sv.Outputs) > 64:
		return "at most 64 output patterns"
	case sv.Progress != "" && sv.Progress != "calculix":
		return `progress must be "" or "calculix"`
	case sv.TimeLimit < 0 || sv.MaxOutput < 0 || sv.MaxAttempts < 0 || sv.MaxAttempts > 100:
		return "limits must not be negative, and at most 100 attempts"
	}
	for _, o := range sv.Outputs {
		if _, err := path.Match(o, ""); err != nil || o == "" || strings.HasPrefix(o, "/") || strings.Contains(o, "\\") ||
			o == ".." || strings.HasPrefix(o, "../") || strings.Contains(o, "/../") || strings.HasSuffix(o, "/..") {
			return "output pattern " + strconv.Quote(o) + " is not a relative path pattern inside the job's directory"
		}
	}
	return ""
}

func (s *Service) putSolver(w http.ResponseWriter, r *http.Request) {
	var req adminapi.Solver
	if !admin.Decode(w, r, &req) || !admin.CheckID(w, "name", r.PathValue("name")) {
		return
	}
	req.ProductID, req.Name = r.PathValue("id"), r.PathValue("name")
	sv := solverIn(req)
	if sv.MaxAttempts == 0 {
		sv.MaxAttempts = DefaultMaxAttempts
	}
	if msg := CheckSolver(sv); msg != "" {
		admin.Fail(w, http.StatusBadRequest, wire.CodeBadRequest, msg)
		return
	}
	if err := s.st.PutSolver(r.Context(), sv); err != nil {
		admin.StoreFail(w, s.log, "product "+sv.ProductID, err)
		return
	}
	s.log.Info("solver set", "product", sv.ProductID, "solver", sv.Name, "kind", sv.Kind)
	admin.Reply(w, http.StatusOK, solverOut(sv))
}

func (s *Service) deleteSolver(w http.ResponseWriter, r *http.Request) {
	if err := s.st.DeleteSolver(r.Context(), r.PathValue("id"), r.PathValue("name")); err != nil {
		admin.StoreFail(w, s.log, "solver "+r.PathValue("name"), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) listJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	f := store.JobFilter{OrgID: q.Get("org"), State: q.Get("state"), Limit: limit}
	cursor := q.Get("cursor") // the wire.JobKey of the last job of the previous page
	if cursor != "" {
		f.Limit = 0
	}
	js, err := s.st.ListJobs(r.Context(), f)
	if err != nil {
		admin.StoreFail(w, s.log, "jobs", err)
		return
	}
	if js, _, err = pageOfJobs(js, wire.Page{Cursor: cursor, Limit: limit}); err != nil {
		admin.Fail(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	admin.Reply(w, http.StatusOK, admin.Each(js, jobOut))
}

func (s *Service) showJob(w http.ResponseWriter, r *http.Request) {
	j, err := s.st.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		admin.StoreFail(w, s.log, "job "+r.PathValue("id"), err)
		return
	}
	admin.Reply(w, http.StatusOK, jobOut(j))
}

func (s *Service) jobLogs(w http.ResponseWriter, r *http.Request) {
	j, err := s.st.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		admin.StoreFail(w, s.log, "job "+r.PathValue("id"), err)
		return
	}
	lines := j.LogTail
	var percent *float64
	if !j.Done() {
		s.mu.Lock()
		lines = append([]string(nil), s.logs[j.ID]...)
		if pc, ok := s.percent[j.ID]; ok && j.State == store.JobRunning {
			percent = &pc
		}
		s.mu.Unlock()
	}
	if lines == nil {
		lines = []string{}
	}
	admin.Reply(w, http.StatusOK, adminapi.JobLogs{ID: j.ID, State: j.State, Percent: percent, Lines: lines})
}

func (s *Service) cancelJob(w http.ResponseWriter, r *http.Request) {
	j, err := s.Cancel(r.Context(), r.PathValue("id"))
	if err != nil {
		admin.StoreFail(w, s.log, "job "+r.PathValue("id"), err)
		return
	}
	admin.Reply(w, http.StatusOK, jobOut(j))
}

// NewWorkerToken mints a worker token and returns its secret.
func (s *Service) NewWorkerToken(r *http.Request, name string) (store.Token, string, error) {
	secret, id, hash := token.New(token.PrefixWorker)
	t := store.Token{ID: id, Kind: token.PrefixWorker, Hash: hash, Name: name, Created: s.now()}
	return t, secret, s.st.CreateToken(r.Context(), t)
}

func (s *Service) createWorkerToken(w http.ResponseWriter, r *http.Request) {
	var req adminapi.CreateWorkerToken
	if !admin.Decode(w, r, &req) || !admin.CheckText(w, "name", req.Name, false, 200) {
		return
	}
	t, secret, err := s.NewWorkerToken(r, req.Name)
	if err != nil {
		admin.StoreFail(w, s.log, "token", err)
		return
	}
	s.log.Info("worker token created", "token", t.ID)
	admin.Reply(w, http.StatusCreated, adminapi.NewToken{Token: admin.Token(t), Secret: secret})
}

func (s *Service) listWorkerTokens(w http.ResponseWriter, r *http.Request) {
	toks, err := s.st.Tokens(r.Context(), "")
	if err != nil {
		admin.StoreFail(w, s.log, "tokens", err)
		return
	}
	out := []adminapi.Token{}
	for _, t := range toks {
		if t.Kind == token.PrefixWorker {
			out = append(out, admin.Token(t))
		}
	}
	admin.Reply(w, http.StatusOK, out)
}

// revokeWorkerToken revokes a worker token and disconnects the workers
// that use it; their jobs run again elsewhere when their leases lapse.
func (s *Service) revokeWorkerToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	t, err := s.st.Token(r.Context(), id)
	if err == nil && t.Kind != token.PrefixWorker {
		err = store.ErrNotFound
	}
	if err == nil {
		err = s.st.RevokeToken(r.Context(), id)
	}
	if err != nil {
		admin.StoreFail(w, s.log, "worker token "+id, err)
		return
	}
	n := s.disconnectToken(id)
	s.relay(Notice{RevokeToken: id})
	s.log.Info("worker token revoked", "token", id, "workers disconnected", n)
	w.WriteHeader(http.StatusNoContent)
}

// disconnectToken closes the connections of the workers of a token here.
func (s *Service) disconnectToken(id string) int {
	var cut []*worker
	s.mu.Lock()
	for wid, wk := range s.workers {
		if strings.HasPrefix(wid, id+"/") {
			cut = append(cut, wk)
		}
	}
	s.mu.Unlock()
	for _, wk := range cut { // a close may wait for a slow peer: not under the lock
		wk.conn.Close(websocket.ClosePolicyViolation, "worker token revoked")
	}
	return len(cut)
}

// marketTime is the marketplace's time format.
const marketTime = "20060102T150405Z"

func (s *Service) usage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	org := q.Get("org")
	if !admin.CheckText(w, "org", org, true, 64) {
		return
	}
	to, from := s.now(), s.now().AddDate(0, 0, -30)
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(f.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				admin.Fail(w, http.StatusBadRequest, wire.CodeBadRequest, f.name+" must be an RFC 3339 time")
				return
			}
			*f.t = t.UTC()
		}
	}
	recs, err := s.st.Usage(r.Context(), org, from, to)
	if err != nil {
		admin.StoreFail(w, s.log, "usage", err)
		return
	}
	out := adminapi.Usage{OrgID: org, From: from, To: to, Records: []adminapi.UsageRecord{}, Totals: map[string]float64{}, Raw: admin.Each(recs, meteredOut)}
	for _, u := range recs {
		out.Totals[u.LicenseID] += u.SolverSeconds
		hours := math.Ceil(u.SolverSeconds/3600*10000) / 10000 // > 0, at most 4 decimals
		out.Records = append(out.Records, adminapi.UsageRecord{InstanceID: u.LicenseID, RecordTime: u.End.Format(marketTime),
			BeginTime: u.Begin.Format(marketTime), EndTime: u.End.Format(marketTime), UsageValue: hours, MeteringSN: u.SN})
	}
	admin.Reply(w, http.StatusOK, out)
}
