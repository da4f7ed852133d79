// Package metrics is iscd's Prometheus instrumentation: the metrics of
// the service (Service) and of a compute worker (Worker), each in a
// registry of its own, the bounds on their labels, the wrappers that time
// the store and the chunk store, and the guarded /metrics handler.
//
// Every metric is named and described in docs/deploy.md ("Metrics"). No
// label takes a value a client chose without a bound: ops, result codes
// and marketplace activities pass through a labelSet that admits a fixed
// number of distinct values and counts the rest as "other", and paths,
// ids and names are never labels (the one exception, the licence of a
// seats gauge, comes from the store and is capped: see seats.go).
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Other is the label value of everything past a label's bound, and of
// ops the service does not know.
const Other = "other"

// Bounds on the distinct values of each label (past them: Other).
const (
	MaxOps        = 64  // request ops: iscd registers about 40
	MaxCodes      = 48  // wire error codes, "ok"
	MaxActivities = 24  // marketplace activities: 9 today
	MaxMarketCode = 24  // marketplace result codes
	MaxLicenses   = 100 // licences with their own seats series (seats.go)
)

// latencyBuckets are the request and store latency buckets, in seconds:
// 0.5 ms to 10 s.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// jobBuckets are the queue wait and run time buckets, in seconds: 1 s to
// 6 h.
var jobBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600}

// labelSet admits up to max distinct values of one label; the rest read
// as Other. Its memory and the series it allows are bounded whatever
// clients send.
type labelSet struct {
	mu   sync.Mutex
	max  int
	seen map[string]struct{}
}

func newLabelSet(max int, known ...string) *labelSet {
	s := &labelSet{max: max, seen: make(map[string]struct{}, max)}
	for _, k := range known {
		s.value(k)
	}
	return s
}

// value returns v if it is admitted (or now admitted), else Other.
func (s *labelSet) value(v string) string {
	if v == "" {
		return Other
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[v]; ok {
		return v
	}
	if len(s.seen) >= s.max || len(v) > 64 {
		return Other
	}
	s.seen[v] = struct{}{}
	return v
}

// newRegistry is a registry with the Go runtime's and the process's
// collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// seconds is d in seconds, for an Observe.
func seconds(d time.Duration) float64 { return d.Seconds() }
