package wire

import "time"

// Licence operations (docs/licensing.md).
const (
	OpLicenseRequest = "license.request" // body: LicenseRequest; result: LicenseGrant
	OpLicenseRenew   = "license.renew"   // body: LicenseRef; result: LicenseGrant
	OpLicenseRelease = "license.release" // body: LicenseRef; result: {}
	OpLicenseNotify  = "license.notify"  // body: LicenseNotify; result: {}
)

// Error codes of licence requests; the host sees them as errorCode in a
// failed LicenseVerify event.
const (
	CodeNotEntitled    = "not_entitled"     // the org has no licence at all
	CodeWrongProduct   = "wrong_product"    // the org's licences are for other products
	CodeNotYetValid    = "not_yet_valid"    // before the licence's effective time
	CodeExpired        = "license_expired"  // past expiry and grace
	CodeFrozen         = "license_frozen"   // frozen by an operator or the marketplace
	CodeReleased       = "license_released" // released: gone for good
	CodeNoSeat         = "no_seat"          // every floating seat is taken
	CodeDeviceLimit    = "device_limit"     // node-locked to as many devices as allowed
	CodeDeviceRequired = "device_required"  // node-locked needs a device fingerprint
	CodeBadDevice      = "bad_device"       // the fingerprint is malformed or too long
	CodeNotNamedUser   = "not_named_user"   // a named-user licence, and this user is not one of its users
)

// CodeLicenseRequired refuses a call that the product's licence gates
// reserve to organisations with an active licence (compute, cloud files)
// from one that has none; one whose licence is frozen gets CodeFrozen.
const CodeLicenseRequired = "license_required"

// LicenseRequest is the body of license.request.
type LicenseRequest struct {
	Device string `json:"device,omitempty"` // MAC|disk|board|cpu; "" for none
}

// LicenseRef names a licence the session holds (license.renew, license.release).
type LicenseRef struct {
	LicenseID string `json:"licenseId"`
	Device    string `json:"device,omitempty"`
}

// LicenseNotify is the body of license.notify: the program's own verdict.
type LicenseNotify struct {
	LicenseID string `json:"licenseId,omitempty"`
	Verified  bool   `json:"verified"`
	Message   string `json:"message,omitempty"`
}

// LicenseGrant answers license.request and license.renew.
type LicenseGrant struct {
	License        string    `json:"license"` // the signed licence string
	LicenseID      string    `json:"licenseId"`
	Kind           string    `json:"kind"`
	LeaseExpiresAt time.Time `json:"leaseExpiresAt,omitzero"`
	ExpiresAt      time.Time `json:"expiresAt,omitzero"`
	OfflineGrace   int64     `json:"offlineGraceSeconds"`
}
