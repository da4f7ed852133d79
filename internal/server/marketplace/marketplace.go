// Package marketplace is iscd's side of the cloud marketplace's production
// interface: the one URL the marketplace POSTs to when a customer buys,
// renews, upgrades, lets lapse or releases a licence. It checks each
// request's signature, timestamp and nonce, and turns the activity into
// licence state through package licensing, so that running programs see
// it. docs/marketplace.md describes the mapping and every activity.
package marketplace

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/iscsdk/iscsdk/internal/server/lease"
	"github.com/iscsdk/iscsdk/internal/server/licensing"
	"github.com/iscsdk/iscsdk/internal/store"
)

// Path is where iscd serves the production interface (POST only).
const Path = "/marketplace/v1/production"

// MaxBody is the largest request body read: a longer one is refused with
// HTTP 413 and ResultAuth before any of it is parsed (the largest call,
// getLicenseAsync with a 1,024-character fingerprint, is a few KiB).
const MaxBody = 64 << 10

// Defaults of Config.ReadTimeout and Config.MaxConcurrent.
const (
	// DefaultReadTimeout is how long a call may take to arrive, headers
	// and body: 64 KiB in 10 s is 6.4 KB/s.
	DefaultReadTimeout = 10 * time.Second
	// DefaultMaxConcurrent is how many calls are read or run at once; the
	// marketplace sends a few a minute.
	DefaultMaxConcurrent = 16
)

// DefaultGrace is how long a marketplace licence stays usable after its
// expiry time when Config.Grace is zero. The marketplace freezes an
// instance itself once its own grace period is over; this only bounds how
// long a program keeps running if that call never comes.
const DefaultGrace = 15 * 24 * time.Hour

// Result codes of the production interface.
const (
	ResultOK            = "000000"
	ResultAuth          = "000001" // signature, timestamp or nonce refused
	ResultBadParams     = "000002"
	ResultNotFound      = "000003" // instance or licence code unknown (or released)
	ResultAsync         = "000004" // accepted, processing asynchronously
	ResultInternal      = "000005"
	ResultNoResource    = "000100"
	ResultQuota         = "000900" // not enough licence quota on the order
	ResultOutsidePeriod = "000901" // outside the order's validity period
	ResultNeedExpiry    = "000902" // a period-billed licence needs an expiry time
	ResultNeedDevice    = "000903" // device fingerprint required
)

// Config configures the endpoint. The zero Config is off.
type Config struct {
	// Enabled mounts the endpoint; it needs an AccessKey.
	Enabled bool
	// AccessKey is the secret shared with the marketplace. It is never
	// logged: Config's String and LogValue leave it out.
	AccessKey string
	// DefaultOrg receives the licences of requests that name no customer
	// (no customerId or tenantId); "" refuses them.
	DefaultOrg string
	// DefaultProduct is the iscd product of requests whose productId is
	// not an iscd product; "" refuses them.
	DefaultProduct string
	// Grace is added after a licence's expiry time; 0 means DefaultGrace.
	Grace time.Duration
	// Outbound is what the interface asks of and hands to the marketplace:
	// order checks, asynchronous licences, appInfo (outbound.go).
	Outbound Outbound
	// ReadTimeout bounds the time to read a call's body, from when its
	// headers have arrived; 0 means DefaultReadTimeout.
	ReadTimeout time.Duration
	// MaxConcurrent bounds the calls read or run at once; more are
	// answered at once with HTTP 503 and ResultInternal (the marketplace
	// retries). 0 means DefaultMaxConcurrent.
	MaxConcurrent int
}

// String describes c without its access key.
func (c Config) String() string {
	key := "unset"
	if c.AccessKey != "" {
		key = "set"
	}
	return "marketplace{enabled=" + boolString(c.Enabled) + " key=" + key + " org=" + c.DefaultOrg + " product=" + c.DefaultProduct + "}"
}

// GoString is String, so that %#v does not print the key either.
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the access key.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("enabled", c.Enabled), slog.Bool("key", c.AccessKey != ""),
		slog.String("defaultOrg", c.DefaultOrg), slog.String("defaultProduct", c.DefaultProduct))
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// Handler serves the production interface.
type Handler struct {
	cfg    Config
	st     Store
	lic    *licensing.Service
	log    *slog.Logger
	now    func() time.Time
	slots  chan struct{}               // one per call being read or run: Config.MaxConcurrent
	onCall func(activity, code string) // OnCall

	// mu serialises activities: the marketplace retries a call while the
	// first attempt may still run, and two attempts must not both create
	// or both renew. Calls are rare (a few a minute), so one lock is
	// plenty.
	mu sync.Mutex
}

// Store is the part of iscd's store the production interface uses: the
// marketplace's instances, licence codes and requests, the directory
// (organisations, users and tokens it makes, products it gates), the
// licences it issued, the deliveries it owes and the lease that lets one
// replica deliver.
type Store interface {
	store.Directory
	store.Marketplace
	License(ctx context.Context, id string) (store.License, error)
	EnqueueDelivery(ctx context.Context, d store.Delivery) (store.Delivery, error)
	lease.Updater
}

// New returns the handler for cfg. It refuses a Config without an access key.
func New(cfg Config, st Store, lic *licensing.Service, log *slog.Logger) (*Handler, error) {
	if cfg.AccessKey == "" {
		return nil, errors.New("marketplace: no access key")
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg, st: st, lic: lic, log: log, now: func() time.Time { return time.Now().UTC() },
		slots: make(chan struct{}, cfg.MaxConcurrent)}, nil
}

