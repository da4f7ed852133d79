package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Each page reads through the admin API as the caller (s.call). For a
// customer's admin every list is asked for their organisation alone and
// filtered again, and every record named by an id is checked to be
// theirs (errNotFound otherwise).

// mine keeps the records of v's organisation (all of them for an operator).
func mine[T any](v *who, in []T, org func(T) string) []T {
	if v.Operator {
		return in
	}
	return slices.DeleteFunc(in, func(x T) bool { return org(x) != v.OrgID })
}

// orgQuery is "?org=" for a customer's admin, or the operator's choice.
func orgQuery(v *who, chosen string) string {
	if !v.Operator {
		chosen = v.OrgID
	}
	if chosen == "" {
		return ""
	}
	return "?org=" + url.QueryEscape(chosen)
}

func (s *Service) licenses(ctx context.Context, v *who) ([]adminapi.License, error) {
	var ls []adminapi.License
	if err := s.call(ctx, v, "GET", "/licenses"+orgQuery(v, ""), nil, &ls); err != nil {
		return nil, err
	}
	return mine(v, ls, func(l adminapi.License) string { return l.OrgID }), nil
}

func (s *Service) licensesPage(r *http.Request, v *who, p *page) error {
	ctx := r.Context()
	ls, err := s.licenses(ctx, v)
	if err != nil {
		return err
	}
	if v.may(adminapi.RoleLicenses) {
		f, err := s.issueForm(ctx, v, p)
		if err != nil {
			return err
		}
		p.Forms = append(p.Forms, f)
	}
	t := table{ID: "licenses", Caption: p.T["licenses"], Head: []string{p.T["id"], p.T["usageOrg"], p.T["product"], p.T["edition"], p.T["kind"], p.T["seatCount"], p.T["status"], p.T["expires"]}}
	for _, l := range ls {
		t.Rows = append(t.Rows, row{Key: l.ID, Cells: []cell{link(l.ID, Path+"licenses/"+esc(l.ID)), text(l.OrgID), text(l.ProductID), text(l.Edition),
			text(l.Kind), text(strconv.Itoa(l.Seats)), {Text: l.Status, Class: l.Status}, text(expiry(p, l.ExpiresAt))}, Actions: s.licenseActions(v, p, l)})
	}
	p.Tables = append(p.Tables, t)
	return nil
}

func expiry(p *page, t time.Time) string {
	if t.IsZero() {
		return p.T["never"]
	}
	return when(t)
}

func (s *Service) licenseActions(v *who, p *page, l adminapi.License) []action {
	if !v.may(adminapi.RoleLicenses) || l.Status == store.StatusReleased {
		return nil
	}
	base := Path + "licenses/" + esc(l.ID) + "/"
	var out []action
	if l.Status == store.StatusFrozen {
		out = append(out, action{Path: base + "unfreeze", Label: p.T["unfreeze"], Of: l.ID})
	} else {
		out = append(out, action{Path: base + "freeze", Label: p.T["freeze"], Of: l.ID, Danger: true})
	}
	return append(out, action{Path: base + "release", Label: p.T["release"], Of: l.ID, Danger: true})
}

// issueForm is the form that issues a licence: the organisations and
// products to choose from.
func (s *Service) issueForm(ctx context.Context, v *who, p *page) (form, error) {
	var orgs []adminapi.Org
	var products []adminapi.Product
	if err := s.call(ctx, v, "GET", "/orgs", nil, &orgs); err != nil {
		return form{}, err
	}
	if err := s.call(ctx, v, "GET", "/products", nil, &products); err != nil {
		return form{}, err
	}
	orgOpts := make([]option, 0, len(orgs))
	for _, o := range orgs {
		if !o.Closed {
			orgOpts = append(orgOpts, option{Value: o.ID, Label: o.Name + " (" + o.ID + ")"})
		}
	}
	prodOpts := make([]option, len(products))
	for i, pr := range products {
		prodOpts[i] = option{Value: pr.ID, Label: pr.Name + " (" + pr.ID + ")"}
	}
	return form{ID: "issue", Title: p.T["issue"], Action: Path + "licenses", Submit: p.T["issueButton"], Fields: []field{
		{ID: "issue-org", Name: "orgId", Label: p.T["usageOrg"], Type: "select", Required: true, Options: orgOpts},
		{ID: "issue-product", Name: "productId", Label: p.T["product"], Type: "select", Required: true, Options: prodOpts},
		{ID: "issue-kind", Name: "kind", Label: p.T["kind"], Type: "select", Options: []option{{Value: adminapi.KindFloating, Label: adminapi.KindFloating}, {Value: adminapi.KindNodeLocked, Label: adminapi.KindNodeLocked}}},
		{ID: "issue-seats", Name: "seats", Label: p.T["seatCount"], Type: "number", Value: "1", Required: true},
		{ID: "issue-edition", Name: "edition", Label: p.T["edition"], Type: "text"},
		{ID: "issue-expires", Name: "expires", Label: p.T["expires"], Type: "date"},
		{Name: "back", Type: "hidden", Value: Path + "licenses"},
	}}, nil
}

