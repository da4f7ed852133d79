// Package wire defines the messages that iscsdk clients and iscd exchange on
// the /v1/session WebSocket, and their encoding.
//
// Control messages are JSON objects in WebSocket text frames; every one has a
// "type". Binary frames are reserved for bulk data. docs/protocol.md describes
// the exchange with examples; this package is its single source of truth.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// ProtocolVersion is the version a client announces in Hello. The service
// refuses versions it does not speak with CodeUnsupportedVersion.
const ProtocolVersion = 1

// Path is the HTTP path of the session endpoint.
const Path = "/v1/session"

// Size limits. Every message read from the network is checked against them
// before it is decoded.
const (
	// MaxControlMessage bounds one JSON control message.
	MaxControlMessage = 1 << 20
	// MaxBinaryMessage bounds one binary (bulk data) message.
	MaxBinaryMessage = 4 << 20
	// MaxFieldLen bounds free-text fields such as product, app version and
	// the device fingerprint (compat-api.md allows 5 KB for the latter).
	MaxFieldLen = 8 << 10
	// MaxInflight bounds the requests of one connection the service
	// handles at once: it refuses more (CodeUnavailable). Its binary
	// frames (chunk puts, commits) have as many places of their own and
	// wait for them instead. A client fetching ahead keeps well below
	// it, since an answer can reach the client a moment before the
	// service counts its request done.
	MaxInflight = 32
)

// Message types.
const (
	TypeHello   = "hello"   // client → service, first message
	TypeWelcome = "welcome" // service → client, answer to hello
	TypeRequest = "req"     // client → service
	TypeResult  = "res"     // service → client, answer to req
	TypeEvent   = "event"   // service → client, sequenced and replayable
	TypeAck     = "ack"     // client → service, events up to seq are delivered
	TypeBye     = "bye"     // service → client, the service closes the session
)

// Message is the envelope of every control message. Only the fields of its
// Type are set; the others are omitted on the wire.
type Message struct {
	Type string `json:"type"`

	// hello / welcome
	Hello   *Hello   `json:"hello,omitempty"`
	Welcome *Welcome `json:"welcome,omitempty"`

	// req / res: ID is chosen by the client and echoed in the result.
	ID    uint64          `json:"id,omitempty"`
	Op    string          `json:"op,omitempty"`
	Body  json.RawMessage `json:"body,omitempty"`
	Error *Error          `json:"error,omitempty"`

	// event / ack
	Seq   uint64 `json:"seq,omitempty"`
	Event *Event `json:"event,omitempty"`

	// bye
	Reason string `json:"reason,omitempty"`
	Text   string `json:"text,omitempty"`
}

// Hello opens a session. A client that had a session sends Resume to pick it
// up again and receive the events it has not acknowledged.
type Hello struct {
	Protocol   int     `json:"protocol"`
	Product    string  `json:"product"`
	AppVersion string  `json:"appVersion,omitempty"`
	Device     string  `json:"device,omitempty"`
	SDK        string  `json:"sdk,omitempty"`
	Resume     *Resume `json:"resume,omitempty"`
}

// Resume names a previous session, proves it is ours, and says which events
// the client already has.
type Resume struct {
	Session string `json:"session"`
	Token   string `json:"token"`
	LastSeq uint64 `json:"lastSeq"`
}

// Welcome answers Hello.
type Welcome struct {
	Session      string    `json:"session"`
	ResumeToken  string    `json:"resumeToken"`
	Resumed      bool      `json:"resumed"`
	ServerTime   time.Time `json:"serverTime"`
	HeartbeatMS  int64     `json:"heartbeatMs"`
	Capabilities []string  `json:"capabilities"`
	// FirstSeq is the oldest event the service still holds for a resumed
	// session. Events between the client's LastSeq and FirstSeq were dropped
	// by retention and are lost.
	FirstSeq uint64 `json:"firstSeq,omitempty"`
}

// Event kinds. The values are the C ABI's ISCSDK_EVENT_* numbers and never
// change; a new kind takes the next free number.
const (
	KindHeartbeat        int32 = 1
	KindLicenseVerify    int32 = 2
	KindUpgradeNotice    int32 = 3
	KindUpdate           int32 = 4
	KindOpenCloudFile    int32 = 5
	KindSaveResult       int32 = 6
	KindServiceClosed    int32 = 7
	KindConnectionState  int32 = 8
	KindTransferProgress int32 = 9
	KindSolutionProgress int32 = 10
	KindSolutionResult   int32 = 11
	KindLicenseState     int32 = 12
	KindNotice           int32 = 13
	// KindPicker (14) is in picker.go, KindUpgradeResult (15) in upgrades.go.

	// KindSignInRequired is raised by the SDK when the service ends the
	// session because the user must sign in again (ByeSignInRequired):
	// params reason, message.
	KindSignInRequired int32 = 16
)

