package signin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
)

// Upstream is an identity provider that tells iscd who a browser's user
// is: an organisation's OpenID Connect provider (package
// internal/server/signin/oidcfed), the marketplace's unified login. A
// browser signing in at iscd (a program's authorization request, the
// device page, the console) is sent to AuthURL; when the provider sends
// it back to CallbackPath, Identify says who signed in, and the service
// creates or links that user in the organisation Claims names and
// refuses one who may not sign in (disabled, deleted, revoked).
//
// This is the one way a browser's user is established besides an API
// token (and the dev user): a new kind of provider is an Upstream and an
// Upstreams that finds it (AddUpstreams).
type Upstream interface {
	// AuthURL is the provider's page to send the browser to for req.
	AuthURL(ctx context.Context, req UpstreamRequest) (string, error)
	// Identify redeems the code the provider sent the browser back with,
	// checks what the provider says of the user (signature, issuer,
	// audience, expiry, nonce, allowed domains) and returns it. Its error
	// is logged, never shown: the browser is told the sign-in failed.
	Identify(ctx context.Context, code string, req UpstreamRequest) (Claims, error)
}

// UpstreamRequest is what iscd sends an upstream for one sign-in and
// checks on the way back. Every field is fresh for each sign-in.
type UpstreamRequest struct {
	RedirectURI string // iscd's CallbackPath, absolute
	State       string // comes back with the browser; the service checks it
	Nonce       string // the ID token must carry it
	Verifier    string // PKCE: send S256(Verifier) as the challenge, Verifier with the code
}

// Claims is who an upstream says signed in.
type Claims struct {
	OrgID         string // the organisation the provider places the user in
	Subject       string // the provider's id of the user: stable, unique at the provider
	Email         string
	EmailVerified bool // a verified email links a user of OrgID who has it, at the first sign-in
	Name          string
	Department    string
	// UserID names the iscd user when the provider knows them already
	// (the unified login's synced users); "" to link or create by Subject.
	UserID string
}

// Upstreams finds the providers of one kind (the organisations' OpenID
// Connect providers; the tenants' unified logins). IDs are unique across
// kinds: each kind prefixes its own ("oidc:acme").
type Upstreams interface {
	// Find names the provider a sign-in goes to: org's (the program or
	// page named the organisation), else the one whose domains hold
	// email's. ErrNoUpstream when this kind has none.
	Find(ctx context.Context, org, email string) (id string, err error)
	// Upstream is the provider id names; ErrNoUpstream when it is not
	// this kind's.
	Upstream(ctx context.Context, id string) (Upstream, error)
}

// ErrNoUpstream says there is no identity provider for a sign-in.
var ErrNoUpstream = errors.New("no identity provider")

// AddUpstreams adds a kind of provider; kinds are asked in the order
// added.
func (s *Service) AddUpstreams(u Upstreams) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upstreams = append(s.upstreams[:len(s.upstreams):len(s.upstreams)], u)
}

func (s *Service) kinds() []Upstreams {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.upstreams
}

// findUpstream asks each kind for a sign-in's provider.
func (s *Service) findUpstream(ctx context.Context, org, email string) (string, error) {
	for _, u := range s.kinds() {
		id, err := u.Find(ctx, org, email)
		if errors.Is(err, ErrNoUpstream) {
			continue
		}
		return id, err
	}
	return "", ErrNoUpstream
}

func (s *Service) upstream(ctx context.Context, id string) (Upstream, error) {
	for _, u := range s.kinds() {
		up, err := u.Upstream(ctx, id)
		if errors.Is(err, ErrNoUpstream) {
			continue
		}
		return up, err
	}
	return nil, ErrNoUpstream
}

// SignedIn is what a page of iscd does once the browser's user is known
// (OnSignedIn): data is what it gave BeginSignIn.
type SignedIn func(w http.ResponseWriter, r *http.Request, u store.User, data string)

