// Package signin makes iscd the authorization server of its desktop
// programs: the device authorization grant (RFC 8628), with a page where
// the user confirms the code, short-lived access tokens and refresh tokens
// that rotate on every use, bound to the device's fingerprint.
//
// A replayed refresh token (one already rotated away) revokes its whole
// family, and with it the access token last issued: whoever holds a copy,
// thief or program, must sign in again.
//
// Who the user is on the verification page is asked of a PageAuth: for now
// an API token pasted on the page, or the dev user in dev mode. Federation
// (OpenID Connect, the marketplace's unified login) plugs in there.
package signin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
)

// Paths of the endpoints.
const (
	DeviceAuthorizationPath = "/oauth/device_authorization"
	TokenPath               = "/oauth/token"
	RevokePath              = "/oauth/revoke"
	VerificationPath        = "/device"
)

// GrantTypeDeviceCode is RFC 8628's grant type.
const GrantTypeDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// Limits on what a client sends.
const (
	maxForm        = 8 << 10
	maxFingerprint = 256
	maxPrevious    = 64 // rotated-away refresh hashes remembered per family
)

// Config tunes the service; zero fields take the defaults.
type Config struct {
	AccessTTL  time.Duration // an access token's life; 10 min
	RefreshTTL time.Duration // a refresh family's life, however often it rotates; 30 days
	GrantTTL   time.Duration // a device code's life; 10 min
	Interval   time.Duration // the least time between polls, and slow_down's step; 5 s
	// PublicURL is the address browsers and programs reach iscd at
	// (https://iscd.example, no trailing slash), when a proxy in front of
	// iscd serves TLS: the verification URI and the identity providers'
	// callback (registered at the providers) are built on it. "": the
	// request's own scheme and host.
	PublicURL string
	// DevUserID, when set (dev mode), lets the verification page confirm
	// as that user without a token.
	DevUserID string
	Now       func() time.Time
}

func (c *Config) defaults() {
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.AccessTTL <= 0 {
		c.AccessTTL = 10 * time.Minute
	}
	if c.RefreshTTL <= 0 {
		c.RefreshTTL = 30 * 24 * time.Hour
	}
	if c.GrantTTL <= 0 {
		c.GrantTTL = 10 * time.Minute
	}
	if c.Interval <= 0 {
		c.Interval = 5 * time.Second
	}
	c.Interval = max(c.Interval.Truncate(time.Second), time.Second) // the grant keeps whole seconds
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Store is what the service keeps.
type Store interface {
	store.SignIns
	store.Federation
	User(ctx context.Context, id string) (store.User, error)
	Users(ctx context.Context, orgID string) ([]store.User, error)
	CreateUser(ctx context.Context, u store.User) error
	Org(ctx context.Context, id string) (store.Org, error)
	Product(ctx context.Context, id string) (store.Product, error)
}

// Sessions ends the connections opened with a revoked family's access
// token (their session.Identity.TokenID is the family's id).
type Sessions interface {
	EndToken(ctx context.Context, tokenID string) int
}

// Limits of the endpoints anyone can call.
const (
	startsPerMinute = 60 // device authorizations per client address a minute
	wrongCodes      = 10 // codes a user may get wrong on the page in 10 minutes
)

// Service serves the endpoints.
type Service struct {
	st   Store
	auth session.Authenticator // the page's sign-in: an API token
	ends Sessions
	log  *slog.Logger
	cfg  Config

	starts *window // device authorizations and authorization requests per client address
	wrong  *window // wrong codes on the page per user
	swept  time.Time
	sweep  sync.Mutex

	mu        sync.RWMutex
	upstreams []Upstreams         // identity providers, by kind (AddUpstreams)
	then      map[string]SignedIn // what browser sign-ins were for (OnSignedIn)
}

// New returns the service. auth checks the API token pasted on the
// verification page.
func New(st Store, auth session.Authenticator, ends Sessions, log *slog.Logger, cfg Config) *Service {
	cfg.defaults()
	s := &Service{st: st, auth: auth, ends: ends, log: log, cfg: cfg, then: map[string]SignedIn{},
		starts: newWindow(time.Minute, startsPerMinute, cfg.Now), wrong: newWindow(10*time.Minute, wrongCodes, cfg.Now)}
	s.then[deviceThen] = s.deviceSignedIn
	return s
}

// Mount registers the endpoints on mux.
func (s *Service) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST "+DeviceAuthorizationPath, s.deviceAuthorization)
	mux.HandleFunc("POST "+TokenPath, s.token)
	mux.HandleFunc("POST "+RevokePath, s.revoke)
	mux.HandleFunc("GET "+VerificationPath, s.page)
	mux.HandleFunc("POST "+VerificationPath, s.confirm)
	mux.HandleFunc("GET "+AuthorizePath, s.authorize)
	mux.HandleFunc("GET "+ChooserPath, s.chooser)
	mux.HandleFunc("POST "+ChooserPath, s.choose)
	mux.HandleFunc("GET "+CallbackPath, s.callback)
	mux.HandleFunc("GET "+SignOutPath, s.signOut)
	mux.HandleFunc("GET "+SignedOutPath, s.signedOut)
}

