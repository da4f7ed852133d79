package adminapi

import "time"

// Department is one entry of GET /admin/v1/departments?org=ID: a node of
// an organisation's department tree, as the marketplace synced it.
type Department struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	Parent string `json:"parent,omitempty"` // "" at the top
}

// LicenseUsers is the body of PUT /admin/v1/licenses/{id}/users
// (licenses): whether the licence is for named users only, and the users
// an operator assigns it to (beside those the marketplace authorised).
// It answers the licence.
type LicenseUsers struct {
	NamedUsers bool     `json:"namedUsers"`
	Users      []string `json:"users"`
}

// OIDCProvider is an organisation's OpenID Connect provider, as GET
// /admin/v1/oidc-providers lists it: its users sign in through it, and a
// user who gives an email in one of Domains is sent to it. The client
// secret is never shown.
type OIDCProvider struct {
	ID       string    `json:"id"`
	OrgID    string    `json:"orgId"`
	Issuer   string    `json:"issuer"`
	ClientID string    `json:"clientId"`
	Domains  []string  `json:"domains,omitempty"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

// PutOIDCProvider is the body of PUT /admin/v1/oidc-providers/{id}
// (licenses role): it configures, or replaces, an organisation's
// provider. The issuer is checked (its discovery must answer, naming
// itself) before anything is kept; the secret is sealed under the KEK.
type PutOIDCProvider struct {
	OrgID        string   `json:"orgId"`
	Issuer       string   `json:"issuer"`
	ClientID     string   `json:"clientId"`
	ClientSecret string   `json:"clientSecret"`
	Domains      []string `json:"domains"`
}
