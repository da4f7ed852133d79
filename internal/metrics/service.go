package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iscsdk/iscsdk/internal/wire"
)

// Service is the metrics of one iscd. Its methods may be called on a nil
// *Service (they do nothing), so a part built without metrics, as in most
// unit tests, needs no checks.
type Service struct {
	reg *prometheus.Registry

	ops, codes, activities, marketCodes *labelSet

	requests        *prometheus.CounterVec   // op, code
	requestSeconds  *prometheus.HistogramVec // op
	eventsPushed    prometheus.Counter
	eventsReplayed  prometheus.Counter
	received, sent  prometheus.Counter
	licenseRequests *prometheus.CounterVec // result
	upgradeDownload prometheus.Counter
	upgradeBytes    prometheus.Counter

	chunksStored     prometheus.Counter
	chunkBytesStored prometheus.Counter
	chunksDedup      prometheus.Counter
	chunkSeconds     *prometheus.HistogramVec // op
	storeSeconds     *prometheus.HistogramVec // op

	jobsSubmitted prometheus.Counter
	jobsFinished  *prometheus.CounterVec // state
	queueWait     prometheus.Histogram
	runTime       prometheus.Histogram

	marketCalls *prometheus.CounterVec // activity, code
}

// NewService returns the metrics of one iscd in a registry of their own,
// with the Go runtime's and the process's collectors.
func NewService() *Service {
	m := &Service{
		reg:         newRegistry(),
		ops:         newLabelSet(MaxOps, Other),
		codes:       newLabelSet(MaxCodes, "ok", Other),
		activities:  newLabelSet(MaxActivities, Other),
		marketCodes: newLabelSet(MaxMarketCode, Other),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iscd_requests_total",
			Help: "Session requests answered, by op (unknown ops: other) and result code (ok, or the wire error code).",
		}, []string{"op", "code"}),
		requestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "iscd_request_duration_seconds", Help: "Time to answer a session request, by op.", Buckets: latencyBuckets,
		}, []string{"op"}),
		eventsPushed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iscd_events_pushed_total", Help: "Events sent to connected sessions as they happened.",
		}),
		eventsReplayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iscd_events_replayed_total", Help: "Events sent again from the event log to a resumed session.",
		}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iscd_session_received_bytes_total", Help: "Bytes of WebSocket messages received from sessions.",
		}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iscd_session_sent_bytes_total", Help: "Bytes of WebSocket messages sent to sessions.",
		}),
		licenseRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iscd_license_requests_total",
			Help: "Licence requests (license.request), by result: granted, or the error code.",
		}, []string{"result"}),
		upgradeDownload: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iscd_upgrade_downloads_total", Help: "Upgrade downloads started (upgrades.manifest answered).",
		}),
		upgradeBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iscd_upgrade_chunks_total", Help: "Upgrade package chunks sent (upgrades.chunk answered).",
		}),
		chunksStored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iscd_chunks_stored_total", Help: "Chunks written to the chunk store (cloud files, job outputs, releases).",
		}),
		chunkBytesStored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iscd_chunks_stored_bytes_total", Help: "Encoded bytes of the chunks written to the chunk store.",
		}),
		chunksDedup: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iscd_chunks_deduplicated_total", Help: "Chunks a save offered that the service had already (files.have): not sent.",
		}),
		chunkSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "iscd_chunkstore_duration_seconds", Help: "Chunk store calls, by op (has, put, get).", Buckets: latencyBuckets,
		}, []string{"op"}),
		storeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "iscd_store_duration_seconds", Help: "Store calls on the hot paths, by op (see docs/deploy.md).", Buckets: latencyBuckets,
		}, []string{"op"}),
		jobsSubmitted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iscd_jobs_submitted_total", Help: "Compute jobs queued.",
		}),
		jobsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iscd_jobs_finished_total", Help: "Compute jobs ended, by state (succeeded, failed, canceled).",
		}, []string{"state"}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "iscd_job_queue_wait_seconds", Help: "Time from a job's submission to the start of each of its attempts.", Buckets: jobBuckets,
		}),
		runTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "iscd_job_run_seconds", Help: "Time from an attempt's start to the job's end on a worker.", Buckets: jobBuckets,
		}),
		marketCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iscd_marketplace_calls_total", Help: "Marketplace production interface calls, by activity and resultCode.",
		}, []string{"activity", "code"}),
	}
	m.reg.MustRegister(m.requests, m.requestSeconds, m.eventsPushed, m.eventsReplayed, m.received, m.sent,
		m.licenseRequests, m.upgradeDownload, m.upgradeBytes, m.chunksStored, m.chunkBytesStored, m.chunksDedup,
		m.chunkSeconds, m.storeSeconds, m.jobsSubmitted, m.jobsFinished, m.queueWait, m.runTime, m.marketCalls)
	for _, s := range []string{"succeeded", "failed", "canceled"} {
		m.jobsFinished.WithLabelValues(s)
	}
	m.licenseRequests.WithLabelValues("granted")
	return m
}