// day parses a form's date (YYYY-MM-DD, the end of that day UTC) or an
// RFC 3339 time.
func day(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.Add(24*time.Hour - time.Second), nil
	}
	return time.Parse(time.RFC3339, s)
}

func (s *Service) issueLicense(r *http.Request) (string, any) {
	f := r.PostForm
	seats, err := strconv.Atoi(f.Get("seats"))
	if err != nil {
		return "", "seats: a whole number"
	}
	req := adminapi.CreateLicense{OrgID: f.Get("orgId"), ProductID: f.Get("productId"), Kind: f.Get("kind"), Seats: seats, Edition: f.Get("edition")}
	if e := f.Get("expires"); e != "" {
		if req.ExpiresAt, err = day(e); err != nil {
			return "", "expires: a day (YYYY-MM-DD)"
		}
	}
	return "/licenses", req
}

func (s *Service) extendLicense(r *http.Request) (string, any) {
	t, err := day(r.PostForm.Get("expires"))
	if err != nil {
		return "", "expires: a day (YYYY-MM-DD)"
	}
	return "/licenses/" + esc(r.PathValue("id")), adminapi.UpdateLicense{ExpiresAt: &t}
}

// license reads one licence, if v may see it.
func (s *Service) license(ctx context.Context, v *who, id string) (adminapi.LicenseDetail, error) {
	return readOwned(s, ctx, v, "/licenses/"+esc(id), func(d adminapi.LicenseDetail) string { return d.License.OrgID })
}

// readOwned reads what the admin API answers at path, if v may see it:
// an operator sees everything, an organisation's admin what org says is
// of its organisation (else errNotFound, as for what does not exist).
func readOwned[T any](s *Service, ctx context.Context, v *who, path string, org func(T) string) (T, error) {
	var x T
	if err := s.call(ctx, v, "GET", path, nil, &x); err != nil {
		return x, err
	}
	if !v.Operator && org(x) != v.OrgID {
		var none T
		return none, errNotFound
	}
	return x, nil
}

func (s *Service) licensePage(r *http.Request, v *who, p *page) error {
	ctx := r.Context()
	d, err := s.license(ctx, v, r.PathValue("id"))
	if err != nil {
		return err
	}
	l := d.License
	p.Title = p.T["license"] + " " + l.ID
	p.Back = Path + "licenses"
	info := table{ID: "license", Caption: p.T["license"], Head: []string{p.T["usageOrg"], p.T["product"], p.T["edition"], p.T["kind"], p.T["seatCount"], p.T["status"], p.T["expires"]},
		Rows: []row{{Cells: []cell{text(l.OrgID), text(l.ProductID), text(l.Edition), text(l.Kind), text(strconv.Itoa(l.Seats)), {Text: l.Status, Class: l.Status}, text(expiry(p, l.ExpiresAt))},
			Actions: s.licenseActions(v, p, l)}}}
	if acts := info.Rows[0].Actions; len(acts) > 0 {
		info.Rows[0].Actions = append(acts, action{Path: Path + "licenses/" + esc(l.ID) + "/extend", Label: p.T["extend"], Of: l.ID,
			Inputs: []field{{Name: "expires", Label: p.T["extendTo"], Type: "date"}}})
	}
	names, err := s.holders(ctx, v, d.SeatsInUse)
	if err != nil {
		return err
	}
	p.Tables = append(p.Tables, info, s.seatTable(v, p, d.SeatsInUse, names, ""))
	var audit []adminapi.AuditEntry
	if err := s.call(ctx, v, "GET", "/licenses/"+esc(l.ID)+"/audit?limit=100", nil, &audit); err != nil {
		return err
	}
	p.Tables = append(p.Tables, auditTable(p, audit))
	return nil
}

