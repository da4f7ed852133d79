package signin

import (
	"context"
	"net/http"
)

// Paths of a browser's sign-out.
const (
	// SignOutPath signs the browser out of the identity provider of the
	// organisation ?org= names, where it has a logout page (the
	// marketplace's unified login), then shows SignedOutPath. A program
	// whose user signed out opens it (the SDK's SignedOut event names it),
	// so that the next sign-in asks for the account again.
	SignOutPath = ChooserPath + "/signout"
	// SignedOutPath says the user is signed out.
	SignedOutPath = ChooserPath + "/signed-out"
)

// Logouts is what a kind of provider (an Upstreams) whose providers have
// a logout page also implements.
type Logouts interface {
	// LogoutURL is the page that signs a user of org out of its provider
	// and then sends the browser to redirect; ErrNoUpstream when org's
	// provider is not of this kind or has no such page.
	LogoutURL(ctx context.Context, org, redirect string) (string, error)
}

// signOut sends the browser to the logout page of org's provider, or
// straight to the signed-out page. Anyone may ask: signing a browser out
// of the provider is all it does (the program's tokens were revoked at
// /oauth/revoke).
func (s *Service) signOut(w http.ResponseWriter, r *http.Request) {
	back := s.baseURL(r) + SignedOutPath + "?lang=" + lang(r)
	if org := r.URL.Query().Get("org"); org != "" && len(org) <= 64 {
		for _, kind := range s.kinds() {
			lo, ok := kind.(Logouts)
			if !ok {
				continue
			}
			if to, err := lo.LogoutURL(r.Context(), org, back); err == nil {
				http.Redirect(w, r, to, http.StatusSeeOther)
				return
			}
		}
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// signedOut says so: the window can be closed.
func (s *Service) signedOut(w http.ResponseWriter, r *http.Request) {
	s.pageError(w, r, http.StatusOK, "signedOut")
}
