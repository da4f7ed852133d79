package licensing

import (
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/store"
)

// Licences, seats and the audit log as the admin API answers them. Go
// conversions where the types are alike: they stop compiling when either
// side gains a field, so the admin API never shows a new field by accident.

// licenseOut is l as the admin API shows it: its grace periods in seconds.
func licenseOut(l store.License) adminapi.License {
	return adminapi.License{ID: l.ID, OrgID: l.OrgID, ProductID: l.ProductID, Edition: l.Edition, Features: l.Features,
		Kind: l.Kind, Seats: l.Seats, EffectiveAt: l.EffectiveAt, ExpiresAt: l.ExpiresAt, Status: l.Status, Trial: l.Trial,
		Created: l.Created, Updated: l.Updated, NamedUsers: l.NamedUsers, Users: l.Users, InstanceID: l.InstanceID,
		OrderID: l.OrderID, OrderLineID: l.OrderLineID, LicenseCode: l.LicenseCode,
		GraceSeconds: int64(l.Grace / time.Second), OfflineGraceSeconds: int64(l.OfflineGrace / time.Second)}
}

func seatOut(s store.Seat) adminapi.Seat { return adminapi.Seat(s) }

// auditOut is e without its place in the store's order (a page's cursor
// says where the next page starts).
func auditOut(e store.AuditEntry) adminapi.AuditEntry {
	return adminapi.AuditEntry{Time: e.Time, LicenseID: e.LicenseID, OrgID: e.OrgID, SessionID: e.SessionID, UserID: e.UserID, Event: e.Event, Detail: e.Detail}
}
