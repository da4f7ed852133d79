// Package session serves /v1/session: it opens and resumes client sessions,
// answers their requests, and pushes sequenced events that survive dropped
// connections and service restarts.
package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/metrics"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
	"github.com/iscsdk/iscsdk/internal/transport"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Caller is who sent a request: the session and the identity behind it.
type Caller struct {
	Session    string
	OrgID      string
	UserID     string
	ProductID  string
	AppVersion string
	Device     string
}

// Identity is what an API token authenticates to.
type Identity struct {
	OrgID   string
	UserID  string
	TokenID string // the token the connection presented: revoking it ends the connection
}

// Authenticator checks the bearer token of an upgrade request, and later
// whether a connection so authenticated may stay. An error matching
// ErrAuthUnavailable says it could not check (its store failed): the
// token is not refused, the client is told to try again.
type Authenticator interface {
	Authenticate(ctx context.Context, bearer string) (Identity, error)
	// Recheck returns an error when id's token was revoked or its user or
	// organisation is refused since.
	Recheck(ctx context.Context, id Identity) error
}

// ErrAuthUnavailable is matched by an Authenticator's error when it could
// not check a token, as opposed to refusing it.
var ErrAuthUnavailable = errors.New("the token cannot be checked now")

// Config tunes a Hub.
type Config struct {
	Heartbeat    time.Duration // application heartbeat interval told to clients
	ResumeWindow time.Duration // how long a disconnected session can be resumed
	PingInterval time.Duration // WebSocket ping; 0: transport default
	PongWait     time.Duration

	// MaxConnsPerToken and MaxConnsPerOrg bound the connections open at
	// once with one API token and for one organisation (on this
	// replica); more are refused with HTTP 429 and
	// wire.CodeTooManyConnections. 0: DefaultMaxConnsPerToken,
	// DefaultMaxConnsPerOrg; negative: no bound.
	MaxConnsPerToken int
	MaxConnsPerOrg   int
	// ConnBudget bounds the bytes of one connection's requests read and
	// not yet answered; 0: DefaultConnBudget. Budget, if set, bounds them
	// for every connection together (transport.Budget). A connection's
	// answers and events not yet written are bounded by SendBudget.
	ConnBudget int64
	Budget     *transport.Budget
	// Sends, if set, counts the bytes of answers and events queued on
	// every connection together (transport.Options.Sends).
	Sends *transport.Budget
	// Metrics, if set, counts requests, events and bytes.
	Metrics *metrics.Service
}

// Defaults of Config's bounds per client.
const (
	DefaultMaxConnsPerToken = 64
	DefaultMaxConnsPerOrg   = 1024
	DefaultConnBudget       = 8 << 20
)

// SendBudget bounds the bytes of one connection's answers and events
// queued and not yet written: one message of the largest kind, which is
// all the writer needs to stay busy. A client that asks faster than it
// reads makes the handlers wait for room, then its requests wait unread.
const SendBudget = wire.MaxBinaryMessage

// maxInflight bounds the requests one connection may have in progress,
// and apart from them its bulk frames.
const maxInflight = wire.MaxInflight

// replayBatch is how many stored events one store read fetches.
const replayBatch = 256

// Store is the part of iscd's store the hub uses: sessions with their
// event logs, and the products programs connect as.
type Store interface {
	store.Sessions
	Product(ctx context.Context, id string) (store.Product, error)
}

// Hub owns every live connection of the service.
type Hub struct {
	store Store
	auth  Authenticator
	log   *slog.Logger
	cfg   Config
	up    websocket.Upgrader

	routes Router[Caller] // the ops and binary frames sessions may send

	mu       sync.Mutex
	onEnd    []func(ctx context.Context, sessionID string)
	relay    func(Kick)
	live     map[string]*live // by session id
	conns    map[string]int   // open connections by "token:ID" and "org:ID"
	closing  bool
	closedWG sync.WaitGroup // one per connection goroutine set

	// base is the parent of every request's context: Shutdown ends it.
	base     context.Context
	stopBase context.CancelFunc
}

type live struct {
	touched atomic.Int64 // unix seconds LastSeen was last stored
	tokenID string
	caller  Caller
	conn    *transport.Conn
	replay  uint64        // events up to this one were stored before a resume: sending them is a replay
	gone    chan struct{} // closed when this connection is done

	// The event pump runs only while there may be events to send: an
	// idle session has no goroutine (and stack) waiting for them.
	pump     func(*live) // the hub's pump
	pumpMu   sync.Mutex
	pumping  bool   // a pump goroutine runs
	again    bool   // poked while it ran: it reads the log once more
	pumpDone bool   // the connection is done: no pump starts
	sent     uint64 // events up to this one were sent (or skipped); the pump's
	pumps    sync.WaitGroup
}

