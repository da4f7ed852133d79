package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/iscsdk/iscsdk/internal/metrics"
)

// MetricsConfig says where iscd serves its Prometheus metrics and to whom
// (docs/deploy.md, "Metrics"). Scrapes are never served unguarded on the
// service's own address: with neither a token nor a listen address of its
// own, /metrics is not served at all.
type MetricsConfig struct {
	// Token, if set, must be presented by scrapers (Authorization:
	// Bearer); only its hash is kept. Dev mode makes one when none is
	// given and writes it to dev.env (ISCD_METRICS_TOKEN).
	Token string
	// Listen, if set, is an address of its own (host:port, port 0 picks
	// one) where /metrics alone is served, with Token if set; otherwise
	// /metrics is served on the service's address, with Token.
	Listen string
}

// metricsToken is a fresh random metrics token for dev mode.
func metricsToken() string { return "ism_" + rand.Text() }

// instrument has the parts built in Open count what they do; mux gets
// /metrics if it is to be served there.
func (s *Server) instrument(mux *http.ServeMux) {
	m := s.metrics
	m.Gauge("iscd_sessions_connected", "Sessions with a connection to this replica now.",
		func() float64 { return float64(s.hub.Connected()) })
	m.Watch(s.timed, func() metrics.WorkerStats {
		var w metrics.WorkerStats
		for _, x := range s.jobs.Workers() {
			w.Connected++
			w.Capacity += x.Capacity
			w.Running += len(x.Running)
		}
		return w
	})
	s.files.OnDeduplicated(m.Deduplicated)
	if s.cfg.Metrics.Listen == "" && s.cfg.Metrics.Token != "" {
		mux.Handle("GET "+metrics.Path, metrics.Handler(m.Registry(), s.cfg.Metrics.Token))
	}
}

// startMetrics serves /metrics on the listen address of its own, if one
// is configured, and returns the URL of /metrics ("" when not served).
func (s *Server) startMetrics(base string) (string, error) {
	c := s.cfg.Metrics
	if c.Listen == "" {
		if c.Token == "" {
			return "", nil
		}
		return base + metrics.Path, nil
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return "", fmt.Errorf("iscd: metrics listen %s: %w", c.Listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+metrics.Path, metrics.Handler(s.metrics.Registry(), c.Token))
	s.metricsHTTP = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute}
	go func() {
		if err := s.metricsHTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics listener", "err", err)
		}
	}()
	s.log.Info("metrics", "url", "http://"+ln.Addr().String()+metrics.Path, "token", c.Token != "")
	return "http://" + ln.Addr().String() + metrics.Path, nil
}

// MetricsURL is where /metrics is served once started ("" when it is
// not: neither a token nor a listen address was given).
func (s *Server) MetricsURL() string { return s.metricsURL }

// stopMetrics closes the metrics listener, if there is one.
func (s *Server) stopMetrics(ctx context.Context) {
	if s.metricsHTTP != nil {
		_ = s.metricsHTTP.Shutdown(ctx)
	}
}
