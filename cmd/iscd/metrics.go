package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iscsdk/iscsdk/internal/metrics"
	"github.com/iscsdk/iscsdk/internal/server"
)

// metricsFlags are --metrics-listen and --metrics-token-file.
type metricsFlags struct {
	listen, tokenFile *string
}

func addMetricsFlags(fs *flag.FlagSet, what string) metricsFlags {
	return metricsFlags{
		listen: fs.String("metrics-listen", "", "serve /metrics on this address of its own (host:port; port 0 picks one)"+what),
		tokenFile: fs.String("metrics-token-file", "", "a file holding the token Prometheus must present to scrape /metrics "+
			"(Authorization: Bearer); $ISCD_METRICS_TOKEN holds the token itself otherwise"),
	}
}

// config reads the token and says where metrics go.
func (f metricsFlags) config() (server.MetricsConfig, error) {
	c := server.MetricsConfig{Listen: *f.listen, Token: strings.TrimSpace(os.Getenv("ISCD_METRICS_TOKEN"))}
	if *f.tokenFile != "" {
		b, err := os.ReadFile(*f.tokenFile)
		if err != nil {
			return c, fmt.Errorf("--metrics-token-file: %w", err)
		}
		if c.Token = strings.TrimSpace(string(b)); c.Token == "" {
			return c, fmt.Errorf("--metrics-token-file %s is empty", *f.tokenFile)
		}
	}
	if c.Token != "" && len(c.Token) < 16 {
		return c, errors.New("the metrics token is shorter than 16 characters")
	}
	return c, nil
}

// serveMetrics serves g's /metrics on c.Listen for a worker; it returns
// the server (nil without a listen address) to be closed at exit.
func serveMetrics(c server.MetricsConfig, g prometheus.Gatherer, log *slog.Logger) (*http.Server, error) {
	if c.Listen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+metrics.Path, metrics.Handler(g, c.Token))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute}
	go srv.Serve(ln)
	log.Info("metrics", "url", "http://"+ln.Addr().String()+metrics.Path, "token", c.Token != "")
	return srv, nil
}
