// Package admin serves the operator's HTTP API (/admin/v1/...): orgs, users,
// API tokens, admin tokens, products, sessions and notices, and the routes
// the service's other parts add. Types are in internal/adminapi.
//
// Every route requires a role (adminapi.Role): Handle takes it, so no
// route exists without one, and ServeHTTP checks the caller's admin token
// (its hash, its expiry, its role) before the route runs.
package admin

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// maxBody bounds an admin request body.
const maxBody = 1 << 20

// idPattern is what an id chosen by an operator may look like. Ids also
// must not contain "..": they name paths and files (cloud files, upgrade
// packages), where ".." would climb out of a directory.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// API is the admin HTTP handler.
type API struct {
	dir store.Directory
	hub *session.Hub
	log *slog.Logger
	mux *http.ServeMux
	// limits holds the body limit of endpoints added with HandleLarge.
	limits map[string]int64
	// roles holds the role each route requires, by pattern.
	roles map[string]adminapi.Role
	now   func() time.Time
}

// New returns the admin API over dir and hub.
func New(dir store.Directory, hub *session.Hub, log *slog.Logger) *API {
	a := &API{dir: dir, hub: hub, log: log, mux: http.NewServeMux(), roles: map[string]adminapi.Role{},
		now: func() time.Time { return time.Now().UTC() }}
	p := adminapi.Prefix
	read, owner, customers := adminapi.RoleReadOnly, adminapi.RoleOwner, adminapi.RoleLicenses
	a.Handle(read, "GET "+p+"/orgs", a.listOrgs)
	a.Handle(customers, "POST "+p+"/orgs", a.createOrg)
	a.Handle(read, "GET "+p+"/users", a.listUsers)
	a.Handle(customers, "POST "+p+"/users", a.createUser)
	a.Handle(read, "GET "+p+"/tokens", a.listTokens)
	a.Handle(customers, "POST "+p+"/tokens", a.createToken)
	a.Handle(customers, "DELETE "+p+"/tokens/{id}", a.revokeToken)
	a.Handle(owner, "GET "+p+"/admin-tokens", a.listAdminTokens)
	a.Handle(owner, "POST "+p+"/admin-tokens", a.createAdminToken)
	a.Handle(owner, "DELETE "+p+"/admin-tokens/{id}", a.revokeAdminToken)
	a.Handle(read, "GET "+p+"/products", a.listProducts)
	a.Handle(owner, "POST "+p+"/products", a.createProduct)
	a.Handle(owner, "PATCH "+p+"/products/{id}", a.updateProduct)
	a.Handle(read, "GET "+p+"/sessions", a.listSessions)
	a.Handle(customers, "DELETE "+p+"/sessions/{id}", a.endSession)
	a.Handle(customers, "POST "+p+"/sessions/{id}/disconnect", a.disconnectSession)
	a.Handle(customers, "POST "+p+"/notices", a.notice)
	a.Handle(read, "GET "+p+"/routes", a.listRoutes)
	a.mux.HandleFunc(p+"/", func(w http.ResponseWriter, r *http.Request) {
		Fail(w, http.StatusNotFound, wire.CodeNotFound, "no admin endpoint "+r.Method+" "+r.URL.Path)
	})
	return a
}

// Handle adds an endpoint, such as "POST /admin/v1/licenses", that tokens
// of role (or owner) may call. It is served behind the same admin token
// check and body limit as the others. The pattern names its method; only
// a GET may require RoleReadOnly, which every token has. Call it before
// serving.
func (a *API) Handle(role adminapi.Role, pattern string, h http.HandlerFunc) {
	method, _, ok := strings.Cut(pattern, " ")
	if _, err := adminapi.ParseRole(string(role)); err != nil || !ok {
		panic(fmt.Sprintf("admin: route %q: want a known role and a method (%v)", pattern, err))
	}
	if role == adminapi.RoleReadOnly && method != http.MethodGet {
		panic(fmt.Sprintf("admin: route %q changes something: it needs a role that may, not %s", pattern, role))
	}
	a.roles[pattern] = role
	a.mux.HandleFunc(pattern, h)
}

