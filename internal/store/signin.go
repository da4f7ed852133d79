package store

import (
	"context"
	"time"
)

// Device grant states (DeviceGrant.State).
const (
	GrantPending  = "pending"  // waiting for the user to confirm the code
	GrantApproved = "approved" // confirmed: the next poll gets the tokens
	GrantDenied   = "denied"   // the user said no
	GrantDone     = "done"     // the tokens were handed out; the code is spent
)

// DeviceGrant is one device authorization request (RFC 8628): a program
// asked to sign in and shows the user a code to confirm in a browser.
// Its ID is derived from the user code (the verification page finds it by
// the code alone); the device code's secret and the device's fingerprint
// are kept only as hashes.
type DeviceGrant struct {
	ID         string `json:"id"`
	SecretHash string `json:"secretHash"` // of the device code's secret
	DeviceHash string `json:"deviceHash"` // of the device fingerprint
	ProductID  string `json:"productId"`
	OrgID      string `json:"orgId,omitempty"` // only a user of this org may confirm; "": any
	State      string `json:"state"`
	UserID     string `json:"userId,omitempty"` // who confirmed or denied
	// The page's second step: the user who is asked to confirm what the
	// grant is for, and the hash of the step's one-time nonce.
	ConfirmUser string    `json:"confirmUser,omitempty"`
	ConfirmHash string    `json:"confirmHash,omitempty"`
	Interval    int       `json:"interval"` // seconds between polls; grows on slow_down
	LastPoll    time.Time `json:"lastPoll,omitzero"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
}

// RefreshFamily is the chain of refresh tokens a sign-in hands out: every
// use rotates the token, and a token used twice (a copy replayed after
// rotation) revokes the family. Only hashes are kept.
type RefreshFamily struct {
	ID          string   `json:"id"`
	UserID      string   `json:"userId"`
	OrgID       string   `json:"orgId"`
	ProductID   string   `json:"productId"`
	DeviceHash  string   `json:"deviceHash"`  // the fingerprint the tokens are bound to
	CurrentHash string   `json:"currentHash"` // of the one valid token's secret
	Previous    []string `json:"previous,omitempty"`
	// The access token last issued ("isc_<family id>_<secret>"): one per
	// family, replaced at each rotation, so access tokens add no records.
	AccessHash    string    `json:"accessHash"`
	AccessExpires time.Time `json:"accessExpires"`
	Revoked       bool      `json:"revoked,omitempty"`
	Created       time.Time `json:"created"`
	Rotated       time.Time `json:"rotated"`
	Expires       time.Time `json:"expires"` // the family's end, however often it rotates
}

// SignIns holds device grants and refresh-token families (the rules,
// expiry and reuse detection live in internal/server/signin).
type SignIns interface {
	// CreateDeviceGrant stores a new grant; ErrExists if its ID is taken.
	CreateDeviceGrant(ctx context.Context, g DeviceGrant) error
	// UpdateDeviceGrant changes a grant in one transaction and returns it
	// as stored; an error from change aborts and is returned. ErrNotFound
	// if there is none.
	UpdateDeviceGrant(ctx context.Context, id string, change func(*DeviceGrant) error) (DeviceGrant, error)
	// DeleteDeviceGrant removes a grant (none is not an error).
	DeleteDeviceGrant(ctx context.Context, id string) error
	// DeleteExpiredDeviceGrants removes the grants that expired before t
	// and says how many.
	DeleteExpiredDeviceGrants(ctx context.Context, t time.Time) (int, error)

	// CreateRefreshFamily stores a new family; ErrExists if its ID is taken.
	CreateRefreshFamily(ctx context.Context, f RefreshFamily) error
	// RefreshFamily is a family; ErrNotFound if there is none.
	RefreshFamily(ctx context.Context, id string) (RefreshFamily, error)
	// UpdateRefreshFamily changes a family in one transaction, as
	// UpdateDeviceGrant does.
	UpdateRefreshFamily(ctx context.Context, id string, change func(*RefreshFamily) error) (RefreshFamily, error)
}
