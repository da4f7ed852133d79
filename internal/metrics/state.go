package metrics

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iscsdk/iscsdk/internal/store"
)

// scrapeTimeout bounds the store reads of one scrape.
const scrapeTimeout = 5 * time.Second

// WorkerStats is what the compute service knows of its connected workers.
type WorkerStats struct {
	Connected, Capacity, Running int
}

// Watch registers the gauges read from the store at each scrape: floating
// seats in use (in all, and per licence for the MaxLicenses licences with
// the most), the jobs queued and running, and the marketplace outbox; and
// the workers connected here, their capacity and the jobs they run, read
// by workers. A failed read is reported as iscd_scrape_store_errors_total,
// not as a failed scrape (the rest still comes through).
func (m *Service) Watch(st store.Store, workers func() WorkerStats) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&stateCollector{st: st, workers: workers, errs: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "iscd_scrape_store_errors_total", Help: "Store reads of a scrape that failed (the gauges they feed are missing from that scrape).",
	})})
}

var (
	seatsInUseDesc = prometheus.NewDesc("iscd_seats_in_use",
		"Floating seats held now (leases not lapsed), over every licence.", nil, nil)
	licenseSeatsDesc = prometheus.NewDesc("iscd_license_seats_in_use",
		"Floating seats held now of one licence, for the licences with the most (at most 100 series; the rest are only in iscd_seats_in_use).", []string{"license"}, nil)
	licenseCapDesc = prometheus.NewDesc("iscd_license_seats",
		"Seats a licence has, for the licences in iscd_license_seats_in_use.", []string{"license"}, nil)
	jobsDesc = prometheus.NewDesc("iscd_jobs",
		"Compute jobs waiting or running now, by state (queued, running), over every replica.", []string{"state"}, nil)
	workersDesc = prometheus.NewDesc("iscd_workers_connected",
		"Compute workers connected to this replica.", nil, nil)
	capacityDesc = prometheus.NewDesc("iscd_workers_capacity",
		"Jobs the workers connected to this replica may run at once, together.", nil, nil)
	workerJobsDesc = prometheus.NewDesc("iscd_workers_jobs_running",
		"Jobs the workers connected to this replica hold now.", nil, nil)
	outboxDesc = prometheus.NewDesc("iscd_outbox_usage_records",
		"Usage records in the marketplace outbox, by state (pending, sent, parked).", []string{"state"}, nil)
	outboxOldestDesc = prometheus.NewDesc("iscd_outbox_oldest_pending_seconds",
		"Age of the oldest pending usage record (0 when none is pending).", nil, nil)
)

type stateCollector struct {
	st      store.Store
	workers func() WorkerStats
	errs    prometheus.Counter
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{seatsInUseDesc, licenseSeatsDesc, licenseCapDesc, jobsDesc, workersDesc, capacityDesc, workerJobsDesc, outboxDesc, outboxOldestDesc} {
		ch <- d
	}
	c.errs.Describe(ch)
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	now := time.Now()
	if err := c.seats(ctx, ch, now); err != nil {
		c.errs.Inc()
	}
	for _, state := range []string{store.JobQueued, store.JobRunning} {
		js, err := c.st.ListJobs(ctx, store.JobFilter{State: state})
		if err != nil {
			c.errs.Inc()
			continue
		}
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(len(js)), state)
	}
	if c.workers != nil {
		w := c.workers()
		ch <- prometheus.MustNewConstMetric(workersDesc, prometheus.GaugeValue, float64(w.Connected))
		ch <- prometheus.MustNewConstMetric(capacityDesc, prometheus.GaugeValue, float64(w.Capacity))
		ch <- prometheus.MustNewConstMetric(workerJobsDesc, prometheus.GaugeValue, float64(w.Running))
	}
	if o, err := c.st.OutboxStats(ctx); err != nil {
		c.errs.Inc()
	} else {
		ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(o.Pending), store.OutboxPending)
		ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(o.Sent), store.OutboxSent)
		ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(o.Parked), store.OutboxParked)
		age := 0.0
		if !o.Oldest.IsZero() {
			age = max(now.Sub(o.Oldest).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(outboxOldestDesc, prometheus.GaugeValue, age)
	}
	ch <- c.errs
}

// seats sends the seats in use: in all, and per licence for the
// MaxLicenses licences holding the most, so a vendor with many thousands
// of licences gets a bounded number of series.
func (c *stateCollector) seats(ctx context.Context, ch chan<- prometheus.Metric, now time.Time) error {
	seats, err := c.st.Seats(ctx, "")
	if err != nil {
		return err
	}
	held := map[string]int{}
	total := 0
	for _, s := range seats {
		if s.SessionID != "" && s.LeaseExpires.After(now) {
			held[s.LicenseID]++
			total++
		}
	}
	ch <- prometheus.MustNewConstMetric(seatsInUseDesc, prometheus.GaugeValue, float64(total))
	ids := make([]string, 0, len(held))
	for id := range held {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return cmp.Or(held[b]-held[a], cmp.Compare(a, b)) })
	if len(ids) > MaxLicenses {
		ids = ids[:MaxLicenses]
	}
	for _, id := range ids {
		ch <- prometheus.MustNewConstMetric(licenseSeatsDesc, prometheus.GaugeValue, float64(held[id]), id)
		if l, err := c.st.License(ctx, id); err == nil {
			ch <- prometheus.MustNewConstMetric(licenseCapDesc, prometheus.GaugeValue, float64(l.Seats), id)
		}
	}
	return nil
}