func auditTable(p *page, entries []adminapi.AuditEntry) table {
	t := table{ID: "audit", Caption: p.T["audit"], Head: []string{p.T["time"], p.T["event"], p.T["detail"], p.T["user"], p.T["session"]}}
	for _, e := range entries {
		t.Rows = append(t.Rows, row{Cells: []cell{text(when(e.Time)), text(e.Event), text(e.Detail), text(e.UserID), text(e.SessionID)}})
	}
	return t
}

// seats reads the seats in use that v may see.
func (s *Service) seats(ctx context.Context, v *who) ([]adminapi.Seat, error) {
	if v.Operator {
		var seats []adminapi.Seat
		return seats, s.call(ctx, v, "GET", "/seats", nil, &seats)
	}
	ls, err := s.licenses(ctx, v)
	if err != nil {
		return nil, err
	}
	var out []adminapi.Seat
	for _, l := range ls {
		var seats []adminapi.Seat
		if err := s.call(ctx, v, "GET", "/seats?license="+url.QueryEscape(l.ID), nil, &seats); err != nil {
			return nil, err
		}
		out = append(out, seats...)
	}
	return out, nil
}

// holders names the users holding seats: "Name (id)" by user id, read
// from the users of the organisations whose licences the seats are of.
func (s *Service) holders(ctx context.Context, v *who, seats []adminapi.Seat) (map[string]string, error) {
	if len(seats) == 0 {
		return nil, nil
	}
	ls, err := s.licenses(ctx, v)
	if err != nil {
		return nil, err
	}
	orgOf := map[string]string{}
	for _, l := range ls {
		orgOf[l.ID] = l.OrgID
	}
	names, asked := map[string]string{}, map[string]bool{}
	for _, st := range seats {
		org := orgOf[st.LicenseID]
		if org == "" || asked[org] {
			continue
		}
		asked[org] = true
		var users []adminapi.User
		if err := s.call(ctx, v, "GET", "/users?org="+url.QueryEscape(org), nil, &users); err != nil {
			return nil, err
		}
		for _, u := range mine(v, users, func(u adminapi.User) string { return u.OrgID }) {
			names[u.ID] = u.Name + " (" + u.ID + ")"
		}
	}
	return names, nil
}

// seatTable lists seats: who, which machine, since when, until when.
func (s *Service) seatTable(v *who, p *page, seats []adminapi.Seat, names map[string]string, live string) table {
	t := table{ID: "seats", Caption: p.T["seats"], Live: live, Head: []string{p.T["user"], p.T["machine"], p.T["since"], p.T["leaseExpires"], p.T["license"], p.T["session"]}}
	slices.SortFunc(seats, func(a, b adminapi.Seat) int { return a.Acquired.Compare(b.Acquired) })
	for _, st := range seats {
		who := names[st.UserID]
		if who == "" {
			who = st.UserID
		}
		rw := row{Key: st.ID, Cells: []cell{text(who), {Text: st.Device, Class: "machine"}, text(when(st.Acquired)), text(when(st.LeaseExpires)), link(st.LicenseID, Path+"licenses/"+esc(st.LicenseID)), text(st.SessionID)}}
		if v.may(adminapi.RoleLicenses) {
			rw.Actions = []action{{Path: Path + "seats/" + esc(st.ID) + "/release", Label: p.T["releaseSeat"], Of: st.UserID + " " + st.Device, Danger: true}}
		}
		t.Rows = append(t.Rows, rw)
	}
	return t
}

func (s *Service) seatsPage(r *http.Request, v *who, p *page) error {
	seats, err := s.seats(r.Context(), v)
	if err != nil {
		return err
	}
	names, err := s.holders(r.Context(), v, seats)
	if err != nil {
		return err
	}
	p.Tables = append(p.Tables, s.seatTable(v, p, seats, names, Path+"live/seats"))
	return nil
}

func (s *Service) jobs(ctx context.Context, v *who, state string) ([]adminapi.Job, error) {
	q := url.Values{"limit": {"200"}}
	if !v.Operator {
		q.Set("org", v.OrgID)
	}
	if state != "" {
		q.Set("state", state)
	}
	var js []adminapi.Job
	if err := s.call(ctx, v, "GET", "/jobs?"+q.Encode(), nil, &js); err != nil {
		return nil, err
	}
	return mine(v, js, func(j adminapi.Job) string { return j.OrgID }), nil
}

func (s *Service) jobsPage(r *http.Request, v *who, p *page) error {
	js, err := s.jobs(r.Context(), v, "")
	if err != nil {
		return err
	}
	t, err := s.jobTable(r.Context(), v, p, js)
	if err != nil {
		return err
	}
	p.Tables = append(p.Tables, t)
	return nil
}

