// Package unified makes the marketplace's unified login an identity
// provider of iscd's sign-in (signin.Upstreams): a tenant's users sign in
// with their marketplace account.
//
// A tenant (tenantSync) is the organisation mkt-<tenantId>; its
// application's credentials (applicationSync: appId, clientId and the
// client secret, kept sealed under the KEK) configure its unified login.
// A sign-in that names the organisation goes to the unified login's page;
// the browser comes back to CallbackPath, the registered callback, with a
// code; iscd redeems it with the client secret, asks user info who signed
// in, and places the user by its tenant field. The user is the one
// authSync made (the same id, from tenant and userName), or is created at
// the first sign-in as that user would have been; a user authSync
// disabled, revoked or deleted is refused.
package unified

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/envelope"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
	"github.com/iscsdk/iscsdk/internal/server/signin"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/unifiedlogin"
)

// CallbackPath is where the unified login sends the browser back
// (https://<iscd>/signin/unified is the callback to register for the
// application). The guide's login page carries no state: the browser's
// sign-in cookie names the flow.
const CallbackPath = signin.ChooserPath + "/unified"

// idPrefix marks this kind's provider ids: "unified:<org>".
const idPrefix = "unified:"

// maxField bounds each field of user info that iscd keeps.
const maxField = 256

// Config says where the unified login is.
type Config struct {
	// LoginPage is the login page, {appId} in it;
	// unifiedlogin.DefaultLoginPage when empty.
	LoginPage string
	// API is the base URL of the token, user-info and logout endpoints;
	// when empty, https:// and the tenant's domainName from tenantSync
	// (the guide's {domain}: an assumption, hence this setting).
	API string
	// HTTP sends iscd's requests to it; 10 s per request when nil.
	HTTP *http.Client
}

// Store is what the provider reads and writes.
type Store interface {
	Org(ctx context.Context, id string) (store.Org, error)
	OrgLogin(ctx context.Context, orgID string) (store.OrgLogin, error)
	User(ctx context.Context, id string) (store.User, error)
	CreateUser(ctx context.Context, u store.User) error
	Departments(ctx context.Context, orgID string) ([]store.Department, error)
}

// Upstreams are the tenants' unified logins.
type Upstreams struct {
	st  Store
	kek envelope.Wrapper
	cfg Config
	log *slog.Logger
	now func() time.Time
}

// New returns the tenants' unified logins; kek opens the client secrets.
func New(st Store, kek envelope.Wrapper, cfg Config, log *slog.Logger) *Upstreams {
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	return &Upstreams{st: st, kek: kek, cfg: cfg, log: log, now: time.Now}
}

// Find implements signin.Upstreams: an organisation that is a tenant with
// a unified-login application has one. Email domains name none.
func (u *Upstreams) Find(ctx context.Context, org, _ string) (string, error) {
	if org == "" {
		return "", signin.ErrNoUpstream
	}
	if _, _, err := u.login(ctx, org); err != nil {
		return "", err
	}
	return idPrefix + org, nil
}

// Upstream implements signin.Upstreams.
func (u *Upstreams) Upstream(ctx context.Context, id string) (signin.Upstream, error) {
	org, ok := strings.CutPrefix(id, idPrefix)
	if !ok {
		return nil, signin.ErrNoUpstream
	}
	c, o, err := u.client(ctx, org)
	if err != nil {
		return nil, err
	}
	return &upstream{u: u, c: c, org: o}, nil
}

// login is org's tenant and unified-login application, if it has both.
func (u *Upstreams) login(ctx context.Context, org string) (store.Org, store.OrgLogin, error) {
	o, err := u.st.Org(ctx, org)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (o.Tenant == nil || o.Closed)) {
		return o, store.OrgLogin{}, signin.ErrNoUpstream
	}
	if err != nil {
		return o, store.OrgLogin{}, err
	}
	l, err := u.st.OrgLogin(ctx, org)
	if errors.Is(err, store.ErrNotFound) || (err == nil && l.Deleted) {
		return o, l, signin.ErrNoUpstream
	}
	return o, l, err
}

// client is the unified login of org, its secret opened.
func (u *Upstreams) client(ctx context.Context, org string) (*unifiedlogin.Client, store.Org, error) {
	o, l, err := u.login(ctx, org)
	if err != nil {
		return nil, o, err
	}
	if u.kek == nil {
		return nil, o, errors.New("unified login: iscd has no KEK to open the client secret")
	}
	secret, err := marketplace.OpenLoginSecret(ctx, u.kek, l)
	if err != nil {
		return nil, o, fmt.Errorf("unified login of %s: open the client secret: %w", org, err)
	}
	api := u.cfg.API
	if api == "" {
		if o.Tenant.DomainName == "" {
			return nil, o, fmt.Errorf("unified login of %s: the tenant has no domainName and iscd no --unified-login-api", org)
		}
		api = "https://" + o.Tenant.DomainName
	}
	return &unifiedlogin.Client{LoginPage: u.cfg.LoginPage, API: api, AppID: l.AppID, ClientID: l.ClientID,
		ClientSecret: string(secret), HTTP: u.cfg.HTTP}, o, nil
}