// userCodeAlphabet has no vowels (no words) and no look-alikes (RFC 8628 6.1).
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// newUserCode returns 8 characters (20^8, 34 bits) as XXXX-XXXX.
func newUserCode() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	var sb strings.Builder
	for i, c := range b {
		if i == 4 {
			sb.WriteByte('-')
		}
		sb.WriteByte(userCodeAlphabet[int(c)%len(userCodeAlphabet)]) // 256 % 20: a bias of under 2%
	}
	return sb.String()
}

// grantID is the store key of a user code: the page finds the grant by
// the code alone, and the store holds no code.
func grantID(userCode string) string {
	var sb strings.Builder
	for _, r := range strings.ToUpper(userCode) {
		if strings.ContainsRune(userCodeAlphabet, r) {
			sb.WriteRune(r)
		}
	}
	if sb.Len() != 8 {
		return ""
	}
	return token.Hash("user-code:" + sb.String())[:32]
}

// oauthError is an RFC 6749 5.2 error answer.
type oauthError struct {
	status int
	code   string // "error"
	desc   string // "error_description"
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

func fail(code, desc string) *oauthError { return &oauthError{http.StatusBadRequest, code, desc} }

var errInvalidClient = &oauthError{http.StatusUnauthorized, "invalid_client", "unknown client_id (the product id)"}

// deviceAuthorization starts a grant: form client_id (the product id),
// device (its fingerprint) and, optionally, org (only that org's users may
// confirm).
func (s *Service) deviceAuthorization(w http.ResponseWriter, r *http.Request) {
	if err := readForm(w, r); err != nil {
		writeError(w, err)
		return
	}
	if s.starts.add(clientIP(r)) {
		w.Header().Set("Retry-After", "60")
		writeError(w, &oauthError{http.StatusTooManyRequests, "slow_down", "too many sign-ins started from this address: wait a minute"})
		return
	}
	s.sweepExpired(r.Context())
	product, device, org := r.PostForm.Get("client_id"), r.PostForm.Get("device"), r.PostForm.Get("org")
	if _, err := s.st.Product(r.Context(), product); product == "" || err != nil {
		writeError(w, errInvalidClient)
		return
	}
	if device == "" || len(device) > maxFingerprint {
		writeError(w, fail("invalid_request", "device: the fingerprint, 1 to 256 bytes"))
		return
	}
	if org != "" {
		if o, err := s.st.Org(r.Context(), org); err != nil || o.Closed {
			writeError(w, fail("invalid_request", "org: unknown organisation"))
			return
		}
	}
	now := s.cfg.Now()
	for range 4 { // a user code taken by a live grant: draw again
		code := newUserCode()
		id := grantID(code)
		deviceCode, hash := token.NewWithID(token.PrefixDevice, id)
		g := store.DeviceGrant{ID: id, SecretHash: hash, DeviceHash: token.Hash(device), ProductID: product, OrgID: org,
			State: store.GrantPending, Interval: int(s.cfg.Interval / time.Second), Created: now, Expires: now.Add(s.cfg.GrantTTL)}
		err := s.st.CreateDeviceGrant(r.Context(), g)
		if errors.Is(err, store.ErrExists) {
			if old, err := s.st.UpdateDeviceGrant(r.Context(), id, func(*store.DeviceGrant) error { return nil }); err == nil && now.After(old.Expires) {
				_ = s.st.DeleteDeviceGrant(r.Context(), id)
			}
			continue
		}
		if err != nil {
			s.log.Error("sign-in: store a device grant", "err", err)
			writeError(w, &oauthError{http.StatusServiceUnavailable, "temporarily_unavailable", "try again"})
			return
		}
		base := s.baseURL(r)
		complete := base + VerificationPath + "?user_code=" + code
		if org != "" {
			// The page then signs the user in through that organisation's
			// provider (the unified login's tenants have no email domain
			// to be found by); the grant still takes only its users.
			complete += "&org=" + url.QueryEscape(org)
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"device_code":               deviceCode,
			"user_code":                 code,
			"verification_uri":          base + VerificationPath,
			"verification_uri_complete": complete,
			"expires_in":                int(s.cfg.GrantTTL / time.Second),
			"interval":                  g.Interval,
		})
		return
	}
	writeError(w, &oauthError{http.StatusServiceUnavailable, "temporarily_unavailable", "try again"})
}

