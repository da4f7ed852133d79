package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Worker is the metrics of one compute worker (`iscd worker
// --metrics-listen`). Its methods may be called on a nil *Worker.
type Worker struct {
	reg       *prometheus.Registry
	connected prometheus.Gauge
	finished  *prometheus.CounterVec // state
	solve     prometheus.Histogram
}

// NewWorker returns a worker's metrics in a registry of their own, with
// the Go runtime's and the process's collectors; running and capacity are
// read at each scrape.
func NewWorker(capacity int, running func() int) *Worker {
	m := &Worker{
		reg: newRegistry(),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "iscd_worker_connected", Help: "1 while this worker is connected to iscd, else 0.",
		}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iscd_worker_jobs_finished_total", Help: "Job attempts this worker ran to their end, by state (succeeded, failed, canceled).",
		}, []string{"state"}),
		solve: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "iscd_worker_solve_seconds", Help: "Wall time of the solver, per attempt.", Buckets: jobBuckets,
		}),
	}
	for _, s := range []string{"succeeded", "failed", "canceled"} {
		m.finished.WithLabelValues(s)
	}
	m.reg.MustRegister(m.connected, m.finished, m.solve,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "iscd_worker_capacity", Help: "Jobs this worker runs at once, at most."},
			func() float64 { return float64(capacity) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "iscd_worker_jobs_running", Help: "Jobs this worker runs now."},
			func() float64 { return float64(running()) }),
	)
	return m
}

// Registry is where the worker's metrics are gathered.
func (m *Worker) Registry() *prometheus.Registry { return m.reg }

// Connected says whether the worker is connected to iscd now.
func (m *Worker) Connected(yes bool) {
	if m == nil {
		return
	}
	if yes {
		m.connected.Set(1)
	} else {
		m.connected.Set(0)
	}
}

// JobFinished counts an attempt that ended in state (wire.JobSucceeded,
// JobFailed or JobCanceled) after the solver ran for wall.
func (m *Worker) JobFinished(state string, wall time.Duration) {
	if m == nil {
		return
	}
	switch state {
	case "succeeded", "failed", "canceled":
	default:
		state = Other
	}
	m.finished.WithLabelValues(state).Inc()
	m.solve.Observe(seconds(wall))
}
