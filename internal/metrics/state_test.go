package metrics_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/metrics"
	"github.com/iscsdk/iscsdk/internal/server/licensing"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/boltstore"
)

// The gauges read from the store at a scrape: the outbox by state and
// the age of its oldest pending record, seats in use per licence (for the
// MaxLicenses licences holding the most), the workers.
func TestStateGauges(t *testing.T) {
	ctx := context.Background()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "iscd.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	var recs []store.OutboxRecord
	for i := range 3 {
		recs = append(recs, store.OutboxRecord{SN: fmt.Sprintf("sn-%d", i), InstanceID: "i", Begin: now.Add(-time.Hour), End: now,
			Value: 1, Source: "compute", Created: now.Add(-time.Duration(i+1) * time.Hour)})
	}
	if _, err := st.EnqueueUsage(ctx, recs); err != nil {
		t.Fatal(err)
	}
	recs[2].State, recs[2].Reason = store.OutboxParked, "refused"
	recs[1].State, recs[1].Sent = store.OutboxSent, now
	if err := st.SaveUsage(ctx, recs[1:]); err != nil {
		t.Fatal(err)
	}
	// 102 licences of 10 seats; licence i holds 1 + i%3 of them.
	for i := range metrics.MaxLicenses + 2 {
		id := fmt.Sprintf("lic-%03d", i)
		if err := st.PutLicense(ctx, store.License{ID: id, OrgID: "o", ProductID: "p", Kind: store.KindFloating, Seats: 10, Status: store.StatusActive, EffectiveAt: now.Add(-time.Hour), ExpiresAt: now.AddDate(1, 0, 0)}); err != nil {
			t.Fatal(err)
		}
		for j := range 1 + i%3 {
			if _, err := licensing.AcquireSeat(ctx, st, store.Seat{ID: fmt.Sprintf("%s-%d", id, j), LicenseID: id, SessionID: fmt.Sprintf("s-%d-%d", i, j),
				UserID: fmt.Sprintf("u-%d", j), Acquired: now, Renewed: now, LeaseExpires: now.Add(time.Hour)}); err != nil {
				t.Fatalf("seat %s %d: %v", id, j, err)
			}
		}
	}
	m := metrics.NewService()
	m.Watch(st, func() metrics.WorkerStats { return metrics.WorkerStats{Connected: 2, Capacity: 5, Running: 3} })
	s := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"iscd_outbox_usage_records", []string{"state", "pending"}, 1},
		{"iscd_outbox_usage_records", []string{"state", "sent"}, 1},
		{"iscd_outbox_usage_records", []string{"state", "parked"}, 1},
		{"iscd_workers_connected", nil, 2},
		{"iscd_workers_capacity", nil, 5},
		{"iscd_workers_jobs_running", nil, 3},
		{"iscd_jobs", []string{"state", "queued"}, 0},
		{"iscd_license_seats_in_use", []string{"license", "lic-002"}, 3},
		{"iscd_license_seats", []string{"license", "lic-002"}, 10},
		{"iscd_scrape_store_errors_total", nil, 0},
	} {
		if got := s.Value(c.name, c.labels...); got != c.want || !s.Has(c.name, c.labels...) {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// The oldest pending record is an hour old.
	if age := s.Value("iscd_outbox_oldest_pending_seconds"); age < 3600 || age > 3600+60 {
		t.Errorf("oldest pending = %v s, want an hour", age)
	}
	// 102 licences hold 204 seats; the 100 holding the most have series.
	if got := s.Value("iscd_seats_in_use"); got != 204 {
		t.Errorf("seats in use = %v, want 204", got)
	}
	if n := s.Series("iscd_license_seats_in_use"); n != metrics.MaxLicenses {
		t.Errorf("%d licences with a seats series, want %d", n, metrics.MaxLicenses)
	}
	// Left out: two of the 34 licences holding one seat (ties go by id).
	if s.Has("iscd_license_seats_in_use", "license", "lic-099") || s.Has("iscd_license_seats_in_use", "license", "lic-096") ||
		!s.Has("iscd_license_seats_in_use", "license", "lic-093") {
		t.Errorf("the licences with series are not the 100 holding the most")
	}
}