// jobTable lists jobs; a running one's progress is what its worker last
// said (GET /jobs/{id}/logs, as iscctl jobs logs --json).
func (s *Service) jobTable(ctx context.Context, v *who, p *page, js []adminapi.Job) (table, error) {
	t := table{ID: "jobs", Caption: p.T["jobs"], Head: []string{p.T["id"], p.T["usageOrg"], p.T["user"], p.T["solver"], p.T["state"], p.T["progress"], p.T["attempts"], p.T["created"], p.T["result"]}}
	for _, j := range js {
		progress := ""
		if j.State == adminapi.JobRunning {
			var logs adminapi.JobLogs
			if err := s.call(ctx, v, "GET", "/jobs/"+esc(j.ID)+"/logs", nil, &logs); err != nil {
				return t, err
			}
			if logs.Percent != nil {
				progress = strconv.FormatFloat(*logs.Percent, 'f', 0, 64) + " %"
			}
		}
		result := ""
		if j.Done() {
			result = fmt.Sprintf("exit %d, %.1f s", j.ExitCode, j.WallSeconds)
			if j.ErrorCode != "" {
				result = j.ErrorCode
			}
		}
		rw := row{Key: j.ID, Cells: []cell{link(j.ID, Path+"jobs/"+esc(j.ID)), text(j.OrgID), text(j.UserID), text(j.Solver.Name + " · " + j.Main),
			{Text: j.State, Class: j.State}, text(progress), text(strconv.Itoa(j.Attempt())), text(when(j.Created)), text(result)}}
		if !j.Done() && v.may(adminapi.RoleCompute) {
			rw.Actions = []action{{Path: Path + "jobs/" + esc(j.ID) + "/cancel", Label: p.T["cancel"], Of: j.ID, Danger: true}}
		}
		t.Rows = append(t.Rows, rw)
	}
	return t, nil
}

// job reads one job, if v may see it.
func (s *Service) job(ctx context.Context, v *who, id string) (adminapi.Job, error) {
	return readOwned(s, ctx, v, "/jobs/"+esc(id), func(j adminapi.Job) string { return j.OrgID })
}

func (s *Service) jobPage(r *http.Request, v *who, p *page) error {
	ctx := r.Context()
	j, err := s.job(ctx, v, r.PathValue("id"))
	if err != nil {
		return err
	}
	var logs adminapi.JobLogs
	if err := s.call(ctx, v, "GET", "/jobs/"+esc(j.ID)+"/logs", nil, &logs); err != nil {
		return err
	}
	p.Title = p.T["job"] + " " + j.ID
	p.Back = Path + "jobs"
	t, err := s.jobTable(ctx, v, p, []adminapi.Job{j})
	if err != nil {
		return err
	}
	p.Log = append(logs.Lines, "")
	if !j.Done() {
		p.LiveLog = Path + "live/jobs/" + esc(j.ID)
		t.Live = Path + "live/jobs/" + esc(j.ID) + "/row"
	}
	p.Tables = append(p.Tables, t)
	return nil
}

// pickOrg is the organisation a page shows: a customer admin's own, or
// the one an operator picks (?org=, the first by default) with the form
// it adds to the page.
func (s *Service) pickOrg(r *http.Request, v *who, p *page, page string) (string, error) {
	if !v.Operator {
		return v.OrgID, nil
	}
	org := r.URL.Query().Get("org")
	var orgs []adminapi.Org
	if err := s.call(r.Context(), v, "GET", "/orgs", nil, &orgs); err != nil {
		return "", err
	}
	if org == "" && len(orgs) > 0 {
		org = orgs[0].ID
	}
	opts := make([]option, len(orgs))
	for i, o := range orgs {
		opts[i] = option{Value: o.ID, Label: o.Name + " (" + o.ID + ")", Selected: o.ID == org}
	}
	p.Forms = append(p.Forms, form{ID: "pick", Title: p.T["usageOrg"], Action: Path + page, Submit: p.T["showButton"], Get: true,
		Fields: []field{{ID: "pick-org", Name: "org", Label: p.T["usageOrg"], Type: "select", Options: opts}}})
	return org, nil
}

