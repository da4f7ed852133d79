package signin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
)

// Paths of the browser sign-in.
const (
	AuthorizePath = "/oauth/authorize" // a program's authorization request (RFC 6749 4.1, PKCE, loopback)
	ChooserPath   = "/signin"          // who are you: an email (its organisation's provider), an API token
	CallbackPath  = "/signin/callback" // where upstream providers send the browser back
)

// GrantTypeCode is the authorization-code grant.
const GrantTypeCode = "authorization_code"

// How long the pieces of a browser sign-in live.
const (
	flowTTL = 10 * time.Minute // from the program's request to the code
	codeTTL = time.Minute      // from the code to the program's token request
)

// FlowCookie binds a flow sent upstream to the browser that was sent: a
// callback that arrives in another browser (someone else's link) is
// refused.
const FlowCookie = "iscd_signin"

// newFlow stores a browser flow and returns the token the browser carries.
func (s *Service) newFlow(ctx context.Context, f store.BrowserFlow) (string, error) {
	s.sweepExpired(ctx)
	now := s.cfg.Now()
	f.ID = token.ID()
	tok, hash := token.NewWithID(token.PrefixFlow, f.ID)
	f.SecretHash, f.State, f.Created, f.Expires = hash, store.GrantPending, now, now.Add(flowTTL)
	if err := s.st.CreateBrowserFlow(ctx, f); err != nil {
		s.log.Error("sign-in: store a browser flow", "err", err)
		return "", err
	}
	return tok, nil
}

var errBadFlow = errors.New("unknown, spent or expired sign-in")