// New returns a hub; register handlers with Handle and HandleFrame
// before serving.
func New(st Store, auth Authenticator, log *slog.Logger, cfg Config) *Hub {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.ResumeWindow <= 0 {
		cfg.ResumeWindow = 15 * time.Minute
	}
	if cfg.MaxConnsPerToken == 0 {
		cfg.MaxConnsPerToken = DefaultMaxConnsPerToken
	}
	if cfg.MaxConnsPerOrg == 0 {
		cfg.MaxConnsPerOrg = DefaultMaxConnsPerOrg
	}
	if cfg.ConnBudget <= 0 {
		cfg.ConnBudget = DefaultConnBudget
	}
	h := &Hub{
		store: st, auth: auth, log: log, cfg: cfg,
		up: websocket.Upgrader{
			// No read buffer of its own: the connection keeps the 4 KiB
			// one net/http read the upgrade request with (a message larger
			// than it is read straight into the message's memory), not
			// 64 KiB an idle session would hold.
			WriteBufferSize: transport.BufferSize,
			// An idle connection holds no write buffer: it is taken from
			// the pool for each message (64 KiB less a session).
			WriteBufferPool:   &sync.Pool{},
			EnableCompression: false,
			// Desktop programs, not browsers, connect here; a browser page
			// cannot present the bearer token anyway.
			CheckOrigin: func(*http.Request) bool { return true },
		},
		live:  map[string]*live{},
		conns: map[string]int{},
	}
	h.base, h.stopBase = context.WithCancel(context.Background())
	Handle(h, wire.OpPing, func(_ context.Context, _ Caller, p wire.Ping) (wire.Pong, error) {
		return wire.Pong{ClientTime: p.ClientTime, ServerTime: time.Now().UTC()}, nil
	})
	return h
}

// Binary is a handler result sent as a binary frame (wire.BinChunkData or
// wire.BinManifest) answering the request, instead of a "res" message.
type Binary struct {
	Kind    byte
	ChunkID [wire.ChunkIDLen]byte
	Data    []byte
}

// router is where Handle and HandleFrame register the sessions' ops; the
// welcome's capabilities list them.
func (h *Hub) router() *Router[Caller] { return &h.routes }

// OnEnd registers fn to run when a session ends for good: the client shut
// out, an operator ended it, or its resume window passed. Capabilities use
// it to free what the session held (a floating licence seat).
func (h *Hub) OnEnd(fn func(ctx context.Context, sessionID string)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.onEnd = append(h.onEnd, fn)
}

// ended deletes a session and runs the OnEnd functions.
func (h *Hub) ended(ctx context.Context, sessionID string) error {
	if err := h.store.DeleteSession(ctx, sessionID); err != nil {
		return err
	}
	h.mu.Lock()
	fns := h.onEnd
	h.mu.Unlock()
	for _, fn := range fns {
		fn(ctx, sessionID)
	}
	return nil
}

func (h *Hub) capabilities() []string {
	caps := append([]string{"events", "resume"}, h.routes.Ops()...)
	sort.Strings(caps)
	return caps
}

func httpError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]*wire.Error{"error": {Code: code, Message: msg}})
}

// ServeHTTP authenticates and upgrades a session connection.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	closing := h.closing
	h.mu.Unlock()
	if closing {
		httpError(w, http.StatusServiceUnavailable, wire.CodeUnavailable, "iscd is shutting down")
		return
	}
	bearer, ok := bearerToken(r)
	if !ok {
		httpError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "no bearer token: send Authorization: Bearer <API token>")
		return
	}
	id, err := h.auth.Authenticate(r.Context(), bearer)
	if errors.Is(err, ErrAuthUnavailable) {
		// A store that failed refuses nobody: a client told its token
		// was refused would ask its user to sign in again.
		h.log.Warn("session auth could not be checked", "remote", r.RemoteAddr, "err", err)
		httpError(w, http.StatusServiceUnavailable, wire.CodeUnavailable, "iscd cannot check tokens now; try again")
		return
	}
	if err != nil {
		h.log.Info("session auth refused", "remote", r.RemoteAddr, "err", err)
		httpError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "invalid or revoked API token")
		return
	}
	if err := h.admit(id); err != nil {
		h.log.Info("session connection refused", "remote", r.RemoteAddr, "org", id.OrgID, "token", id.TokenID, "err", err.Message)
		httpError(w, http.StatusTooManyRequests, err.Code, err.Message)
		return
	}
	ws, err := h.up.Upgrade(w, r, nil)
	if err != nil {
		h.leave(id)
		return // the upgrader has answered
	}
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		h.leave(id)
		ws.Close()
		return
	}
	h.closedWG.Add(1)
	h.mu.Unlock()
	conn := transport.New(ws, transport.Options{PingInterval: h.cfg.PingInterval, PongWait: h.cfg.PongWait,
		ConnBudget: h.cfg.ConnBudget, Budget: h.cfg.Budget, SendBudget: SendBudget, Sends: h.cfg.Sends,
		Received: h.cfg.Metrics.Received(), Sent: h.cfg.Metrics.Sent()})
	// The connection's requests' context ends with it, and with the hub.
	ctx, cancel := context.WithCancel(h.base)
	stop := context.AfterFunc(conn.Context(), cancel)
	end := func() {
		conn.Close(websocket.CloseNormalClosure, "")
		stop()
		cancel()
		h.leave(id)
		h.closedWG.Done()
	}
	l := h.hello(ctx, conn, id)
	if l == nil {
		end()
		return
	}
	// The session runs in a goroutine of its own, started with a small
	// stack (this one grew through net/http and the hello's store calls),
	// and this handler returns: what net/http holds for a request (its
	// connection's write buffer, the request) goes now, not when the
	// session ends.
	go func() {
		defer end()
		h.serve(ctx, l)
	}()
}