func (s *Service) usagePage(r *http.Request, v *who, p *page) error {
	ctx := r.Context()
	org, err := s.pickOrg(r, v, p, "usage")
	if err != nil || org == "" {
		return err
	}
	var u adminapi.Usage
	if err := s.call(ctx, v, "GET", "/usage?org="+url.QueryEscape(org), nil, &u); err != nil {
		return err
	}
	p.Chart = usageChart(p, u.Raw, u.From, u.To)
	t := table{ID: "usage", Caption: p.T["usage"] + " · " + org, Head: []string{p.T["meteringSn"], p.T["license"], p.T["user"], p.T["solver"], p.T["since"], p.T["solverSeconds"]}}
	for _, m := range u.Raw {
		t.Rows = append(t.Rows, row{Cells: []cell{text(m.SN), text(m.LicenseID), text(m.UserID), text(m.Solver), text(when(m.Begin)), text(strconv.FormatFloat(m.SolverSeconds, 'f', 1, 64))}})
	}
	p.Tables = append(p.Tables, t)
	return nil
}

// orgPage shows an organisation's users and departments: a customer's
// admin their own, an operator any (?org=).
func (s *Service) orgPage(r *http.Request, v *who, p *page) error {
	ctx := r.Context()
	org := v.OrgID
	if v.Operator {
		if org = r.URL.Query().Get("org"); org == "" {
			return &apiError{http.StatusBadRequest, wire.CodeBadRequest, "org: name the organisation (?org=ID)"}
		}
		p.Title = p.T["orgs"] + " " + org
	}
	var users []adminapi.User
	if err := s.call(ctx, v, "GET", "/users?org="+url.QueryEscape(org), nil, &users); err != nil {
		return err
	}
	users = slices.DeleteFunc(users, func(u adminapi.User) bool { return u.OrgID != org })
	var deps []adminapi.Department
	if err := s.call(ctx, v, "GET", "/departments?org="+url.QueryEscape(org), nil, &deps); err != nil {
		return err
	}
	ut := table{ID: "users", Caption: p.T["users"], Head: []string{p.T["id"], p.T["name"], p.T["email"], p.T["role"], p.T["department"], p.T["status"]}}
	for _, u := range users {
		state := "ACTIVE"
		if why := refused(u); why != "" {
			state = why
		}
		ut.Rows = append(ut.Rows, row{Cells: []cell{text(u.ID), text(u.Name), text(u.Email), text(u.Role), text(u.Department), text(state)}})
	}
	dt := table{ID: "departments", Caption: p.T["departments"], Head: []string{p.T["code"], p.T["name"], p.T["parent"]}}
	for _, d := range deps {
		dt.Rows = append(dt.Rows, row{Cells: []cell{text(d.Code), text(d.Name), text(d.Parent)}})
	}
	p.Tables = append(p.Tables, ut, dt)
	return nil
}

func refused(u adminapi.User) string {
	switch {
	case u.Deleted:
		return "deleted"
	case u.Disabled:
		return "disabled"
	}
	return ""
}

func (s *Service) orgsPage(r *http.Request, v *who, p *page) error {
	var orgs []adminapi.Org
	if err := s.call(r.Context(), v, "GET", "/orgs", nil, &orgs); err != nil {
		return err
	}
	if v.may(adminapi.RoleLicenses) {
		p.Forms = append(p.Forms, form{ID: "create-org", Title: p.T["createOrg"], Action: Path + "orgs", Submit: p.T["createButton"], Fields: []field{
			{ID: "org-name", Name: "name", Label: p.T["name"], Type: "text", Required: true}, {Name: "back", Type: "hidden", Value: Path + "orgs"}}})
	}
	t := table{ID: "orgs", Caption: p.T["orgs"], Head: []string{p.T["id"], p.T["name"], p.T["created"], p.T["marketplace"], p.T["status"]}}
	for _, o := range orgs {
		tenant, state := "", "ACTIVE"
		if o.Tenant != nil {
			tenant = o.Tenant.TenantID
		}
		if o.Closed {
			state = "closed"
		}
		t.Rows = append(t.Rows, row{Cells: []cell{link(o.ID, Path+"org?org="+url.QueryEscape(o.ID)), text(o.Name), text(when(o.Created)), text(tenant), text(state)}})
	}
	p.Tables = append(p.Tables, t)
	return nil
}

func (s *Service) products(ctx context.Context, v *who) ([]adminapi.Product, error) {
	var ps []adminapi.Product
	return ps, s.call(ctx, v, "GET", "/products", nil, &ps)
}

