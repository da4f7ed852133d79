// Package console serves the operator's web console under /console/:
// server-rendered pages (html/template) over the admin API's own routes,
// a little JavaScript for what changes while one looks (server-sent
// events), in English and Simplified Chinese (docs/console.md).
//
// Two kinds of people sign in. A vendor's operator signs in with an admin
// token, or through iscd's browser sign-in as a user an owner granted a
// role to (an operator grant: an admin token record bound to the user,
// with no secret), and then has that token's or grant's role
// (adminapi.Role): every change the console makes is the admin API route
// iscctl calls, run in process by admin.API.ServeAs with that role, so the
// console can do nothing iscctl cannot, and refuses what the role may not
// do exactly as the API does. A customer's admin (a user whose role is
// store.RoleAdmin, holding no grant) signs in with their API token or
// through the browser sign-in and sees their own organisation only,
// read-only: every list the console asks for is filtered to that
// organisation and every record named by an id is checked to belong to it.
//
// A sign-in becomes a console session: a random secret in an HttpOnly,
// SameSite=Strict cookie (Secure over TLS), kept at rest only as its
// SHA-256 (a store.Token of kind token.PrefixConsole), expiring after
// Config.SessionTTL. An operator's session ends when its admin token or
// grant is revoked or expires, and a granted operator's also when the user
// is disabled or deleted or the organisation closes; a customer admin's
// when the user is disabled, deleted, loses the admin role or the
// organisation closes. Every form carries a CSRF token derived from the
// session's secret, and every page is served under a CSP that allows no
// inline script or style.
package console

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server/admin"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/server/signin"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Path is where the console is served.
const Path = "/console/"

// DefaultSessionTTL is how long a console session lasts.
const DefaultSessionTTL = 8 * time.Hour

// Config tunes the console.
type Config struct {
	// SessionTTL is how long a sign-in lasts; 0: DefaultSessionTTL.
	SessionTTL time.Duration
	// Secure marks the cookies Secure (iscd serves TLS). A request that
	// arrived over TLS gets Secure cookies either way.
	Secure bool
	// LiveEvery is how often a live part (seats, a running job) is looked
	// at again for its server-sent events; 0: a second.
	LiveEvery time.Duration
	// KeepAlive is how long a live part with nothing new stays silent
	// before it sends a comment; 0: 15 seconds.
	KeepAlive time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Directory is what the console reads and writes in the store: its own
// sessions (tokens of kind token.PrefixConsole), and the users and
// organisations that sign in.
type Directory interface {
	CreateToken(ctx context.Context, t store.Token) error
	Token(ctx context.Context, id string) (store.Token, error)
	RevokeToken(ctx context.Context, id string) error
	Tokens(ctx context.Context, userID string) ([]store.Token, error)
	DeleteExpiredTokens(ctx context.Context, kind string, t time.Time) (int, error)
	User(ctx context.Context, id string) (store.User, error)
	Org(ctx context.Context, id string) (store.Org, error)
}

// SignIn is iscd's browser sign-in (internal/server/signin), the one the
// desktop programs' users sign in with: the console sends a browser there
// and gets its user back.
type SignIn interface {
	BeginSignIn(w http.ResponseWriter, r *http.Request, then, data, org string)
	OnSignedIn(then string, fn signin.SignedIn)
}

// Service is the console.
type Service struct {
	cfg     Config
	dir     Directory
	adm     *admin.API
	auth    session.Authenticator // API tokens, as the sessions check them
	browser SignIn                // nil: API tokens only
	log     *slog.Logger
	mux     *http.ServeMux

	mu      sync.Mutex
	streams map[string]int // live parts open, by console session
	swept   time.Time      // when expired sessions were last deleted
}

// maxUserSessions bounds the console sessions one person holds at once
// (browsers, tabs signed in anew): a sign-in past it signs the oldest
// out, so signing in again and again keeps no more.
const maxUserSessions = 16

// maxStreams bounds the live parts one console session keeps open (each
// looks at the store every LiveEvery): a few tabs' worth.
const maxStreams = 8

// New returns the console over the admin API adm. auth checks the API
// tokens customer admins may paste; signIn, if not nil, signs them in as
// the desktop programs' users sign in.
func New(cfg Config, dir Directory, adm *admin.API, auth session.Authenticator, signIn SignIn, log *slog.Logger) *Service {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.LiveEvery <= 0 {
		cfg.LiveEvery = time.Second
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, dir: dir, adm: adm, auth: auth, browser: signIn, log: log, mux: http.NewServeMux(), streams: map[string]int{}}
	s.routes()
	if signIn != nil {
		signIn.OnSignedIn(signedInThen, s.signedIn)
	}
	return s
}

// csp allows the console's own script and style files and nothing inline.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// consoleHeaders are set on every answer of the console.
var consoleHeaders = map[string]string{
	"Content-Security-Policy":    csp,
	"X-Frame-Options":            "DENY",
	"X-Content-Type-Options":     "nosniff",
	"Referrer-Policy":            "same-origin",
	"Cache-Control":              "no-store",
	"Cross-Origin-Opener-Policy": "same-origin",
}

// ServeHTTP serves the console's pages.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range consoleHeaders {
		w.Header().Set(k, v)
	}
	s.mux.ServeHTTP(w, r)
}

