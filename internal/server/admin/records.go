package admin

import (
	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/store"
)

// The directory's records as the admin API answers them (adminapi's
// types): the edge where a store record becomes an answer, so no hash
// reaches one. Fields are converted by Go conversions where the two types
// are alike, which fails to compile when either side gains a field: the
// new field is then decided on here, not shown by accident.

// Each maps every record of in with f; nil stays nil (a JSON null, as the
// store's empty lists have always answered).
func Each[S, T any](in []S, f func(S) T) []T {
	if in == nil {
		return nil
	}
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// Org is o as the admin API shows it.
func Org(o store.Org) adminapi.Org {
	out := adminapi.Org{ID: o.ID, Name: o.Name, Created: o.Created, Closed: o.Closed}
	if o.Tenant != nil {
		t := adminapi.Tenant(*o.Tenant)
		out.Tenant = &t
	}
	return out
}

// User is u as the admin API shows it.
func User(u store.User) adminapi.User { return adminapi.User(u) }

// Token is an API or worker token as the admin API shows it: without its
// hash. (Admin tokens are shown as adminapi.AdminToken.)
func Token(t store.Token) adminapi.Token {
	return adminapi.Token{ID: t.ID, Kind: t.Kind, UserID: t.UserID, OrgID: t.OrgID, Name: t.Name, Created: t.Created,
		Revoked: t.Revoked, Expires: t.Expires}
}

// Product is p as the admin API shows it.
func Product(p store.Product) adminapi.Product {
	return adminapi.Product{ID: p.ID, Name: p.Name, Created: p.Created, RequireLicense: (*adminapi.LicenseGates)(p.RequireLicense)}
}

// Session is s as the admin API shows it: without its resume hash.
func Session(s session.SessionInfo) adminapi.Session {
	return adminapi.Session{ID: s.ID, OrgID: s.OrgID, UserID: s.UserID, ProductID: s.ProductID, AppVersion: s.AppVersion,
		Device: s.Device, Created: s.Created, LastSeen: s.LastSeen, Connected: s.Connected}
}