// admit counts a new connection of id against the bounds per token and
// per organisation, or says which one it would pass.
func (h *Hub) admit(id Identity) *wire.Error {
	tok, org := "token:"+id.TokenID, "org:"+id.OrgID
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := h.cfg.MaxConnsPerToken; n > 0 && h.conns[tok] >= n {
		return &wire.Error{Code: wire.CodeTooManyConnections, Message: fmt.Sprintf("this API token has %d connections open, the most allowed; close one (or use another token)", n)}
	}
	if n := h.cfg.MaxConnsPerOrg; n > 0 && h.conns[org] >= n {
		return &wire.Error{Code: wire.CodeTooManyConnections, Message: fmt.Sprintf("this organisation has %d connections open, the most allowed", n)}
	}
	h.conns[tok]++
	h.conns[org]++
	return nil
}

// leave uncounts a connection admit counted.
func (h *Hub) leave(id Identity) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range []string{"token:" + id.TokenID, "org:" + id.OrgID} {
		if h.conns[k]--; h.conns[k] <= 0 {
			delete(h.conns, k)
		}
	}
}

func bearerToken(r *http.Request) (string, bool) {
	const prefix = "Bearer "
	v := r.Header.Get("Authorization")
	if len(v) <= len(prefix) || !equalFold(v[:len(prefix)], prefix) {
		return "", false
	}
	return v[len(prefix):], true
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}

// hello reads the connection's hello and opens its session, or answers
// why not and returns nil.
func (h *Hub) hello(ctx context.Context, conn *transport.Conn, id Identity) *live {
	m, _, err := conn.Read()
	if err != nil {
		return nil
	}
	if m.Type != wire.TypeHello {
		_ = conn.Send(ctx, wire.Failure(1, wire.CodeBadRequest, "first message must be hello"))
		return nil
	}
	l, err := h.open(ctx, conn, id, m.Hello)
	if err != nil {
		var we *wire.Error
		if !errors.As(err, &we) {
			h.log.Error("open session", "err", err)
			we = &wire.Error{Code: wire.CodeInternal, Message: "could not open the session"}
		}
		_ = conn.Send(ctx, &wire.Message{Type: wire.TypeResult, ID: 1, Error: we})
		return nil
	}
	return l
}

// serve runs an open session's connection: requests and events, until
// it ends.
func (h *Hub) serve(ctx context.Context, l *live) {
	conn := l.conn
	defer h.detach(l)

	// The welcome is out: the pump held since open starts, and reads
	// whatever was published meanwhile.
	l.pumps.Add(1)
	go l.pump(l)
	defer l.stopPump()

	// Requests and bulk data have places of their own: a client's
	// uploads, waiting for theirs, do not get its requests refused
	// (files.have between rounds of chunk puts, a licence's renewal
	// during a save).
	sem := make(chan struct{}, maxInflight)
	bulk := make(chan struct{}, maxInflight)
	var reqWG sync.WaitGroup
	defer reqWG.Wait()
	for {
		// The bytes of a request stay held against the connection's and
		// the process's budgets until it is answered: past them, this
		// loop stops reading and TCP slows the client down.
		m, bin, release, err := conn.ReadHeld()
		if err != nil {
			h.log.Debug("connection ended", "session", l.caller.Session, "err", transport.Describe(err))
			return
		}
		if m == nil {
			// Bulk data: wait for a free slot rather than refuse, so a fast
			// uploader is slowed down by TCP instead of failing.
			select {
			case bulk <- struct{}{}:
			case <-ctx.Done():
				release()
				return
			}
			reqWG.Add(1)
			go func() {
				defer func() { release(); <-bulk; reqWG.Done() }()
				h.binary(ctx, l, bin)
			}()
			continue
		}
		switch m.Type {
		case wire.TypeRequest:
			select {
			case sem <- struct{}{}:
			default:
				release()
				h.cfg.Metrics.Request(h.opLabel(m.Op), wire.CodeUnavailable, 0)
				_ = conn.Send(ctx, wire.Failure(m.ID, wire.CodeUnavailable, fmt.Sprintf("more than %d requests in flight", maxInflight)))
				continue
			}
			reqWG.Add(1)
			go func() {
				defer func() { release(); <-sem; reqWG.Done() }()
				h.request(ctx, l, m)
			}()
			continue
		}
		release()
		switch m.Type {
		case wire.TypeAck:
			if err := h.store.AckEvents(ctx, l.caller.Session, m.Seq); err != nil {
				h.log.Warn("ack events", "session", l.caller.Session, "err", err)
			}
		default:
			_ = conn.Send(ctx, wire.Failure(max(m.ID, 1), wire.CodeBadRequest, "unexpected message "+m.Type))
		}
	}
}