// flow is the pending flow tok names, after change (nil: none).
func (s *Service) flow(ctx context.Context, tok string, change func(*store.BrowserFlow) error) (store.BrowserFlow, error) {
	id, secret, err := token.Parse(token.PrefixFlow, tok)
	if err != nil {
		return store.BrowserFlow{}, errBadFlow
	}
	now := s.cfg.Now()
	f, err := s.st.UpdateBrowserFlow(ctx, id, func(f *store.BrowserFlow) error {
		if !token.Verify(secret, f.SecretHash) || f.State != store.GrantPending || now.After(f.Expires) {
			return errBadFlow
		}
		if change != nil {
			return change(f)
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return f, errBadFlow
	}
	return f, err
}

// authorize is a program's authorization request: response_type=code,
// client_id (the product), redirect_uri (http://127.0.0.1:PORT/… or
// [::1], RFC 8252 7.3), state, code_challenge with method S256, and
// optionally org (that organisation's provider, and only its users) and
// login_hint (an email: its organisation's provider).
func (s *Service) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	product, redirect := q.Get("client_id"), q.Get("redirect_uri")
	// Until the client and its redirect URI are known good, errors are
	// shown, never sent anywhere (RFC 6749 4.1.2.1).
	if _, err := s.st.Product(r.Context(), product); product == "" || len(product) > 256 || err != nil {
		s.pageError(w, r, http.StatusBadRequest, "badClient")
		return
	}
	if !loopback(redirect) {
		s.pageError(w, r, http.StatusBadRequest, "badRedirect")
		return
	}
	state, challenge := q.Get("state"), q.Get("code_challenge")
	back := func(code, desc string) {
		redirectTo(w, r, redirect, url.Values{"error": {code}, "error_description": {desc}, "state": {state}})
	}
	switch {
	case q.Get("response_type") != "code":
		back("unsupported_response_type", "response_type: code")
		return
	case state == "" || len(state) > 512:
		back("invalid_request", "state: 1 to 512 characters")
		return
	case q.Get("code_challenge_method") != "S256" || len(challenge) != 43:
		back("invalid_request", "code_challenge: PKCE, S256")
		return
	}
	if s.starts.add(clientIP(r)) {
		back("temporarily_unavailable", "too many sign-ins started from this address: wait a minute")
		return
	}
	org := q.Get("org")
	if org != "" {
		if o, err := s.st.Org(r.Context(), org); err != nil || o.Closed {
			back("invalid_request", "org: unknown organisation")
			return
		}
	}
	tok, err := s.newFlow(r.Context(), store.BrowserFlow{Then: store.FlowAuthorize, OrgID: org, ProductID: product,
		RedirectURI: redirect, Challenge: challenge, ClientState: state})
	if err != nil {
		back("temporarily_unavailable", "iscd failed; try again")
		return
	}
	next := ChooserPath + "?flow=" + url.QueryEscape(tok)
	if hint := q.Get("login_hint"); hint != "" && len(hint) <= 256 {
		next += "&login_hint=" + url.QueryEscape(hint)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// loopback says whether uri is a loopback redirect a program may name:
// http, 127.x.x.x or [::1] (not "localhost", which a resolver may send
// elsewhere: RFC 8252 8.3; not an IPv4-mapped spelling), any port, no
// user, no fragment.
func loopback(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || len(uri) > 512 || u.Scheme != "http" || u.User != nil || u.Fragment != "" || u.Port() == "" {
		return false
	}
	h := u.Hostname()
	if h == "::1" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && !strings.Contains(h, ":") && ip.IsLoopback()
}

// redirectTo sends the browser to base with q added to its query.
func redirectTo(w http.ResponseWriter, r *http.Request, base string, q url.Values) {
	u, _ := url.Parse(base)
	v := u.Query()
	for k, vs := range q {
		v[k] = vs
	}
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// chooser is the page that asks who the user is, for the flow ?flow=
// names. When the flow names an organisation, or login_hint an email,
// whose provider is known, the browser goes straight there.
func (s *Service) chooser(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("flow")
	f, err := s.flow(r.Context(), tok, nil)
	if err != nil {
		s.pageError(w, r, http.StatusBadRequest, "badFlow")
		return
	}
	hint := r.URL.Query().Get("login_hint")
	if f.OrgID != "" || hint != "" {
		if id, err := s.findUpstream(r.Context(), f.OrgID, hint); err == nil {
			s.toUpstream(w, r, tok, id)
			return
		}
	}
	s.renderChooser(w, r, http.StatusOK, tok, hint, "")
}

// choose answers the chooser's form: an email (its organisation's
// provider), or an API token, or on a dev server nothing (the dev user).
func (s *Service) choose(w http.ResponseWriter, r *http.Request) {
	if err := readForm(w, r); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	tok, email := r.PostForm.Get("flow"), strings.TrimSpace(r.PostForm.Get("email"))
	f, err := s.flow(r.Context(), tok, nil)
	if err != nil {
		s.pageError(w, r, http.StatusBadRequest, "badFlow")
		return
	}
	if email != "" {
		id, err := s.findUpstream(r.Context(), f.OrgID, email)
		if err != nil {
			s.renderChooser(w, r, http.StatusBadRequest, tok, email, "noProvider")
			return
		}
		s.toUpstream(w, r, tok, id)
		return
	}
	u, msg := s.pageUser(r.Context(), r.PostForm.Get("api_token"))
	if msg != "" {
		s.renderChooser(w, r, http.StatusUnauthorized, tok, "", msg)
		return
	}
	if f.OrgID != "" && u.OrgID != f.OrgID {
		s.renderChooser(w, r, http.StatusForbidden, tok, "", "otherOrg")
		return
	}
	s.finish(w, r, tok, u, nil)
}

// toUpstream sends the browser to provider id, remembering what it was
// sent with.
func (s *Service) toUpstream(w http.ResponseWriter, r *http.Request, tok, id string) {
	up, err := s.upstream(r.Context(), id)
	if err != nil {
		s.log.Error("sign-in: the provider found is not there", "provider", id, "err", err)
		s.pageError(w, r, http.StatusServiceUnavailable, "failed")
		return
	}
	req := UpstreamRequest{RedirectURI: s.baseURL(r) + CallbackPath, State: tok, Nonce: rand.Text(), Verifier: rand.Text() + rand.Text()}
	if _, err := s.flow(r.Context(), tok, func(f *store.BrowserFlow) error {
		f.Provider, f.Nonce, f.Verifier = id, req.Nonce, req.Verifier
		return nil
	}); err != nil {
		s.pageError(w, r, http.StatusBadRequest, "badFlow")
		return
	}
	to, err := up.AuthURL(r.Context(), req)
	if err != nil {
		s.log.Error("sign-in: the provider's page", "provider", id, "err", err)
		s.pageError(w, r, http.StatusServiceUnavailable, "providerDown")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: FlowCookie, Value: tok, Path: ChooserPath, MaxAge: int(flowTTL / time.Second),
		HttpOnly: true, Secure: strings.HasPrefix(s.baseURL(r), "https:"), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// callback is where a provider sends the browser back: code and state,
// or error.
func (s *Service) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tok := q.Get("state")
	c, err := r.Cookie(FlowCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(tok)) != 1 {
		// Not the browser that was sent (a link from someone else), or
		// a state the provider did not get from us.
		s.log.Warn("sign-in: a provider's callback with a state this browser was not given")
		s.pageError(w, r, http.StatusBadRequest, "badFlow")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: FlowCookie, Path: ChooserPath, MaxAge: -1})
	var req UpstreamRequest
	f, err := s.flow(r.Context(), tok, func(f *store.BrowserFlow) error {
		if f.Provider == "" || f.Verifier == "" {
			return errBadFlow // not sent upstream, or back once already
		}
		req = UpstreamRequest{RedirectURI: s.baseURL(r) + CallbackPath, State: tok, Nonce: f.Nonce, Verifier: f.Verifier}
		f.Nonce, f.Verifier = "", "" // one callback per flow
		return nil
	})
	if err != nil {
		s.pageError(w, r, http.StatusBadRequest, "badFlow")
		return
	}
	if e := q.Get("error"); e != "" {
		s.log.Info("sign-in: the provider refused", "provider", f.Provider, "error", e)
		s.finish(w, r, tok, store.User{}, errRefused)
		return
	}
	up, err := s.upstream(r.Context(), f.Provider)
	if err != nil {
		s.log.Error("sign-in: the flow's provider is gone", "provider", f.Provider, "err", err)
		s.finish(w, r, tok, store.User{}, errRefused)
		return
	}
	claims, err := up.Identify(r.Context(), q.Get("code"), req)
	if err != nil {
		s.log.Warn("sign-in: no user from the provider", "provider", f.Provider, "err", err)
		s.finish(w, r, tok, store.User{}, errRefused)
		return
	}
	if f.OrgID != "" && claims.OrgID != f.OrgID {
		s.log.Warn("sign-in: a user of another organisation than the program named", "provider", f.Provider, "org", claims.OrgID)
		s.finish(w, r, tok, store.User{}, errRefused)
		return
	}
	u, err := s.userOf(r.Context(), f.Provider, claims)
	if err != nil {
		s.log.Warn("sign-in: user refused", "provider", f.Provider, "err", err)
		s.finish(w, r, tok, store.User{}, errRefused)
		return
	}
	s.finish(w, r, tok, u, nil)
}

var errRefused = errors.New("the sign-in was refused")

// finish ends a flow whose user is known (or refused: refusal set): a
// program's gets a code at its loopback, another page's continuation
// runs.
func (s *Service) finish(w http.ResponseWriter, r *http.Request, tok string, u store.User, refusal error) {
	now := s.cfg.Now()
	code := ""
	f, err := s.flow(r.Context(), tok, func(f *store.BrowserFlow) error {
		if refusal != nil {
			f.State = store.GrantDenied
			return nil
		}
		f.UserID = u.ID
		if f.Then != store.FlowAuthorize {
			f.State = store.GrantDone
			return nil
		}
		var hash string
		code, hash = token.NewWithID(token.PrefixCode, f.ID)
		f.CodeHash, f.CodeExpires, f.State = hash, now.Add(codeTTL), store.GrantApproved
		return nil
	})
	if err != nil {
		s.pageError(w, r, http.StatusBadRequest, "badFlow")
		return
	}
	if f.Then == store.FlowAuthorize {
		if refusal != nil {
			redirectTo(w, r, f.RedirectURI, url.Values{"error": {"access_denied"}, "error_description": {"the sign-in was refused"}, "state": {f.ClientState}})
			return
		}
		s.log.Info("sign-in: code issued", "user", u.ID, "product", f.ProductID)
		redirectTo(w, r, f.RedirectURI, url.Values{"code": {code}, "state": {f.ClientState}})
		return
	}
	if refusal != nil {
		s.pageError(w, r, http.StatusForbidden, "refused")
		return
	}
	then := s.continuation(f.Then)
	if then == nil { // begun on a replica that has it, back on one that has not
		s.log.Error("sign-in: no continuation", "then", f.Then)
		s.pageError(w, r, http.StatusServiceUnavailable, "failed")
		return
	}
	then(w, r, u, f.Data)
}

// codeGrant redeems an authorization code: once, within a minute, by the
// product it was issued to, with the redirect URI it was sent to and the
// PKCE verifier of its challenge. A code presented again revokes the
// sign-in it gave (RFC 6749 4.1.2: it was intercepted).
func (s *Service) codeGrant(ctx context.Context, product, device string, f url.Values) (*Tokens, error) {
	id, secret, err := token.Parse(token.PrefixCode, f.Get("code"))
	if err != nil {
		return nil, fail("invalid_grant", "code: malformed")
	}
	verifier, redirect := f.Get("code_verifier"), f.Get("redirect_uri")
	now := s.cfg.Now()
	var (
		outcome *oauthError
		reused  string
	)
	fid := token.ID()
	flow, err := s.st.UpdateBrowserFlow(ctx, id, func(fl *store.BrowserFlow) error {
		outcome, reused = nil, ""
		if fl.CodeHash == "" || !token.Verify(secret, fl.CodeHash) {
			return fail("invalid_grant", "code: unknown")
		}
		switch {
		case fl.State == store.GrantDone:
			reused = fl.FamilyID
			return fail("invalid_grant", "code: already used; the sign-in it gave is revoked")
		case fl.State != store.GrantApproved:
			return fail("invalid_grant", "code: unknown")
		}
		fl.State = store.GrantDone // spent, whatever follows
		switch {
		case now.After(fl.CodeExpires):
			outcome = fail("invalid_grant", "code: expired")
		case fl.ProductID != product:
			outcome = fail("invalid_grant", "code: issued to another client")
		case fl.RedirectURI != redirect:
			outcome = fail("invalid_grant", "redirect_uri: not the one the code was sent to")
		case !pkceMatches(verifier, fl.Challenge):
			outcome = fail("invalid_grant", "code_verifier: does not match the code_challenge")
		default:
			fl.FamilyID = fid
		}
		return nil
	})
	var oe *oauthError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, fail("invalid_grant", "code: unknown")
	case errors.As(err, &oe):
		if reused != "" {
			s.revokeFamily(ctx, reused, "authorization code used twice")
		}
		return nil, oe
	case err != nil:
		return nil, s.internal("redeem a code", err)
	}
	if outcome != nil {
		s.log.Warn("sign-in: code refused", "flow", id, "why", outcome.desc)
		return nil, outcome
	}
	return s.issueFamily(ctx, fid, flow.UserID, product, token.Hash(device))
}

// pkceMatches checks RFC 7636's S256 in constant time.
func pkceMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// revokeFamily revokes a refresh family and ends its sessions.
func (s *Service) revokeFamily(ctx context.Context, fid, why string) {
	if _, err := s.st.UpdateRefreshFamily(ctx, fid, func(f *store.RefreshFamily) error { f.Revoked = true; return nil }); err != nil {
		s.log.Error("sign-in: revoke a refresh family", "family", fid, "err", err)
		return
	}
	s.log.Warn("sign-in: refresh family revoked", "family", fid, "why", why)
	s.endSessions(ctx, fid)
}
