package license

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/iscsdk/iscsdk/internal/device"
)

// ClockTolerance is how far the local clock may be behind a document's
// issue time before Verify decides it was set back (CodeClockTampered).
// It absorbs ordinary clock skew between iscd and the desktop.
const ClockTolerance = 5 * time.Minute

// Code is the outcome of Verify: a short, stable, machine-readable string.
type Code string

// The result codes of Verify, in the order it checks for them.
const (
	CodeOK            Code = "ok"             // valid (see Result.State for grace)
	CodeTooLarge      Code = "too_large"      // the string is over MaxLen bytes
	CodeMalformed     Code = "malformed"      // not a licence string of this format
	CodeUnknownKey    Code = "unknown_key"    // no given key has the string's key id
	CodeBadSignature  Code = "bad_signature"  // the signature does not verify: altered or forged
	CodeWrongProduct  Code = "wrong_product"  // signed for another product than the key's
	CodeWrongDevice   Code = "wrong_device"   // bound to another device, or no device given
	CodeClockTampered Code = "clock_tampered" // now is before IssuedAt minus ClockTolerance
	CodeNotYetValid   Code = "not_yet_valid"  // now is before EffectiveAt
	CodeExpired       Code = "expired"        // now is at or past ExpiresAt + Grace
	CodeLeaseExpired  Code = "lease_expired"  // now is at or past LeaseExpiresAt + LeaseGrace
)

// State qualifies a valid result.
type State string

// The states of a valid licence.
const (
	StateValid        State = "valid"         // within its validity window and lease
	StateGrace        State = "grace"         // past ExpiresAt, within Grace
	StateOfflineGrace State = "offline-grace" // past LeaseExpiresAt, within LeaseGrace
)

// Result is the verdict of Verify. The licence fields are filled only once
// the signature has verified, so they never repeat unauthenticated data;
// a failure after that point (wrong device, expired, …) still reports
// them.
type Result struct {
	Valid          bool
	Code           Code
	Message        string // a sentence for a person, in English
	LicenseID      string
	Product        string
	Edition        string
	Features       []string
	Kind           string
	Trial          bool
	IssuedAt       time.Time
	EffectiveAt    time.Time
	ExpiresAt      time.Time
	LeaseExpiresAt time.Time
	State          State // set when Valid
}

// Verify checks a licence string entirely offline and says whether the
// program may run. keys are the product's public keys (ParsePublicKeys),
// device is this machine's fingerprint as "MAC|disk|board|cpu"
// (device.Info) and now the current time, which the caller should
// protect against a clock set back (a trusted high-water mark).
//
// The checks, in order, each with its code: length (too_large), layout
// (malformed), key id (unknown_key), signature over the exact payload
// bytes (bad_signature), the payload itself (malformed), product
// (wrong_product), device (wrong_device), clock (clock_tampered),
// EffectiveAt (not_yet_valid), ExpiresAt + Grace (expired),
// LeaseExpiresAt + LeaseGrace (lease_expired). The first failure decides.
//
// A document bound to a device needs a device that matches it by the
// drift rule of package device; device "" is then wrong_device. For an
// unbound document the device is not looked at.
func Verify(s string, keys []PublicKey, deviceInfo string, now time.Time) Result {
	if len(s) > MaxLen { // before anything else: no work at all for a huge string
		return Result{Code: CodeTooLarge, Message: "licence string longer than 64 KiB"}
	}
	doc, err := Parse(s, keys)
	switch {
	case err == nil:
	case errors.Is(err, ErrWrongProduct):
		return fail(resultOf(doc), CodeWrongProduct, err.Error())
	case errors.Is(err, ErrUnknownKey):
		return fail(Result{}, CodeUnknownKey, err.Error())
	case errors.Is(err, ErrBadSignature):
		return fail(Result{}, CodeBadSignature, err.Error())
	default:
		return fail(Result{}, CodeMalformed, err.Error())
	}
	r := resultOf(doc)

	if !doc.Device.IsZero() {
		if deviceInfo == "" {
			return fail(r, CodeWrongDevice, "licence is bound to a device and no device fingerprint was given")
		}
		fp, err := device.Parse(deviceInfo)
		if err != nil {
			return fail(r, CodeWrongDevice, "device fingerprint: "+err.Error())
		}
		if !doc.Device.Matches(fp, doc.ID) {
			return fail(r, CodeWrongDevice, "licence is bound to another device")
		}
	}
	if now.Before(doc.IssuedAt.Add(-ClockTolerance)) {
		return fail(r, CodeClockTampered, fmt.Sprintf("the clock (%s) is before the licence was issued (%s): it was set back",
			rfc3339(now), rfc3339(doc.IssuedAt)))
	}
	if !doc.EffectiveAt.IsZero() && now.Before(doc.EffectiveAt) {
		return fail(r, CodeNotYetValid, "licence is valid from "+rfc3339(doc.EffectiveAt))
	}
	if !doc.ExpiresAt.IsZero() && !now.Before(doc.ExpiresAt.Add(doc.Grace)) {
		return fail(r, CodeExpired, "licence expired at "+rfc3339(doc.ExpiresAt)+graceNote(doc.Grace))
	}
	if !doc.LeaseExpiresAt.IsZero() && !now.Before(doc.LeaseExpiresAt.Add(doc.LeaseGrace)) {
		return fail(r, CodeLeaseExpired, "lease expired at "+rfc3339(doc.LeaseExpiresAt)+graceNote(doc.LeaseGrace)+
			"; reconnect to renew it")
	}

	r.Valid, r.Code, r.State, r.Message = true, CodeOK, StateValid, "licence valid"
	switch {
	case !doc.ExpiresAt.IsZero() && !now.Before(doc.ExpiresAt):
		r.State = StateGrace
		r.Message = "licence expired at " + rfc3339(doc.ExpiresAt) + "; in grace until " + rfc3339(doc.ExpiresAt.Add(doc.Grace))
	case !doc.LeaseExpiresAt.IsZero() && !now.Before(doc.LeaseExpiresAt):
		r.State = StateOfflineGrace
		r.Message = "lease expired at " + rfc3339(doc.LeaseExpiresAt) + "; offline grace until " +
			rfc3339(doc.LeaseExpiresAt.Add(doc.LeaseGrace))
	}
	return r
}