// HandleLarge is Handle for an endpoint whose body may be up to limit
// bytes instead of 1 MiB (a release's manifest).
func (a *API) HandleLarge(role adminapi.Role, pattern string, limit int64, h http.HandlerFunc) {
	if a.limits == nil {
		a.limits = map[string]int64{}
	}
	a.limits[pattern] = limit
	a.Handle(role, pattern, h)
}

// ServeHTTP checks the admin token and its role, then routes.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, status, code, msg := a.authenticate(r)
	if status != 0 {
		Fail(w, status, code, msg)
		return
	}
	who := "admin token " + t.ID
	if t.Name != "" {
		who += " (" + t.Name + ")"
	}
	a.ServeAs(roleOf(t), w, r.WithContext(WithActor(r.Context(), who)))
}

type actorKey struct{}

// WithActor returns ctx naming who calls the admin API — an admin token,
// or the person signed in to the console — for the audit entries its
// routes write.
func WithActor(ctx context.Context, who string) context.Context {
	return context.WithValue(ctx, actorKey{}, who)
}

// Actor names who calls the admin API in ctx; "" when ctx is not an
// admin API request's.
func Actor(ctx context.Context) string {
	who, _ := ctx.Value(actorKey{}).(string)
	return who
}

// ServeAs serves r for a caller whose role iscd has already established
// by other means than an admin token — the console's signed-in operator
// (internal/server/console) — so that the console runs exactly the
// routes, role checks and limits that iscctl meets. Nothing reaches it
// from the network: it is not a handler.
func (a *API) ServeAs(role adminapi.Role, w http.ResponseWriter, r *http.Request) {
	_, pattern := a.mux.Handler(r)
	if need, ok := a.roles[pattern]; ok && !role.Allows(need) {
		Fail(w, http.StatusForbidden, wire.CodeForbidden, fmt.Sprintf("%s %s needs an admin token with role %s (or owner); this one's role is %s",
			r.Method, r.URL.Path, need, role))
		return
	}
	limit := int64(maxBody)
	if a.limits[pattern] > 0 {
		limit = a.limits[pattern]
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	a.mux.ServeHTTP(w, r)
}

// authenticate finds the caller's admin token, or says why it is refused
// (status, code and message).
func (a *API) authenticate(r *http.Request) (t store.Token, status int, code, msg string) {
	const invalid = "admin token missing or invalid (Authorization: Bearer <admin token>)"
	// The scheme is case-insensitive (RFC 9110, 11.1).
	v := r.Header.Get("Authorization")
	const scheme = "Bearer "
	if len(v) <= len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return t, http.StatusUnauthorized, wire.CodeUnauthorized, invalid
	}
	return a.check(r.Context(), v[len(scheme):], invalid)
}

// check finds the admin token tok, or says why it is refused.
func (a *API) check(ctx context.Context, tok, invalid string) (t store.Token, status int, code, msg string) {
	id, secret, err := token.Parse(token.PrefixAdmin, tok)
	if err != nil {
		return t, http.StatusUnauthorized, wire.CodeUnauthorized, invalid
	}
	t, err = a.dir.Token(ctx, id)
	// An operator grant (UserID set) has no secret: its id is no token.
	if err != nil || t.Kind != token.PrefixAdmin || t.UserID != "" || t.Revoked || !token.Verify(secret, t.Hash) {
		return t, http.StatusUnauthorized, wire.CodeUnauthorized, invalid
	}
	// Only a holder of the secret learns that it expired.
	if !t.Expires.IsZero() && !a.now().Before(t.Expires) {
		return t, http.StatusUnauthorized, adminapi.CodeTokenExpired,
			fmt.Sprintf("admin token %s expired at %s; an owner makes a new one (iscctl admin-token create)", t.ID, t.Expires.Format(time.RFC3339))
	}
	return t, 0, "", ""
}