// OnSignedIn registers what happens after a browser sign-in begun with
// BeginSignIn(…, then, …).
func (s *Service) OnSignedIn(then string, fn SignedIn) {
	if then == store.FlowAuthorize {
		panic("signin: " + then + " is the authorization endpoint's")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.then[then] = fn
}

func (s *Service) continuation(then string) SignedIn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.then[then]
}

// BeginSignIn sends a browser to sign in at iscd (its organisation's
// provider when org names one, else the page that asks who the user is)
// and, once iscd knows the user, to the SignedIn registered as then,
// with data (kept on iscd, at most 1 KiB). A user who may not sign in
// never reaches it.
func (s *Service) BeginSignIn(w http.ResponseWriter, r *http.Request, then, data, org string) {
	if s.continuation(then) == nil || len(data) > 1024 {
		http.Error(w, "sign-in: unknown continuation", http.StatusInternalServerError)
		return
	}
	tok, err := s.newFlow(r.Context(), store.BrowserFlow{Then: then, Data: data, OrgID: org})
	if err != nil {
		s.pageError(w, r, http.StatusServiceUnavailable, "failed")
		return
	}
	http.Redirect(w, r, ChooserPath+"?flow="+tok, http.StatusSeeOther)
}

// userOf is the iscd user an upstream's claims name: the one linked to
// the provider's subject; at the first sign-in, the user of the
// organisation with that verified email, linked from then on; else a new
// user of the organisation. A user who may not sign in is refused.
func (s *Service) userOf(ctx context.Context, provider string, c Claims) (store.User, error) {
	if c.OrgID == "" {
		return store.User{}, errors.New("the provider named no organisation")
	}
	if c.UserID != "" {
		return s.inOrg(ctx, c.UserID, c.OrgID)
	}
	if c.Subject == "" {
		return store.User{}, errors.New("the provider named no subject")
	}
	key := token.Hash("upstream-user\n" + provider + "\n" + c.Subject)[:40]
	if id, err := s.st.LinkedUser(ctx, key); err == nil {
		return s.inOrg(ctx, id, c.OrgID)
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.User{}, err
	}
	id := ""
	if c.EmailVerified && c.Email != "" {
		users, err := s.st.Users(ctx, c.OrgID)
		if err != nil {
			return store.User{}, err
		}
		for _, u := range users {
			if strings.EqualFold(u.Email, c.Email) && !u.Deleted { // a deleted user's email is free
				id = u.ID
				break
			}
		}
	}
	if id == "" { // a new user; its id follows from the link, so two first sign-ins at once make one
		id = "u-" + key[:16]
		name := c.Name
		if name == "" {
			name = c.Email
		}
		err := s.st.CreateUser(ctx, store.User{ID: id, OrgID: c.OrgID, Name: name, Email: c.Email, Department: c.Department, Created: s.cfg.Now()})
		if err != nil && !errors.Is(err, store.ErrExists) {
			return store.User{}, fmt.Errorf("create the user: %w", err)
		}
		if err == nil {
			s.log.Info("sign-in: user created at first sign-in", "user", id, "org", c.OrgID, "provider", provider)
		}
	}
	if err := s.st.LinkUser(ctx, key, id); err != nil && !errors.Is(err, store.ErrExists) {
		return store.User{}, fmt.Errorf("link the user: %w", err)
	}
	if linked, err := s.st.LinkedUser(ctx, key); err == nil {
		id = linked // another sign-in linked first
	}
	return s.inOrg(ctx, id, c.OrgID)
}

// inOrg is the user id names, if it belongs to org and may sign in.
func (s *Service) inOrg(ctx context.Context, id, org string) (store.User, error) {
	u, err := s.allowed(ctx, id)
	if err != nil {
		return u, err
	}
	if u.OrgID != org {
		return u, fmt.Errorf("user %s is not of organisation %s", id, org)
	}
	return u, nil
}