// LogoutURL is the unified login's logout page for a user of org, which
// then sends the browser to redirect; signin.ErrNoUpstream when org signs
// in otherwise.
func (u *Upstreams) LogoutURL(ctx context.Context, org, redirect string) (string, error) {
	c, _, err := u.client(ctx, org)
	if err != nil {
		return "", err
	}
	return c.LogoutURL(redirect), nil
}

// Callback is the registered callback: it hands the code to the sign-in's
// own callback with the flow the browser's cookie names.
func (u *Upstreams) Callback(w http.ResponseWriter, r *http.Request) {
	q := url.Values{}
	if c, err := r.Cookie(signin.FlowCookie); err == nil {
		q.Set("state", c.Value)
	}
	if code := r.URL.Query().Get("code"); code != "" {
		q.Set("code", code)
	} else {
		q.Set("error", "access_denied") // the guide names no error answer: no code is one
	}
	http.Redirect(w, r, signin.CallbackPath+"?"+q.Encode(), http.StatusSeeOther)
}

type upstream struct {
	u   *Upstreams
	c   *unifiedlogin.Client
	org store.Org
}

// AuthURL implements signin.Upstream: the login page of the tenant's
// application. It takes no state, nonce or PKCE (the guide has none).
func (p *upstream) AuthURL(context.Context, signin.UpstreamRequest) (string, error) {
	return p.c.LoginURL(), nil
}

// Identify implements signin.Upstream: the code redeemed with the client
// secret, user info's tenant checked against the organisation's.
func (p *upstream) Identify(ctx context.Context, code string, _ signin.UpstreamRequest) (signin.Claims, error) {
	if code == "" || len(code) > 1024 {
		return signin.Claims{}, errors.New("unified login: no code")
	}
	tok, err := p.c.Exchange(ctx, code, "")
	if err != nil {
		return signin.Claims{}, err
	}
	info, err := p.c.UserInfo(ctx, tok.AccessToken)
	if err != nil {
		return signin.Claims{}, err
	}
	tenant := p.org.Tenant.TenantID
	if info.Tenant != tenant {
		return signin.Claims{}, fmt.Errorf("unified login: user info's tenant %q is not organisation %s's (%q)", info.Tenant, p.org.ID, tenant)
	}
	if info.UserName == "" || len(info.UserName) > maxField {
		return signin.Claims{}, errors.New("unified login: user info has no userName (or one past 256 bytes)")
	}
	// What is kept of a user is bounded as authSync bounds it.
	for _, f := range []*string{&info.Name, &info.Email, &info.Mobile, &info.OrganizationCode, &info.Role} {
		if len(*f) > maxField {
			*f = ""
		}
	}
	id := marketplace.UserID(tenant, info.UserName)
	if err := p.firstSignIn(ctx, id, info); err != nil {
		return signin.Claims{}, err
	}
	return signin.Claims{OrgID: p.org.ID, Subject: info.UserName, Email: info.Email, Name: info.Name,
		Department: info.OrganizationCode, UserID: id}, nil
}

// firstSignIn creates the user id names if authSync has not: as authSync
// would have (the same id, userName, role, the department user info's
// organizationCode names if the tenant's tree has it), authorised — the
// marketplace let them sign in to the application. authSync may change or
// revoke the user later like any other.
func (p *upstream) firstSignIn(ctx context.Context, id string, info unifiedlogin.UserInfo) error {
	if _, err := p.u.st.User(ctx, id); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	name := info.Name
	if name == "" {
		name = info.UserName
	}
	role := store.RoleUser
	if info.Role == store.RoleAdmin {
		role = store.RoleAdmin
	}
	dept := ""
	if info.OrganizationCode != "" {
		depts, err := p.u.st.Departments(ctx, p.org.ID)
		if err != nil {
			return err
		}
		for _, d := range depts {
			if d.Code == info.OrganizationCode {
				dept = d.Code
			}
		}
	}
	err := p.u.st.CreateUser(ctx, store.User{ID: id, OrgID: p.org.ID, Name: name, Email: info.Email, UserName: info.UserName,
		Role: role, Department: dept, Mobile: info.Mobile, Authorised: true, Created: p.u.now()})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("unified login: create user %s: %w", id, err)
	}
	if err == nil {
		p.u.log.Info("unified login: user created at the first sign-in", "user", id, "org", p.org.ID)
	}
	return nil
}
