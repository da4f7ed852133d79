package signin

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// window counts events per key in fixed windows, in memory (per replica).
// It holds at most maxKeys keys: when full it forgets the windows that
// ended, and if none did it refuses, so a flood of keys cannot grow it.
type window struct {
	every   time.Duration
	max     int
	maxKeys int
	now     func() time.Time

	mu   sync.Mutex
	seen map[string]*count
}

type count struct {
	start time.Time
	n     int
}

func newWindow(every time.Duration, max int, now func() time.Time) *window {
	return &window{every: every, max: max, maxKeys: 10000, now: now, seen: map[string]*count{}}
}

// over reports whether key has had max events in the current window.
func (w *window) over(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.current(key)
	return c == nil || c.n >= w.max
}

// add counts one event of key and reports whether it was over the limit.
func (w *window) add(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.current(key)
	if c == nil || c.n >= w.max {
		return true
	}
	c.n++
	return false
}

// current is key's count in the current window; nil when full. w.mu is held.
func (w *window) current(key string) *count {
	now := w.now()
	c, ok := w.seen[key]
	if ok && now.Sub(c.start) < w.every {
		return c
	}
	if !ok && len(w.seen) >= w.maxKeys {
		for k, c := range w.seen {
			if now.Sub(c.start) >= w.every {
				delete(w.seen, k)
			}
		}
		if len(w.seen) >= w.maxKeys {
			return nil
		}
	}
	c = &count{start: now}
	w.seen[key] = c
	return c
}

// clientIP is the address the request came from (the proxy's, behind one).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