func (s *Service) productsPage(r *http.Request, v *who, p *page) error {
	ps, err := s.products(r.Context(), v)
	if err != nil {
		return err
	}
	t := table{ID: "products", Caption: p.T["products"], Head: []string{p.T["id"], p.T["name"], p.T["created"], p.T["gates"]}}
	for _, pr := range ps {
		gates := "—"
		if g := pr.RequireLicense; g != nil {
			gates = fmt.Sprintf("%s %s, %s %s", p.T["compute"], yesNo(p, g.Compute), p.T["files"], yesNo(p, g.Files))
		}
		t.Rows = append(t.Rows, row{Cells: []cell{link(pr.ID, Path+"solvers#"+pr.ID), text(pr.Name), text(when(pr.Created)), text(gates)}})
	}
	p.Tables = append(p.Tables, t)
	return nil
}

func (s *Service) sessionsPage(r *http.Request, v *who, p *page) error {
	var ss []adminapi.Session
	if err := s.call(r.Context(), v, "GET", "/sessions", nil, &ss); err != nil {
		return err
	}
	t := table{ID: "sessions", Caption: p.T["sessions"], Head: []string{p.T["id"], p.T["usageOrg"], p.T["user"], p.T["product"], p.T["version"], p.T["machine"], p.T["connected"], p.T["lastSeen"]}}
	for _, se := range ss {
		rw := row{Key: se.ID, Cells: []cell{text(se.ID), text(se.OrgID), text(se.UserID), text(se.ProductID), text(se.AppVersion), {Text: se.Device, Class: "machine"}, text(yesNo(p, se.Connected)), text(when(se.LastSeen))}}
		if v.may(adminapi.RoleLicenses) {
			if se.Connected {
				rw.Actions = append(rw.Actions, action{Path: Path + "sessions/" + esc(se.ID) + "/disconnect", Label: p.T["disconnect"], Of: se.ID})
			}
			rw.Actions = append(rw.Actions, action{Path: Path + "sessions/" + esc(se.ID) + "/end", Label: p.T["end"], Of: se.ID, Danger: true})
		}
		t.Rows = append(t.Rows, rw)
	}
	p.Tables = append(p.Tables, t)
	return nil
}

func (s *Service) workersPage(r *http.Request, v *who, p *page) error {
	var ws []adminapi.WorkerInfo
	if err := s.call(r.Context(), v, "GET", "/workers", nil, &ws); err != nil {
		return err
	}
	t := table{ID: "workers", Caption: p.T["workers"], Head: []string{p.T["id"], p.T["solvers"], p.T["capacity"], p.T["running"], p.T["version"], p.T["address"], p.T["connected"]}}
	for _, w := range ws {
		t.Rows = append(t.Rows, row{Cells: []cell{text(w.ID), text(strings.Join(w.Solvers, ", ")), text(strconv.Itoa(w.Capacity)), text(strings.Join(w.Running, ", ")),
			text(w.Version), text(w.Remote), text(when(w.Connected))}})
	}
	p.Tables = append(p.Tables, t)
	return nil
}

func (s *Service) solversPage(r *http.Request, v *who, p *page) error {
	ps, err := s.products(r.Context(), v)
	if err != nil {
		return err
	}
	t := table{ID: "solvers", Caption: p.T["solvers"], Head: []string{p.T["product"], p.T["name"], p.T["kind"], p.T["outputs"], p.T["progress"], p.T["timeLimit"], p.T["attempts"]}}
	for _, pr := range ps {
		var svs []adminapi.Solver
		if err := s.call(r.Context(), v, "GET", "/products/"+esc(pr.ID)+"/solvers", nil, &svs); err != nil {
			return err
		}
		for _, sv := range svs {
			t.Rows = append(t.Rows, row{Key: pr.ID, Cells: []cell{text(pr.ID), text(sv.Name), text(sv.Kind), text(strings.Join(sv.Outputs, " ")), text(sv.Progress),
				text(strconv.FormatInt(sv.TimeLimitSeconds, 10)), text(strconv.Itoa(sv.MaxAttempts))}})
		}
	}
	p.Tables = append(p.Tables, t)
	return nil
}

