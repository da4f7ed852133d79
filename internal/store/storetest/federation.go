package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
)

// TestFederation: browser flows are created once, changed in one
// transaction, keep their ids and are swept when expired; OIDC providers
// are replaced by id, listed and deleted; a user link is made once, to a
// user that exists; all of it survives a reopen.
func TestFederation(t *testing.T, b Backend) {
	s, where := b.Open(t, "", 0)
	must(t, s.CreateOrg(ctx, store.Org{ID: "o1", Name: "Org", Created: created}))
	must(t, s.CreateUser(ctx, store.User{ID: "u1", OrgID: "o1", Name: "Ada", Created: created}))

	f := store.BrowserFlow{ID: "b1", SecretHash: "sh", Then: store.FlowAuthorize, ProductID: "p", RedirectURI: "http://127.0.0.1:5/cb",
		Challenge: "c", State: store.GrantPending, Created: created, Expires: created.Add(10 * time.Minute)}
	must(t, s.CreateBrowserFlow(ctx, f))
	if err := s.CreateBrowserFlow(ctx, f); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a flow's id twice: %v", err)
	}
	got, err := s.UpdateBrowserFlow(ctx, "b1", func(f *store.BrowserFlow) error {
		f.ID, f.UserID, f.CodeHash, f.State = "other", "u1", "ch", store.GrantApproved
		return nil
	})
	if err != nil || got.ID != "b1" || got.State != store.GrantApproved || got.Challenge != "c" {
		t.Fatalf("updated flow: %+v %v", got, err)
	}
	stop := errors.New("stop")
	if _, err := s.UpdateBrowserFlow(ctx, "b1", func(f *store.BrowserFlow) error { f.State = store.GrantDone; return stop }); !errors.Is(err, stop) {
		t.Fatalf("aborted flow update: %v", err)
	}
	if _, err := s.UpdateBrowserFlow(ctx, "nope", func(*store.BrowserFlow) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of an unknown flow: %v", err)
	}

	p := store.OIDCProvider{ID: "acme", OrgID: "o1", Issuer: "https://idp", ClientID: "c", SealedSecret: "sealed",
		Domains: []string{"acme.example"}, Created: created, Updated: created}
	must(t, s.PutOIDCProvider(ctx, p))
	p.ClientID = "c2"
	must(t, s.PutOIDCProvider(ctx, p))
	if got, err := s.OIDCProvider(ctx, "acme"); err != nil || got.ClientID != "c2" || got.Domains[0] != "acme.example" {
		t.Fatalf("provider: %+v %v", got, err)
	}
	if _, err := s.OIDCProvider(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown provider: %v", err)
	}

	must(t, s.LinkUser(ctx, "k1", "u1"))
	if err := s.LinkUser(ctx, "k1", "u1"); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a link twice: %v", err)
	}
	if err := s.LinkUser(ctx, "k2", "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a link to no user: %v", err)
	}
	if _, err := s.LinkedUser(ctx, "k2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown link: %v", err)
	}

	must(t, s.Close())
	s, _ = b.Open(t, where, 0)
	if got, err := s.UpdateBrowserFlow(ctx, "b1", func(*store.BrowserFlow) error { return nil }); err != nil || got.State != store.GrantApproved || !got.Expires.Equal(f.Expires) {
		t.Fatalf("flow after reopen: %+v %v", got, err)
	}
	if ps, err := s.OIDCProviders(ctx); err != nil || len(ps) != 1 || ps[0].ID != "acme" {
		t.Fatalf("providers after reopen: %+v %v", ps, err)
	}
	if id, err := s.LinkedUser(ctx, "k1"); err != nil || id != "u1" {
		t.Fatalf("link after reopen: %q %v", id, err)
	}
	later := f
	later.ID, later.Expires = "b2", created.Add(time.Hour)
	must(t, s.CreateBrowserFlow(ctx, later))
	if n, err := s.DeleteExpiredBrowserFlows(ctx, created.Add(30*time.Minute)); n != 1 || err != nil {
		t.Fatalf("expired flows swept: %d %v, want 1", n, err)
	}
	if _, err := s.UpdateBrowserFlow(ctx, "b2", func(*store.BrowserFlow) error { return nil }); err != nil {
		t.Fatalf("a live flow after the sweep: %v", err)
	}
	must(t, s.DeleteOIDCProvider(ctx, "acme"))
	if err := s.DeleteOIDCProvider(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a deleted provider deleted again: %v", err)
	}
}