// open creates or resumes the session named by hello and sends welcome.
func (h *Hub) open(ctx context.Context, conn *transport.Conn, id Identity, hello *wire.Hello) (*live, error) {
	if hello.Protocol != wire.ProtocolVersion {
		return nil, &wire.Error{Code: wire.CodeUnsupportedVersion, Message: fmt.Sprintf("protocol %d not supported; this service speaks %d", hello.Protocol, wire.ProtocolVersion)}
	}
	if _, err := h.store.Product(ctx, hello.Product); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, &wire.Error{Code: wire.CodeNotFound, Message: fmt.Sprintf("unknown product %q", hello.Product)}
		}
		return nil, err
	}
	now := time.Now().UTC()
	var s store.Session
	resumed := false
	var after uint64
	if r := hello.Resume; r != nil {
		old, err := h.store.Session(ctx, r.Session)
		if err == nil && token.Verify(r.Token, old.ResumeHash) && old.UserID == id.UserID &&
			old.ProductID == hello.Product && now.Sub(old.LastSeen) <= h.cfg.ResumeWindow {
			s, resumed, after = old, true, r.LastSeq
		}
	}
	resumeTok := ""
	if resumed {
		// The resume token stays the same for the session's life; the
		// client proved it holds it.
		resumeTok = hello.Resume.Token
		if err := h.store.AckEvents(ctx, s.ID, after); err != nil {
			return nil, err
		}
	} else {
		tok, _, _ := token.New(token.PrefixResume)
		resumeTok = tok
		s = store.Session{ID: token.ID(), ResumeHash: token.Hash(tok), OrgID: id.OrgID, UserID: id.UserID, ProductID: hello.Product, Created: now}
	}
	s.AppVersion, s.Device, s.LastSeen = hello.AppVersion, hello.Device, now
	if err := h.store.PutSession(ctx, s); err != nil {
		return nil, err
	}
	first, last, err := h.store.EventRange(ctx, s.ID)
	if err != nil {
		return nil, err
	}
	l := &live{
		tokenID: id.TokenID,
		caller:  Caller{Session: s.ID, OrgID: s.OrgID, UserID: s.UserID, ProductID: s.ProductID, AppVersion: s.AppVersion, Device: s.Device},
		conn:    conn,
		gone:    make(chan struct{}),
		pump:    h.pump,
		// The pump is held (as if one ran) until serve starts it, after
		// the welcome: a Wake once l is in h.live only asks it to read
		// the log once more. Started here, it could send an event
		// before the welcome, and it would read sent and replay while
		// they were still being set.
		pumping: true,
		sent:    after,
	}
	if resumed {
		l.replay = last
	}
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		return nil, &wire.Error{Code: wire.CodeUnavailable, Message: "iscd is shutting down"}
	}
	if old := h.live[s.ID]; old != nil {
		// A half-open connection of the same session: the client has
		// moved on, so the old connection goes.
		go old.conn.Close(websocket.ClosePolicyViolation, "replaced by a newer connection")
	}
	h.live[s.ID] = l
	h.mu.Unlock()

	welcome := &wire.Welcome{
		Session: s.ID, ResumeToken: resumeTok, Resumed: resumed, ServerTime: now,
		HeartbeatMS: h.cfg.Heartbeat.Milliseconds(), Capabilities: h.capabilities(),
	}
	if resumed {
		welcome.FirstSeq = first
	}
	if err := conn.Send(ctx, &wire.Message{Type: wire.TypeWelcome, Welcome: welcome}); err != nil {
		h.detach(l)
		return nil, err
	}
	h.log.Info("session open", "session", s.ID, "org", s.OrgID, "user", s.UserID, "product", s.ProductID, "resumed", resumed)
	return l, nil
}