// who is the signed-in person a request is served for.
type who struct {
	Operator bool
	Role     adminapi.Role // an operator's: that of the admin token or grant signed in with
	OrgID    string        // a customer admin's organisation
	Name     string        // a customer admin's or granted operator's name; an operator's admin token id
	userID   string        // the user signed in: a customer admin, or an operator by a grant ("" by a token)
	via      string        // an operator's admin token or grant id
	session  string        // the console session's id
	csrf     string
}

// actor names the caller in the audit entries the admin API writes.
func (v *who) actor() string {
	switch {
	case v.userID != "":
		return fmt.Sprintf("%s (%s) through the console", v.Name, v.userID)
	case v.via != "":
		return "admin token " + v.via + " through the console"
	}
	return "the console"
}

// may reports whether the operator may call a route requiring need.
func (v *who) may(need adminapi.Role) bool { return v.Operator && v.Role.Allows(need) }

// ---- sessions ----

func (s *Service) cookieName(r *http.Request) string {
	if s.secure(r) {
		return "__Host-iscd_console"
	}
	return "iscd_console"
}

func (s *Service) secure(r *http.Request) bool { return s.cfg.Secure || r.TLS != nil }

// csrfOf derives a session's CSRF token from its secret: only who holds
// the cookie can know it, and nothing more has to be stored.
func csrfOf(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("iscd console csrf"))
	return hex.EncodeToString(m.Sum(nil))
}

// start makes a console session for v and sets its cookie.
func (s *Service) start(ctx context.Context, w http.ResponseWriter, r *http.Request, v who, userID, parent string) error {
	tok, id, hash := token.New(token.PrefixConsole)
	now := s.cfg.Now().UTC()
	t := store.Token{ID: id, Kind: token.PrefixConsole, Hash: hash, UserID: userID, OrgID: v.OrgID,
		Role: string(v.Role), Name: parent, Created: now, Expires: now.Add(s.cfg.SessionTTL)}
	if err := s.dir.CreateToken(ctx, t); err != nil {
		return fmt.Errorf("console session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(r), Value: tok, Path: "/", HttpOnly: true, Secure: s.secure(r),
		SameSite: http.SameSiteStrictMode, Expires: t.Expires})
	s.log.Info("console sign-in", "session", id, "operator", v.Operator, "role", v.Role, "org", v.OrgID, "user", userID, "via", parent)
	s.sweep(ctx, now)
	if userID != "" {
		s.keepNewest(ctx, userID, now)
	}
	return nil
}