// sweepExpired deletes the grants that expired, at most once a minute.
func (s *Service) sweepExpired(ctx context.Context) {
	s.sweep.Lock()
	defer s.sweep.Unlock()
	now := s.cfg.Now()
	if now.Sub(s.swept) < time.Minute {
		return
	}
	s.swept = now
	if n, err := s.st.DeleteExpiredDeviceGrants(ctx, now); err != nil {
		s.log.Warn("sign-in: sweep expired device grants", "err", err)
	} else if n > 0 {
		s.log.Info("sign-in: expired device grants swept", "count", n)
	}
	if n, err := s.st.DeleteExpiredBrowserFlows(ctx, now.Add(-time.Hour)); err != nil { // an hour on: a code used twice is still seen
		s.log.Warn("sign-in: sweep expired browser sign-ins", "err", err)
	} else if n > 0 {
		s.log.Info("sign-in: expired browser sign-ins swept", "count", n)
	}
}

// baseURL is iscd's address for the URLs it hands out (the verification
// URI, the providers' callback): Config.PublicURL, else the address the
// request reached iscd at.
func (s *Service) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Service) token(w http.ResponseWriter, r *http.Request) {
	if err := readForm(w, r); err != nil {
		writeError(w, err)
		return
	}
	f := r.PostForm
	product, device := f.Get("client_id"), f.Get("device")
	if product == "" || len(product) > 256 {
		writeError(w, errInvalidClient)
		return
	}
	if device == "" || len(device) > maxFingerprint {
		writeError(w, fail("invalid_request", "device: the fingerprint, 1 to 256 bytes"))
		return
	}
	var (
		out *Tokens
		err error
	)
	switch f.Get("grant_type") {
	case GrantTypeDeviceCode:
		out, err = s.deviceCodeGrant(r.Context(), product, device, f.Get("device_code"))
	case "refresh_token":
		out, err = s.refreshGrant(r.Context(), product, device, f.Get("refresh_token"))
	case GrantTypeCode:
		out, err = s.codeGrant(r.Context(), product, device, f)
	default:
		err = fail("unsupported_grant_type", "grant_type: "+GrantTypeCode+", "+GrantTypeDeviceCode+" or refresh_token")
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// Tokens is the token endpoint's answer.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	User         User   `json:"user"`
}

// User is who signed in, as the token endpoint tells the program.
type User struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Email        string   `json:"email,omitempty"`
	OrgID        string   `json:"orgId"`
	Organisation string   `json:"organisation"`
	Department   string   `json:"department,omitempty"`
	Roles        []string `json:"roles,omitempty"`
}

