package adminapi

import (
	"fmt"
	"strings"
	"time"
)

// Role is what an admin token may do. Every admin endpoint requires one
// role; a token may call it when its role is that one or owner. Every role
// may read (GET): RoleReadOnly is what a GET requires.
type Role string

// Roles, from the most to the least power. docs/admin.md lists the
// endpoints of each.
const (
	// RoleOwner may do everything, and alone manages admin tokens,
	// products (their licence gates) and the licence signing keys. The
	// first admin token (DATA/admin.token, dev.env's) is an owner's.
	RoleOwner Role = "owner"
	// RoleLicenses is the customer desk: organisations, users and their
	// API tokens, licences and seats, sessions, notices, and breaking a
	// file's check-out.
	RoleLicenses Role = "licenses"
	// RoleReleases publishes and withdraws upgrades.
	RoleReleases Role = "releases"
	// RoleCompute runs the compute service: solvers, canceling jobs,
	// workers' tokens.
	RoleCompute Role = "compute"
	// RoleReadOnly reads everything an admin may read and changes nothing.
	RoleReadOnly Role = "read-only"
)

// Roles lists every role.
var Roles = []Role{RoleOwner, RoleLicenses, RoleReleases, RoleCompute, RoleReadOnly}

// CodeTokenExpired answers a call with an admin token past its expiry
// (HTTP 401). A call the token's role may not make is answered 403 with
// wire.CodeForbidden, its message naming the role needed.
const CodeTokenExpired = "token_expired"

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return "", fmt.Errorf("unknown role %q (roles: %s)", s, strings.Join(names, ", "))
}

// Allows reports whether a token of role r may call an endpoint that
// requires need.
func (r Role) Allows(need Role) bool {
	return r == RoleOwner || need == RoleReadOnly || r == need
}

// CreateAdminToken is the body of POST /admin/v1/admin-tokens (owner).
type CreateAdminToken struct {
	Role Role   `json:"role"`
	Name string `json:"name,omitempty"`
	// Expires is when the token stops working; zero: never. It must be
	// in the future.
	Expires time.Time `json:"expires,omitzero"`
	// UserID, when set, makes an operator grant instead of a token: the
	// user signs into the web console through iscd's browser sign-in
	// with Role (docs/console.md). A grant has no secret: the answer is
	// an AdminToken, with no token in it. A user holds one grant at a
	// time.
	UserID string `json:"userId,omitempty"`
}

// AdminToken is one entry of GET /admin/v1/admin-tokens: never its secret.
type AdminToken struct {
	ID      string    `json:"id"`
	Name    string    `json:"name,omitempty"`
	Role    Role      `json:"role"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`
	Revoked bool      `json:"revoked,omitempty"`
	// UserID is the user of an operator grant (CreateAdminToken.UserID);
	// empty for a token, which has a secret.
	UserID string `json:"userId,omitempty"`
}

// NewAdminToken answers CreateAdminToken; Secret is shown this once and
// never stored.
type NewAdminToken struct {
	AdminToken
	Secret string `json:"token"`
}

// Route is one entry of GET /admin/v1/routes: an endpoint and the role it
// requires.
type Route struct {
	Method  string `json:"method"`
	Pattern string `json:"pattern"` // e.g. /admin/v1/licenses/{id}/{action}
	Role    Role   `json:"role"`
}
