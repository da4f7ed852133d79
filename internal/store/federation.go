package store

import (
	"context"
	"time"
)

// FlowAuthorize is BrowserFlow.Then for a program's authorization request:
// the flow ends by sending the browser to the program's loopback with a
// code.
const FlowAuthorize = "authorize"

// BrowserFlow is one browser's way through sign-in at iscd
// (docs/identity.md): what it is for (a program's authorization request
// with PKCE and a loopback redirect, or another page of iscd that asked
// who the browser's user is), the upstream identity provider it was sent
// to and, once it is back, the user and the authorization code handed to
// the program. The browser carries the flow as a token whose secret is
// kept here only as a hash, and so is the code.
type BrowserFlow struct {
	ID         string `json:"id"`
	SecretHash string `json:"secretHash"`     // of the flow token's secret
	Then       string `json:"then"`           // FlowAuthorize or a continuation's name
	Data       string `json:"data,omitempty"` // the continuation's
	OrgID      string `json:"orgId,omitempty"`

	// The program's authorization request (Then == FlowAuthorize).
	ProductID   string `json:"productId,omitempty"`
	RedirectURI string `json:"redirectUri,omitempty"`
	Challenge   string `json:"challenge,omitempty"`   // PKCE S256 code_challenge
	ClientState string `json:"clientState,omitempty"` // the program's state, sent back with the code

	// The upstream: which provider, and what iscd sent it (the nonce and
	// the PKCE verifier of iscd's own request, spent once, within minutes).
	Provider string `json:"provider,omitempty"`
	Nonce    string `json:"nonce,omitempty"`
	Verifier string `json:"verifier,omitempty"`

	// Once the user is known: a code for the program, once.
	UserID      string    `json:"userId,omitempty"`
	CodeHash    string    `json:"codeHash,omitempty"`
	CodeExpires time.Time `json:"codeExpires,omitzero"`
	FamilyID    string    `json:"familyId,omitempty"` // the refresh family the code was spent on
	State       string    `json:"state"`              // GrantPending, GrantApproved (code issued), GrantDone (code spent)
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
}

// OIDCProvider is an organisation's OpenID Connect provider: its users
// sign in through it, and a user whose email is in one of Domains is sent
// to it. The client secret is kept sealed (an envelope.Sealed, its JSON).
type OIDCProvider struct {
	ID           string    `json:"id"`
	OrgID        string    `json:"orgId"`
	Issuer       string    `json:"issuer"`
	ClientID     string    `json:"clientId"`
	SealedSecret string    `json:"sealedSecret"`
	Domains      []string  `json:"domains,omitempty"` // lower case, no "@"
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

// Federation holds what signing in through a browser needs: the flows
// under way, the organisations' OpenID Connect providers, and the links
// from an upstream's user to iscd's.
type Federation interface {
	// CreateBrowserFlow stores a new flow; ErrExists if its ID is taken.
	CreateBrowserFlow(ctx context.Context, f BrowserFlow) error
	// UpdateBrowserFlow changes a flow in one transaction, as
	// UpdateDeviceGrant does.
	UpdateBrowserFlow(ctx context.Context, id string, change func(*BrowserFlow) error) (BrowserFlow, error)
	// DeleteExpiredBrowserFlows removes the flows that expired before t
	// and says how many.
	DeleteExpiredBrowserFlows(ctx context.Context, t time.Time) (int, error)

	// PutOIDCProvider stores a provider, replacing one of its ID.
	PutOIDCProvider(ctx context.Context, p OIDCProvider) error
	// OIDCProvider is a provider; ErrNotFound if none.
	OIDCProvider(ctx context.Context, id string) (OIDCProvider, error)
	// OIDCProviders lists every provider, by ID.
	OIDCProviders(ctx context.Context) ([]OIDCProvider, error)
	// DeleteOIDCProvider removes a provider; ErrNotFound if none.
	DeleteOIDCProvider(ctx context.Context, id string) error

	// LinkedUser is the user an upstream's user (key: the provider and
	// its subject, hashed) is linked to; ErrNotFound if none.
	LinkedUser(ctx context.Context, key string) (string, error)
	// LinkUser links key to a user; ErrExists if key is linked already.
	LinkUser(ctx context.Context, key, userID string) error
}