// detach forgets a finished connection; the session stays resumable.
func (h *Hub) detach(l *live) {
	h.mu.Lock()
	if h.live[l.caller.Session] == l {
		delete(h.live, l.caller.Session)
	}
	h.mu.Unlock()
	select {
	case <-l.gone:
		return
	default:
		close(l.gone)
	}
	ctx := context.Background()
	if s, err := h.store.Session(ctx, l.caller.Session); err == nil {
		s.LastSeen = time.Now().UTC()
		_ = h.store.PutSession(ctx, s)
	}
}

// pump sends the session's stored events after l.sent, in order, until
// the log holds no more; poke starts it.
func (h *Hub) pump(l *live) {
	defer l.pumps.Done()
	for {
		if !h.sendStored(l) {
			return
		}
		l.pumpMu.Lock()
		if !l.again {
			l.pumping = false
			l.pumpMu.Unlock()
			return
		}
		l.again = false
		l.pumpMu.Unlock()
	}
}

// sendStored sends what the session's event log holds after l.sent. It
// says false when the connection cannot take more.
func (h *Hub) sendStored(l *live) bool {
	ctx := context.Background()
	for {
		evs, err := h.store.EventsAfter(ctx, l.caller.Session, l.sent, replayBatch)
		if err != nil {
			h.log.Error("read events", "session", l.caller.Session, "err", err)
			l.conn.Close(websocket.CloseInternalServerErr, "event log unreadable")
			return false
		}
		for _, e := range evs {
			var ev wire.Event
			if err := json.Unmarshal(e.Data, &ev); err != nil {
				h.log.Error("stored event unreadable", "session", l.caller.Session, "seq", e.Seq, "err", err)
				l.sent = e.Seq
				continue
			}
			h.cfg.Metrics.Events(1, e.Seq <= l.replay)
			err := l.conn.Send(ctx, &wire.Message{Type: wire.TypeEvent, Seq: e.Seq, Event: &ev})
			if errors.Is(err, wire.ErrTooLarge) {
				// It would be too large at every resume as well: stopping
				// here would stop the session's events for good.
				h.log.Error("event too large to send: skipped", "session", l.caller.Session, "seq", e.Seq, "operate", ev.Operate, "bytes", len(e.Data))
			} else if err != nil {
				return false
			}
			l.sent = e.Seq
		}
		if len(evs) < replayBatch {
			return true
		}
	}
}

func (h *Hub) request(ctx context.Context, l *live, m *wire.Message) {
	if m.Op == wire.OpSessionClose {
		// The session is gone before the client hears so.
		if err := h.ended(ctx, l.caller.Session); err != nil {
			_ = l.conn.Send(ctx, wire.Failure(m.ID, wire.CodeInternal, "could not end the session"))
			return
		}
		_ = l.conn.Send(ctx, &wire.Message{Type: wire.TypeResult, ID: m.ID, Body: json.RawMessage("{}")})
		l.conn.Close(websocket.CloseNormalClosure, "session closed")
		return
	}
	if m.Op == wire.OpPing {
		h.touch(ctx, l)
	}
	start := time.Now()
	out, err := h.routes.Call(ctx, l.caller, m.Op, m.Body)
	// Counted before the answer goes: a client that has its answer finds
	// it counted.
	h.cfg.Metrics.Request(h.opLabel(m.Op), errorCode(err), time.Since(start))
	h.answer(l, m.ID, m.Op, out, err)
}

// opLabel is op if the hub handles it, else metrics.Other: a metric's
// label is never a value a client made up.
func (h *Hub) opLabel(op string) string {
	if op != wire.OpSessionClose && !h.routes.Has(op) {
		return metrics.Other
	}
	return op
}

// errorCode is the wire code a handler's error is answered with; "" for
// none.
func errorCode(err error) string {
	if err == nil {
		return ""
	}
	var we *wire.Error
	if errors.As(err, &we) {
		return we.Code
	}
	return wire.CodeInternal
}

// binary answers one binary frame from the client.
func (h *Hub) binary(ctx context.Context, l *live, b []byte) {
	f, err := wire.DecodeFrame(b)
	if err != nil {
		h.log.Info("bad binary frame", "session", l.caller.Session, "err", err)
		l.conn.Close(websocket.CloseUnsupportedData, "malformed binary frame")
		return
	}
	start := time.Now()
	out, err := h.routes.CallFrame(ctx, l.caller, f)
	label := metrics.Other // a label is never a value a client made up
	if h.routes.HasFrame(f.Kind) {
		label = wire.FrameName(f.Kind)
	}
	h.cfg.Metrics.Request(label, errorCode(err), time.Since(start))
	h.answer(l, f.ID, wire.FrameName(f.Kind), out, err)
}