// Caller checks an admin token as every route does (its hash, whether it
// is revoked or expired) and answers what it may do. The console signs
// an operator in with it; its error is a *wire.Error (unauthorized,
// token_expired) whose message can be shown.
func (a *API) Caller(ctx context.Context, tok string) (adminapi.AdminToken, error) {
	t, status, code, msg := a.check(ctx, tok, "admin token missing or invalid")
	if status != 0 {
		return adminapi.AdminToken{}, wire.Errorf(code, "%s", msg)
	}
	return adminToken(t), nil
}

// Active reports whether the admin token or operator grant id still
// works (not revoked, not expired) and is userID's ("" for a token): a
// console session made from it ends with it.
func (a *API) Active(ctx context.Context, id, userID string) bool {
	t, err := a.dir.Token(ctx, id)
	return err == nil && t.Kind == token.PrefixAdmin && t.UserID == userID && a.works(t)
}

// works reports whether admin token or grant t is neither revoked nor
// expired.
func (a *API) works(t store.Token) bool {
	return !t.Revoked && (t.Expires.IsZero() || a.now().Before(t.Expires))
}

// Grant answers the operator grant user userID holds that works now, and
// false when there is none: the console makes such a user, signed in
// through iscd's browser sign-in, an operator with the grant's role. Of
// several (a user holds one at a time, but two owners may grant at once)
// an owner's wins, else the newest. Whether the user may sign in at all
// is for the sign-in to say.
func (a *API) Grant(ctx context.Context, userID string) (adminapi.AdminToken, bool, error) {
	if userID == "" {
		return adminapi.AdminToken{}, false, nil
	}
	toks, err := a.dir.Tokens(ctx, userID)
	if err != nil {
		return adminapi.AdminToken{}, false, fmt.Errorf("grants of user %s: %w", userID, err)
	}
	better := func(t, than store.Token) bool {
		if owner := roleOf(t) == adminapi.RoleOwner; owner != (roleOf(than) == adminapi.RoleOwner) {
			return owner
		}
		return t.Created.After(than.Created)
	}
	var best *store.Token
	for i, t := range toks {
		if t.Kind == token.PrefixAdmin && t.UserID == userID && a.works(t) && (best == nil || better(t, *best)) {
			best = &toks[i]
		}
	}
	if best == nil {
		return adminapi.AdminToken{}, false, nil
	}
	return adminToken(*best), true, nil
}

// roleOf is an admin token's role: owner for one made before roles.
func roleOf(t store.Token) adminapi.Role {
	if t.Role == "" {
		return adminapi.RoleOwner
	}
	return adminapi.Role(t.Role)
}

// Fail answers with status and {"error":{"code","message"}}.
func Fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]wire.Error{"error": {Code: code, Message: msg}})
}

// Reply answers with status and v as JSON.
func Reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// storeFail answers a store error with the right status.
func (a *API) storeFail(w http.ResponseWriter, what string, err error) {
	StoreFail(w, a.log, what, err)
}

// StoreFail answers a store error: 404 for store.ErrNotFound, 409 for
// store.ErrExists, else 500 (logged; the details are not shown).
func StoreFail(w http.ResponseWriter, log *slog.Logger, what string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		Fail(w, http.StatusNotFound, wire.CodeNotFound, what+" not found")
	case errors.Is(err, store.ErrExists):
		Fail(w, http.StatusConflict, "conflict", what+" already exists")
	default:
		log.Error("admin store error", "what", what, "err", err)
		Fail(w, http.StatusInternalServerError, wire.CodeInternal, what+": internal error")
	}
}

