package store

import (
	"context"
	"time"
)

// User roles in an organisation (the marketplace's authSync role).
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// Tenant is what the marketplace's tenantSync says of the company an
// organisation stands for.
type Tenant struct {
	TenantID   string `json:"tenantId"`
	TenantCode string `json:"tenantCode,omitempty"`
	DomainName string `json:"domainName,omitempty"` // the unified login's domain
	InstanceID string `json:"instanceId,omitempty"`
	OrderID    string `json:"orderId,omitempty"`
	Test       bool   `json:"test,omitempty"` // synced with testFlag 1
	// SyncedAt is the timeStamp of the tenantSync call that set this: an
	// older call arriving late (a retry) does not undo a newer one.
	SyncedAt time.Time `json:"syncedAt,omitzero"`
}

// Department is one node of an organisation's department tree: the
// marketplace's orgCode, its name and its parent's code ("" at the top).
type Department struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	Parent string `json:"parent,omitempty"`
}

// OrgLogin is an organisation's unified-login client: the marketplace
// application's credentials from applicationSync. The secret is kept
// sealed (an envelope.Sealed, its JSON), never in clear.
type OrgLogin struct {
	OrgID        string    `json:"orgId"`
	AppID        string    `json:"appId"`
	ClientID     string    `json:"clientId"`
	SealedSecret string    `json:"sealedSecret"`
	Test         bool      `json:"test,omitempty"`
	Deleted      bool      `json:"deleted,omitempty"` // applicationSync flag 0: the login is off
	Updated      time.Time `json:"updated"`
}

// Identity holds what the marketplace's sync interfaces bring beside the
// directory's records: changes to organisations and users, the department
// trees and the organisations' unified-login clients.
type Identity interface {
	// UpdateOrg changes an org in one transaction: change gets the stored
	// org and edits it (its ID stays); an error from change aborts and is
	// returned. ErrNotFound if there is none.
	UpdateOrg(ctx context.Context, id string, change func(*Org) error) error
	// UpsertUsers creates or changes users of one org in one transaction:
	// for each id, change gets the stored user (found false: a new User
	// with only ID and OrgID set) and edits it; IDs and OrgIDs stay. An
	// error from change aborts everything and is returned. A user of that
	// id in another org is ErrExists; an unknown org ErrNotFound.
	UpsertUsers(ctx context.Context, orgID string, ids []string, change func(u *User, found bool) error) ([]User, error)

	// Departments lists an org's department tree (empty when none).
	Departments(ctx context.Context, orgID string) ([]Department, error)
	// UpdateDepartments replaces an org's department tree in one
	// transaction by what change makes of the stored one; an error from
	// change aborts and is returned.
	UpdateDepartments(ctx context.Context, orgID string, change func([]Department) ([]Department, error)) error

	// PutOrgLogin stores an org's unified-login client, replacing one.
	PutOrgLogin(ctx context.Context, l OrgLogin) error
	// OrgLogin is an org's unified-login client; ErrNotFound if none.
	OrgLogin(ctx context.Context, orgID string) (OrgLogin, error)
}