func (s *Service) releasesPage(r *http.Request, v *who, p *page) error {
	ps, err := s.products(r.Context(), v)
	if err != nil {
		return err
	}
	var rs []adminapi.Release
	for _, pr := range ps {
		var some []adminapi.Release
		if err := s.call(r.Context(), v, "GET", "/releases?product="+url.QueryEscape(pr.ID), nil, &some); err != nil {
			return err
		}
		rs = append(rs, some...)
	}
	t := table{ID: "releases", Caption: p.T["releases"], Head: []string{p.T["product"], p.T["platform"], p.T["version"], p.T["forced"], p.T["size"], p.T["published"], p.T["signingKey"]}}
	for _, rl := range rs {
		rw := row{Cells: []cell{text(rl.ProductID), text(rl.Platform), text(rl.Version), text(yesNo(p, rl.Forced)), text(strconv.FormatInt(rl.Size, 10)), text(when(rl.Published)), text(rl.KeyID)}}
		if v.may(adminapi.RoleReleases) {
			rw.Actions = []action{{Path: Path + "releases/withdraw?" + url.Values{"product": {rl.ProductID}, "platform": {rl.Platform}, "version": {rl.Version}}.Encode(),
				Label: p.T["withdraw"], Of: rl.ProductID + " " + rl.Platform + " " + rl.Version, Danger: true}}
		}
		t.Rows = append(t.Rows, rw)
	}
	p.Tables = append(p.Tables, t)
	return nil
}

// auditPage shows the audit log across licences, newest first, a page
// at a time (GET /audit, as iscctl audit): an operator's of every
// organisation or the one picked, a customer admin's of their own alone;
// either may keep one licence's (one they may see: another's is not
// found).
func (s *Service) auditPage(r *http.Request, v *who, p *page) error {
	ctx := r.Context()
	in := r.URL.Query()
	lic, org := in.Get("license"), in.Get("org")
	if !v.Operator {
		org = v.OrgID
	}
	if lic != "" {
		if _, err := s.license(ctx, v, lic); err != nil {
			return err
		}
	}
	ls, err := s.licenses(ctx, v)
	if err != nil {
		return err
	}
	licOpts := []option{{Value: "", Label: p.T["all"]}}
	for _, l := range ls {
		licOpts = append(licOpts, option{Value: l.ID, Label: l.ID + " · " + l.OrgID + " · " + l.ProductID, Selected: l.ID == lic})
	}
	fields := []field{{ID: "pick-license", Name: "license", Label: p.T["license"], Type: "select", Options: licOpts}}
	if v.Operator {
		var orgs []adminapi.Org
		if err := s.call(ctx, v, "GET", "/orgs", nil, &orgs); err != nil {
			return err
		}
		orgOpts := []option{{Value: "", Label: p.T["all"]}}
		for _, o := range orgs {
			orgOpts = append(orgOpts, option{Value: o.ID, Label: o.Name + " (" + o.ID + ")", Selected: o.ID == org})
		}
		fields = append(fields, field{ID: "pick-org", Name: "org", Label: p.T["usageOrg"], Type: "select", Options: orgOpts})
	}
	p.Forms = append(p.Forms, form{ID: "pick", Title: p.T["pickAudit"], Action: Path + "audit", Submit: p.T["showButton"], Get: true, Fields: fields})

	q := url.Values{}
	for k, val := range map[string]string{"license": lic, "org": org, "cursor": in.Get("cursor"), "limit": in.Get("limit")} {
		if val != "" {
			q.Set(k, val)
		}
	}
	var log adminapi.AuditLog
	if err := s.call(ctx, v, "GET", "/audit?"+q.Encode(), nil, &log); err != nil {
		return err
	}
	t := table{ID: "audit", Caption: p.T["auditNewest"], Head: []string{p.T["time"], p.T["license"], p.T["usageOrg"], p.T["event"], p.T["detail"], p.T["user"], p.T["session"]}}
	for _, e := range mine(v, log.Entries, func(e adminapi.AuditEntry) string { return e.OrgID }) {
		licence := text(e.LicenseID)
		if e.LicenseID != "" {
			licence = link(e.LicenseID, Path+"licenses/"+esc(e.LicenseID))
		}
		t.Rows = append(t.Rows, row{Cells: []cell{text(when(e.Time)), licence, text(e.OrgID), text(e.Event), text(e.Detail), text(e.UserID), text(e.SessionID)}})
	}
	p.Tables = append(p.Tables, t)
	if log.Next != "" {
		q.Set("cursor", log.Next)
		if !v.Operator {
			q.Del("org") // theirs regardless
		}
		p.More = Path + "audit?" + q.Encode()
	}
	return nil
}

