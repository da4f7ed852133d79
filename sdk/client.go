// Package sdk is the iscsdk client for Go programs: it connects a desktop
// program to iscd, keeps the session alive across network trouble, and
// delivers the service's events to the program.
//
// It has two surfaces over one connection. Client is the Go one: Init
// connects, each call takes a context, typed options and returns a typed
// result or an error (SaveTo, OpenFile, Solve, List, ...), and Close ends
// it; the service's own news (notices, licence freezes, connection state)
// arrive as events (OnEvent, PollEvent). Desk is the call surface of the
// SDK that CAD vendors already integrate (Init, RegisterEventRecall, Save,
// GetSolution, ...: string parameters, request ids, come-back JSON, every
// answer an event); the C ABI is built on it, and Go programs ported from
// that SDK use it. See docs/architecture.md.
//
// The SDK never writes to the program's stdout or stderr: diagnostics go to
// a size-capped log file in the workspace (Config.LogLevel, $ISCSDK_LOG).
package sdk

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/net/http/httpproxy"

	"github.com/iscsdk/iscsdk/internal/chunksync"
	"github.com/iscsdk/iscsdk/internal/link"
	"github.com/iscsdk/iscsdk/internal/transport"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Version is the SDK's version, sent to the service at hello.
const Version = "0.1.0"

// Errors callers branch on (with errors.Is).
var (
	// ErrUnauthorized: the service refused the token.
	ErrUnauthorized = errors.New("iscsdk: unauthorized")
	// ErrUnreachable: the service could not be reached in time.
	ErrUnreachable = errors.New("iscsdk: service unreachable")
	// ErrProtocol: the service answered something this SDK does not understand.
	ErrProtocol = link.ErrProtocol
	// ErrShutOut: the client has been closed (Close, or Desk.ShutOut).
	ErrShutOut = errors.New("iscsdk: client is shut out")
	// ErrTimeout: no event arrived before the deadline.
	ErrTimeout = errors.New("iscsdk: timed out")
	// ErrCallbackRegistered: PollEvent was called while a callback is
	// registered; events go to the callback.
	ErrCallbackRegistered = errors.New("iscsdk: events go to the registered callback")
	// ErrDisconnected: the connection dropped before the service answered.
	ErrDisconnected = link.ErrDisconnected
)

// reconnectBackoff: the first retry comes after up to 250 ms, each later
// one waits twice as long, up to 30 s, with jitter.
var reconnectBackoff = link.Backoff{Base: 250 * time.Millisecond, Max: 30 * time.Second}

// ackEvery: acknowledge at least every this many events.
const ackEvery = 64

// Client is a connection to iscd and the Go calls over it: each takes a
// context, waits for its answer and returns a typed result or an error
// (errors.Is/As: the Err* values, *Error with the service's code). What
// nobody asked for arrives as events (OnEvent, PollEvent). Its methods may
// be called from any goroutine; Close ends it. Desk offers the same over
// the calls of the SDK vendors already integrate.
type Client struct {
	cfg    Config
	url    string
	header http.Header
	dialer *websocket.Dialer
	log    *slog.Logger
	logOut io.Closer
	events *dispatcher

	ctx    context.Context // ends at ShutOut
	cancel context.CancelFunc
	runWG  sync.WaitGroup

	link        *link.Link    // requests and answers, on the connection of the moment
	nextRequest atomic.Uint64 // the host's request ids (events carry them)
	shut        atomic.Bool
	shutDone    chan struct{}  // closed when ShutOut has finished
	asyncWG     sync.WaitGroup // goroutines of asynchronous calls
	reportWG    sync.WaitGroup // those of them that are reports (goReport)
	asyncMu     sync.Mutex     // guards closing and asyncWG.Add
	closing     bool           // ShutOut waits for asyncWG: start nothing more
	licenses    *keeper
	files       *fileIndex       // where local files came from
	stat        *statCache       // what local files held when last read or written
	up, down    *chunksync.Meter // the link's bandwidth-delay product, each way
	cache       *chunkCache      // chunks downloaded before
	pickers     pickerWaits
	upgrades    *upgrader
	solves      *solveRouter // the service's job events, to the Solve waiting
	signInAsked atomic.Bool  // SignInRequired was raised since the last connection
	signin      *signIn      // Config.SignIn: the sign-in and its tokens

	mu          sync.Mutex
	solutions   map[uint64]*solution // GetSolution requests in progress
	session     string
	resumeToken string
	lastSeq     uint64 // newest event received
	ackedSeq    uint64 // newest event acknowledged to the service
	heartbeat   time.Duration
}

