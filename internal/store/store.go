// Package store defines what iscd keeps between restarts and the interfaces
// its backends implement. The embedded backend is boltstore; a PostgreSQL
// backend implements the same interfaces.
//
// A backend keeps records and gives transactions over them (UpdateFile,
// UpdateSeats, UpdateJob, UpdateLease, ...); it knows no business rule.
// The rules (a save based on an old version conflicts, a seat lease
// lapses, a job attempt is lost) are written once, in the service that
// owns them, and run inside these transactions, so they hold alike on
// either backend and across PostgreSQL replicas.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors that callers branch on.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
)

// Org is a customer organisation: users, their tokens and sessions belong to one.
type Org struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Tenant is set on an organisation the marketplace synced (tenantSync).
	Tenant *Tenant `json:"tenant,omitempty"`
	// Closed: the tenant was deleted; its users' tokens are refused.
	Closed bool `json:"closed,omitempty"`
}

// User is a person (or a service account) in an org.
type User struct {
	ID      string    `json:"id"`
	OrgID   string    `json:"orgId"`
	Name    string    `json:"name"`
	Email   string    `json:"email,omitempty"`
	Created time.Time `json:"created"`

	// What the marketplace's authSync says (docs/identity.md); empty for
	// users an operator made.
	UserName     string `json:"userName,omitempty"`     // the marketplace's account name, unique in the tenant
	Role         string `json:"role,omitempty"`         // RoleUser or RoleAdmin
	Department   string `json:"department,omitempty"`   // a Department's Code
	EmployeeCode string `json:"employeeCode,omitempty"` //
	Mobile       string `json:"mobile,omitempty"`       //
	// Disabled (enable "false") refuses the user's tokens.
	Disabled bool `json:"disabled,omitempty"`
	// Authorised says the marketplace authorised the user to use the
	// application (added and not revoked): a named-user licence admits
	// such users (License.NamedUsers). A synced user (UserName set) that
	// is not authorised is refused.
	Authorised bool `json:"authorised,omitempty"`
	// Deleted: removed by the marketplace; tokens refused, kept for the
	// audit log.
	Deleted bool      `json:"deleted,omitempty"`
	Updated time.Time `json:"updated,omitzero"`
	// SyncedAt is the timeStamp of the authSync call that last changed
	// the user: an older call arriving late does not undo a newer one.
	SyncedAt time.Time `json:"syncedAt,omitzero"`
}

// Refused reports why a user's tokens are refused, or "".
func (u User) Refused() string {
	switch {
	case u.Deleted:
		return "the user was deleted"
	case u.Disabled:
		return "the user is disabled"
	case u.UserName != "" && !u.Authorised:
		return "the marketplace revoked the user's authorisation"
	}
	return ""
}

// Token is a stored bearer credential. Only the hash of its secret is kept.
type Token struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"` // token.PrefixAPI, PrefixAdmin, ...
	Hash    string    `json:"hash"`
	UserID  string    `json:"userId,omitempty"`
	OrgID   string    `json:"orgId,omitempty"`
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created"`
	Revoked bool      `json:"revoked,omitempty"`
	// Role is what an admin token may do (adminapi.Role*); "" on an admin
	// token made before roles existed means owner. Other kinds have none.
	Role string `json:"role,omitempty"`
	// Expires is when an admin token stops working; zero: never.
	Expires time.Time `json:"expires,omitzero"`
}

// Product is a desktop program that connects through iscsdk.
type Product struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// RequireLicense says what an organisation needs an active licence of
	// the product for. nil: not decided, which requires nothing; the
	// marketplace's first sale of the product requires both.
	RequireLicense *LicenseGates `json:"requireLicense,omitempty"`
}

// LicenseGates are the uses of a product that need an active licence.
type LicenseGates struct {
	Compute bool `json:"compute"` // submitting solves
	Files   bool `json:"files"`   // saving, opening, listing and locking cloud files
}

// Session is a client's logical session. It outlives connections: a client
// that reconnects within the resume window resumes it and receives the
// events it has not acknowledged.
type Session struct {
	ID         string    `json:"id"`
	ResumeHash string    `json:"resumeHash"`
	OrgID      string    `json:"orgId"`
	UserID     string    `json:"userId"`
	ProductID  string    `json:"productId"`
	AppVersion string    `json:"appVersion,omitempty"`
	Device     string    `json:"device,omitempty"`
	Created    time.Time `json:"created"`
	LastSeen   time.Time `json:"lastSeen"`
}

// Event is one stored event of a session, already encoded.
type Event struct {
	Seq  uint64
	Data []byte
}

// Directory holds organisations, users, tokens and products.
type Directory interface {
	CreateOrg(ctx context.Context, o Org) error
	Org(ctx context.Context, id string) (Org, error)
	Orgs(ctx context.Context) ([]Org, error)

	CreateUser(ctx context.Context, u User) error
	User(ctx context.Context, id string) (User, error)
	Users(ctx context.Context, orgID string) ([]User, error) // "" lists all

	CreateToken(ctx context.Context, t Token) error
	Token(ctx context.Context, id string) (Token, error)
	Tokens(ctx context.Context, userID string) ([]Token, error) // "" lists all
	RevokeToken(ctx context.Context, id string) error
	// DeleteExpiredTokens removes the tokens of kind (token.Prefix*)
	// whose Expires is set and before t, and says how many.
	DeleteExpiredTokens(ctx context.Context, kind string, t time.Time) (int, error)

	CreateProduct(ctx context.Context, p Product) error
	// UpdateProduct changes a product in one transaction: change gets the
	// stored product and edits it (its ID stays); an error from change
	// aborts and is returned.
	UpdateProduct(ctx context.Context, id string, change func(*Product) error) error
	Product(ctx context.Context, id string) (Product, error)
	Products(ctx context.Context) ([]Product, error)
}

// Sessions holds sessions and each session's event log.
type Sessions interface {
	PutSession(ctx context.Context, s Session) error
	Session(ctx context.Context, id string) (Session, error)
	ListSessions(ctx context.Context) ([]Session, error)
	// DeleteSession removes a session and its events.
	DeleteSession(ctx context.Context, id string) error

	// AppendEvent stores data as the session's next event and returns its
	// sequence number (1, 2, ...). When the log holds more than the
	// backend's retention, the oldest events are dropped.
	AppendEvent(ctx context.Context, sessionID string, data []byte) (uint64, error)
	// EventsAfter returns up to limit events with Seq > after, in order.
	EventsAfter(ctx context.Context, sessionID string, after uint64, limit int) ([]Event, error)
	// AckEvents drops the events with Seq <= upTo: the client has them.
	AckEvents(ctx context.Context, sessionID string, upTo uint64) error
	// FirstSeq is the oldest event still held (0 when the log is empty)
	// and LastSeq the newest ever appended.
	EventRange(ctx context.Context, sessionID string) (first, last uint64, err error)
}

// Store is everything iscd persists.
type Store interface {
	Directory
	Identity
	SignIns
	Federation
	Sessions
	Licenses
	Marketplace
	Outbox
	Files
	Jobs
	Releases
	Close() error
}
