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

// Lapsed reports whether a floating lease has run out at now.
func (s Seat) Lapsed(now time.Time) bool {
	return !s.LeaseExpires.IsZero() && now.After(s.LeaseExpires)
}

// AuditEntry records what happened to a licence, for operators.
type AuditEntry struct {
	// Seq orders the audit log across licences: the store gives each
	// entry a larger one than every entry before it (AppendAudit ignores
	// it). It is not part of the stored document.
	Seq       int64     `json:"-"`
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

// SeatTx is what UpdateSeats's function may do in its transaction.
type SeatTx interface {
	// Seats lists the licence's seats, lapsed ones included: all of them
	// (sessionID ""), or those a session holds.
	Seats(sessionID string) ([]Seat, error)
	// PutSeat stores a seat of the licence, new or replacing the one of
	// its ID.
	PutSeat(s Seat) error
	// DeleteSeats removes the licence's seats of these ids.
	DeleteSeats(ids ...string) error
}

// Licenses holds licences, their seats, signing keys and the audit log.
type Licenses interface {
	PutLicense(ctx context.Context, l License) error
	License(ctx context.Context, id string) (License, error)
	// Licenses lists an org's licences for a product ("" matches all).
	Licenses(ctx context.Context, orgID, productID string) ([]License, error)

	// UpdateSeats runs fn in one transaction over a licence and its
	// seats: no other UpdateSeats of the licence runs until fn returns
	// (its row locked across replicas). ErrNotFound without the licence;
	// fn's error aborts the transaction and is returned. The rules of
	// seats (taking, renewing, binding, counting, lapsing) are the
	// licensing service's (internal/server/licensing).
	UpdateSeats(ctx context.Context, licenseID string, fn func(tx SeatTx, l License) error) error
	// Seats lists a licence's seats ("" lists all), lapsed ones included.
	Seats(ctx context.Context, licenseID string) ([]Seat, error)
	// ReleaseSeat frees one seat by id.
	ReleaseSeat(ctx context.Context, seatID string) (Seat, error)
	// DeleteSessionSeats removes the seats of a session, of any licence,
	// that which keeps, and returns them.
	DeleteSessionSeats(ctx context.Context, sessionID string, which func(Seat) bool) ([]Seat, error)

	PutProductKey(ctx context.Context, k ProductKey) error
	ProductKeys(ctx context.Context, productID string) ([]ProductKey, error)

	// AppendAudit adds an entry to the audit log, filed under its
	// licence and, when it names one, its organisation.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// Audit lists a licence's newest limit entries, oldest first.
	Audit(ctx context.Context, licenseID string, limit int) ([]AuditEntry, error)
	// AuditLog lists the audit log across licences, newest first, as q
	// asks: it reads at most q.Limit entries of the index it walks.
	AuditLog(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
}

// AuditQuery asks for a page of the audit log across licences.
type AuditQuery struct {
	LicenseID string // only this licence's entries ("" any)
	OrgID     string // only this organisation's entries ("" any)
	// Before continues a walk: only entries older than the one of this
	// Seq (0: from the newest).
	Before int64
	Limit  int // at most this many entries; 0 or less: none
}
