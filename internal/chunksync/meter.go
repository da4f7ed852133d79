package chunksync

import (
	"context"
	"sync"
	"time"
)

// Bounds of the transfer windows (see Meter).
const (
	minWindow    = 256 << 10 // bytes in flight, at least
	maxWindow    = 8 << 20   // bytes in flight, at most: 2 BDP of 1 Gbit/s at 30 ms
	startWindow  = 1 << 20   // before anything was measured
	minBatch     = 1 << 20   // a have/want round's chunk bytes, at least
	batchTime    = 500 * time.Millisecond
	rateWindow   = 2 * time.Second  // a delivery-rate sample counts this long
	minRTTWindow = 10 * time.Second // an RTT sample counts this long
)

// Meter estimates a link's bandwidth-delay product from the chunks
// that cross it, as TCP's BBR does: the round trip is the smallest seen
// lately (a request that queued behind others took longer than the link
// did), the rate the largest delivery rate lately (bytes acknowledged
// while a request was in flight, over its round trip). Two BDPs in flight
// fill the link without queueing more than a round trip's worth of bytes
// in front of a cancel, and a have/want round covers half a second of
// the link: a fast link is filled, a slow one is not flooded.
type Meter struct {
	mu        sync.Mutex
	delivered int64 // bytes acknowledged, ever
	rtt       time.Duration
	rttAt     time.Time
	rate      float64 // bytes per second
	rateAt    time.Time

	inFlight int64
	wake     chan struct{} // closed when bytes leave flight
}

// A Mark is what a request remembers of the link when it was sent.
type Mark struct {
	at        time.Time
	delivered int64
}

// Mark is taken as a request is sent.
func (m *Meter) Mark() Mark {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Mark{at: time.Now(), delivered: m.delivered}
}

// Acked records that the request sent at s was answered after n bytes
// crossed the link for it.
func (m *Meter) Acked(s Mark, n int64) {
	now := time.Now()
	rtt := max(now.Sub(s.at), time.Microsecond)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delivered += n
	if m.rtt == 0 || rtt <= m.rtt || now.Sub(m.rttAt) > minRTTWindow {
		m.rtt, m.rttAt = rtt, now
	}
	if rate := float64(m.delivered-s.delivered) / rtt.Seconds(); rate >= m.rate || now.Sub(m.rateAt) > rateWindow {
		m.rate, m.rateAt = rate, now
	}
}

// Window is how many bytes to keep in flight: two bandwidth-delay
// products.
func (m *Meter) Window() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rate == 0 {
		return startWindow
	}
	return min(max(int64(2*m.rate*m.rtt.Seconds()), minWindow), maxWindow)
}

// Batch is how many chunk bytes one have/want round covers: half a
// second of the link (and four windows), between 1 MiB and most.
func (m *Meter) Batch(most int) int {
	w := m.Window()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rate == 0 { // nothing measured yet: a small round measures the link
		return min(minBatch, most)
	}
	return int(min(max(int64(m.rate*batchTime.Seconds()), 4*w, minBatch), int64(most)))
}

// Acquire waits until n more bytes fit in the window (one request always
// does) or ctx ends.
func (m *Meter) Acquire(ctx context.Context, n int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := m.Window()
	for {
		m.mu.Lock()
		if m.inFlight == 0 || m.inFlight+n <= w {
			m.inFlight += n
			m.mu.Unlock()
			return nil
		}
		if m.wake == nil {
			m.wake = make(chan struct{})
		}
		wake := m.wake
		m.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
		w = m.Window()
	}
}

// Release takes n bytes out of flight.
func (m *Meter) Release(n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inFlight -= n
	if m.wake != nil {
		close(m.wake)
		m.wake = nil
	}
}