// Decode reads a JSON body into v, or answers 400/413 and returns false. encoding/json would quietly turn
// invalid UTF-8 into U+FFFD, so the raw bytes are checked first.
func Decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			Fail(w, http.StatusRequestEntityTooLarge, wire.CodeTooLarge, fmt.Sprintf("request body larger than %d bytes", tooBig.Limit))
		} else {
			Fail(w, http.StatusBadRequest, wire.CodeBadRequest, "read body: "+err.Error())
		}
		return false
	}
	if !utf8.Valid(body) {
		Fail(w, http.StatusBadRequest, wire.CodeBadRequest, "request body is not valid UTF-8")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		Fail(w, http.StatusBadRequest, wire.CodeBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	if dec.More() {
		Fail(w, http.StatusBadRequest, wire.CodeBadRequest, "invalid JSON body: data after the object")
		return false
	}
	return true
}

// CheckText rejects empty (when required), over-long or non-UTF-8 text.
func CheckText(w http.ResponseWriter, field, v string, required bool, max int) bool {
	switch {
	case required && strings.TrimSpace(v) == "":
		Fail(w, http.StatusBadRequest, wire.CodeBadRequest, field+" is required")
	case len(v) > max:
		Fail(w, http.StatusBadRequest, wire.CodeBadRequest, fmt.Sprintf("%s longer than %d bytes", field, max))
	case !utf8.ValidString(v):
		Fail(w, http.StatusBadRequest, wire.CodeBadRequest, field+" is not valid UTF-8")
	default:
		return true
	}
	return false
}

// CheckID rejects an id an operator chose that is not a safe name.
func CheckID(w http.ResponseWriter, field, v string) bool {
	if v != "" && (!idPattern.MatchString(v) || strings.Contains(v, "..")) {
		Fail(w, http.StatusBadRequest, wire.CodeBadRequest, field+` must match `+idPattern.String()+` and not contain ".."`)
		return false
	}
	return true
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func (a *API) listOrgs(w http.ResponseWriter, r *http.Request) {
	orgs, err := a.dir.Orgs(r.Context())
	if err != nil {
		a.storeFail(w, "orgs", err)
		return
	}
	Reply(w, http.StatusOK, Each(orgs, Org))
}

func (a *API) createOrg(w http.ResponseWriter, r *http.Request) {
	var req adminapi.CreateOrg
	if !Decode(w, r, &req) || !CheckID(w, "id", req.ID) || !CheckText(w, "name", req.Name, true, 200) {
		return
	}
	o := store.Org{ID: req.ID, Name: req.Name, Created: now()}
	if o.ID == "" {
		o.ID = "org_" + token.ID()
	}
	if err := a.dir.CreateOrg(r.Context(), o); err != nil {
		a.storeFail(w, "org "+o.ID, err)
		return
	}
	a.log.Info("org created", "org", o.ID)
	Reply(w, http.StatusCreated, Org(o))
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	users, err := a.dir.Users(r.Context(), r.URL.Query().Get("org"))
	if err != nil {
		a.storeFail(w, "users", err)
		return
	}
	Reply(w, http.StatusOK, Each(users, User))
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var req adminapi.CreateUser
	if !Decode(w, r, &req) || !CheckID(w, "id", req.ID) || !CheckText(w, "orgId", req.OrgID, true, 64) ||
		!CheckText(w, "name", req.Name, true, 200) || !CheckText(w, "email", req.Email, false, 320) {
		return
	}
	if req.Role != "" && req.Role != store.RoleUser && req.Role != store.RoleAdmin {
		Fail(w, http.StatusBadRequest, wire.CodeBadRequest, "role must be "+store.RoleUser+" or "+store.RoleAdmin)
		return
	}
	u := store.User{ID: req.ID, OrgID: req.OrgID, Name: req.Name, Email: req.Email, Role: req.Role, Created: now()}
	if u.ID == "" {
		u.ID = "usr_" + token.ID()
	}
	if err := a.dir.CreateUser(r.Context(), u); err != nil {
		what := "user " + u.ID
		if errors.Is(err, store.ErrNotFound) {
			what = "org " + u.OrgID // the only thing CreateUser looks up
		}
		a.storeFail(w, what, err)
		return
	}
	a.log.Info("user created", "user", u.ID, "org", u.OrgID)
	Reply(w, http.StatusCreated, User(u))
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) {
	toks, err := a.dir.Tokens(r.Context(), r.URL.Query().Get("user"))
	if err != nil {
		a.storeFail(w, "tokens", err)
		return
	}
	var out []adminapi.Token
	if toks != nil {
		out = make([]adminapi.Token, 0, len(toks))
	}
	for _, t := range toks {
		if t.Kind == token.PrefixAPI { // admin and worker tokens are not listed here
			out = append(out, Token(t))
		}
	}
	Reply(w, http.StatusOK, out)
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) {
	var req adminapi.CreateToken
	if !Decode(w, r, &req) || !CheckText(w, "userId", req.UserID, true, 64) || !CheckText(w, "name", req.Name, false, 200) {
		return
	}
	u, err := a.dir.User(r.Context(), req.UserID)
	if err != nil {
		a.storeFail(w, "user "+req.UserID, err)
		return
	}
	secret, id, hash := token.New(token.PrefixAPI)
	t := store.Token{ID: id, Kind: token.PrefixAPI, Hash: hash, UserID: u.ID, OrgID: u.OrgID, Name: req.Name, Created: now()}
	if err := a.dir.CreateToken(r.Context(), t); err != nil {
		a.storeFail(w, "token", err)
		return
	}
	a.log.Info("token created", "token", id, "user", u.ID) // the id, never the secret
	Reply(w, http.StatusCreated, adminapi.NewToken{Token: Token(t), Secret: secret})
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	t, err := a.dir.Token(r.Context(), id)
	if err == nil && t.Kind != token.PrefixAPI {
		err = store.ErrNotFound
	}
	if err == nil {
		err = a.dir.RevokeToken(r.Context(), id)
	}
	if err != nil {
		a.storeFail(w, "token "+id, err)
		return
	}
	n := a.hub.EndToken(r.Context(), id)
	a.log.Info("token revoked", "token", id, "sessions ended", n)
	w.WriteHeader(http.StatusNoContent)
}

// listRoutes answers every endpoint and the role it requires, sorted.
func (a *API) listRoutes(w http.ResponseWriter, _ *http.Request) {
	out := make([]adminapi.Route, 0, len(a.roles))
	for pattern, role := range a.roles {
		method, path, _ := strings.Cut(pattern, " ")
		out = append(out, adminapi.Route{Method: method, Pattern: path, Role: role})
	}
	slices.SortFunc(out, func(x, y adminapi.Route) int {
		return cmp.Or(strings.Compare(x.Pattern, y.Pattern), strings.Compare(x.Method, y.Method))
	})
	Reply(w, http.StatusOK, out)
}

func adminToken(t store.Token) adminapi.AdminToken {
	return adminapi.AdminToken{ID: t.ID, Name: t.Name, Role: roleOf(t), Created: t.Created, Expires: t.Expires, Revoked: t.Revoked, UserID: t.UserID}
}

func (a *API) listAdminTokens(w http.ResponseWriter, r *http.Request) {
	toks, err := a.dir.Tokens(r.Context(), "")
	if err != nil {
		a.storeFail(w, "tokens", err)
		return
	}
	out := []adminapi.AdminToken{}
	for _, t := range toks {
		if t.Kind == token.PrefixAdmin {
			out = append(out, adminToken(t))
		}
	}
	Reply(w, http.StatusOK, out)
}

func (a *API) createAdminToken(w http.ResponseWriter, r *http.Request) {
	var req adminapi.CreateAdminToken
	if !Decode(w, r, &req) || !CheckText(w, "name", req.Name, false, 200) || !CheckText(w, "userId", req.UserID, false, 64) {
		return
	}
	role, err := adminapi.ParseRole(string(req.Role))
	if err != nil {
		Fail(w, http.StatusBadRequest, wire.CodeBadRequest, "role: "+err.Error())
		return
	}
	if !req.Expires.IsZero() && !req.Expires.After(a.now()) {
		Fail(w, http.StatusBadRequest, wire.CodeBadRequest, "expires "+req.Expires.Format(time.RFC3339)+" has passed")
		return
	}
	if req.UserID != "" {
		a.grant(w, r, req, role)
		return
	}
	secret, id, hash := token.New(token.PrefixAdmin)
	t := store.Token{ID: id, Kind: token.PrefixAdmin, Hash: hash, Name: req.Name, Created: now(), Role: string(role), Expires: req.Expires.UTC()}
	if err := a.dir.CreateToken(r.Context(), t); err != nil {
		a.storeFail(w, "token", err)
		return
	}
	a.log.Info("admin token created", "token", id, "role", role, "expires", t.Expires) // the id, never the secret
	Reply(w, http.StatusCreated, adminapi.NewAdminToken{AdminToken: adminToken(t), Secret: secret})
}

// grant makes an operator grant: an admin token record bound to a user,
// with no secret (no hash: nothing verifies against it, and check refuses
// a record with a user besides), which the console honours when that user
// signs in through iscd's browser sign-in. Revoking it (the admin token
// route) ends the grant and the console sessions made from it.
func (a *API) grant(w http.ResponseWriter, r *http.Request, req adminapi.CreateAdminToken, role adminapi.Role) {
	ctx := r.Context()
	u, err := a.dir.User(ctx, req.UserID)
	if err != nil {
		a.storeFail(w, "user "+req.UserID, err)
		return
	}
	if why := u.Refused(); why != "" {
		Fail(w, http.StatusConflict, "conflict", "user "+u.ID+": "+why+"; such a user cannot sign in")
		return
	}
	old, held, err := a.Grant(ctx, u.ID)
	if err != nil {
		a.storeFail(w, "grants", err)
		return
	}
	if held {
		Fail(w, http.StatusConflict, "conflict", fmt.Sprintf("user %s already holds grant %s (role %s): revoke it first", u.ID, old.ID, old.Role))
		return
	}
	t := store.Token{ID: token.ID(), Kind: token.PrefixAdmin, UserID: u.ID, Name: req.Name, Created: now(), Role: string(role), Expires: req.Expires.UTC()}
	if err := a.dir.CreateToken(ctx, t); err != nil {
		a.storeFail(w, "grant", err)
		return
	}
	a.log.Info("operator grant created", "grant", t.ID, "user", u.ID, "org", u.OrgID, "role", role, "expires", t.Expires)
	Reply(w, http.StatusCreated, adminToken(t))
}

// revokeAdminToken revokes an admin token, but not the last owner token
// that still works: nobody could then make admin tokens again. An owner's
// grant does not count: it makes no admin tokens (the console has no
// route to) and iscctl cannot use it.
func (a *API) revokeAdminToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	toks, err := a.dir.Tokens(r.Context(), "")
	if err != nil {
		a.storeFail(w, "tokens", err)
		return
	}
	var target *store.Token
	owners := 0
	for i, t := range toks {
		if t.Kind != token.PrefixAdmin {
			continue
		}
		if t.ID == id {
			target = &toks[i]
		}
		if roleOf(t) == adminapi.RoleOwner && t.UserID == "" && a.works(t) {
			owners++
		}
	}
	switch {
	case target == nil:
		Fail(w, http.StatusNotFound, wire.CodeNotFound, "admin token "+id+" not found")
		return
	case target.Revoked:
		w.WriteHeader(http.StatusNoContent)
		return
	case roleOf(*target) == adminapi.RoleOwner && target.UserID == "" && owners == 1 && a.works(*target):
		Fail(w, http.StatusConflict, "conflict", "admin token "+id+" is the last owner token: create another one first")
		return
	}
	if err := a.dir.RevokeToken(r.Context(), id); err != nil {
		a.storeFail(w, "admin token "+id, err)
		return
	}
	a.log.Info("admin token revoked", "token", id, "user", target.UserID)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) listProducts(w http.ResponseWriter, r *http.Request) {
	ps, err := a.dir.Products(r.Context())
	if err != nil {
		a.storeFail(w, "products", err)
		return
	}
	Reply(w, http.StatusOK, Each(ps, Product))
}

func (a *API) createProduct(w http.ResponseWriter, r *http.Request) {
	var req adminapi.CreateProduct
	if !Decode(w, r, &req) || !CheckText(w, "id", req.ID, true, 64) || !CheckID(w, "id", req.ID) || !CheckText(w, "name", req.Name, true, 200) {
		return
	}
	p := store.Product{ID: req.ID, Name: req.Name, Created: now(), RequireLicense: (*store.LicenseGates)(req.RequireLicense)}
	if err := a.dir.CreateProduct(r.Context(), p); err != nil {
		a.storeFail(w, "product "+p.ID, err)
		return
	}
	a.log.Info("product created", "product", p.ID, "requireLicense", p.RequireLicense)
	Reply(w, http.StatusCreated, Product(p))
}

func (a *API) updateProduct(w http.ResponseWriter, r *http.Request) {
	var req adminapi.UpdateProduct
	if !Decode(w, r, &req) || (req.Name != nil && !CheckText(w, "name", *req.Name, true, 200)) {
		return
	}
	id := r.PathValue("id")
	var p store.Product
	err := a.dir.UpdateProduct(r.Context(), id, func(stored *store.Product) error {
		if req.Name != nil {
			stored.Name = *req.Name
		}
		if req.RequireLicense != nil {
			stored.RequireLicense = (*store.LicenseGates)(req.RequireLicense)
		}
		p = *stored
		return nil
	})
	if err != nil {
		a.storeFail(w, "product "+id, err)
		return
	}
	a.log.Info("product updated", "product", id, "requireLicense", p.RequireLicense)
	Reply(w, http.StatusOK, Product(p))
}

func (a *API) listSessions(w http.ResponseWriter, r *http.Request) {
	ss, err := a.hub.Sessions(r.Context())
	if err != nil {
		a.storeFail(w, "sessions", err)
		return
	}
	q := r.URL.Query()
	var out []adminapi.Session
	if ss != nil {
		out = make([]adminapi.Session, 0, len(ss))
	}
	for _, s := range ss {
		if (q.Get("product") == "" || s.ProductID == q.Get("product")) && (q.Get("org") == "" || s.OrgID == q.Get("org")) {
			out = append(out, Session(s))
		}
	}
	Reply(w, http.StatusOK, out)
}

func (a *API) endSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !a.hub.End(r.Context(), id, "ended by an operator") {
		Fail(w, http.StatusNotFound, wire.CodeNotFound, "no session "+id)
		return
	}
	a.log.Info("session ended by operator", "session", id)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) disconnectSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !a.hub.Disconnect(id) {
		Fail(w, http.StatusNotFound, wire.CodeNotFound, "session "+id+" is not connected")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) notice(w http.ResponseWriter, r *http.Request) {
	var req adminapi.Notice
	if !Decode(w, r, &req) || !CheckText(w, "title", req.Title, false, 200) || !CheckText(w, "text", req.Text, true, 4096) {
		return
	}
	ev := wire.Event{Kind: wire.KindNotice, Operate: "Notice", Params: map[string]string{"title": req.Title, "text": req.Text}}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	var n int
	var err error
	if req.SessionID != "" {
		_, err = a.hub.Publish(ctx, req.SessionID, ev)
		n = 1
	} else {
		n, err = a.hub.PublishAll(ctx, session.Filter{ProductID: req.ProductID, OrgID: req.OrgID, UserID: req.UserID}, ev)
	}
	if err != nil {
		what := "notice"
		if req.SessionID != "" {
			what = "session " + req.SessionID
		}
		a.storeFail(w, what, err)
		return
	}
	Reply(w, http.StatusOK, adminapi.NoticeSent{Sessions: n})
}