func (s *Service) deviceCodeGrant(ctx context.Context, product, device, code string) (*Tokens, error) {
	id, secret, err := token.Parse(token.PrefixDevice, code)
	if err != nil {
		return nil, fail("invalid_grant", "device_code: malformed")
	}
	now := s.cfg.Now()
	var outcome *oauthError
	g, err := s.st.UpdateDeviceGrant(ctx, id, func(g *store.DeviceGrant) error {
		outcome = nil
		if !token.Verify(secret, g.SecretHash) {
			return fail("invalid_grant", "device_code: unknown")
		}
		if !token.Verify(device, g.DeviceHash) || g.ProductID != product {
			return fail("invalid_grant", "device_code: issued to another device or client")
		}
		if now.After(g.Expires) {
			return fail("expired_token", "the code expired: start again")
		}
		if !g.LastPoll.IsZero() && now.Sub(g.LastPoll) < time.Duration(g.Interval)*time.Second {
			g.Interval += int(s.cfg.Interval / time.Second)
			g.LastPoll = now
			outcome = fail("slow_down", fmt.Sprintf("poll every %d s", g.Interval))
			return nil
		}
		g.LastPoll = now
		switch g.State {
		case store.GrantPending:
			outcome = fail("authorization_pending", "the user has not confirmed the code yet")
		case store.GrantDenied:
			return fail("access_denied", "the user denied the sign-in")
		case store.GrantApproved:
			g.State = store.GrantDone
		default:
			return fail("invalid_grant", "device_code: already used")
		}
		return nil
	})
	var oe *oauthError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, fail("invalid_grant", "device_code: unknown")
	case errors.As(err, &oe):
		return nil, oe
	case err != nil:
		return nil, s.internal("poll a device grant", err)
	}
	if outcome != nil {
		return nil, outcome
	}
	_ = s.st.DeleteDeviceGrant(ctx, g.ID) // spent; a second poll finds nothing
	return s.issueFamily(ctx, token.ID(), g.UserID, product, g.DeviceHash)
}

// issueFamily starts refresh family fid for a user and hands out its
// first tokens.
func (s *Service) issueFamily(ctx context.Context, fid, userID, product, deviceHash string) (*Tokens, error) {
	u, err := s.allowed(ctx, userID)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	refresh, hash := token.NewWithID(token.PrefixRefresh, fid)
	f := store.RefreshFamily{ID: fid, UserID: u.ID, OrgID: u.OrgID, ProductID: product, DeviceHash: deviceHash,
		CurrentHash: hash, Created: now, Rotated: now, Expires: now.Add(s.cfg.RefreshTTL)}
	access := s.newAccess(&f, now)
	if err := s.st.CreateRefreshFamily(ctx, f); err != nil {
		return nil, s.internal("store a refresh family", err)
	}
	return s.tokens(ctx, u, access, refresh), nil
}

// allowed is the user, if their tokens are not refused.
func (s *Service) allowed(ctx context.Context, userID string) (store.User, error) {
	u, err := s.st.User(ctx, userID)
	if err != nil {
		return u, fail("invalid_grant", "the user is unknown")
	}
	if why := u.Refused(); why != "" {
		return u, fail("invalid_grant", why)
	}
	if o, err := s.st.Org(ctx, u.OrgID); err != nil || o.Closed {
		return u, fail("invalid_grant", "the organisation is closed")
	}
	return u, nil
}

// newAccess gives f a new access token, replacing the one it had.
func (s *Service) newAccess(f *store.RefreshFamily, now time.Time) string {
	tok, hash := token.NewWithID(token.PrefixAccess, f.ID)
	f.AccessHash, f.AccessExpires = hash, now.Add(s.cfg.AccessTTL)
	return tok
}

func (s *Service) tokens(ctx context.Context, u store.User, access, refresh string) *Tokens {
	out := &Tokens{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(s.cfg.AccessTTL / time.Second), RefreshToken: refresh,
		User: User{ID: u.ID, Name: u.Name, Email: u.Email, OrgID: u.OrgID, Department: u.Department}}
	if o, err := s.st.Org(ctx, u.OrgID); err == nil {
		out.User.Organisation = o.Name
	}
	if u.Role != "" {
		out.User.Roles = []string{u.Role}
	}
	return out
}