// Registry is where the service's metrics are gathered.
func (m *Service) Registry() *prometheus.Registry { return m.reg }

// Request counts one answered session request. op must be an op the
// service handles, or Other; code is "" for success, else the wire error
// code. Both are bounded again here.
func (m *Service) Request(op, code string, d time.Duration) {
	if m == nil {
		return
	}
	if code == "" {
		code = "ok"
	}
	op, code = m.ops.value(op), m.codes.value(code)
	m.requests.WithLabelValues(op, code).Inc()
	m.requestSeconds.WithLabelValues(op).Observe(seconds(d))
	switch op {
	case wire.OpLicenseRequest:
		result := code
		if code == "ok" {
			result = "granted"
		}
		m.licenseRequests.WithLabelValues(result).Inc()
	case wire.OpUpgradesManifest:
		if code == "ok" {
			m.upgradeDownload.Inc()
		}
	case wire.OpUpgradesChunk:
		if code == "ok" {
			m.upgradeBytes.Inc()
		}
	}
}

// Events counts events sent to a session: replayed from the log on a
// resume, or pushed as they happened.
func (m *Service) Events(n int, replayed bool) {
	if m == nil || n == 0 {
		return
	}
	if replayed {
		m.eventsReplayed.Add(float64(n))
	} else {
		m.eventsPushed.Add(float64(n))
	}
}

// Received and Sent count the bytes of session messages (for
// transport.Options); nil without metrics.
func (m *Service) Received() prometheus.Counter {
	if m == nil {
		return nil
	}
	return m.received
}

// Sent: see Received.
func (m *Service) Sent() prometheus.Counter {
	if m == nil {
		return nil
	}
	return m.sent
}

// StoreCall observes a store transaction that a service ran its rule in
// (iscd_store_duration_seconds{op}), as the timed store (Store) does for
// the calls it sees: a seat taken ("acquire_seat") or renewed
// ("renew_seat"), a job leased, finished, canceled, leases expired.
func (m *Service) StoreCall(op string, d time.Duration) {
	if m == nil {
		return
	}
	m.storeSeconds.WithLabelValues(op).Observe(seconds(d))
}

// JobLeased observes how long a leased job waited in the queue.
func (m *Service) JobLeased(wait time.Duration) {
	if m == nil {
		return
	}
	m.queueWait.Observe(seconds(wait))
}

// JobFinished counts a job that reached a final state, once.
func (m *Service) JobFinished(state string) {
	if m == nil {
		return
	}
	m.jobsFinished.WithLabelValues(state).Inc()
}

// JobRan observes how long a finished attempt ran.
func (m *Service) JobRan(d time.Duration) {
	if m == nil {
		return
	}
	m.runTime.Observe(seconds(d))
}

// Deduplicated counts chunks a client offered that were stored already.
func (m *Service) Deduplicated(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.chunksDedup.Add(float64(n))
}

// MarketplaceCall counts one marketplace call by activity ("" when the
// call was refused before it was read) and result code.
func (m *Service) MarketplaceCall(activity, code string) {
	if m == nil {
		return
	}
	if activity == "" {
		activity = "none"
	}
	m.marketCalls.WithLabelValues(m.activities.value(activity), m.marketCodes.value(code)).Inc()
}

// Gauge registers a gauge whose value fn reads at each scrape.
func (m *Service) Gauge(name, help string, fn func() float64) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}