// answer sends a handler's outcome for request id.
func (h *Hub) answer(l *live, id uint64, op string, out any, err error) {
	Answer(l.conn, h.log.With("session", l.caller.Session), id, op, out, err)
}

// Answer sends the outcome of request id on conn: a *wire.Error as it is,
// any other error as CodeInternal (logged, not shown), a Binary as a
// binary frame, anything else as the JSON result. An answer larger than a
// message may be is answered CodeTooLarge and logged: never dropped, or
// the client would wait for it until its timeout.
func Answer(conn *transport.Conn, log *slog.Logger, id uint64, op string, out any, err error) {
	ctx := context.Background()
	if err != nil {
		var we *wire.Error
		if !errors.As(err, &we) {
			log.Error("request failed", "op", op, "err", err)
			we = &wire.Error{Code: wire.CodeInternal, Message: "internal error"}
		}
		_ = conn.Send(ctx, &wire.Message{Type: wire.TypeResult, ID: id, Error: we})
		return
	}
	if bin, ok := out.(Binary); ok {
		frame, err := wire.EncodeFrame(wire.Frame{Kind: bin.Kind, ID: id, ChunkID: bin.ChunkID, Payload: bin.Data})
		if err == nil {
			err = conn.SendBinary(ctx, frame) // fails only when the connection is gone, or too large
		}
		if err == nil || errors.Is(err, transport.ErrClosed) {
			return
		}
		if errors.Is(err, wire.ErrTooLarge) {
			tooLarge(conn, log, id, op, len(bin.Data), wire.MaxBinaryMessage)
			return
		}
		log.Error("binary reply", "op", op, "err", err)
		_ = conn.Send(ctx, wire.Failure(id, wire.CodeInternal, "internal error"))
		return
	}
	res, err := wire.Result(id, out)
	if err != nil {
		log.Error("encode result", "op", op, "err", err)
		res = wire.Failure(id, wire.CodeInternal, "internal error")
	}
	if err = conn.Send(ctx, res); errors.Is(err, wire.ErrTooLarge) {
		tooLarge(conn, log, id, op, len(res.Body), wire.MaxControlMessage)
	}
}

// tooLarge answers request id CodeTooLarge in place of an answer of size
// bytes that does not fit in max.
func tooLarge(conn *transport.Conn, log *slog.Logger, id uint64, op string, size, max int) {
	log.Warn("answer too large", "op", op, "id", id, "bytes", size, "max", max)
	_ = conn.Send(context.Background(), wire.Failure(id, wire.CodeTooLarge, fmt.Sprintf(
		"the answer to %s (%d bytes) is larger than the %d bytes a message may be: ask for it in pages", op, size, max)))
}

// touchEvery is how often a connected session's LastSeen is stored: so a
// session survives an iscd crash (not only a graceful stop) within its
// resume window of the crash.
const touchEvery = time.Minute

// touch stores that the session is alive, at most every touchEvery.
func (h *Hub) touch(ctx context.Context, l *live) {
	now := time.Now()
	last := l.touched.Load()
	if now.Unix()-last < int64(touchEvery/time.Second) || !l.touched.CompareAndSwap(last, now.Unix()) {
		return
	}
	if s, err := h.store.Session(ctx, l.caller.Session); err == nil {
		s.LastSeen = now.UTC()
		_ = h.store.PutSession(ctx, s)
	}
}

// Sweep ends the sessions whose resume window has passed (freeing what
// they held); iscd runs it every minute.
func (h *Hub) Sweep(ctx context.Context) error {
	_, expired, err := h.sessions(ctx)
	for _, id := range expired {
		if err := h.ended(ctx, id); err != nil {
			return err
		}
	}
	return err
}

// Publish stores an event for a session and pushes it if it is connected.
// A session that is disconnected gets it when it resumes.
func (h *Hub) Publish(ctx context.Context, sessionID string, ev wire.Event) (uint64, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	seq, err := h.store.AppendEvent(ctx, sessionID, data)
	if err != nil {
		return 0, fmt.Errorf("publish to session %s: %w", sessionID, err)
	}
	h.Wake(sessionID)
	return seq, nil
}

// Wake makes a connected session send what its event log holds beyond
// what it sent: events another iscd replica stored for it. "" wakes every
// connected session (when which ones is not known).
func (h *Hub) Wake(sessionID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sessionID != "" {
		if l := h.live[sessionID]; l != nil {
			l.poke()
		}
		return
	}
	for _, l := range h.live {
		l.poke()
	}
}

// poke has the connection's event pump read the log: it starts one, or
// has the running one read it once more. l.sent is the pump's: one runs
// at a time.
func (l *live) poke() {
	l.pumpMu.Lock()
	defer l.pumpMu.Unlock()
	switch {
	case l.pumpDone:
	case l.pumping:
		l.again = true
	default:
		l.pumping = true
		l.pumps.Add(1)
		go l.pump(l)
	}
}