// sweep deletes the console sessions that expired, at most once a minute
// (at sign-ins): an expired session opens nothing, and is not kept.
func (s *Service) sweep(ctx context.Context, now time.Time) {
	s.mu.Lock()
	due := now.Sub(s.swept) >= time.Minute
	if due {
		s.swept = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	if n, err := s.dir.DeleteExpiredTokens(ctx, token.PrefixConsole, now); err != nil {
		s.log.Warn("console: sweep expired sessions", "err", err)
	} else if n > 0 {
		s.log.Info("console: expired sessions swept", "count", n)
	}
}

// keepNewest signs out userID's oldest console sessions beyond
// maxUserSessions.
func (s *Service) keepNewest(ctx context.Context, userID string, now time.Time) {
	toks, err := s.dir.Tokens(ctx, userID)
	if err != nil {
		s.log.Warn("console: sessions of a user", "user", userID, "err", err)
		return
	}
	var live []store.Token
	for _, t := range toks {
		if t.Kind == token.PrefixConsole && !t.Revoked && now.Before(t.Expires) {
			live = append(live, t)
		}
	}
	slices.SortFunc(live, func(a, b store.Token) int { return b.Created.Compare(a.Created) }) // newest first
	for _, t := range live[min(len(live), maxUserSessions):] {
		if err := s.dir.RevokeToken(ctx, t.ID); err != nil {
			s.log.Warn("console: sign out an old session", "session", t.ID, "err", err)
			continue
		}
		s.log.Info("console: an old session signed out", "session", t.ID, "user", userID, "kept", maxUserSessions)
	}
}

// parentPrefix marks an operator session's Name: the admin token or grant
// it came from (a grant's session also names its user).
const parentPrefix = "admin token "

// caller finds the console session of r, checking that what it was made
// from still holds; nil when there is none.
func (s *Service) caller(r *http.Request) *who {
	c, err := r.Cookie(s.cookieName(r))
	if err != nil {
		return nil
	}
	id, secret, err := token.Parse(token.PrefixConsole, c.Value)
	if err != nil {
		return nil
	}
	ctx := r.Context()
	t, err := s.dir.Token(ctx, id)
	if err != nil || t.Kind != token.PrefixConsole || t.Revoked || !token.Verify(secret, t.Hash) || !s.cfg.Now().Before(t.Expires) {
		return nil
	}
	v := &who{session: id, csrf: csrfOf(secret)}
	if parent, ok := strings.CutPrefix(t.Name, parentPrefix); ok {
		if !s.adm.Active(ctx, parent, t.UserID) {
			return nil
		}
		v.Operator, v.Role, v.Name, v.via = true, adminapi.Role(t.Role), parent, parent
		if t.UserID == "" { // an admin token's
			return v
		}
		u, ok := s.user(ctx, t.UserID)
		if !ok {
			return nil
		}
		v.Name, v.userID = u.Name, u.ID
		return v
	}
	u, ok := s.user(ctx, t.UserID)
	if !ok || u.Role != store.RoleAdmin || u.OrgID != t.OrgID {
		return nil
	}
	v.OrgID, v.Name, v.userID = u.OrgID, u.Name, u.ID
	return v
}

// user is the user id, if they may still be signed in: not disabled or
// deleted (nor, synced from the marketplace, unauthorised), their
// organisation open.
func (s *Service) user(ctx context.Context, id string) (store.User, bool) {
	u, err := s.dir.User(ctx, id)
	if err != nil || u.Refused() != "" {
		return u, false
	}
	if o, err := s.dir.Org(ctx, u.OrgID); err != nil || o.Closed {
		return u, false
	}
	return u, true
}

// checkForm checks a POST's origin and CSRF token and parses its form.
func (s *Service) checkForm(r *http.Request, want string) bool {
	// A browser says where a request came from; another origin's page
	// never posts here (SameSite=Strict already keeps the cookie from it).
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return false
	}
	got := r.PostForm.Get("csrf")
	return want != "" && hmac.Equal([]byte(got), []byte(want))
}

// ---- the admin API, in process ----

// apiError is the admin API's refusal.
type apiError struct {
	Status        int
	Code, Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// reply is the little of an http.ResponseWriter the admin API's handlers
// write to.
type reply struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (rp *reply) Header() http.Header { return rp.h }
func (rp *reply) WriteHeader(status int) {
	if rp.status == 0 {
		rp.status = status
	}
}
func (rp *reply) Write(b []byte) (int, error) {
	rp.WriteHeader(http.StatusOK)
	return rp.body.Write(b)
}

// maxReply bounds what the console reads of one admin API answer.
const maxReply = 32 << 20

// call runs one admin API route as v and decodes its answer into out. A
// customer admin calls as read-only: the console has no route that
// changes something for them.
func (s *Service) call(ctx context.Context, v *who, method, path string, in, out any) error {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	r, err := http.NewRequestWithContext(ctx, method, adminapi.Prefix+path, body)
	if err != nil {
		return err
	}
	role := adminapi.RoleReadOnly
	if v.Operator {
		role = v.Role
	} else if method != http.MethodGet {
		return &apiError{http.StatusForbidden, wire.CodeForbidden, "a customer's admin changes nothing here"}
	}
	rp := &reply{h: http.Header{}}
	s.adm.ServeAs(role, rp, r.WithContext(admin.WithActor(ctx, v.actor())))
	if rp.status == 0 {
		rp.status = http.StatusOK
	}
	if rp.status >= 300 {
		var e struct{ Error wire.Error }
		_ = json.Unmarshal(rp.body.Bytes(), &e)
		return &apiError{rp.status, e.Error.Code, e.Error.Message}
	}
	if out == nil || rp.status == http.StatusNoContent {
		return nil
	}
	if rp.body.Len() > maxReply {
		return fmt.Errorf("%s %s: answer of %d bytes", method, path, rp.body.Len())
	}
	return json.Unmarshal(rp.body.Bytes(), out)
}

// status is the HTTP status an error from call is shown with.
func status(err error) int {
	if err == nil {
		return http.StatusOK
	}
	var e *apiError
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}
