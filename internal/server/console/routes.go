package console

import (
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"net/http"
	"strings"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// pageFunc fills a page for v; an error is shown instead.
type pageFunc func(r *http.Request, v *who, p *page) error

func (s *Service) routes() {
	sub, _ := fs.Sub(static, "static")
	s.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(sub)))
	s.mux.HandleFunc("GET /console/signin", s.signInPage)
	s.mux.HandleFunc("POST /console/signin", s.signIn)
	s.mux.HandleFunc("POST /console/signin/browser", s.browserSignIn)
	s.mux.HandleFunc("POST /console/signout", s.signOut)
	s.mux.HandleFunc("GET /console/{$}", func(w http.ResponseWriter, r *http.Request) {
		v := s.caller(r)
		switch {
		case v == nil:
			http.Redirect(w, r, Path+"signin", http.StatusSeeOther)
		case v.Operator:
			http.Redirect(w, r, Path+"licenses", http.StatusSeeOther)
		default:
			http.Redirect(w, r, Path+"org", http.StatusSeeOther)
		}
	})

	both, operators := true, false
	pages := []struct {
		name      string
		customers bool
		fn        pageFunc
	}{
		{"licenses", both, s.licensesPage},
		{"licenses/{id}", both, s.licensePage},
		{"seats", both, s.seatsPage},
		{"jobs", both, s.jobsPage},
		{"jobs/{id}", both, s.jobPage},
		{"usage", both, s.usagePage},
		{"storage", both, s.storagePage},
		{"org", both, s.orgPage},
		{"orgs", operators, s.orgsPage},
		{"products", operators, s.productsPage},
		{"sessions", operators, s.sessionsPage},
		{"workers", operators, s.workersPage},
		{"solvers", operators, s.solversPage},
		{"releases", operators, s.releasesPage},
		{"audit", both, s.auditPage},
		{"marketplace", operators, s.marketplacePage},
	}
	for _, pg := range pages {
		title, _, _ := strings.Cut(pg.name, "/")
		s.mux.HandleFunc("GET "+Path+pg.name, s.page(title, pg.customers, pg.fn))
	}
	s.mux.HandleFunc("GET /console/live/seats", s.liveSeats)
	s.mux.HandleFunc("GET /console/live/jobs/{id}", s.liveJob)
	s.mux.HandleFunc("GET /console/live/jobs/{id}/row", s.liveJobRow)

	// Each action is one admin API route, called with the operator's role.
	s.action("orgs", "POST", func(r *http.Request) (string, any) {
		return "/orgs", adminapi.CreateOrg{Name: r.PostForm.Get("name")}
	})
	s.action("licenses", "POST", s.issueLicense)
	for _, a := range []string{"freeze", "unfreeze", "release"} {
		s.action("licenses/{id}/"+a, "POST", func(r *http.Request) (string, any) {
			return "/licenses/" + esc(r.PathValue("id")) + "/" + a, nil
		})
	}
	s.action("licenses/{id}/extend", "PATCH", s.extendLicense)
	s.action("seats/{id}/release", "DELETE", func(r *http.Request) (string, any) { return "/seats/" + esc(r.PathValue("id")), nil })
	s.action("sessions/{id}/end", "DELETE", func(r *http.Request) (string, any) { return "/sessions/" + esc(r.PathValue("id")), nil })
	s.action("sessions/{id}/disconnect", "POST", func(r *http.Request) (string, any) {
		return "/sessions/" + esc(r.PathValue("id")) + "/disconnect", nil
	})
	s.action("jobs/{id}/cancel", "POST", func(r *http.Request) (string, any) { return "/jobs/" + esc(r.PathValue("id")) + "/cancel", nil })
	s.action("releases/withdraw", "DELETE", func(r *http.Request) (string, any) {
		f := r.Form // the release is named in the action's query
		return "/releases/" + esc(f.Get("product")) + "/" + esc(f.Get("platform")) + "/" + esc(f.Get("version")), nil
	})
}