// refreshGrant rotates a refresh token. The one current token gets a new
// pair; a token rotated away before revokes the family (it was copied); a
// good token from another device revokes it too (it was stolen).
func (s *Service) refreshGrant(ctx context.Context, product, device, refresh string) (*Tokens, error) {
	fid, secret, err := token.Parse(token.PrefixRefresh, refresh)
	if err != nil {
		return nil, fail("invalid_grant", "refresh_token: malformed")
	}
	now := s.cfg.Now()
	var (
		outcome        *oauthError
		newTok, access string
	)
	f, err := s.st.UpdateRefreshFamily(ctx, fid, func(f *store.RefreshFamily) error {
		outcome, newTok, access = nil, "", ""
		if f.Revoked {
			return fail("invalid_grant", "refresh_token: revoked")
		}
		current := token.Verify(secret, f.CurrentHash)
		reused := false
		for _, h := range f.Previous {
			reused = token.Verify(secret, h) || reused
		}
		switch {
		case !current && !reused:
			return fail("invalid_grant", "refresh_token: unknown")
		case reused:
			f.Revoked = true
			outcome = fail("invalid_grant", "refresh_token: used twice; every token of this sign-in is revoked")
			return nil
		case !token.Verify(device, f.DeviceHash) || f.ProductID != product:
			f.Revoked = true
			outcome = fail("invalid_grant", "refresh_token: issued to another device; every token of this sign-in is revoked")
			return nil
		case now.After(f.Expires):
			return fail("invalid_grant", "refresh_token: expired; sign in again")
		}
		var hash string
		newTok, hash = token.NewWithID(token.PrefixRefresh, fid)
		f.Previous = append(f.Previous, f.CurrentHash)
		if len(f.Previous) > maxPrevious {
			f.Previous = f.Previous[len(f.Previous)-maxPrevious:]
		}
		f.CurrentHash, f.Rotated = hash, now
		access = s.newAccess(f, now)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail("invalid_grant", "refresh_token: unknown")
	}
	if err != nil {
		var oe *oauthError
		if errors.As(err, &oe) {
			return nil, oe
		}
		return nil, s.internal("rotate a refresh token", err)
	}
	if outcome != nil {
		s.log.Warn("sign-in: refresh family revoked", "family", fid, "user", f.UserID, "why", outcome.desc)
		s.endSessions(ctx, fid)
		return nil, outcome
	}
	u, err := s.allowed(ctx, f.UserID)
	if err != nil {
		return nil, err
	}
	return s.tokens(ctx, u, access, newTok), nil
}

// endSessions ends the sessions opened with a revoked family's access
// tokens (their access tokens are refused from now on: the family is).
func (s *Service) endSessions(ctx context.Context, family string) {
	if s.ends != nil {
		s.ends.EndToken(ctx, family)
	}
}

// revoke is sign-out (RFC 7009): form token, a refresh token. The family
// and its access token are revoked. Per RFC 7009 an unknown token is
// answered 200 too.
func (s *Service) revoke(w http.ResponseWriter, r *http.Request) {
	if err := readForm(w, r); err != nil {
		writeError(w, err)
		return
	}
	fid, secret, err := token.Parse(token.PrefixRefresh, r.PostForm.Get("token"))
	if err == nil {
		_, err = s.st.UpdateRefreshFamily(r.Context(), fid, func(f *store.RefreshFamily) error {
			ok := token.Verify(secret, f.CurrentHash)
			for _, h := range f.Previous {
				ok = token.Verify(secret, h) || ok
			}
			if !ok {
				return errNotYours
			}
			f.Revoked = true
			return nil
		})
		if err == nil {
			s.endSessions(r.Context(), fid)
		}
	}
	w.WriteHeader(http.StatusOK)
}

var errNotYours = errors.New("not this family's token")

// Access checks an access token ("isc_<family>_<secret>") against its
// family: not revoked, the newest access token issued, not expired. The
// identity's TokenID is the family's id (EndToken ends its sessions).
// Whether the user and organisation are still allowed is the caller's to
// check, as for API tokens.
func Access(ctx context.Context, st store.SignIns, bearer string, now time.Time) (session.Identity, error) {
	fid, secret, err := token.Parse(token.PrefixAccess, bearer)
	if err != nil {
		return session.Identity{}, err
	}
	f, err := st.RefreshFamily(ctx, fid)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("%w: %w", session.ErrAuthUnavailable, err)
		}
		return session.Identity{}, fmt.Errorf("access token of sign-in %s: %w", fid, err)
	}
	switch {
	case !token.Verify(secret, f.AccessHash):
		return session.Identity{}, fmt.Errorf("access token of sign-in %s: wrong secret, or replaced", fid)
	case f.Revoked:
		return session.Identity{}, fmt.Errorf("access token of sign-in %s: revoked", fid)
	case now.After(f.AccessExpires) || now.After(f.Expires):
		return session.Identity{}, fmt.Errorf("access token of sign-in %s: expired", fid)
	}
	return session.Identity{OrgID: f.OrgID, UserID: f.UserID, TokenID: fid}, nil
}

func (s *Service) internal(what string, err error) *oauthError {
	s.log.Error("sign-in: "+what, "err", err)
	return &oauthError{http.StatusServiceUnavailable, "temporarily_unavailable", "iscd failed; try again"}
}
