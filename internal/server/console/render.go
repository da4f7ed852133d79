package console

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

//go:embed page.html
var pageHTML string

//go:embed static
var static embed.FS

// pair hands a template both the page and one of its parts.
type pair struct {
	P *page
	V any
}

var tmpl = template.Must(template.New("console").Funcs(template.FuncMap{
	"args": func(p *page, v any) pair { return pair{p, v} },
	"inc":  func(n int) int { return n + 1 },
}).Parse(pageHTML))

// page is what one console page shows.
type page struct {
	Lang, OtherLang, OtherLangCode string
	T                              map[string]string
	Title, Intro                   string
	Who                            *who
	RoleName, WhoName              string
	Nav                            []navItem
	CSRF                           string
	Here                           string // this page's path and query, where actions come back to
	Notice, Error                  string
	Forms                          []form
	Chart                          template.HTML
	Tables                         []table
	Log                            []string
	LiveLog                        string
	Back                           string
	More                           string // the next page of a table read a page at a time
	Browser                        bool   // the sign-in page offers iscd's browser sign-in
	status                         int
}

type navItem struct {
	Href, Label string
	Current     bool
}

// form is a form of its own (issue a licence, create an organisation, a
// filter with Get).
type form struct {
	ID, Title, Action, Submit string
	Get                       bool
	Fields                    []field
}

type field struct {
	ID, Name, Label, Type, Value string
	Required                     bool
	Options                      []option
}

type option struct {
	Value, Label string
	Selected     bool
}

// table is a list of records; Live names the server-sent events that
// replace its rows while the page is open.
type table struct {
	ID, Caption, Live string
	Head              []string
	Rows              []row
}

// HasActions says whether any row has a button.
func (t table) HasActions() bool {
	for _, r := range t.Rows {
		if len(r.Actions) > 0 {
			return true
		}
	}
	return false
}

type row struct {
	Key     string
	Cells   []cell
	Actions []action
}

type cell struct{ Text, Href, Class string }

// action is a button posting to Path (with Inputs, such as a date).
type action struct {
	Path, Label, Of string // Of names what it acts on, for its accessible name
	Danger          bool
	Inputs          []field
}

func text(s string) cell { return cell{Text: s} }
func link(s, href string) cell {
	return cell{Text: s, Href: href}
}

// when shows a time, or "—" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func yesNo(p *page, b bool) string {
	if b {
		return p.T["yes"]
	}
	return p.T["no"]
}

// esc escapes an id for a path segment.
func esc(s string) string { return url.PathEscape(s) }

// newPage starts the page of r for v.
func (s *Service) newPage(w http.ResponseWriter, r *http.Request, v *who, title string) *page {
	l := s.langOf(w, r)
	p := &page{Lang: l.code(), T: tables[l], Who: v, Here: r.URL.Path}
	other := chinese
	if l == chinese {
		other = english
	}
	q := r.URL.Query()
	q.Set("lang", other.code())
	p.OtherLang, p.OtherLangCode = r.URL.Path+"?"+q.Encode(), other.code()
	if q := r.URL.Query(); len(q) > 0 {
		q.Del("lang")
		q.Del("done")
		if len(q) > 0 {
			p.Here += "?" + q.Encode()
		}
	}
	p.Title = p.T[title]
	if v != nil {
		p.CSRF = v.csrf
		p.RoleName, p.WhoName = string(v.Role), p.T["adminToken"]+" "+v.Name
		switch {
		case !v.Operator:
			p.RoleName, p.WhoName = p.T["orgAdmin"], v.Name
		case v.userID != "": // by a grant
			p.WhoName = v.Name
		}
		p.Nav = s.nav(p, v, title)
	}
	if r.URL.Query().Get("done") != "" {
		p.Notice = p.T["done"]
	}
	return p
}

// operatorNav and customerNav are the sections each may open.
var (
	operatorNav = []string{"licenses", "seats", "orgs", "products", "sessions", "jobs", "workers", "solvers", "releases", "usage", "storage", "audit", "marketplace"}
	customerNav = []string{"org", "licenses", "seats", "jobs", "usage", "storage", "audit"}
)

func (s *Service) nav(p *page, v *who, current string) []navItem {
	names := customerNav
	if v.Operator {
		names = operatorNav
	}
	out := make([]navItem, len(names))
	for i, n := range names {
		out[i] = navItem{Href: Path + n, Label: p.T[n], Current: n == current}
	}
	return out
}

func (s *Service) render(w http.ResponseWriter, name string, p *page) {
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, name, p); err != nil {
		s.log.Error("console page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if p.status != 0 {
		w.WriteHeader(p.status)
	}
	w.Write(b.Bytes())
}

// rowsHTML renders a table's rows alone, for its live updates.
func rowsHTML(p *page, t table) (string, error) {
	var b bytes.Buffer
	err := tmpl.ExecuteTemplate(&b, "rows", pair{p, t})
	return b.String(), err
}

// fail shows err on the page instead of its content.
func (s *Service) fail(w http.ResponseWriter, p *page, err error) {
	p.Forms, p.Tables, p.Chart, p.Log, p.More = nil, nil, "", nil, ""
	p.status = status(err)
	var e *apiError
	switch {
	case errors.As(err, &e):
		p.Error = p.T["refused"] + ": " + e.Message
	default:
		s.log.Error("console", "page", p.Here, "err", err)
		p.Error = "internal error"
	}
	s.render(w, "page", p)
}

// safeBack is where an action returns: a console page, nothing else.
func safeBack(b string) string {
	if !strings.HasPrefix(b, Path) || strings.HasPrefix(b, "//") || strings.ContainsAny(b, "\\\r\n") {
		return Path
	}
	return b
}
