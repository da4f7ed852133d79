// Package federation signs users in through their organisation's OpenID
// Connect provider: an operator configures the provider (issuer, client
// id, client secret sealed under the KEK, the email domains it answers
// for) through the admin API; the browser sign-in (internal/server/signin)
// sends a user there and gets back who signed in, verified: discovery,
// the provider's keys (JWKS) and the ID token's signature, issuer,
// audience, expiry and nonce are github.com/coreos/go-oidc's, the code
// exchange (with PKCE) golang.org/x/oauth2's.
package federation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/iscsdk/iscsdk/internal/envelope"
	"github.com/iscsdk/iscsdk/internal/server/signin"
	"github.com/iscsdk/iscsdk/internal/store"
)

// idPrefix marks this kind's provider ids among the sign-in's upstreams.
const idPrefix = "oidc:"

// Store is what the service keeps.
type Store interface {
	store.Federation
	Org(ctx context.Context, id string) (store.Org, error)
}

// Service is the organisations' OpenID Connect providers, as a kind of
// signin.Upstreams.
type Service struct {
	st   Store
	kek  envelope.Wrapper
	log  *slog.Logger
	http *http.Client

	mu        sync.Mutex
	providers map[string]discovered // by issuer
}

// discovered is a provider's discovery document and keys, kept a while.
type discovered struct {
	p    *oidc.Provider
	when time.Time
}

// discoveryTTL: how long a provider's discovery is trusted before it is
// read again (its keys are refreshed by go-oidc when a token names a new
// one).
const discoveryTTL = 10 * time.Minute

// maxAnswer bounds every answer read from a provider.
const maxAnswer = 1 << 20

// New returns the service. kek seals and opens the client secrets.
func New(st Store, kek envelope.Wrapper, log *slog.Logger) *Service {
	return &Service{st: st, kek: kek, log: log, providers: map[string]discovered{},
		http: &http.Client{Timeout: 10 * time.Second, Transport: limited{http.DefaultTransport}}}
}

// limited caps the bodies of a provider's answers.
type limited struct{ rt http.RoundTripper }

func (l limited) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(r)
	if err == nil {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(resp.Body, maxAnswer), resp.Body}
	}
	return resp, err
}

// Find implements signin.Upstreams: org's provider, else the one whose
// domains hold email's.
func (s *Service) Find(ctx context.Context, org, email string) (string, error) {
	if org == "" && email == "" {
		return "", signin.ErrNoUpstream
	}
	ps, err := s.st.OIDCProviders(ctx)
	if err != nil {
		return "", err
	}
	_, domain, _ := strings.Cut(strings.ToLower(email), "@")
	for _, p := range ps {
		if org != "" && p.OrgID != org {
			continue
		}
		if email == "" || slices.Contains(p.Domains, domain) {
			return idPrefix + p.ID, nil
		}
	}
	return "", signin.ErrNoUpstream
}

// Upstream implements signin.Upstreams.
func (s *Service) Upstream(ctx context.Context, id string) (signin.Upstream, error) {
	name, ok := strings.CutPrefix(id, idPrefix)
	if !ok {
		return nil, signin.ErrNoUpstream
	}
	p, err := s.st.OIDCProvider(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("OIDC provider %s: %w", name, err)
	}
	return &upstream{s: s, p: p}, nil
}

// LogoutURL implements signin.Logouts: the end_session_endpoint of org's
// provider (OpenID Connect RP-Initiated Logout 1.0), with iscd's
// client_id, which ends the user's session at the provider; ErrNoUpstream
// when org has no provider or its provider has no such endpoint. It asks
// for no post_logout_redirect_uri: that needs the user's ID token as
// id_token_hint (Hydra refuses it without), and iscd keeps none, so the
// browser stays on the provider's signed-out page.
func (s *Service) LogoutURL(ctx context.Context, org, _ string) (string, error) {
	id, err := s.Find(ctx, org, "")
	if err != nil {
		return "", err
	}
	p, err := s.st.OIDCProvider(ctx, strings.TrimPrefix(id, idPrefix))
	if err != nil {
		return "", err
	}
	prov, err := s.discover(ctx, p.Issuer)
	if err != nil {
		return "", err
	}
	var d struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := prov.Claims(&d); err != nil || d.EndSession == "" {
		return "", signin.ErrNoUpstream
	}
	u, err := url.Parse(d.EndSession)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("OIDC provider %s: end_session_endpoint %q is not an http(s) URL", p.ID, d.EndSession)
	}
	q := u.Query()
	q.Set("client_id", p.ClientID)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// discover is the issuer's provider: discovery read (and its issuer
// checked against the one configured) at most every discoveryTTL.
func (s *Service) discover(ctx context.Context, issuer string) (*oidc.Provider, error) {
	s.mu.Lock()
	d, ok := s.providers[issuer]
	s.mu.Unlock()
	if ok && time.Since(d.when) < discoveryTTL {
		return d.p, nil
	}
	// The provider keeps this context for its key fetches: not the
	// request's, which ends with it.
	p, err := oidc.NewProvider(oidc.ClientContext(context.WithoutCancel(ctx), s.http), issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", issuer, err)
	}
	s.mu.Lock()
	s.providers[issuer] = discovered{p, time.Now()}
	s.mu.Unlock()
	return p, nil
}