func (s *Service) marketplacePage(r *http.Request, v *who, p *page) error {
	ctx := r.Context()
	var mu adminapi.MarketUsage
	if err := s.call(ctx, v, "GET", "/marketplace/usage?limit=200", nil, &mu); err != nil {
		return err
	}
	p.Intro = fmt.Sprintf("pending %d · sent %d · parked %d · warned %d", mu.Pending, mu.Sent, mu.Parked, mu.Warned)
	t := table{ID: "outbox", Caption: p.T["outbox"], Head: []string{p.T["meteringSn"], p.T["license"], p.T["since"], p.T["value"], p.T["state"], p.T["attempts"], p.T["reason"]}}
	for _, e := range mu.Records {
		t.Rows = append(t.Rows, row{Cells: []cell{text(e.MeteringSN), text(e.InstanceID), text(when(e.Begin)), text(strconv.FormatFloat(e.Value, 'f', -1, 64)),
			text(e.State), text(strconv.Itoa(e.Attempts)), text(e.Reason)}})
	}
	ls, err := s.licenses(ctx, v)
	if err != nil {
		return err
	}
	bought := table{ID: "instances", Caption: p.T["marketplace"] + " · " + p.T["licenses"], Head: []string{p.T["license"], p.T["instance"], p.T["order"], p.T["usageOrg"], p.T["status"], p.T["expires"]}}
	var instances []adminapi.License
	for _, l := range ls {
		if l.InstanceID != "" {
			instances = append(instances, l)
			bought.Rows = append(bought.Rows, row{Cells: []cell{link(l.ID, Path+"licenses/"+esc(l.ID)), text(l.InstanceID), text(l.OrderID), text(l.OrgID), {Text: l.Status, Class: l.Status}, text(expiry(p, l.ExpiresAt))}})
		}
	}
	calls, err := s.marketplaceCalls(ctx, v, p, instances)
	if err != nil {
		return err
	}
	p.Tables = append(p.Tables, calls, bought, t)
	return nil
}

// marketplaceCalls lists what the marketplace's calls did to the
// licences it ordered, newest first: each call that changed one wrote its
// audit entry ("marketplace ..."), in the store, whichever replica took
// it. Refused calls change nothing; they are counted in the metrics
// (iscd_marketplace_calls_total by activity and code) and logged.
func (s *Service) marketplaceCalls(ctx context.Context, v *who, p *page, ls []adminapi.License) (table, error) {
	const licences, perLicence = 50, 100
	t := table{ID: "calls", Caption: p.T["marketplaceCalls"], Head: []string{p.T["time"], p.T["license"], p.T["event"], p.T["detail"]}}
	slices.SortFunc(ls, func(a, b adminapi.License) int { return b.Updated.Compare(a.Updated) })
	var all []adminapi.AuditEntry
	for _, l := range ls[:min(len(ls), licences)] {
		var entries []adminapi.AuditEntry
		if err := s.call(ctx, v, "GET", "/licenses/"+esc(l.ID)+"/audit?limit="+strconv.Itoa(perLicence), nil, &entries); err != nil {
			return t, err
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Detail, "marketplace") {
				e.LicenseID = l.ID
				all = append(all, e)
			}
		}
	}
	slices.SortFunc(all, func(a, b adminapi.AuditEntry) int { return b.Time.Compare(a.Time) })
	for _, e := range all {
		t.Rows = append(t.Rows, row{Cells: []cell{text(when(e.Time)), link(e.LicenseID, Path+"licenses/"+esc(e.LicenseID)), text(e.Event), text(e.Detail)}})
	}
	return t, nil
}

// storagePage shows what an organisation's cloud files hold.
func (s *Service) storagePage(r *http.Request, v *who, p *page) error {
	org, err := s.pickOrg(r, v, p, "storage")
	if err != nil || org == "" {
		return err
	}
	var st adminapi.Storage
	if err := s.call(r.Context(), v, "GET", "/files/storage?org="+url.QueryEscape(org), nil, &st); err != nil {
		return err
	}
	if st.OrgID != org {
		return errNotFound
	}
	saved := 0.0
	if st.LogicalBytes > 0 {
		saved = 100 * float64(st.LogicalBytes-st.StoredBytes) / float64(st.LogicalBytes)
	}
	p.Tables = append(p.Tables, table{ID: "storage", Caption: p.T["storage"] + " · " + org,
		Head: []string{p.T["versions"], p.T["logical"], p.T["chunks"], p.T["stored"], p.T["dedup"]},
		Rows: []row{{Cells: []cell{text(strconv.Itoa(st.Versions)), text(bytesText(st.LogicalBytes)), text(strconv.Itoa(st.StoredChunks)),
			text(bytesText(st.StoredBytes)), text(fmt.Sprintf("%.0f %%", saved))}}}})
	return nil
}

// bytesText shows a size in binary units.
func bytesText(n int64) string {
	v, units := float64(n), []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
