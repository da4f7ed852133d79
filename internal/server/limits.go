package server

import (
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/transport"
)

// Limits bounds what clients may hold of iscd: connections, bytes of
// requests in memory, time. The zero Limits takes the defaults
// (docs/deploy.md lists them and the `iscd serve` flags that set them).
type Limits struct {
	// MaxConnsPerToken and MaxConnsPerOrg bound the session connections
	// open at once with one API token and for one organisation, on each
	// replica. 0: session.DefaultMaxConnsPerToken (64),
	// session.DefaultMaxConnsPerOrg (1,024); negative: no bound.
	MaxConnsPerToken int
	MaxConnsPerOrg   int
	// ConnBudget bounds the bytes of one connection's requests read and
	// not yet answered; 0: session.DefaultConnBudget (8 MiB). Its answers
	// not yet written are bounded by session.SendBudget (4 MiB).
	ConnBudget int64
	// Budget bounds those bytes for all connections together; 0:
	// DefaultBudget (128 MiB), negative: no bound.
	Budget int64

	// HTTP deadlines; 0 takes the Default ones. Session and worker
	// connections are WebSockets: the upgrade clears these, and each
	// connection has its own (a ping every 15 s, a peer silent for 40 s
	// is gone, a write has 10 s).
	//
	// ReadHeaderTimeout bounds the reading of a request's headers,
	// ReadTimeout the whole request; a body over 1 MiB (an upload) may
	// take longer as long as it keeps coming: each MiB read moves the
	// deadline ReadTimeout on. WriteTimeout bounds the answer, IdleTimeout
	// a keep-alive connection waiting for its next request.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// Defaults of Limits.
const (
	DefaultBudget            = 128 << 20
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 2 * time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
)

// largeBody is the size past which a body is paced rather than timed.
const largeBody = 1 << 20

// newHTTPServer returns the server of h with l's deadlines.
func newHTTPServer(h http.Handler, l Limits, log *slog.Logger) *http.Server {
	or := func(d, def time.Duration) time.Duration {
		if d <= 0 {
			return def
		}
		return d
	}
	read := or(l.ReadTimeout, DefaultReadTimeout)
	return &http.Server{
		Handler:           paced(h, read),
		ReadHeaderTimeout: or(l.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       read,
		WriteTimeout:      or(l.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       or(l.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// paced lets a large body arrive at its pace, as long as it keeps
// arriving: each largeBody read moves the read deadline timeout on.
func paced(h http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > largeBody || (r.ContentLength < 0 && r.Body != http.NoBody) {
			r.Body = &pacedBody{ReadCloser: r.Body, rc: http.NewResponseController(w), timeout: timeout}
		}
		h.ServeHTTP(w, r)
	})
}

type pacedBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	read    int64 // since the deadline last moved
}

func (b *pacedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.read += int64(n); b.read >= largeBody {
		b.read = 0
		_ = b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	}
	return n, err
}

// hub adds l to the session hub's settings c, with the process's budgets
// of requests and answers, which return memory to the system after a
// burst.
func (l Limits) hub(c session.Config, log *slog.Logger) session.Config {
	if l.Budget == 0 {
		l.Budget = DefaultBudget
	}
	release := releaseMemory(log)
	c.Budget = transport.NewBudget(l.Budget)
	c.Budget.OnIdle(release)
	// Answers queued are bounded per connection (ConnBudget); across
	// connections they are counted, not bounded: a bound there would let
	// a few clients that do not read stall every other connection.
	c.Sends = transport.NewBudget(0)
	c.Sends.OnIdle(release)
	c.MaxConnsPerToken, c.MaxConnsPerOrg, c.ConnBudget = l.MaxConnsPerToken, l.MaxConnsPerOrg, l.ConnBudget
	return c
}

// burst is the peak of request bytes held after which, once no request
// holds any, iscd hands the memory they took back to the system at once
// instead of over minutes: a flood of large frames (hostile or not) leaves
// no lasting footprint.
const burst = 8 << 20

// releaseMemory returns the OnIdle function: debug.FreeOSMemory after a
// burst, at most every releaseEvery (a burst that ends sooner after the
// last has it done when releaseEvery has passed).
func releaseMemory(log *slog.Logger) func(peak int64) {
	var (
		mu      sync.Mutex
		last    time.Time
		pending bool
	)
	free := func() {
		mu.Lock()
		last, pending = time.Now(), false
		mu.Unlock()
		debug.FreeOSMemory()
	}
	return func(peak int64) {
		if peak < burst {
			return
		}
		log.Debug("returning memory after a burst of requests", "peakBytes", peak)
		mu.Lock()
		defer mu.Unlock()
		switch wait := releaseEvery - time.Since(last); {
		case pending:
		case wait <= 0:
			pending = true
			go free()
		default:
			pending = true
			time.AfterFunc(wait, free)
		}
	}
}

// releaseEvery spaces the returns of memory: each is a full collection.
const releaseEvery = 10 * time.Second
