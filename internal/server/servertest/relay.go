package servertest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Relay is a TCP relay in front of a service whose links can be cut, and
// kept cut, to play a network failure between a client (or a worker) and
// iscd.
type Relay struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	cut     bool
	stalled bool
	resumed chan struct{} // closed when a stall ends
	rate    int           // bytes per second each way; 0: unlimited
	up      chan struct{} // told (without blocking) when bytes go to the service
	conns   map[net.Conn]bool
	wg      sync.WaitGroup
}

// StartRelay listens on a free loopback port and relays to target
// (host:port) until the test ends.
func StartRelay(t testing.TB, target string) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{ln: ln, target: target, conns: map[net.Conn]bool{}, resumed: make(chan struct{}), up: make(chan struct{}, 1)}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(func() { ln.Close(); r.Cut(true); r.wg.Wait() })
	return r
}

// Addr is the relay's host:port.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Endpoint is the session URL through the relay.
func (r *Relay) Endpoint() string { return "ws://" + r.Addr() + "/v1/session" }

func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		if r.cut {
			r.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", r.target)
		if err != nil {
			r.mu.Unlock()
			c.Close()
			continue
		}
		r.conns[c], r.conns[up] = true, true
		r.mu.Unlock()
		r.wg.Add(2)
		go func() { defer r.wg.Done(); r.copy(up, c, false); up.Close() }()
		go func() { defer r.wg.Done(); r.copy(c, up, true); c.Close() }()
	}
}

// copy relays src to dst; what comes from the service (down) is held
// while the relay is stalled.
func (r *Relay) copy(dst io.Writer, src io.Reader, down bool) {
	buf := make([]byte, 32<<10)
	var sent int64 // since paced
	var paced time.Time
	for {
		r.mu.Lock()
		rate := r.rate
		r.mu.Unlock()
		read := buf
		if rate > 0 && rate/50 < len(buf) {
			read = buf[:max(rate/50, 1)] // 20 ms of the rate at a time
		}
		n, err := src.Read(read)
		if n > 0 {
			r.mu.Lock()
			stalled, resumed := r.stalled, r.resumed
			r.mu.Unlock()
			if stalled && down {
				<-resumed
			}
			if rate > 0 {
				// Each byte leaves no earlier than the rate allows: a
				// link this slow, whatever the sockets could take.
				if paced.IsZero() || time.Since(paced) > time.Second {
					paced, sent = time.Now(), 0
				}
				sent += int64(n)
				time.Sleep(time.Until(paced.Add(time.Duration(sent) * time.Second / time.Duration(rate))))
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			if !down {
				select {
				case r.up <- struct{}{}:
				default:
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// Up is told when bytes have gone through to the service since it was
// last read (one signal for any number of writes): drain it, make the
// client send, and receive from it to know the request is on its way.
func (r *Relay) Up() <-chan struct{} { return r.up }

// Stall holds the bytes coming from the service, without closing
// anything: requests get through, their answers wait, as when a network
// drops one direction; Stall(false) lets them through.
func (r *Relay) Stall(stall bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stalled && !stall {
		close(r.resumed)
		r.resumed = make(chan struct{})
	}
	r.stalled = stall
}

// Cut closes every relayed connection and, while cut, refuses new ones;
// Cut(false) lets connections through again.
func (r *Relay) Cut(cut bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = cut
	if cut {
		for c := range r.conns {
			c.Close()
		}
		clear(r.conns)
	}
	// What was held is lost with the connections: they are closed before
	// the held copies wake, so no held byte gets through a cut.
	if r.stalled {
		r.stalled = false
		close(r.resumed)
		r.resumed = make(chan struct{})
	}
}

// Throttle limits each direction of every relayed connection to
// bytesPerSecond (0: no limit), as a slow link does.
func (r *Relay) Throttle(bytesPerSecond int) {
	r.mu.Lock()
	r.rate = bytesPerSecond
	r.mu.Unlock()
}

// Retarget sends the connections made from now on to target, as a load
// balancer does when its health check sees a replica go.
func (r *Relay) Retarget(target string) {
	r.mu.Lock()
	r.target = target
	r.mu.Unlock()
}