// page serves a page to a signed-in caller: operators see every page, a
// customer's admin the pages marked for them.
func (s *Service) page(title string, customers bool, fn pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := s.caller(r)
		if v == nil {
			http.Redirect(w, r, Path+"signin", http.StatusSeeOther)
			return
		}
		p := s.newPage(w, r, v, title)
		if !v.Operator && !customers {
			s.fail(w, p, errNotFound)
			return
		}
		if err := fn(r, v, p); err != nil {
			s.fail(w, p, err)
			return
		}
		s.render(w, "page", p)
	}
}

// errNotFound answers what a customer's admin may not see, as what does
// not exist: another organisation's ids tell them nothing.
var errNotFound = &apiError{http.StatusNotFound, wire.CodeNotFound, "not found"}

// action serves POST /console/NAME: the CSRF check, then the admin API
// route that build names (method, path and body), run with the
// operator's role; back to the page it came from, or the refusal shown.
func (s *Service) action(name, method string, build func(r *http.Request) (string, any)) {
	s.mux.HandleFunc("POST "+Path+name, func(w http.ResponseWriter, r *http.Request) {
		v := s.caller(r)
		if v == nil {
			http.Redirect(w, r, Path+"signin", http.StatusSeeOther)
			return
		}
		p := s.newPage(w, r, v, "refused")
		if !s.checkForm(r, v.csrf) {
			p.Title = p.T["refused"]
			s.fail(w, p, &apiError{http.StatusForbidden, wire.CodeForbidden, p.T["badForm"]})
			return
		}
		p.Back = safeBack(r.PostForm.Get("back"))
		path, body := build(r)
		if path == "" {
			s.fail(w, p, &apiError{http.StatusBadRequest, wire.CodeBadRequest, body.(string)})
			return
		}
		err := s.call(r.Context(), v, method, path, body, nil)
		// Who did what, by the console session (its id, never its secret):
		// the admin API's own log lines do not know the console's caller.
		s.log.Info("console action", "session", v.session, "operator", v.Operator, "role", v.Role, "org", v.OrgID,
			"user", v.userID, "via", v.via, "method", method, "path", adminapi.Prefix+path, "status", status(err))
		if err != nil {
			p.Title = p.T["refused"]
			s.fail(w, p, err)
			return
		}
		back := p.Back
		if strings.Contains(back, "?") {
			back += "&done=1"
		} else {
			back += "?done=1"
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
	})
}

// ---- signing in and out ----

// preCookie holds the sign-in form's CSRF secret until there is a session.
const preCookie = "iscd_console_pre"

func (s *Service) signInPage(w http.ResponseWriter, r *http.Request) {
	if s.caller(r) != nil {
		http.Redirect(w, r, Path, http.StatusSeeOther)
		return
	}
	s.signInForm(w, r, "", http.StatusOK)
}

func (s *Service) signInForm(w http.ResponseWriter, r *http.Request, msg string, status int) {
	secret := rand.Text()
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: secret, Path: Path, HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
	p := s.newPage(w, r, nil, "signIn")
	p.CSRF, p.Error, p.status, p.Browser = csrfOf(secret), msg, status, s.browser != nil
	s.render(w, "signin", p)
}

// signIn takes an admin token (an operator) or an API token (a user
// granted an operator's role, or an organisation's admin) and makes a
// console session.
func (s *Service) signIn(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(w, r, nil, "signIn")
	pre, err := r.Cookie(preCookie)
	if err != nil || !s.checkForm(r, csrfOf(pre.Value)) {
		s.signInForm(w, r, p.T["badForm"], http.StatusForbidden)
		return
	}
	tok := strings.TrimSpace(r.PostForm.Get("token"))
	ctx := r.Context()
	var v who
	var userID, parent string
	switch {
	case strings.HasPrefix(tok, token.PrefixAdmin+"_"):
		t, err := s.adm.Caller(ctx, tok)
		if err != nil {
			var we *wire.Error
			msg := p.T["badToken"]
			if errors.As(err, &we) && we.Code == adminapi.CodeTokenExpired {
				msg = we.Message
			}
			s.signInForm(w, r, msg, http.StatusUnauthorized)
			return
		}
		v = who{Operator: true, Role: t.Role}
		parent = parentPrefix + t.ID
	case strings.HasPrefix(tok, token.PrefixAPI+"_"):
		// The same check a program's session makes of its token (user
		// disabled, deleted or unauthorised, organisation closed), and
		// then who the user is here: an operator by a grant, or the
		// organisation's admin.
		id, err := s.auth.Authenticate(ctx, tok)
		if err != nil {
			s.signInForm(w, r, p.T["badToken"], http.StatusUnauthorized)
			return
		}
		u, err := s.dir.User(ctx, id.UserID)
		if err != nil {
			s.signInForm(w, r, p.T["badToken"], http.StatusUnauthorized)
			return
		}
		var ok bool
		v, parent, ok, err = s.userWho(ctx, u)
		if err != nil {
			s.log.Error("console sign-in", "user", u.ID, "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if !ok {
			s.signInForm(w, r, p.T["badToken"], http.StatusUnauthorized)
			return
		}
		userID = u.ID
	default:
		s.signInForm(w, r, p.T["badToken"], http.StatusUnauthorized)
		return
	}
	if err := s.start(ctx, w, r, v, userID, parent); err != nil {
		s.log.Error("console sign-in", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: preCookie, Path: Path, MaxAge: -1, HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, Path, http.StatusSeeOther)
}

// signedInThen names the console's continuation of iscd's browser sign-in.
const signedInThen = "console"

// browserSignIn sends the browser to iscd's sign-in (an organisation's
// identity provider, or the page that asks who the user is), as a
// desktop program's user signs in; signedIn takes it from there.
func (s *Service) browserSignIn(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(w, r, nil, "signIn")
	pre, err := r.Cookie(preCookie)
	if s.browser == nil || err != nil || !s.checkForm(r, csrfOf(pre.Value)) {
		s.signInForm(w, r, p.T["badForm"], http.StatusForbidden)
		return
	}
	s.browser.BeginSignIn(w, r, signedInThen, "", "")
}

// signedIn is where iscd's sign-in hands back the browser's user (it
// refused those who may not sign in at all): a user an owner granted an
// operator's role gets an operator's session with it (even if also an
// organisation's admin: the operator sees that organisation too), an
// organisation's admin the customer's view, anyone else is told no.
func (s *Service) signedIn(w http.ResponseWriter, r *http.Request, u store.User, _ string) {
	// Served under the sign-in's path: the console's own headers, so its
	// style sheet loads under its CSP.
	for k, v := range consoleHeaders {
		w.Header().Set(k, v)
	}
	ctx := r.Context()
	v, parent, ok, err := s.userWho(ctx, u)
	if err != nil {
		s.log.Error("console sign-in", "user", u.ID, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if !ok {
		s.signInForm(w, r, s.newPage(w, r, nil, "signIn").T["notAdmin"], http.StatusForbidden)
		return
	}
	if err := s.start(ctx, w, r, v, u.ID, parent); err != nil {
		s.log.Error("console sign-in", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	// The browser may come back from another site (the identity
	// provider): a SameSite=Strict cookie set now is not sent with a
	// redirect that site began, so a page of ours moves it on.
	p := s.newPage(w, r, nil, "signedIn")
	s.render(w, "moveOn", p)
}

// userWho is who user u, signed in, is in the console: an operator with
// the role of the grant they hold (parent names it), else their
// organisation's admin, else nobody (ok false). A user with both a grant
// and the admin role is an operator: the operator's pages show that
// organisation too, and more.
func (s *Service) userWho(ctx context.Context, u store.User) (v who, parent string, ok bool, err error) {
	g, granted, err := s.adm.Grant(ctx, u.ID)
	switch {
	case err != nil:
		return v, "", false, err
	case granted:
		return who{Operator: true, Role: g.Role}, parentPrefix + g.ID, true, nil
	case u.Role == store.RoleAdmin:
		return who{OrgID: u.OrgID}, "", true, nil
	}
	s.log.Info("console sign-in refused: no operator grant, not an organisation admin", "user", u.ID, "org", u.OrgID)
	return v, "", false, nil
}

func (s *Service) signOut(w http.ResponseWriter, r *http.Request) {
	if v := s.caller(r); v != nil && s.checkForm(r, v.csrf) {
		if err := s.dir.RevokeToken(r.Context(), v.session); err != nil {
			s.log.Error("console sign-out", "session", v.session, "err", err)
		}
		s.log.Info("console sign-out", "session", v.session)
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(r), Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, Path+"signin", http.StatusSeeOther)
}
