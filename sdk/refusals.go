package sdk

import "github.com/iscsdk/iscsdk/internal/wire"

// Error is a refusal with a code: the service's (not_found, conflict,
// locked, license_frozen, ... — docs/protocol.md lists them) or the
// SDK's own (the Upgrade* codes). errors.As finds it in an error the SDK
// returns; the same codes are the events' errorCode.
type Error = wire.Error

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
	// ErrNotFound: no such cloud file, version or job (errorCode
	// not_found).
	ErrNotFound error = &wire.Error{Code: wire.CodeNotFound}
	// ErrConflict: someone saved the cloud file since the version the
	// save started from (errorCode conflict); nothing changed.
	ErrConflict error = &wire.Error{Code: wire.CodeConflict}
	// ErrLocked: someone else has the cloud file checked out (errorCode
	// locked).
	ErrLocked error = &wire.Error{Code: wire.CodeLocked}
)