// Event is a service-pushed event in the compatible shape: Operate names it,
// Params holds its string fields, ComeBack echoes what the host passed with
// the request that caused it.
type Event struct {
	Kind      int32             `json:"kind"`
	RequestID uint64            `json:"requestId,omitempty"`
	Operate   string            `json:"operate"`
	Params    map[string]string `json:"params,omitempty"`
	ComeBack  json.RawMessage   `json:"comeBackParams,omitempty"`
}

// Error is a typed failure of a request or of the handshake.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is makes errors.Is(err, target) true when target is an *Error with no
// message and err's code: a sentinel for a code (sdk.ErrLicenseRequired).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Errorf is a typed failure with a formatted message, as a handler
// returns it (the client sees code and message).
func Errorf(code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error codes. Clients branch on them; the message is for people.
const (
	CodeBadRequest         = "bad_request"
	CodeUnauthorized       = "unauthorized"
	CodeForbidden          = "forbidden"
	CodeNotFound           = "not_found"
	CodeUnsupportedVersion = "unsupported_version"
	CodeUnknownOp          = "unknown_op"
	CodeTooLarge           = "too_large"
	CodeUnavailable        = "unavailable"
	CodeTooManyConnections = "too_many_connections" // the token or organisation has as many connections open as it may
	CodeInternal           = "internal"
)

// Operations a client may request. Capabilities list the ones a service
// answers; later issues add more.
const (
	OpPing         = "ping"          // body: Ping; result: Pong
	OpSessionClose = "session.close" // body: {}; the client is leaving: the session ends
)

// Ping is the body of an application heartbeat; the service answers Pong.
type Ping struct {
	ClientTime time.Time `json:"clientTime"`
}

// Pong answers Ping.
type Pong struct {
	ClientTime time.Time `json:"clientTime"`
	ServerTime time.Time `json:"serverTime"`
}

// Bye reasons.
const (
	ByeShutdown    = "shutdown"     // the service is stopping; reconnect later
	ByeKicked      = "kicked"       // an operator ended the session
	ByeSessionGone = "session_gone" // the session expired or was replaced
	// ByeSignInRequired: the user's access was revoked, the user deleted
	// or disabled; the session is over and its seats are free. The SDK
	// raises SignInRequired (KindSignInRequired).
	ByeSignInRequired = "sign_in_required"
)

// ErrTooLarge is returned by Decode for a message over MaxControlMessage.
var ErrTooLarge = errors.New("wire: message too large")

// Encode returns the JSON encoding of m.
func Encode(m *Message) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("wire: encode %s: %w", m.Type, err)
	}
	if len(b) > MaxControlMessage {
		return nil, ErrTooLarge
	}
	return b, nil
}

// Decode parses one control message and checks that it is well formed for
// its type. It never panics on hostile input.
func Decode(b []byte) (*Message, error) {
	if len(b) > MaxControlMessage {
		return nil, ErrTooLarge
	}
	if !utf8.Valid(b) {
		return nil, errors.New("wire: message is not valid UTF-8")
	}
	var m Message
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("wire: decode: %w", err)
	}
	if dec.More() {
		return nil, errors.New("wire: trailing data after message")
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Message) validate() error {
	switch m.Type {
	case TypeHello:
		h := m.Hello
		if h == nil {
			return errors.New("wire: hello without hello body")
		}
		if h.Product == "" {
			return errors.New("wire: hello without product")
		}
		for name, v := range map[string]string{"product": h.Product, "appVersion": h.AppVersion, "device": h.Device, "sdk": h.SDK} {
			if len(v) > MaxFieldLen {
				return fmt.Errorf("wire: hello %s longer than %d bytes", name, MaxFieldLen)
			}
		}
		if h.Resume != nil && (h.Resume.Session == "" || h.Resume.Token == "") {
			return errors.New("wire: hello resume without session or token")
		}
	case TypeWelcome:
		if m.Welcome == nil || m.Welcome.Session == "" {
			return errors.New("wire: welcome without session")
		}
	case TypeRequest:
		if m.ID == 0 || m.Op == "" {
			return errors.New("wire: request without id or op")
		}
	case TypeResult:
		if m.ID == 0 {
			return errors.New("wire: result without id")
		}
	case TypeEvent:
		if m.Seq == 0 || m.Event == nil || m.Event.Operate == "" {
			return errors.New("wire: event without seq or operate")
		}
	case TypeAck:
		if m.Seq == 0 {
			return errors.New("wire: ack without seq")
		}
	case TypeBye:
		if m.Reason == "" {
			return errors.New("wire: bye without reason")
		}
	case "":
		return errors.New("wire: message without type")
	default:
		return fmt.Errorf("wire: unknown message type %q", m.Type)
	}
	return nil
}

// Result builds the successful answer to request id with body v.
func Result(id uint64, v any) (*Message, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("wire: encode result: %w", err)
	}
	return &Message{Type: TypeResult, ID: id, Body: b}, nil
}

// Failure builds the failed answer to request id.
func Failure(id uint64, code, msg string) *Message {
	return &Message{Type: TypeResult, ID: id, Error: &Error{Code: code, Message: msg}}
}