func resultOf(d Document) Result {
	return Result{
		LicenseID: d.ID, Product: d.Product, Edition: d.Edition, Features: d.Features, Kind: d.Kind,
		Trial: d.Trial, IssuedAt: d.IssuedAt, EffectiveAt: d.EffectiveAt, ExpiresAt: d.ExpiresAt,
		LeaseExpiresAt: d.LeaseExpiresAt,
	}
}

func fail(r Result, c Code, msg string) Result {
	r.Valid, r.Code, r.Message = false, c, msg
	return r
}

func graceNote(g time.Duration) string {
	if g == 0 {
		return ""
	}
	return " and its grace of " + g.String() + " is over"
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// resultJSON is the JSON form of Result: times in RFC 3339 UTC, zero
// values left out (except valid, code and message).
type resultJSON struct {
	Valid          bool     `json:"valid"`
	Code           Code     `json:"code"`
	Message        string   `json:"message"`
	LicenseID      string   `json:"licenseId,omitempty"`
	Product        string   `json:"product,omitempty"`
	Edition        string   `json:"edition,omitempty"`
	Features       []string `json:"features,omitempty"`
	Kind           string   `json:"kind,omitempty"`
	Trial          bool     `json:"trial,omitempty"`
	IssuedAt       string   `json:"issuedAt,omitempty"`
	EffectiveAt    string   `json:"effectiveAt,omitempty"`
	ExpiresAt      string   `json:"expiresAt,omitempty"`
	LeaseExpiresAt string   `json:"leaseExpiresAt,omitempty"`
	State          State    `json:"state,omitempty"`
}

// MarshalJSON writes the result as iscsdk_license_verify returns it:
//
//	{"valid":true,"code":"ok","message":"…","licenseId":"…","product":"…",
//	 "edition":"…","features":[…],"kind":"…","trial":true,"issuedAt":"…",
//	 "effectiveAt":"…","expiresAt":"…","leaseExpiresAt":"…","state":"valid"}
//
// Times are RFC 3339 in UTC; empty fields are left out.
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(resultJSON{
		Valid: r.Valid, Code: r.Code, Message: r.Message, LicenseID: r.LicenseID, Product: r.Product,
		Edition: r.Edition, Features: r.Features, Kind: r.Kind, Trial: r.Trial,
		IssuedAt: jsonTime(r.IssuedAt), EffectiveAt: jsonTime(r.EffectiveAt), ExpiresAt: jsonTime(r.ExpiresAt),
		LeaseExpiresAt: jsonTime(r.LeaseExpiresAt), State: r.State,
	})
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (r *Result) UnmarshalJSON(b []byte) error {
	var j resultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out := Result{
		Valid: j.Valid, Code: j.Code, Message: j.Message, LicenseID: j.LicenseID, Product: j.Product,
		Edition: j.Edition, Features: j.Features, Kind: j.Kind, Trial: j.Trial, State: j.State,
	}
	for _, f := range []struct {
		s   string
		dst *time.Time
	}{{j.IssuedAt, &out.IssuedAt}, {j.EffectiveAt, &out.EffectiveAt}, {j.ExpiresAt, &out.ExpiresAt}, {j.LeaseExpiresAt, &out.LeaseExpiresAt}} {
		if f.s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, f.s)
		if err != nil {
			return fmt.Errorf("license result: %w", err)
		}
		*f.dst = t.UTC()
	}
	*r = out
	return nil
}

func jsonTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return rfc3339(t)
}
