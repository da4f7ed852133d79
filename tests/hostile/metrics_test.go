package hostile_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/metrics/metricstest"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/solver/calculixtest"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

// refused asserts that a scrape of url with these request headers is
// answered 401 and gives nothing of the metrics away.
func refused(t *testing.T, url string, header http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header = header
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("scrape with %v: HTTP %d, want 401 with WWW-Authenticate", header, resp.StatusCode)
	}
	if bytes.Contains(body, []byte("iscd_")) || bytes.Contains(body, []byte("go_")) || bytes.Contains(body, []byte("process_")) {
		t.Errorf("a refused scrape (%v) shows metrics: %s", header, body)
	}
}

// Scrapes without the metrics token, with a wrong one, with the token
// plus or minus a character, or sent as a password, are refused and see
// no metric; the token itself is let in.
func TestMetricsScrapeWithoutTheTokenIsRefused(t *testing.T) {
	srv := servertest.Start(t)
	tok := srv.MetricsToken
	if srv.MetricsURL == "" || len(tok) < 16 {
		t.Fatalf("dev.env: ISCD_METRICS_URL %q, token of %d characters", srv.MetricsURL, len(tok))
	}
	for _, h := range []http.Header{
		{},
		{"Authorization": {"Bearer wrong"}},
		{"Authorization": {"Bearer "}},
		{"Authorization": {"Bearer " + tok + "x"}},
		{"Authorization": {"Bearer " + tok[:len(tok)-1]}},
		{"Authorization": {"Bearer " + strings.ToLower(tok)}},
		{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("prometheus:"+tok))}},
		{"Authorization": {tok}},
		{"Authorization": {"Bearer " + srv.AdminToken}}, // an owner's admin token is not the metrics token
		{"Authorization": {"Bearer " + srv.APIToken}},
		{"Cookie": {"token=" + tok}},
	} {
		refused(t, srv.MetricsURL, h)
	}
	if _, err := url.Parse(srv.MetricsURL); err != nil || !strings.HasPrefix(srv.MetricsURL, srv.AdminURL) {
		t.Errorf("ISCD_METRICS_URL %q is not on the service's address %q", srv.MetricsURL, srv.AdminURL)
	}
	if s := metricstest.Get(t, srv.MetricsURL, tok); !s.Has("iscd_sessions_connected") {
		t.Errorf("the token's scrape has no iscd_sessions_connected")
	}
}

// An iscd given neither a metrics token nor a listen address of its own
// serves no /metrics at all: nothing unguarded on the service's address.
func TestMetricsNotServedUnguarded(t *testing.T) {
	srv, addr, stop := servertest.Serve(t, server.Config{DataDir: t.TempDir()})
	defer stop()
	if srv.MetricsURL() != "" {
		t.Errorf("MetricsURL = %q, want none", srv.MetricsURL())
	}
	status, body := metricstest.Fetch(t, "http://"+addr+"/metrics", "")
	if status != http.StatusNotFound || strings.Contains(body, "iscd_") {
		t.Errorf("/metrics without a token or listen address: HTTP %d %q", status, body)
	}
}