// Init connects to the service and opens a session. It returns once the
// session is open, or with an error wrapping ErrConfig, ErrUnauthorized,
// ErrUnreachable or ErrProtocol. ctx and Config.ConnectTimeout bound the
// connection; ctx is not used after Init returns.
//
// After Init the client reconnects by itself whenever the connection drops,
// resumes the session and receives every event it missed.
func Init(ctx context.Context, cfg Config) (*Client, error) {
	cfg, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	u, err := sessionURL(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	tlsConf, err := tlsConfig(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	logger, logOut := openLog(cfg.WorkspaceDir, cfg.LogLevel)
	c := &Client{
		cfg:    cfg,
		url:    u,
		header: http.Header{"Authorization": {"Bearer " + cfg.Token}},
		dialer: &websocket.Dialer{
			Proxy:            proxyFromEnvironment(),
			TLSClientConfig:  tlsConf,
			HandshakeTimeout: cfg.ConnectTimeout,
			ReadBufferSize:   transport.BufferSize,
			WriteBufferSize:  transport.BufferSize,
		},
		log:      logger,
		logOut:   logOut,
		link:     link.New(),
		shutDone: make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.licenses = newKeeper(c)
	// Beside files/, not in it: no cloud path can land on it.
	c.files = &fileIndex{path: filepath.Join(cfg.WorkspaceDir, "files-index.json")}
	c.stat = &statCache{dir: filepath.Join(cfg.WorkspaceDir, "stat"), workspace: cfg.WorkspaceDir, now: time.Now}
	c.up, c.down = &chunksync.Meter{}, &chunksync.Meter{}
	c.cache = &chunkCache{dir: filepath.Join(cfg.WorkspaceDir, "chunks"), max: chunkCacheMax}
	c.upgrades = newUpgrader(c)
	c.solves = newSolveRouter()
	c.events = newDispatcher(func(r any) { c.log.Error("event callback panicked", "panic", fmt.Sprint(r)) })

	cctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	fail := func(err error) (*Client, error) {
		c.log.Warn("init failed", "endpoint", c.url, "err", err)
		c.cancel()
		c.events.close()
		c.logOut.Close()
		return nil, err
	}
	if cfg.Token == "" {
		c.signin = newSignIn(c, tlsConf)
		signedIn, err := c.signin.resume(cctx)
		if err != nil {
			return fail(err)
		}
		if !signedIn {
			return c, nil // signed out until SignIn
		}
	}
	conn, err := c.connect(cctx)
	if err != nil {
		return fail(err)
	}
	c.start(conn)
	return c, nil
}

// start runs a client whose first connection succeeded.
func (c *Client) start(conn *transport.Conn) {
	c.upgrades.reportLast() // how the upgrade installed after the last exit went
	c.runWG.Add(2)
	go c.run(conn)
	go func() {
		defer c.runWG.Done()
		defer c.survive("licence keeper")
		c.licenses.run(c.ctx)
	}()
	if c.signin != nil {
		c.signin.announce()
	}
}

// OnEvent sets the function that receives events, one at a time and in
// order, on a goroutine of the SDK. fn == nil queues events for PollEvent
// instead. When it returns, a callback in progress with the previous
// function has finished (unless it is called from that callback).
func (c *Client) OnEvent(fn func(Event)) error {
	if c.shut.Load() {
		return ErrShutOut
	}
	c.events.setCallback(fn)
	return nil
}

// PollEvent returns the next event while no callback is registered, waiting
// until ctx is done (ErrTimeout).
func (c *Client) PollEvent(ctx context.Context) (Event, error) {
	if c.shut.Load() {
		return Event{}, ErrShutOut
	}
	return c.events.poll(ctx)
}

// SessionID returns the id of the current session.
func (c *Client) SessionID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

// Close ends the session and frees everything: the connection, the
// goroutines and the log file. No callback runs after it returns. Called
// from inside the event callback it does not wait for that callback (it
// cannot), and no further callback runs after the current one returns.
// A second call returns ErrShutOut once the first has finished (at once
// when it is made from inside the event callback, which the first may be
// waiting for).
func (c *Client) Close() error {
	if !c.shut.CompareAndSwap(false, true) {
		if !c.events.inCallback() {
			<-c.shutDone
		}
		return ErrShutOut
	}
	defer close(c.shutDone)
	// Tell the service the session is over, so it frees what the session
	// held at once instead of waiting for the resume window to pass.
	// While disconnected there is no one to tell: the session then ends on
	// the service when its resume window passes.
	connected := c.link.Conn() != nil
	reported := make(chan struct{})
	go func() { c.reportWG.Wait(); close(reported) }()
	if connected {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c.cancelSolves(ctx) // their results would have no one to go to
		select {            // reports under way get there before the session ends
		case <-reported:
		case <-ctx.Done():
		}
		if err := c.call(ctx, wire.OpSessionClose, struct{}{}, nil); err != nil {
			c.log.Info("close session", "err", err)
		}
		cancel()
	}
	c.cancel()
	c.runWG.Wait()
	c.asyncMu.Lock()
	c.closing = true
	c.asyncMu.Unlock()
	c.asyncWG.Wait()
	<-reported
	c.upgrades.handOff() // a staged upgrade installs once the process has exited
	c.events.close()
	c.log.Info("shut out")
	return c.logOut.Close()
}

// call sends one request and waits for its result, decoded into out. While
// the client is disconnected it waits for the reconnection, until ctx ends.
func (c *Client) call(ctx context.Context, op string, body, out any) error {
	return c.link.Call(ctx, op, body, out)
}

// tryCall is call that fails with ErrDisconnected at once while the client
// is disconnected.
func (c *Client) tryCall(ctx context.Context, op string, body, out any) error {
	return c.link.TryCall(ctx, op, body, out)
}

// sendFrame sends a binary request and decodes its "res" answer into out.
func (c *Client) sendFrame(ctx context.Context, f wire.Frame, out any) error {
	return c.link.SendFrame(ctx, f, out)
}

// fetch sends a request whose answer is a binary frame of kind.
func (c *Client) fetch(ctx context.Context, op string, body any, kind byte) (*wire.Frame, error) {
	return c.link.Fetch(ctx, op, body, kind)
}

// survive is deferred by the SDK's long-lived goroutines: a bug in them
// must not take the host program down. It logs the panic and tells the
// host the client stopped working; the host can shut out and init again.
func (c *Client) survive(what string) {
	if r := recover(); r != nil {
		c.log.Error("internal error: goroutine stopped", "goroutine", what, "panic", fmt.Sprint(r))
		c.emitState(StateDisconnected, map[string]string{"error": "internal error in the " + what + " (please report it): shut out and init again"})
	}
}

// emit hands an event to the host.
func (c *Client) emit(e Event) {
	if c.events.push(e) {
		c.log.Warn("event queue full: oldest event dropped", "max", MaxQueuedEvents)
	}
}

func (c *Client) emitState(state string, params map[string]string) {
	p := map[string]string{"state": state}
	for k, v := range params {
		p[k] = v
	}
	c.emit(localEvent(EventConnectionState, p))
}

// connect dials, says hello and waits for welcome; a signed-in program
// with a fresh access token, under the workspace's sign-in lock.
func (c *Client) connect(ctx context.Context) (*transport.Conn, error) {
	if c.signin != nil {
		return c.signin.connect(ctx, c.dial)
	}
	return c.dial(ctx, c.header)
}

// dial connects with header, says hello and waits for welcome.
func (c *Client) dial(ctx context.Context, header http.Header) (*transport.Conn, error) {
	ws, resp, err := c.dialer.DialContext(ctx, c.url, header)
	if err != nil {
		return nil, dialError(c.url, resp, err)
	}
	conn := transport.New(ws, transport.Options{})
	c.mu.Lock()
	hello := &wire.Hello{Protocol: wire.ProtocolVersion, Product: c.cfg.ProductID, AppVersion: c.cfg.AppVersion, Device: c.cfg.DeviceInfo, SDK: "go/" + Version}
	if c.session != "" {
		hello.Resume = &wire.Resume{Session: c.session, Token: c.resumeToken, LastSeq: c.lastSeq}
	}
	hadSession, lastSeq := c.session != "", c.lastSeq
	c.mu.Unlock()

	fail := func(err error) (*transport.Conn, error) {
		conn.Close(websocket.CloseNormalClosure, "")
		return nil, err
	}
	if err := conn.Send(ctx, &wire.Message{Type: wire.TypeHello, Hello: hello}); err != nil {
		return fail(fmt.Errorf("%w: send hello to %s: %v", ErrUnreachable, c.url, err))
	}
	type read struct {
		m   *wire.Message
		err error
	}
	got := make(chan read, 1)
	go func() { m, _, err := conn.Read(); got <- read{m, err} }()
	var r read
	select {
	case r = <-got:
	case <-ctx.Done():
		conn.Close(websocket.CloseNormalClosure, "")
		<-got
		return nil, fmt.Errorf("%w: no welcome from %s: %v", ErrUnreachable, c.url, ctx.Err())
	}
	switch {
	case r.err != nil:
		return fail(fmt.Errorf("%w: waiting for welcome from %s: %s", ErrUnreachable, c.url, transport.Describe(r.err)))
	case r.m.Type == wire.TypeResult && r.m.Error != nil:
		switch r.m.Error.Code {
		case wire.CodeUnauthorized, wire.CodeForbidden:
			return fail(fmt.Errorf("%w: %s", ErrUnauthorized, r.m.Error.Message))
		case wire.CodeNotFound: // the product is unknown to the service
			return fail(fmt.Errorf("%w: %s", ErrConfig, r.m.Error.Message))
		}
		return fail(fmt.Errorf("%w: hello refused: %v", ErrProtocol, r.m.Error))
	case r.m.Type != wire.TypeWelcome:
		return fail(fmt.Errorf("%w: expected welcome, got %q", ErrProtocol, r.m.Type))
	}
	w := r.m.Welcome
	c.mu.Lock()
	if !w.Resumed {
		c.lastSeq, c.ackedSeq = 0, 0
	}
	c.session, c.resumeToken = w.Session, w.ResumeToken
	c.heartbeat = time.Duration(w.HeartbeatMS) * time.Millisecond
	c.mu.Unlock()
	c.link.Attach(conn)

	p := map[string]string{"session": w.Session, "resumed": strconv.FormatBool(w.Resumed), "serverTime": w.ServerTime.UTC().Format(time.RFC3339Nano)}
	switch {
	case hadSession && !w.Resumed:
		p["eventsLost"] = "unknown" // the service no longer knew the session
	case w.Resumed && w.FirstSeq > lastSeq+1:
		p["eventsLost"] = strconv.FormatUint(w.FirstSeq-lastSeq-1, 10)
	}
	recordTrustedTime(c.log, w.ServerTime)
	c.licenses.poke() // renew what lapsed while offline
	c.signInAsked.Store(false)
	c.log.Info("connected", "endpoint", c.url, "session", w.Session, "resumed", w.Resumed)
	c.emitState(StateConnected, p)
	return conn, nil
}

// run owns the connection: it serves it until it drops, then reconnects
// with backoff, until ShutOut.
func (c *Client) run(conn *transport.Conn) {
	defer c.runWG.Done()
	defer c.survive("connection")
	for {
		err := c.serve(conn)
		if c.ctx.Err() != nil || c.shut.Load() {
			return // shutting out: the service closed the session on our word
		}
		reason := transport.Describe(err)
		c.log.Warn("disconnected", "err", reason)
		c.emitState(StateDisconnected, map[string]string{"error": reason})
		conn, err = link.Reconnect(c.ctx, reconnectBackoff, func(ctx context.Context, attempt int) (*transport.Conn, error) {
			c.emitState(StateReconnecting, map[string]string{"attempt": strconv.Itoa(attempt)})
			cctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
			defer cancel()
			return c.connect(cctx)
		}, func(attempt int, err error) {
			if errors.Is(err, ErrUnauthorized) {
				// The token is refused: revoked, or its user's access
				// ended while the program was away. The session and its
				// seats are gone; say so once, as the bye would have.
				c.signInRequired("unauthorized", err.Error())
			}
			c.log.Warn("reconnect failed", "attempt", attempt, "err", err)
			c.emitState(StateDisconnected, map[string]string{"error": err.Error(), "attempt": strconv.Itoa(attempt)})
		})
		if err != nil {
			return // shutting out
		}
	}
}

// serve reads conn until it ends or the client shuts out.
func (c *Client) serve(conn *transport.Conn) error {
	hbCtx, stopHB := context.WithCancel(c.ctx)
	var hbWG sync.WaitGroup
	hbWG.Add(1)
	go func() {
		defer hbWG.Done()
		defer c.survive("heartbeat")
		c.heartbeats(hbCtx, conn)
	}()
	go func() {
		<-hbCtx.Done()
		if c.ctx.Err() != nil {
			conn.Close(websocket.CloseNormalClosure, "shut out")
		}
	}()
	defer func() {
		stopHB()
		hbWG.Wait()
		conn.Close(websocket.CloseNormalClosure, "")
		c.link.Detach(conn)
	}()
	for {
		m, bin, err := conn.Read()
		if err != nil {
			return err
		}
		if answer, err := c.link.Answer(m, bin); answer || err != nil {
			if err != nil {
				return err
			}
			continue
		}
		switch m.Type {
		case wire.TypeEvent:
			c.receive(conn, m)
		case wire.TypeBye:
			c.log.Info("service closed the session", "reason", m.Reason, "text", m.Text)
			if m.Reason == wire.ByeSignInRequired {
				c.signInRequired(m.Reason, m.Text)
				continue
			}
			c.emit(localEvent(EventServiceClosed, map[string]string{"reason": m.Reason, "message": m.Text}))
		default:
			c.log.Debug("ignored message", "type", m.Type)
		}
	}
}

// signInRequired tells the host once that the user must sign in again
// (until a connection succeeds): each licence held is reported released
// (the service freed the seats), then SignInRequired.
func (c *Client) signInRequired(reason, msg string) {
	if c.signInAsked.Swap(true) {
		return
	}
	c.licenses.dropAll("the user must sign in again: " + msg)
	c.emit(localEvent(EventSignInRequired, map[string]string{"reason": reason, "message": msg}))
}

// receive queues a service event exactly once and acknowledges in batches.
func (c *Client) receive(conn *transport.Conn, m *wire.Message) {
	c.mu.Lock()
	if m.Seq <= c.lastSeq {
		c.mu.Unlock()
		return // replayed twice (a resume raced a push): already delivered
	}
	c.lastSeq = m.Seq
	ack := c.lastSeq-c.ackedSeq >= ackEvery
	if ack {
		c.ackedSeq = c.lastSeq
	}
	c.mu.Unlock()
	e := fromWire(m.Seq, m.Event)
	if e.Type == EventLicenseState {
		c.licenses.pushed(e)
	}
	switch {
	case e.Type == EventUpgradeNotice && e.RequestID == 0 && e.Params["pushed"] == "true":
		c.upgrades.pushed(e) // news of a forced release: the SDK checks, and tells the host if it concerns it
	case c.solves.deliver(e): // a job's news goes to its Solve
	case !c.pickers.deliver(e): // a pick is the SDK's, not the host's
		c.emit(e)
	}
	if ack {
		_ = conn.Send(c.ctx, &wire.Message{Type: wire.TypeAck, Seq: m.Seq})
	}
}

// heartbeats pings the service at the interval it asked for, reports the
// round trip to the host, and acknowledges events received since the last.
func (c *Client) heartbeats(ctx context.Context, conn *transport.Conn) {
	c.mu.Lock()
	every := c.heartbeat
	c.mu.Unlock()
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		var pong wire.Pong
		cctx, cancel := context.WithTimeout(ctx, every)
		err := c.call(cctx, wire.OpPing, wire.Ping{ClientTime: start}, &pong)
		cancel()
		if err != nil {
			c.log.Debug("heartbeat failed", "err", err)
			continue
		}
		rtt := time.Since(start)
		recordTrustedTime(c.log, pong.ServerTime)
		c.emit(localEvent(EventHeartbeat, map[string]string{
			"rttMs":      strconv.FormatFloat(float64(rtt.Microseconds())/1000, 'f', 3, 64),
			"serverTime": pong.ServerTime.UTC().Format(time.RFC3339Nano),
		}))
		c.mu.Lock()
		seq := c.lastSeq
		ack := seq > c.ackedSeq
		c.ackedSeq = seq
		c.mu.Unlock()
		if ack {
			_ = conn.Send(ctx, &wire.Message{Type: wire.TypeAck, Seq: seq})
		}
	}
}

// proxyFromEnvironment reads HTTPS_PROXY, HTTP_PROXY and NO_PROXY (and
// their lower-case forms) when Init runs, unlike http.ProxyFromEnvironment,
// which reads them once per process. wss:// uses HTTPS_PROXY, ws:// uses
// HTTP_PROXY; the WebSocket goes through the proxy with CONNECT.
func proxyFromEnvironment() func(*http.Request) (*url.URL, error) {
	fn := httpproxy.FromEnvironment().ProxyFunc()
	return func(r *http.Request) (*url.URL, error) { return fn(r.URL) }
}

func sessionURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("%w: endpoint: %v", ErrConfig, err)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = wire.Path
	}
	return u.String(), nil
}

func tlsConfig(caFile string) (*tls.Config, error) {
	if caFile == "" {
		return nil, nil // system roots
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("%w: CA file: %v", ErrConfig, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: CA file %s holds no PEM certificate", ErrConfig, caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// dialError turns a failed WebSocket dial into an error that says what to do.
func dialError(u string, resp *http.Response, err error) error {
	if resp == nil {
		return fmt.Errorf("%w: connect %s: %v", ErrUnreachable, u, err)
	}
	defer resp.Body.Close()
	var body struct {
		Error wire.Error `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	msg := body.Error.Message
	if msg == "" {
		msg = resp.Status
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w: %s", ErrUnauthorized, msg)
	case http.StatusServiceUnavailable:
		return fmt.Errorf("%w: %s: %s", ErrUnreachable, u, msg)
	}
	return fmt.Errorf("%w: connect %s: %s", ErrProtocol, u, msg)
}