// stopPump keeps pumps from starting and waits for the one running.
func (l *live) stopPump() {
	l.pumpMu.Lock()
	l.pumpDone = true
	l.pumpMu.Unlock()
	l.pumps.Wait()
}

// Filter selects sessions for PublishAll; empty fields match everything.
type Filter struct {
	ProductID string
	OrgID     string
	UserID    string
}

// PublishAll publishes ev to every resumable session that matches f and
// returns how many it reached.
func (h *Hub) PublishAll(ctx context.Context, f Filter, ev wire.Event) (int, error) {
	sessions, err := h.Sessions(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range sessions {
		if (f.ProductID != "" && s.ProductID != f.ProductID) || (f.OrgID != "" && s.OrgID != f.OrgID) || (f.UserID != "" && s.UserID != f.UserID) {
			continue
		}
		if _, err := h.Publish(ctx, s.ID, ev); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue // ended meanwhile
			}
			return n, err
		}
		n++
	}
	return n, nil
}

// SessionInfo is a stored session and whether it is connected here now.
// It is the hub's, with the resume token's hash: the admin API answers
// with adminapi.Session, which has none.
type SessionInfo struct {
	store.Session
	Connected bool `json:"connected"`
}

// Sessions lists the resumable sessions: connected, or within the resume
// window. It changes nothing; Sweep ends the expired ones.
func (h *Hub) Sessions(ctx context.Context) ([]SessionInfo, error) {
	out, _, err := h.sessions(ctx)
	return out, err
}

// sessions splits the stored sessions into resumable ones and the ids of
// those past their resume window.
func (h *Hub) sessions(ctx context.Context) (resumable []SessionInfo, expired []string, err error) {
	all, err := h.store.ListSessions(ctx)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	resumable = make([]SessionInfo, 0, len(all))
	h.mu.Lock()
	for _, s := range all {
		_, connected := h.live[s.ID]
		if !connected && now.Sub(s.LastSeen) > h.cfg.ResumeWindow {
			expired = append(expired, s.ID)
			continue
		}
		resumable = append(resumable, SessionInfo{Session: s, Connected: connected})
	}
	h.mu.Unlock()
	sort.Slice(resumable, func(i, j int) bool { return resumable[i].Created.Before(resumable[j].Created) })
	return resumable, expired, nil
}

// Disconnect drops a session's connection without a goodbye, as a network
// failure would; the session stays resumable. It reports whether the
// session was connected.
func (h *Hub) Disconnect(sessionID string) bool {
	h.mu.Lock()
	l := h.live[sessionID]
	h.mu.Unlock()
	if l == nil {
		return false
	}
	l.conn.Close(websocket.CloseGoingAway, "dropped by operator")
	return true
}

// End ends a session: a connected client is told why (bye, unless reason is
// empty) and its events are dropped. It reports whether the session existed.
// With a relay (Relay), the replica the client is connected to is told.
func (h *Hub) End(ctx context.Context, sessionID, reason string) bool {
	if !h.end(ctx, sessionID, reason) {
		return false
	}
	h.relayKick(Kick{Session: sessionID, Reason: reason})
	return true
}

func (h *Hub) end(ctx context.Context, sessionID, reason string) bool {
	return h.endWith(ctx, sessionID, wire.ByeKicked, reason)
}

func (h *Hub) endWith(ctx context.Context, sessionID, bye, reason string) bool {
	h.mu.Lock()
	l := h.live[sessionID]
	h.mu.Unlock()
	if l != nil && reason != "" {
		_ = l.conn.Send(ctx, &wire.Message{Type: wire.TypeBye, Reason: bye, Text: reason})
	}
	if _, err := h.store.Session(ctx, sessionID); err != nil {
		return false
	}
	_ = h.ended(ctx, sessionID)
	if l != nil {
		go l.conn.Close(websocket.CloseNormalClosure, "session ended")
	}
	return true
}

// EndUsers ends every session of users whose access was revoked (or who
// were deleted or disabled), connected or not, on every replica (Relay):
// a connected client is told with bye ByeSignInRequired and reason, and
// what the sessions held (floating seats) is freed at once. It reads the
// sessions once, however many users; it returns how many it ended.
func (h *Hub) EndUsers(ctx context.Context, reason string, userIDs ...string) int {
	if len(userIDs) == 0 {
		return 0
	}
	users := make(map[string]bool, len(userIDs))
	for _, id := range userIDs {
		users[id] = true
	}
	all, err := h.store.ListSessions(ctx)
	if err != nil {
		h.log.Error("end the sessions of users", "users", len(userIDs), "err", err)
		return 0
	}
	n := 0
	for _, s := range all {
		if !users[s.UserID] || !h.endWith(ctx, s.ID, wire.ByeSignInRequired, reason) {
			continue
		}
		n++
		h.relayKick(Kick{Session: s.ID, Reason: reason, Bye: wire.ByeSignInRequired})
	}
	return n
}

