package sdk

import (
	"encoding/json"
	"strconv"

	"github.com/iscsdk/iscsdk/internal/wire"
)

// EventType says what an Event is about. The values are the C ABI's
// ISCSDK_EVENT_* numbers and never change.
type EventType int32

// Event types.
const (
	EventHeartbeat        EventType = EventType(wire.KindHeartbeat)        // operate "Heartbeat": rttMs, serverTime
	EventLicenseVerify    EventType = EventType(wire.KindLicenseVerify)    // operate "LicenseVerify"
	EventUpgradeNotice    EventType = EventType(wire.KindUpgradeNotice)    // operate "UpgradeNotice"
	EventUpdate           EventType = EventType(wire.KindUpdate)           // operate "Update"
	EventOpenCloudFile    EventType = EventType(wire.KindOpenCloudFile)    // operate "OpenFile"
	EventSaveResult       EventType = EventType(wire.KindSaveResult)       // operate "SaveResult"
	EventServiceClosed    EventType = EventType(wire.KindServiceClosed)    // operate "ServiceClosed": reason, message
	EventConnectionState  EventType = EventType(wire.KindConnectionState)  // operate "ConnectionState": state, ...
	EventTransferProgress EventType = EventType(wire.KindTransferProgress) // operate "TransferProgress"
	EventSolutionProgress EventType = EventType(wire.KindSolutionProgress) // operate "SolutionProgress"
	EventSolutionResult   EventType = EventType(wire.KindSolutionResult)   // operate "SolutionResult"
	EventLicenseState     EventType = EventType(wire.KindLicenseState)     // operate "LicenseState"
	EventNotice           EventType = EventType(wire.KindNotice)           // operate "Notice": title, text
	EventPicker           EventType = EventType(wire.KindPicker)           // operate "Picker": url, pickerId, mode, expires, browser
	EventUpgradeResult    EventType = EventType(wire.KindUpgradeResult)    // operate "UpgradeResult": status, version, installer; made at Init
	EventSignInRequired   EventType = EventType(wire.KindSignInRequired)   // operate "SignInRequired": reason, message
	EventSignInPrompt     EventType = EventType(wire.KindSignInPrompt)     // operate "SignInPrompt": url, verificationUri, userCode, expires
	EventSignedIn         EventType = EventType(wire.KindSignedIn)         // operate "SignedIn": userId, name, email, orgId, organisation, department, roles
	EventSignedOut        EventType = EventType(wire.KindSignedOut)        // operate "SignedOut"
)

var eventNames = map[EventType]string{
	EventHeartbeat:        "Heartbeat",
	EventLicenseVerify:    "LicenseVerify",
	EventUpgradeNotice:    "UpgradeNotice",
	EventUpdate:           "Update",
	EventOpenCloudFile:    "OpenFile",
	EventSaveResult:       "SaveResult",
	EventServiceClosed:    "ServiceClosed",
	EventConnectionState:  "ConnectionState",
	EventTransferProgress: "TransferProgress",
	EventSolutionProgress: "SolutionProgress",
	EventSolutionResult:   "SolutionResult",
	EventLicenseState:     "LicenseState",
	EventNotice:           "Notice",
	EventPicker:           "Picker",
	EventUpgradeResult:    "UpgradeResult",
	EventSignInRequired:   "SignInRequired",
	EventSignInPrompt:     "SignInPrompt",
	EventSignedIn:         "SignedIn",
	EventSignedOut:        "SignedOut",
}

// String returns the event's operate name, or "EventType(N)".
func (t EventType) String() string {
	if s, ok := eventNames[t]; ok {
		return s
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

// Connection states reported in ConnectionState events (param "state").
const (
	StateConnected    = "connected"
	StateDisconnected = "disconnected"
	StateReconnecting = "reconnecting"
)

// Event is what the SDK tells the host. Its compatible JSON form (JSON) is
// {"operate": ..., "params": {...}, "comeBackParams": {...}}; Params values
// are strings, as in the SDK that iscsdk mirrors. The events a Go program
// handles most have typed views: ConnectionChange, LicenseChange, Notice
// and Refusal.
type Event struct {
	Type      EventType
	RequestID uint64            // the request that caused it; 0 when nobody asked
	Operate   string            // the compatible event name
	Params    map[string]string // never nil
	ComeBack  json.RawMessage   // the host's come-back JSON, echoed; "{}" when none
	Seq       uint64            // the service's sequence number; 0 for events made by the SDK
}

// JSON returns the event in its compatible JSON form.
func (e Event) JSON() []byte {
	cb := e.ComeBack
	if len(cb) == 0 {
		cb = json.RawMessage("{}")
	}
	params := e.Params
	if params == nil {
		params = map[string]string{}
	}
	b, err := json.Marshal(struct {
		Operate  string            `json:"operate"`
		Params   map[string]string `json:"params"`
		ComeBack json.RawMessage   `json:"comeBackParams"`
	}{e.Operate, params, cb})
	if err != nil {
		// ComeBack is validated when the host hands it over; a failure here
		// means it was not, so fall back to no come-back data.
		b, _ = json.Marshal(map[string]any{"operate": e.Operate, "params": params, "comeBackParams": struct{}{}})
	}
	return b
}

func localEvent(t EventType, params map[string]string) Event {
	return Event{Type: t, Operate: t.String(), Params: params}
}

func fromWire(seq uint64, w *wire.Event) Event {
	p := w.Params
	if p == nil {
		p = map[string]string{}
	}
	op := w.Operate
	if op == "" {
		op = EventType(w.Kind).String()
	}
	return Event{Type: EventType(w.Kind), RequestID: w.RequestID, Operate: op, Params: p, ComeBack: w.ComeBack, Seq: seq}
}
