package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Licence errors that callers branch on.
var (
	ErrNoSeat      = errors.New("store: no seat free")
	ErrDeviceLimit = errors.New("store: device limit reached")
	ErrNotActive   = errors.New("store: licence is not active")
)

// Licence kinds and statuses.
const (
	KindFloating   = "floating"    // Seats concurrent sessions, each holding a lease
	KindNodeLocked = "node-locked" // up to Seats devices, bound for good

	StatusActive   = "ACTIVE"
	StatusFrozen   = "FROZEN"
	StatusReleased = "RELEASED"
)

// License is an org's right to run a product.
type License struct {
	ID           string        `json:"id"`
	OrgID        string        `json:"orgId"`
	ProductID    string        `json:"productId"`
	Edition      string        `json:"edition,omitempty"`
	Features     []string      `json:"features,omitempty"`
	Kind         string        `json:"kind"`
	Seats        int           `json:"seats"`
	EffectiveAt  time.Time     `json:"effectiveAt"`
	ExpiresAt    time.Time     `json:"expiresAt"`
	Grace        time.Duration `json:"-"` // usable this long after ExpiresAt (JSON: graceSeconds)
	OfflineGrace time.Duration `json:"-"` // a lease is usable this long after it lapses (JSON: offlineGraceSeconds)
	Status       string        `json:"status"`
	Trial        bool          `json:"trial,omitempty"`
	Created      time.Time     `json:"created"`
	Updated      time.Time     `json:"updated"`

	// NamedUsers limits the licence to authorised users: those the
	// marketplace authorised (User.Authorised) and those in Users. Its
	// floating seats are counted per user: a user's sessions on several
	// machines hold one seat between them.
	NamedUsers bool     `json:"namedUsers,omitempty"`
	Users      []string `json:"users,omitempty"` // user ids an operator assigned

	// Marketplace bookkeeping (empty for licences made by iscctl).
	InstanceID  string `json:"instanceId,omitempty"`
	OrderID     string `json:"orderId,omitempty"`
	OrderLineID string `json:"orderLineId,omitempty"`
	LicenseCode string `json:"licenseCode,omitempty"`
}

// licenseJSON is License with its grace periods in whole seconds, as the
// admin API takes them.
type licenseJSON struct {
	plainLicense
	GraceSeconds        int64 `json:"graceSeconds"`
	OfflineGraceSeconds int64 `json:"offlineGraceSeconds"`
}

type plainLicense License // License without its JSON methods

// MarshalJSON writes the grace periods as graceSeconds and offlineGraceSeconds.
func (l License) MarshalJSON() ([]byte, error) {
	return json.Marshal(licenseJSON{plainLicense(l), int64(l.Grace / time.Second), int64(l.OfflineGrace / time.Second)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (l *License) UnmarshalJSON(b []byte) error {
	var v licenseJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*l = License(v.plainLicense)
	l.Grace, l.OfflineGrace = time.Duration(v.GraceSeconds)*time.Second, time.Duration(v.OfflineGraceSeconds)*time.Second
	return nil
}

// Seat is a floating lease held by a session, or a node-locked device
// binding (SessionID empty, LeaseExpires zero: it does not lapse).
type Seat struct {
	ID           string    `json:"id"`
	LicenseID    string    `json:"licenseId"`
	SessionID    string    `json:"sessionId,omitempty"`
	UserID       string    `json:"userId,omitempty"`
	Device       string    `json:"device,omitempty"` // the fingerprint as sent
	Acquired     time.Time `json:"acquired"`
	Renewed      time.Time `json:"renewed"`
	LeaseExpires time.Time `json:"leaseExpires,omitzero"`
}

// Room reports whether the licence has a floating seat for s beside the
// live seats of others: fewer than Seats of them, or, for a named-user
// licence, fewer than Seats users holding them, or one held by s's user
// already. AcquireSeat decides with it in both backends.
func (l License) Room(others []Seat, s Seat) bool {
	if !l.NamedUsers {
		return len(others) < l.Seats
	}
	users := make(map[string]bool, len(others))
	for _, o := range others {
		users[o.UserID] = true
	}
	return users[s.UserID] || len(users) < l.Seats
}

// Lapsed reports whether a floating lease has run out at now.
func (s Seat) Lapsed(now time.Time) bool {
	return !s.LeaseExpires.IsZero() && now.After(s.LeaseExpires)
}

// AuditEntry records what happened to a licence, for operators.
type AuditEntry struct {
	Time      time.Time `json:"time"`
	LicenseID string    `json:"licenseId,omitempty"`
	OrgID     string    `json:"orgId,omitempty"`
	SessionID string    `json:"sessionId,omitempty"`
	UserID    string    `json:"userId,omitempty"`
	Event     string    `json:"event"`
	Detail    string    `json:"detail,omitempty"`
}

// ProductKey is a product's licence signing key. Private is the encoded
// private key; it never leaves the service.
type ProductKey struct {
	ProductID string    `json:"productId"`
	ID        string    `json:"id"`
	Private   string    `json:"private"`
	Created   time.Time `json:"created"`
	Retired   bool      `json:"retired,omitempty"` // verifies old documents, signs nothing new
}

// SameDevice decides whether two fingerprints are one device (the drift
// rule); the store needs it to bind node-locked licences atomically.
type SameDevice func(a, b string) bool

// Licenses holds licences, their seats, signing keys and the audit log.
type Licenses interface {
	PutLicense(ctx context.Context, l License) error
	License(ctx context.Context, id string) (License, error)
	// Licenses lists an org's licences for a product ("" matches all).
	Licenses(ctx context.Context, orgID, productID string) ([]License, error)

	// AcquireSeat gives s.SessionID a floating seat of the licence until
	// s.LeaseExpires: the seat it already holds, or the live seat of the
	// same user on the same device (a program that came back in a new
	// session takes its seat over), or a new one if the licence has Room
	// beside the unlapsed seats; else ErrNoSeat. ErrNotActive
	// if the licence is frozen or released (checked in the same step).
	AcquireSeat(ctx context.Context, s Seat) (Seat, error)
	// RenewSeat extends a held seat; ErrNotFound if it lapsed and was taken.
	RenewSeat(ctx context.Context, licenseID, sessionID string, leaseExpires, now time.Time) (Seat, error)
	// BindDevice binds a node-locked licence to s.Device, or finds the
	// binding of the same device by same; ErrDeviceLimit when full.
	BindDevice(ctx context.Context, s Seat, same SameDevice) (Seat, error)
	// Seats lists a licence's seats ("" lists all), lapsed ones included.
	Seats(ctx context.Context, licenseID string) ([]Seat, error)
	// ReleaseSeat frees one seat by id.
	ReleaseSeat(ctx context.Context, seatID string) (Seat, error)
	// ReleaseSessionSeats frees every floating seat a session holds.
	ReleaseSessionSeats(ctx context.Context, sessionID string) ([]Seat, error)

	PutProductKey(ctx context.Context, k ProductKey) error
	ProductKeys(ctx context.Context, productID string) ([]ProductKey, error)

	AppendAudit(ctx context.Context, e AuditEntry) error
	Audit(ctx context.Context, licenseID string, limit int) ([]AuditEntry, error)
}
