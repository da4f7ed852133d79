package metrics_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/metrics"
	"github.com/iscsdk/iscsdk/internal/metrics/metricstest"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Ops, codes and activities past their bounds are counted as "other":
// the series stay bounded even if a caller forgot to bound them first.
func TestLabelsStayBounded(t *testing.T) {
	m := metrics.NewService()
	for i := range 10000 {
		m.Request(fmt.Sprintf("op-%d", i), fmt.Sprintf("code-%d", i), time.Millisecond)
		m.MarketplaceCall(fmt.Sprintf("act-%d", i), fmt.Sprintf("%06d", i))
	}
	m.Request(strings.Repeat("x", 65), "", time.Millisecond) // too long: other
	s := scrape(t, m)
	reqs := s.Series("iscd_requests_total")
	calls := s.Series("iscd_marketplace_calls_total")
	if reqs > metrics.MaxOps*metrics.MaxCodes || calls > metrics.MaxActivities*metrics.MaxMarketCode {
		t.Errorf("%d request series, %d marketplace series", reqs, calls)
	}
	// Ops and codes are admitted in pairs here, so the series are the
	// pairs admitted plus those counted as other.
	if reqs > metrics.MaxOps+metrics.MaxCodes+2 {
		t.Errorf("%d request series for 10,001 distinct ops", reqs)
	}
	if got := s.Value("iscd_requests_total", "op", metrics.Other, "code", metrics.Other); got < 10000-metrics.MaxOps {
		t.Errorf("ops past the bound counted %v times as other", got)
	}
}

// A licence request's and an upgrade's outcome feed their own counters.
func TestRequestsFeedTheLicenceAndUpgradeCounters(t *testing.T) {
	m := metrics.NewService()
	m.Request(wire.OpLicenseRequest, "", time.Millisecond)
	m.Request(wire.OpLicenseRequest, wire.CodeNoSeat, time.Millisecond)
	m.Request(wire.OpLicenseRequest, wire.CodeNoSeat, time.Millisecond)
	m.Request(wire.OpUpgradesManifest, "", time.Millisecond)
	m.Request(wire.OpUpgradesManifest, wire.CodeNotFound, time.Millisecond)
	m.Request(wire.OpUpgradesChunk, "", time.Millisecond)
	s := scrape(t, m)
	for _, c := range []struct {
		key  string
		want float64
	}{
		{metricstest.Key("iscd_license_requests_total", "result", "granted"), 1},
		{metricstest.Key("iscd_license_requests_total", "result", wire.CodeNoSeat), 2},
		{metricstest.Key("iscd_upgrade_downloads_total"), 1},
		{metricstest.Key("iscd_upgrade_chunks_total"), 1},
		{metricstest.Key("iscd_request_duration_seconds_count", "op", wire.OpLicenseRequest), 3},
	} {
		if got := s.Samples[c.key]; got != c.want {
			t.Errorf("%s = %v, want %v", c.key, got, c.want)
		}
	}
}

// A nil *Service and *Worker do nothing and wrap nothing.
func TestNilMetrics(t *testing.T) {
	var m *metrics.Service
	m.Request("x", "", 0)
	m.Events(3, true)
	m.Deduplicated(2)
	m.MarketplaceCall("a", "b")
	m.Gauge("x", "y", func() float64 { return 0 })
	m.Watch(nil, nil)
	if m.Store(nil) != nil || m.Chunks(nil) != nil || m.Received() != nil || m.Sent() != nil {
		t.Error("a nil Service wrapped something")
	}
	var w *metrics.Worker
	w.JobFinished("succeeded", time.Second)
}

// The handler lets in the token alone.
func TestHandlerToken(t *testing.T) {
	m := metrics.NewService()
	srv := httptest.NewServer(metrics.Handler(m.Registry(), "ism_0123456789abcdef"))
	defer srv.Close()
	for _, c := range []struct {
		auth string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer ism_0123456789abcdeF", http.StatusUnauthorized},
		{"Bearer ism_0123456789abcde", http.StatusUnauthorized},
		{"Token ism_0123456789abcdef", http.StatusUnauthorized},
		{"Bearer ism_0123456789abcdef", http.StatusOK},
		{"bearer  ism_0123456789abcdef ", http.StatusOK},
	} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("Authorization %q: HTTP %d, want %d", c.auth, resp.StatusCode, c.want)
		}
	}
}

func scrape(t *testing.T, m *metrics.Service) metricstest.Scrape {
	t.Helper()
	srv := httptest.NewServer(metrics.Handler(m.Registry(), ""))
	defer srv.Close()
	return metricstest.Get(t, srv.URL, "")
}
