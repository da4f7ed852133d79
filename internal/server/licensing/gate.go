package licensing

import (
	"context"
	"errors"
	"fmt"

	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Licence gates: a product may require an organisation to hold an active
// licence of it for compute and for cloud files (store.Product
// RequireLicense). The files and jobs services ask before they work.

// RequireForFiles refuses cloud files to an organisation that needs an
// active licence of the product for them and has none: wire error
// license_frozen when its licence is frozen, license_required otherwise.
func (s *Service) RequireForFiles(ctx context.Context, orgID, productID string) error {
	return s.require(ctx, orgID, productID, "cloud files", func(g store.LicenseGates) bool { return g.Files })
}

// RequireForCompute is RequireForFiles for solves.
func (s *Service) RequireForCompute(ctx context.Context, orgID, productID string) error {
	return s.require(ctx, orgID, productID, "compute", func(g store.LicenseGates) bool { return g.Compute })
}

// OnStop registers fn, called after a licence is frozen or released with
// the wire code saying which (license_frozen, license_released): the
// compute service cancels the jobs the licence no longer allows.
func (s *Service) OnStop(fn func(ctx context.Context, l store.License, code string)) {
	s.stopMu.Lock()
	s.onStop = append(s.onStop, fn)
	s.stopMu.Unlock()
}

func (s *Service) stopped(ctx context.Context, l store.License, code string) {
	s.stopMu.Lock()
	fns := s.onStop
	s.stopMu.Unlock()
	for _, fn := range fns {
		fn(ctx, l, code)
	}
}

func (s *Service) require(ctx context.Context, orgID, productID, use string, needs func(store.LicenseGates) bool) error {
	p, err := s.st.Product(ctx, productID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // no product, no rule (sessions name registered products)
	}
	if err != nil {
		return fmt.Errorf("licence gate: %w", err)
	}
	if p.RequireLicense == nil || !needs(*p.RequireLicense) {
		return nil
	}
	ls, err := s.st.Licenses(ctx, orgID, productID)
	if err != nil {
		return fmt.Errorf("licence gate: %w", err)
	}
	now := s.now()
	var why error
	for _, l := range ls {
		err := s.usable(l, now)
		if err == nil {
			return nil
		}
		if why == nil || l.Status == store.StatusFrozen {
			why = err
		}
	}
	var we *wire.Error
	if errors.As(why, &we) && we.Code == wire.CodeFrozen {
		return wire.Errorf(wire.CodeFrozen, "%s of %s need an active licence: %s", use, productID, we.Message)
	}
	msg := fmt.Sprintf("%s of %s need an active licence, and organisation %s has none", use, productID, orgID)
	if errors.As(why, &we) {
		msg += " (" + we.Message + ")"
	}
	return wire.Errorf(wire.CodeLicenseRequired, "%s", msg)
}