// iscd serve --metrics-listen serves /metrics there alone (still with the
// dev token) and not on the service's address.
func TestMetricsOnAListenAddressOfItsOwn(t *testing.T) {
	bin := limitsISCD(t)
	iscd, err := servertest.StartBinary(bin, t.TempDir(), "--metrics-listen", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer iscd.Stop()
	murl, tok, admin := iscd.Env["ISCD_METRICS_URL"], iscd.Env["ISCD_METRICS_TOKEN"], iscd.Env["ISCD_ADMIN_URL"]
	if murl == "" || tok == "" || strings.HasPrefix(murl, admin) {
		t.Fatalf("ISCD_METRICS_URL %q (service %q), token %q", murl, admin, tok)
	}
	if status, _ := metricstest.Fetch(t, admin+"/metrics", tok); status != http.StatusNotFound {
		t.Errorf("/metrics on the service's address: HTTP %d, want 404", status)
	}
	refused(t, murl, http.Header{})
	if s := metricstest.Get(t, murl, tok); !s.Has("iscd_sessions_connected") || !s.Has("process_cpu_seconds_total") {
		t.Errorf("the metrics listener's scrape lacks the service's metrics")
	}
}

// seriesBound is the most series iscd's own metrics (iscd_*) may have in
// a dev service, whatever clients send: its ops, result codes, store and
// chunk store calls, histograms' label sets, bounded per label in
// internal/metrics.
const seriesBound = 400

// A client sends 10,000 made-up ops and asks about 10,000 made-up cloud
// paths over its session, requests 10,000 made-up HTTP paths, and calls
// the marketplace with made-up activities: the series of iscd's metrics
// stay under seriesBound, no label holds anything the client made up, and
// every request is still counted (as op "other").
func TestMetricsCardinalityUnderMadeUpOpsAndPaths(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true})
	before := metricstest.Get(t, srv.MetricsURL, srv.MetricsToken)
	n0 := before.Series("iscd_")

	const n = 10000
	raw := dialRaw(t, srv)
	start := time.Now()
	// call sends one request, again while the session has as many in
	// flight as it may (their slots are freed just after the answers go:
	// a fast client can be there first), and returns the error code.
	refusals := 0
	call := func(op string, body any) string {
		for {
			m := raw.call(op, body)
			if m.Error == nil {
				return ""
			}
			if m.Error.Code != wire.CodeUnavailable {
				return m.Error.Code
			}
			refusals++
		}
	}
	for i := range n {
		if code := call(fmt.Sprintf("made-up.op-%d-%s", i, rand.Text()[:6]), struct{}{}); code != wire.CodeUnknownOp {
			t.Fatalf("made-up op %d answered %q", i, code)
		}
	}
	for i := range n {
		if code := call(wire.OpFilesStat, wire.FilesVersion{Path: fmt.Sprintf("/made-up/%d/%s.prt", i, rand.Text()[:6])}); code == "" {
			t.Fatalf("made-up path %d was found", i)
		}
	}
	hc := &http.Client{}
	prefixes := []string{"/v1/", "/admin/v1/", "/metrics/", "/picker/", "/console/", "/console/live/jobs/", "/made-up/"}
	for i := range n {
		resp, err := hc.Get(srv.AdminURL + prefixes[i%len(prefixes)] + "made-up-" + strconv.Itoa(i) + "-" + rand.Text()[:6])
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	mkt := newMktCaller(t, srv)
	for i := range 200 {
		mkt.send(mkt.sign("made-up-"+strconv.Itoa(i), map[string]any{"activity": "made-up-activity-" + rand.Text()}))
		mkt.send(mktCall{sig: "made-up", ts: strconv.FormatInt(time.Now().UnixMilli(), 10), nonce: rand.Text(), body: []byte(`{"activity":"` + rand.Text() + `"}`)})
	}
	sent := time.Since(start)

	after := metricstest.Get(t, srv.MetricsURL, srv.MetricsToken)
	n1 := after.Series("iscd_")
	t.Logf("series of iscd_*: %d before, %d after %d made-up ops, %d made-up cloud paths, %d made-up HTTP paths, 400 made-up marketplace calls (sent in %v, %d refused as too many in flight and sent again); exposition %d families",
		n0, n1, n, n, n, sent.Round(time.Millisecond), refusals, len(after.Families))
	if n1 > seriesBound {
		t.Errorf("%d series of iscd_*, over the bound %d", n1, seriesBound)
	}
	// New series: the ops and codes the attack used (other and
	// unknown_op, files.stat and its code, the marketplace's unknown and
	// none), their latencies, and the store calls it caused: a fixed set,
	// whatever n is.
	if n1-n0 > 24 {
		var added []string
		for key := range after.Samples {
			if !before.Has(key) && strings.HasPrefix(key, "iscd_") {
				added = append(added, key)
			}
		}
		t.Errorf("the made-up requests added %d series (from %d to %d): %v", n1-n0, n0, n1, added)
	}
	for key := range after.Samples {
		if strings.Contains(key, "made-up") || strings.Contains(key, "op-") {
			t.Errorf("a label holds what the client made up: %s", key)
		}
	}
	if got := after.Value("iscd_requests_total", "op", "other", "code", wire.CodeUnknownOp) - before.Value("iscd_requests_total", "op", "other", "code", wire.CodeUnknownOp); got != n {
		t.Errorf("requests of op other += %v, want %d", got, n)
	}
	unavailable := 0.0
	for key, v := range after.Samples {
		if strings.HasPrefix(key, `iscd_requests_total{code="unavailable"`) {
			unavailable += v - before.Samples[key]
		}
	}
	if unavailable != float64(refusals) {
		t.Errorf("%d requests refused as too many in flight, %v counted", refusals, unavailable)
	}
	stats := 0.0
	for key, v := range after.Samples {
		if strings.HasPrefix(key, `iscd_requests_total{code=`) && strings.Contains(key, `op="`+wire.OpFilesStat+`"`) {
			stats += v - before.Samples[key]
		}
	}
	if stats != n {
		t.Errorf("files.stat requests += %v, want %d", stats, n)
	}
	if got := after.Value("iscd_marketplace_calls_total", "activity", "unknown", "code", marketplace.ResultBadParams) +
		after.Value("iscd_marketplace_calls_total", "activity", "none", "code", marketplace.ResultAuth); got != 400 {
		t.Errorf("made-up marketplace calls counted %v times as activity unknown or none, want 400 (%v)", got, after.Samples)
	}
}

