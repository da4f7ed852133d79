package sdk

import (
	"strconv"
	"strings"
	"time"
)

// Typed views of the events a Go program handles most often. An Event
// carries its content as string params, as in the SDK iscsdk mirrors; the
// views read them into fields (a param that is absent, or does not parse,
// leaves its field zero).

// ConnectionChange is the content of a ConnectionState event.
type ConnectionChange struct {
	State      string // StateConnected, StateDisconnected or StateReconnecting
	Session    string // connected: the session's id
	Resumed    bool   // connected: the service still knew the session, and its events were kept
	EventsLost string // connected: "" when none, else how many ("unknown": the service no longer knew the session)
	Attempt    int    // reconnecting, or a failed attempt: its number
	Err        string // disconnected: why
}

// ConnectionChange returns e's content if e is a ConnectionState event.
func (e Event) ConnectionChange() (ConnectionChange, bool) {
	if e.Type != EventConnectionState {
		return ConnectionChange{}, false
	}
	p := e.Params
	attempt, _ := strconv.Atoi(p["attempt"])
	return ConnectionChange{State: p["state"], Session: p["session"], Resumed: p["resumed"] == "true",
		EventsLost: p["eventsLost"], Attempt: attempt, Err: p["error"]}, true
}

// LicenseChange is the content of a LicenseState event: a licence held
// changed, in the service (frozen, unfrozen, released) or here (renewed,
// offline-grace, expired).
type LicenseChange struct {
	LicenseID      string
	State          string    // LicenseRenewed, LicenseOfflineGrace, LicenseExpired, LicenseFrozen, LicenseUnfrozen or LicenseReleased
	Message        string    // why, for a person
	ErrorCode      string    // the service's refusal of a renewal, if that is why
	LeaseExpiresAt time.Time // renewed: the new lease's end
	GraceEndsAt    time.Time // offline-grace: when the licence stops being usable offline
	License        string    // renewed: the signed licence, renewed
}

// LicenseChange returns e's content if e is a LicenseState event.
func (e Event) LicenseChange() (LicenseChange, bool) {
	if e.Type != EventLicenseState {
		return LicenseChange{}, false
	}
	p := e.Params
	lease, _ := time.Parse(time.RFC3339, p["leaseExpiresAt"])
	grace, _ := time.Parse(time.RFC3339, p["graceEndsAt"])
	return LicenseChange{LicenseID: p["licenseId"], State: p["state"], Message: p["message"], ErrorCode: p["errorCode"],
		LeaseExpiresAt: lease, GraceEndsAt: grace, License: p["LicenseContent"]}, true
}

// Notice is the content of a Notice event: a message from the service's
// operator, for the user.
type Notice struct {
	Title, Text string
}

// Notice returns e's content if e is a Notice event.
func (e Event) Notice() (Notice, bool) {
	if e.Type != EventNotice {
		return Notice{}, false
	}
	return Notice{Title: e.Params["title"], Text: e.Params["text"]}, true
}

// Refusal is the content of a ServiceClosed or SignInRequired event: the
// service ended the session, or refused the program's token.
type Refusal struct {
	Reason  string // ServiceClosed: kicked, shutdown, ...; SignInRequired: sign_in_required or unauthorized
	Message string // why, for a person
}

// Refusal returns e's content if e is a ServiceClosed or SignInRequired
// event.
func (e Event) Refusal() (Refusal, bool) {
	if e.Type != EventServiceClosed && e.Type != EventSignInRequired {
		return Refusal{}, false
	}
	return Refusal{Reason: e.Params["reason"], Message: e.Params["message"]}, true
}

// SignInPrompt is the content of a SignInPrompt event: where the user
// confirms the sign-in.
type SignInPrompt struct {
	URL             string    // the page to open or show (for the device grant, with the code filled in)
	VerificationURI string    // the device grant's page without the code, to type in by hand
	UserCode        string    // the device grant's code to show ("" for the browser)
	Expires         time.Time // when the prompt is no longer good
}

// SignInPrompt returns e's content if e is a SignInPrompt event.
func (e Event) SignInPrompt() (SignInPrompt, bool) {
	if e.Type != EventSignInPrompt {
		return SignInPrompt{}, false
	}
	p := e.Params
	exp, _ := time.Parse(time.RFC3339, p["expires"])
	return SignInPrompt{URL: p["url"], VerificationURI: p["verificationUri"], UserCode: p["userCode"], Expires: exp}, true
}

// SignedIn is the content of a SignedIn event: who is signed in.
type SignedIn struct {
	UserID, Name, Email string
	OrgID, Organisation string
	Department          string
	Roles               []string
}

// SignedIn returns e's content if e is a SignedIn event.
func (e Event) SignedIn() (SignedIn, bool) {
	if e.Type != EventSignedIn {
		return SignedIn{}, false
	}
	p := e.Params
	var roles []string
	if p["roles"] != "" {
		roles = strings.Split(p["roles"], ",")
	}
	return SignedIn{UserID: p["userId"], Name: p["name"], Email: p["email"], OrgID: p["orgId"],
		Organisation: p["organisation"], Department: p["department"], Roles: roles}, true
}
