package federation

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/envelope"
	"github.com/iscsdk/iscsdk/internal/server/admin"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// MountAdmin adds the providers' admin endpoints: GET
// /admin/v1/oidc-providers, PUT and DELETE /admin/v1/oidc-providers/{id}.
func (s *Service) MountAdmin(a *admin.API) {
	p := adminapi.Prefix + "/oidc-providers"
	a.Handle(adminapi.RoleReadOnly, "GET "+p, s.list)
	a.Handle(adminapi.RoleLicenses, "PUT "+p+"/{id}", s.put)
	a.Handle(adminapi.RoleLicenses, "DELETE "+p+"/{id}", s.delete)
}

func toAdmin(p store.OIDCProvider) adminapi.OIDCProvider {
	return adminapi.OIDCProvider{ID: p.ID, OrgID: p.OrgID, Issuer: p.Issuer, ClientID: p.ClientID, Domains: p.Domains,
		Created: p.Created, Updated: p.Updated}
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) {
	ps, err := s.st.OIDCProviders(r.Context())
	if err != nil {
		admin.StoreFail(w, s.log, "OIDC providers", err)
		return
	}
	out := make([]adminapi.OIDCProvider, len(ps))
	for i, p := range ps {
		out[i] = toAdmin(p)
	}
	admin.Reply(w, http.StatusOK, out)
}

var (
	providerID = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	domainName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}\.)+[a-z]{2,63}$`)
)

func (s *Service) put(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req adminapi.PutOIDCProvider
	if !admin.Decode(w, r, &req) {
		return
	}
	bad := func(msg string) { admin.Fail(w, http.StatusBadRequest, wire.CodeBadRequest, msg) }
	issuer, err := url.Parse(req.Issuer)
	switch {
	case !providerID.MatchString(id):
		bad("id: 1 to 63 of a-z, 0-9, '.', '_', '-'")
		return
	case err != nil || len(req.Issuer) > 512 || issuer.Host == "" || issuer.RawQuery != "" || issuer.Fragment != "" ||
		(issuer.Scheme != "https" && !(issuer.Scheme == "http" && loopbackHost(issuer.Hostname()))):
		bad("issuer: an https URL (http only on this machine's loopback), without query or fragment")
		return
	case req.ClientID == "" || len(req.ClientID) > 256:
		bad("clientId: 1 to 256 characters")
		return
	case req.ClientSecret == "" || len(req.ClientSecret) > 4096:
		bad("clientSecret: 1 to 4096 characters")
		return
	case len(req.Domains) > 100:
		bad("domains: at most 100")
		return
	}
	for i, d := range req.Domains {
		req.Domains[i] = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
		if !domainName.MatchString(req.Domains[i]) {
			bad("domains: " + d + " is not a domain name")
			return
		}
	}
	o, err := s.st.Org(r.Context(), req.OrgID)
	if err != nil || o.Closed {
		admin.Fail(w, http.StatusNotFound, wire.CodeNotFound, "org "+req.OrgID+" not found")
		return
	}
	// The issuer must answer its discovery, naming itself: a typo or a
	// provider that claims another issuer is refused now, not at the
	// first user's sign-in.
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	if _, err := s.discover(ctx, req.Issuer); err != nil {
		bad("issuer: " + err.Error())
		return
	}
	now := time.Now().UTC()
	p := store.OIDCProvider{ID: id, OrgID: req.OrgID, Issuer: req.Issuer, ClientID: req.ClientID, Domains: req.Domains,
		Created: now, Updated: now}
	if old, err := s.st.OIDCProvider(r.Context(), id); err == nil {
		p.Created = old.Created
	} else if !errors.Is(err, store.ErrNotFound) {
		admin.StoreFail(w, s.log, "OIDC provider "+id, err)
		return
	}
	if s.kek == nil {
		admin.Fail(w, http.StatusServiceUnavailable, wire.CodeInternal, "this iscd has no KEK to seal the client secret with")
		return
	}
	if p.SealedSecret, err = envelope.Seal(r.Context(), s.kek, []byte(req.ClientSecret), secretAAD(p)); err != nil {
		s.log.Error("seal an OIDC client secret", "provider", id, "err", err)
		admin.Fail(w, http.StatusInternalServerError, wire.CodeInternal, "seal the client secret: internal error")
		return
	}
	if err := s.st.PutOIDCProvider(r.Context(), p); err != nil {
		admin.StoreFail(w, s.log, "OIDC provider "+id, err)
		return
	}
	s.log.Info("OIDC provider configured", "provider", id, "org", p.OrgID, "issuer", p.Issuer)
	admin.Reply(w, http.StatusOK, toAdmin(p))
}

func (s *Service) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.st.DeleteOIDCProvider(r.Context(), id); err != nil {
		admin.StoreFail(w, s.log, "OIDC provider "+id, err)
		return
	}
	s.log.Info("OIDC provider deleted", "provider", id)
	w.WriteHeader(http.StatusNoContent)
}

func loopbackHost(h string) bool { return h == "127.0.0.1" || h == "::1" || h == "localhost" }