// iscd worker --metrics-listen with --metrics-token-file: a scrape needs
// the token; after a CalculiX solve it ran, the worker's metrics count it.
func TestWorkerMetrics(t *testing.T) {
	calculixtest.Need(t)
	bin := limitsISCD(t)
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true}) // the dev product's CalculiX solver, no worker
	ctx := context.Background()
	var wt adminapi.NewToken
	if err := srv.Admin().Do(ctx, "POST", "/workers/tokens", adminapi.CreateWorkerToken{Name: "metrics test"}, &wt); err != nil {
		t.Fatal(err)
	}
	mtok := "ism_" + rand.Text()
	tokFile := filepath.Join(t.TempDir(), "metrics.token")
	if err := os.WriteFile(tokFile, []byte(mtok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := exec.Command(bin, "worker", "--server", srv.AdminURL, "--name", "measured", "--solver", "calculix", "--sandbox=off",
		"--capacity", "2", "--dir", t.TempDir(), "--metrics-listen", "127.0.0.1:0", "--metrics-token-file", tokFile)
	w.Env = append(os.Environ(), "ISCD_WORKER_TOKEN="+wt.Secret)
	stderr, err := w.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { w.Process.Signal(syscall.SIGTERM); w.Wait() }()
	urls, connected := make(chan string, 1), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() { // to the end: the worker must not block on a full pipe
			var line struct{ Msg, URL string }
			json.Unmarshal(sc.Bytes(), &line)
			switch line.Msg {
			case "metrics":
				urls <- line.URL
			case "worker connected":
				close(connected)
			}
		}
	}()
	var murl string
	select {
	case murl = <-urls:
	case <-time.After(30 * time.Second):
		t.Fatal("the worker logged no metrics URL within 30 s")
	}
	select {
	case <-connected:
	case <-time.After(30 * time.Second):
		t.Fatal("the worker did not connect within 30 s")
	}
	refused(t, murl, http.Header{})
	refused(t, murl, http.Header{"Authorization": {"Bearer " + srv.MetricsToken}}) // iscd's token is not the worker's
	s0 := metricstest.Get(t, murl, mtok)
	if s0.Value("iscd_worker_capacity") != 2 || s0.Value("iscd_worker_jobs_running") != 0 || s0.Value("iscd_worker_connected") != 1 || !s0.Has("go_goroutines") {
		t.Fatalf("worker at start: capacity %v, running %v, connected %v", s0.Value("iscd_worker_capacity"), s0.Value("iscd_worker_jobs_running"), s0.Value("iscd_worker_connected"))
	}

	c, err := sdk.Init(ctx, sdk.Config{Endpoint: srv.Endpoint, Token: srv.APIToken, ProductID: srv.Product,
		WorkspaceDir: t.TempDir(), ConnectTimeout: 5 * time.Second, CredentialsFile: filepath.Join(t.TempDir(), "none")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Solve(ctx, filepath.Join("..", "..", "examples", "data", "beam.inp"), sdk.SolveOptions{})
	if err != nil || res.Status != sdk.SolveSucceeded {
		t.Fatalf("solve: %v (%+v)", err, res)
	}
	s1 := metricstest.Get(t, murl, mtok)
	if got := s1.Value("iscd_worker_jobs_finished_total", "state", "succeeded"); got != 1 {
		t.Errorf("worker: jobs succeeded = %v, want 1", got)
	}
	if s1.Value("iscd_worker_solve_seconds_count") != 1 || s1.Value("iscd_worker_solve_seconds_sum") <= 0 {
		t.Errorf("worker: solve time count %v, sum %v", s1.Value("iscd_worker_solve_seconds_count"), s1.Value("iscd_worker_solve_seconds_sum"))
	}
	is := metricstest.Get(t, srv.MetricsURL, srv.MetricsToken)
	if is.Value("iscd_workers_connected") != 1 || is.Value("iscd_workers_capacity") != 2 {
		t.Errorf("iscd: workers connected %v, capacity %v; want 1, 2", is.Value("iscd_workers_connected"), is.Value("iscd_workers_capacity"))
	}
}