// EndToken ends every session connected with a token that was revoked:
// the client is told (bye "kicked") and cannot reconnect with it. It
// returns how many sessions it ended here; with a relay (Relay), the other
// replicas end theirs.
func (h *Hub) EndToken(ctx context.Context, tokenID string) int {
	n := h.endToken(ctx, tokenID)
	h.relayKick(Kick{Token: tokenID})
	return n
}

func (h *Hub) endToken(ctx context.Context, tokenID string) int {
	h.mu.Lock()
	var ids []string
	for id, l := range h.live {
		if l.tokenID == tokenID {
			ids = append(ids, id)
		}
	}
	h.mu.Unlock()
	for _, id := range ids {
		h.end(ctx, id, "the API token of this session was revoked")
	}
	return len(ids)
}

// Recheck ends the connections here that a lost Kick should have ended:
// their session was ended (it is no longer stored), or their token, user or
// organisation was refused since they connected. A replica calls it when
// it hears the others again after it could not (a Kick sent meanwhile was
// not heard). It returns how many it ended.
func (h *Hub) Recheck(ctx context.Context) int {
	type conn struct {
		session string
		id      Identity
	}
	h.mu.Lock()
	conns := make([]conn, 0, len(h.live))
	for sid, l := range h.live {
		conns = append(conns, conn{sid, Identity{OrgID: l.caller.OrgID, UserID: l.caller.UserID, TokenID: l.tokenID}})
	}
	h.mu.Unlock()
	refused := map[Identity]error{} // many connections share a token
	n := 0
	for _, c := range conns {
		if _, err := h.store.Session(ctx, c.session); errors.Is(err, store.ErrNotFound) {
			h.Kick(ctx, Kick{Session: c.session, Reason: "the session was ended"})
			n++
			continue
		}
		err, seen := refused[c.id]
		if !seen {
			err = h.auth.Recheck(ctx, c.id)
			refused[c.id] = err
		}
		if err != nil && ctx.Err() == nil && !errors.Is(err, ErrAuthUnavailable) {
			h.log.Info("session ended on recheck", "session", c.session, "err", err)
			if h.endWith(ctx, c.session, wire.ByeSignInRequired, "access was revoked") {
				n++
			}
		}
	}
	return n
}

// Kick is an order to end sessions that one replica passes to the others,
// which hold the connections it does not: one session (ended already: its
// connection is to close), or every session of a revoked token.
type Kick struct {
	Session string `json:"session,omitempty"`
	Token   string `json:"token,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Bye     string `json:"bye,omitempty"` // the bye's reason; "": wire.ByeKicked
}

// Relay has the hub pass each End and EndToken on to fn, for the other
// replicas' hubs (Kick).
func (h *Hub) Relay(fn func(Kick)) {
	h.mu.Lock()
	h.relay = fn
	h.mu.Unlock()
}

func (h *Hub) relayKick(k Kick) {
	h.mu.Lock()
	fn := h.relay
	h.mu.Unlock()
	if fn != nil {
		fn(k)
	}
}

// Kick carries out, on the connections here, an order another replica
// relayed; it relays nothing.
func (h *Hub) Kick(ctx context.Context, k Kick) {
	if k.Token != "" {
		h.endToken(ctx, k.Token)
		return
	}
	h.mu.Lock()
	l := h.live[k.Session]
	h.mu.Unlock()
	if l == nil {
		return
	}
	if k.Reason != "" {
		bye := k.Bye
		if bye == "" {
			bye = wire.ByeKicked
		}
		_ = l.conn.Send(ctx, &wire.Message{Type: wire.TypeBye, Reason: bye, Text: k.Reason})
	}
	go l.conn.Close(websocket.CloseNormalClosure, "session ended")
}

// Connected is how many sessions have a connection to this replica now.
func (h *Hub) Connected() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.live)
}

// Shutdown stops accepting connections, tells every connected client why
// (bye with reason "shutdown"), closes the connections and waits for their
// goroutines, or for ctx. Sessions stay resumable across the restart.
func (h *Hub) Shutdown(ctx context.Context, text string) error {
	h.mu.Lock()
	h.closing = true
	defer h.stopBase() // what is still running for a client stops
	conns := make([]*live, 0, len(h.live))
	for _, l := range h.live {
		conns = append(conns, l)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = l.conn.Send(ctx, &wire.Message{Type: wire.TypeBye, Reason: wire.ByeShutdown, Text: text})
			l.conn.Close(websocket.CloseGoingAway, "service shutting down")
		}()
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { h.closedWG.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