// OnCall has fn told of every call answered: its activity ("" when the
// call was refused before it was read) and result code (iscd's metrics).
// Call it before serving.
func (h *Handler) OnCall(fn func(activity, code string)) { h.onCall = fn }

// reply is every answer's shape: the result and, per activity, instanceId
// or license.
type reply struct {
	activity    string        // the call's, for OnCall; not sent
	ResultCode  string        `json:"resultCode"`
	ResultMsg   string        `json:"resultMsg"`
	InstanceID  string        `json:"instanceId,omitempty"`
	License     string        `json:"license,omitempty"`
	EncryptType string        `json:"encryptType,omitempty"`
	AppInfo     *appInfoReply `json:"appInfo,omitempty"`
}

// failure is an activity's refusal with its result code.
type failure struct {
	code, msg string
}

func (f *failure) Error() string { return f.code + ": " + f.msg }

func refuse(code, msg string) error { return &failure{code, msg} }

// ServeHTTP answers one marketplace call. Every answer the marketplace
// should read is HTTP 200 with a resultCode, as the interface wants; the
// refusals of a call that cannot be read (too large, too slow, too many at
// once) carry their HTTP status too, and close the connection.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	// The body must arrive within ReadTimeout, whatever the server's own
	// timeouts, and the answer leave within it too.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(h.cfg.ReadTimeout))
	_ = rc.SetWriteDeadline(time.Now().Add(2 * h.cfg.ReadTimeout))
	status, rep := http.StatusOK, reply{}
	select {
	case h.slots <- struct{}{}:
		status, rep = h.serve(r)
		<-h.slots
	default:
		status, rep = http.StatusServiceUnavailable, reply{ResultCode: ResultInternal, ResultMsg: "too many calls at once; retry later"}
		w.Header().Set("Retry-After", "1")
	}
	if h.onCall != nil {
		h.onCall(rep.activity, rep.ResultCode)
	}
	if rep.ResultCode != ResultOK {
		h.log.Info("marketplace call refused", "code", rep.ResultCode, "msg", rep.ResultMsg, "status", status, "remote", r.RemoteAddr)
	}
	writeReply(w, r, rc, status, rep)
}

// serve reads, authenticates and runs one call; the status is not 200 when
// the body could not be read.
func (h *Handler) serve(r *http.Request) (int, reply) {
	// Authenticate before the body is parsed: a bounded read, the
	// signature over the raw bytes, the clock, then the replay cache.
	body, status, msg := readBody(r, MaxBody)
	if status != http.StatusOK {
		return status, reply{ResultCode: ResultAuth, ResultMsg: msg}
	}
	q := r.URL.Query()
	now := h.now()
	sig, at, err := checkSignature(h.cfg.AccessKey, q.Get("signature"), q.Get("nonce"), q.Get("timestamp"), body, now)
	if err != nil {
		return http.StatusOK, reply{ResultCode: ResultAuth, ResultMsg: "authentication failed: " + err.Error()}
	}
	if err := h.remember(r.Context(), sig, at, now); err != nil {
		if errors.Is(err, errReplay) {
			return http.StatusOK, reply{ResultCode: ResultAuth, ResultMsg: "authentication failed: " + err.Error()}
		}
		h.log.Error("marketplace replay cache", "err", err)
		return http.StatusOK, reply{ResultCode: ResultInternal, ResultMsg: "internal error; retry later"}
	}
	return http.StatusOK, h.run(r, body)
}

// run parses and carries out an authenticated call.
func (h *Handler) run(r *http.Request, body []byte) reply {

	var req request
	if !utf8.Valid(body) {
		return reply{ResultCode: ResultBadParams, ResultMsg: "request body is not valid UTF-8"}
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return reply{ResultCode: ResultBadParams, ResultMsg: "request body is not a JSON object: " + err.Error()}
	}
	if err := req.check(); err != nil {
		return h.answer(req, reply{}, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	rep, err := h.dispatch(r, req)
	return h.answer(req, rep, err)
}

// known is the activity of req if it is one this interface carries out,
// else "unknown": the label of a metric is never a value a caller chose.
func (req request) known() string {
	switch a := string(req.Activity); a {
	case "newInstance", "refreshInstance", "updateInstanceStatus", "releaseInstance", "upgradeInstance",
		"getLicenseAsync", "refreshLicenseCode", "updateLicenseCodeStatus", "releaseLicenseCode":
		return a
	}
	return "unknown"
}

// answer turns an activity's outcome into a reply; unexpected errors are
// logged and not shown.
func (h *Handler) answer(req request, rep reply, err error) (out reply) {
	defer func() { out.activity = req.known() }()
	var f *failure
	switch {
	case err == nil:
		rep.ResultCode, rep.ResultMsg = ResultOK, "success"
		h.log.Info("marketplace call", "activity", req.Activity, "instance", rep.InstanceID, "test", req.test())
		return rep
	case errors.As(err, &f):
		return reply{ResultCode: f.code, ResultMsg: f.msg}
	default:
		h.log.Error("marketplace call failed", "activity", req.Activity, "instance", req.InstanceID, "err", err)
		return reply{ResultCode: ResultInternal, ResultMsg: "internal error; retry later"}
	}
}
