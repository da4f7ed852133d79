package licensing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/iscsdk/iscsdk/internal/device"
	"github.com/iscsdk/iscsdk/internal/license"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Issue is a request for a licence document outside any session: the
// marketplace asks for one on behalf of a customer's device.
type Issue struct {
	LicenseID   string
	Device      string    // "MAC|disk|board|cpu"; "" leaves the document unbound
	EffectiveAt time.Time // the period the document is valid for; zero: the licence's
	ExpiresAt   time.Time
	Why         string // for the audit log
}

// IssueDocument signs a licence document for req without a session or a
// lease: a standalone, offline document for one period. A node-locked
// licence needs a device and binds it (ErrDeviceLimit shows as
// wire.CodeDeviceLimit); a frozen or released licence is refused with the
// wire codes the SDK uses.
func (s *Service) IssueDocument(ctx context.Context, req Issue) (string, error) {
	l, err := s.st.License(ctx, req.LicenseID)
	if err != nil {
		return "", fmt.Errorf("licence %s: %w", req.LicenseID, err)
	}
	switch l.Status {
	case store.StatusFrozen:
		return "", wire.Errorf(wire.CodeFrozen, "licence %s is frozen", l.ID)
	case store.StatusReleased:
		return "", wire.Errorf(wire.CodeReleased, "licence %s was released", l.ID)
	}
	fp, err := parseDevice(req.Device)
	if err != nil {
		return "", err
	}
	now := s.now()
	if l.Kind == store.KindNodeLocked {
		if fp.IsZero() {
			return "", wire.Errorf(wire.CodeDeviceRequired, "licence %s is node-locked: a device fingerprint is required", l.ID)
		}
		_, err := BindDevice(ctx, s.st, store.Seat{LicenseID: l.ID, Device: req.Device, Acquired: now, Renewed: now})
		if errors.Is(err, store.ErrDeviceLimit) {
			return "", wire.Errorf(wire.CodeDeviceLimit, "licence %s is already bound to %d devices", l.ID, l.Seats)
		}
		if err != nil {
			return "", err
		}
	}
	key, err := s.SigningKey(ctx, l.ProductID)
	if err != nil {
		return "", err
	}
	doc := license.Document{
		ID: l.ID, Product: l.ProductID, Org: l.OrgID, Edition: l.Edition, Features: l.Features,
		Kind: l.Kind, IssuedAt: now, EffectiveAt: l.EffectiveAt, ExpiresAt: l.ExpiresAt, Grace: l.Grace, Trial: l.Trial,
	}
	if !req.EffectiveAt.IsZero() {
		doc.EffectiveAt = req.EffectiveAt.UTC()
	}
	if !req.ExpiresAt.IsZero() {
		doc.ExpiresAt = req.ExpiresAt.UTC()
	}
	if !fp.IsZero() {
		doc.Device = device.Hash(fp, l.ID)
	}
	str, err := license.Sign(doc, key)
	if err != nil {
		return "", fmt.Errorf("sign licence %s: %w", l.ID, err)
	}
	s.audit(ctx, store.AuditEntry{LicenseID: l.ID, OrgID: l.OrgID, Event: "issued", Detail: req.Why})
	return str, nil
}