// upstream is one organisation's provider.
type upstream struct {
	s *Service
	p store.OIDCProvider
}

func (u *upstream) config(ctx context.Context, redirect string) (*oauth2.Config, *oidc.Provider, error) {
	prov, err := u.s.discover(ctx, u.p.Issuer)
	if err != nil {
		return nil, nil, err
	}
	secret, err := OpenSecret(ctx, u.s.kek, u.p)
	if err != nil {
		return nil, nil, err
	}
	return &oauth2.Config{ClientID: u.p.ClientID, ClientSecret: string(secret), Endpoint: prov.Endpoint(),
		RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}, prov, nil
}

// AuthURL implements signin.Upstream.
func (u *upstream) AuthURL(ctx context.Context, req signin.UpstreamRequest) (string, error) {
	cfg, _, err := u.config(ctx, req.RedirectURI)
	if err != nil {
		return "", err
	}
	return cfg.AuthCodeURL(req.State, oidc.Nonce(req.Nonce), oauth2.S256ChallengeOption(req.Verifier)), nil
}

// Identify implements signin.Upstream: the code for tokens (with the PKCE
// verifier), the ID token verified (signature by the issuer's keys,
// issuer, audience, expiry), its nonce ours, its email in the provider's
// domains.
func (u *upstream) Identify(ctx context.Context, code string, req signin.UpstreamRequest) (signin.Claims, error) {
	var c signin.Claims
	if code == "" {
		return c, errors.New("the provider sent no code")
	}
	cfg, prov, err := u.config(ctx, req.RedirectURI)
	if err != nil {
		return c, err
	}
	hctx := oidc.ClientContext(ctx, u.s.http)
	began := time.Now()
	tok, err := cfg.Exchange(hctx, code, oauth2.VerifierOption(req.Verifier))
	if err != nil {
		return c, fmt.Errorf("exchange the code at %s: %w", u.p.Issuer, u.s.late(began, err))
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return c, fmt.Errorf("%s answered without an ID token", u.p.Issuer)
	}
	began = time.Now() // Verify may fetch the provider's keys
	idt, err := prov.Verifier(&oidc.Config{ClientID: u.p.ClientID}).Verify(hctx, raw)
	if err != nil {
		return c, fmt.Errorf("the ID token of %s: %w", u.p.Issuer, u.s.late(began, err))
	}
	if idt.Nonce != req.Nonce {
		return c, fmt.Errorf("the ID token of %s carries another sign-in's nonce", u.p.Issuer)
	}
	var claims struct {
		Email    string `json:"email"`
		Verified *bool  `json:"email_verified"`
		Name     string `json:"name"`
	}
	if err := idt.Claims(&claims); err != nil {
		return c, fmt.Errorf("the ID token's claims: %w", err)
	}
	_, domain, _ := strings.Cut(strings.ToLower(claims.Email), "@")
	if len(u.p.Domains) > 0 && !slices.Contains(u.p.Domains, domain) {
		return c, fmt.Errorf("%s is not in the domains of provider %s", claims.Email, u.p.ID)
	}
	return signin.Claims{OrgID: u.p.OrgID, Subject: idt.Subject, Email: claims.Email,
		EmailVerified: claims.Verified != nil && *claims.Verified, Name: claims.Name}, nil
}

// ErrNoAnswer marks a failure of a provider that did not answer within
// the time iscd gives each of its answers.
var ErrNoAnswer = errors.New("the provider did not answer in time")

// late marks err with ErrNoAnswer when the step that failed, begun at
// began, took the whole of the time given to an answer: go-oidc does not
// keep a timeout's error in its chain when a key fetch fails, so a
// provider that is merely slow would read as one whose answer is wrong.
func (s *Service) late(began time.Time, err error) error {
	var ne net.Error
	if time.Since(began) >= s.http.Timeout || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w (%v): %w", ErrNoAnswer, s.http.Timeout, err)
	}
	return err
}

// secretAAD binds a sealed client secret to its provider and organisation.
func secretAAD(p store.OIDCProvider) []byte {
	return []byte("iscd-oidc-client-secret\n" + p.ID + "\n" + p.OrgID)
}

// OpenSecret is a provider's client secret in clear.
func OpenSecret(ctx context.Context, kek envelope.Wrapper, p store.OIDCProvider) ([]byte, error) {
	if kek == nil {
		return nil, errors.New("no KEK to open the client secret")
	}
	b, err := envelope.Open(ctx, kek, p.SealedSecret, secretAAD(p))
	if err != nil {
		return nil, fmt.Errorf("the client secret of OIDC provider %s: %w", p.ID, err)
	}
	return b, nil
}

// RewrapSecrets re-wraps every provider's client secret under kek's
// current KEK (a KEK rotation's second step) and says how many changed.
func RewrapSecrets(ctx context.Context, st store.Federation, kek envelope.Wrapper) (int, error) {
	ps, err := st.OIDCProviders(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range ps {
		sealed, changed, err := envelope.Rewrap(ctx, kek, p.SealedSecret, secretAAD(p))
		if err != nil {
			return n, fmt.Errorf("re-wrap the client secret of OIDC provider %s: %w", p.ID, err)
		}
		if !changed {
			continue
		}
		p.SealedSecret = sealed
		if err := st.PutOIDCProvider(ctx, p); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
