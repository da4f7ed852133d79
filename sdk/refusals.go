package sdk

import "github.com/iscsdk/iscsdk/internal/wire"

// Refusals of the service that a program may branch on: errors.Is(err,
// ErrLicenseRequired) holds for an error the service answered with that
// code (the error itself says more). Events carry the same codes as their
// errorCode.
var (
	// ErrLicenseRequired: the product needs an active licence for this
	// (compute, cloud files: its licence gates) and the organisation has
	// none (errorCode license_required).
	ErrLicenseRequired error = &wire.Error{Code: wire.CodeLicenseRequired}
	// ErrLicenseFrozen: the organisation's licence is frozen (errorCode
	// license_frozen).
	ErrLicenseFrozen error = &wire.Error{Code: wire.CodeFrozen}
)
