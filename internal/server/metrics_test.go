package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
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

// delta is what a step added to a series between two scrapes.
func delta(a, b metricstest.Scrape, name string, labels ...string) float64 {
	return b.Value(name, labels...) - a.Value(name, labels...)
}

// scrapeUntil scrapes srv until ok accepts the scrape, for what iscd
// does in the background (a worker connecting); it fails after 15 s.
func scrapeUntil(t *testing.T, srv *servertest.Server, ok func(metricstest.Scrape) bool) metricstest.Scrape {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := metricstest.Get(t, srv.MetricsURL, srv.MetricsToken)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the metrics never showed what was awaited; last scrape: %v", s.Samples)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A session, a licence request, two saves of the same content, a CalculiX
// solve on the dev worker, a marketplace call and a resume: the metrics
// scraped between the steps count exactly what each step did.
func TestMetricsCountAScriptedFlow(t *testing.T) {
	calculixtest.Need(t)
	srv := servertest.Start(t) // dev mode: a CalculiX worker inside iscd
	if srv.MetricsURL == "" || srv.MetricsToken == "" {
		t.Fatalf("dev.env has no ISCD_METRICS_URL or ISCD_METRICS_TOKEN")
	}
	ctx := context.Background()
	s0 := scrapeUntil(t, srv, func(s metricstest.Scrape) bool { return s.Value("iscd_workers_connected") == 1 })
	if s0.Value("iscd_workers_capacity") != 1 || s0.Value("iscd_sessions_connected") != 0 {
		t.Fatalf("at start: capacity %v, sessions %v", s0.Value("iscd_workers_capacity"), s0.Value("iscd_sessions_connected"))
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "process_resident_memory_bytes",
		"iscd_outbox_oldest_pending_seconds"} {
		if !s0.Has(name) {
			t.Errorf("no %s", name)
		}
	}
	for _, state := range []string{"pending", "sent", "parked"} {
		if !s0.Has("iscd_outbox_usage_records", "state", state) {
			t.Errorf("no iscd_outbox_usage_records{state=%q}", state)
		}
	}

	// A session.
	c, err := sdk.Init(ctx, sdk.Config{Endpoint: srv.Endpoint, Token: srv.APIToken, ProductID: srv.Product, AppVersion: "1.2.3",
		ReleaseKeys: srv.ReleaseKeys, NoAutoInstall: true,
		WorkspaceDir: t.TempDir(), ConnectTimeout: 5 * time.Second, CredentialsFile: filepath.Join(t.TempDir(), "none")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s1 := metricstest.Get(t, srv.MetricsURL, srv.MetricsToken)
	if s1.Value("iscd_sessions_connected") != 1 {
		t.Errorf("sessions connected = %v, want 1", s1.Value("iscd_sessions_connected"))
	}
	if delta(s0, s1, "iscd_store_duration_seconds_count", "op", "token") < 1 {
		t.Errorf("the session's token check was not timed")
	}

	// A licence request: a floating seat of the demo licence.
	if _, err := sdk.NewDesk(c).GetLicenseStringRequest("", nil); err != nil {
		t.Fatal(err)
	}
	ev := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventLicenseVerify })
	if ev.Params["licenseString"] == "" && ev.Params["license"] == "" && ev.Params["errorCode"] != "" {
		t.Fatalf("licence refused: %v", ev.Params)
	}
	s2 := metricstest.Get(t, srv.MetricsURL, srv.MetricsToken)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"iscd_requests_total", []string{"op", wire.OpLicenseRequest, "code", "ok"}, 1},
		{"iscd_request_duration_seconds_count", []string{"op", wire.OpLicenseRequest}, 1},
		{"iscd_license_requests_total", []string{"result", "granted"}, 1},
		{"iscd_store_duration_seconds_count", []string{"op", "acquire_seat"}, 1},
	} {
		if got := delta(s1, s2, c.name, c.labels...); got != c.want {
			t.Errorf("licence request: %s%v += %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if s2.Value("iscd_seats_in_use") != 1 || s2.Value("iscd_license_seats_in_use", "license", server.DevLicense) != 1 ||
		s2.Value("iscd_license_seats", "license", server.DevLicense) != 5 {
		t.Errorf("seats: in use %v, of %s %v of %v", s2.Value("iscd_seats_in_use"), server.DevLicense,
			s2.Value("iscd_license_seats_in_use", "license", server.DevLicense), s2.Value("iscd_license_seats", "license", server.DevLicense))
	}

	// A save of 3 MiB that does not compress, and the same bytes saved
	// again from another file: every chunk of the second is deduplicated.
	dir := t.TempDir()
	data := make([]byte, 3<<20)
	rand.Read(data)
	for _, n := range []string{"a.bin", "b.bin"} {
		if err := os.WriteFile(filepath.Join(dir, n), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	first, err := c.SaveTo(ctx, filepath.Join(dir, "a.bin"), "/metrics/a.bin", 0, sdk.SaveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s3 := metricstest.Get(t, srv.MetricsURL, srv.MetricsToken)
	if got := delta(s2, s3, "iscd_chunks_stored_total"); got != float64(first.ChunksSent) || got < 2 {
		t.Errorf("save: chunks stored += %v, the SDK sent %d", got, first.ChunksSent)
	}
	if got := delta(s2, s3, "iscd_chunks_stored_bytes_total"); got != float64(first.BytesSent) {
		t.Errorf("save: chunk bytes stored += %v, the SDK sent %d", got, first.BytesSent)
	}
	if got := delta(s2, s3, "iscd_session_received_bytes_total"); got < float64(first.BytesSent) {
		t.Errorf("save: session bytes received += %v, under the %d chunk bytes sent", got, first.BytesSent)
	}
	// Binary frames are counted under their kind's name.
	if got := delta(s2, s3, "iscd_requests_total", "op", "chunk_put", "code", "ok"); got != float64(first.ChunksSent) {
		t.Errorf("save: requests{op=chunk_put} += %v, the SDK sent %d chunks", got, first.ChunksSent)
	}
	if got := delta(s2, s3, "iscd_requests_total", "op", "commit", "code", "ok"); got != 1 {
		t.Errorf("save: requests{op=commit} += %v, want 1", got)
	}
	if delta(s2, s3, "iscd_chunks_deduplicated_total") != 0 {
		t.Errorf("save of new bytes: %v chunks deduplicated", delta(s2, s3, "iscd_chunks_deduplicated_total"))
	}
	second, err := c.SaveTo(ctx, filepath.Join(dir, "b.bin"), "/metrics/b.bin", 0, sdk.SaveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s4 := metricstest.Get(t, srv.MetricsURL, srv.MetricsToken)
	if second.ChunksSent != 0 || delta(s3, s4, "iscd_chunks_stored_total") != 0 {
		t.Errorf("second save: the SDK sent %d chunks, %v stored", second.ChunksSent, delta(s3, s4, "iscd_chunks_stored_total"))
	}
	if got := delta(s3, s4, "iscd_chunks_deduplicated_total"); got != float64(second.ChunksTotal) || got < 2 {
		t.Errorf("second save: chunks deduplicated += %v, want its %d chunks", got, second.ChunksTotal)
	}

	// A CalculiX solve on the worker.
	res, err := c.Solve(ctx, filepath.Join("..", "..", "examples", "data", "beam.inp"), sdk.SolveOptions{})
	if err != nil || res.Status != sdk.SolveSucceeded {
		t.Fatalf("solve: %v (%+v)", err, res)
	}
	s5 := metricstest.Get(t, srv.MetricsURL, srv.MetricsToken)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"iscd_jobs_submitted_total", nil, 1},
		{"iscd_jobs_finished_total", []string{"state", "succeeded"}, 1},
		{"iscd_jobs_finished_total", []string{"state", "failed"}, 0},
		{"iscd_job_queue_wait_seconds_count", nil, 1},
		{"iscd_job_run_seconds_count", nil, 1},
	} {
		if got := delta(s4, s5, c.name, c.labels...); got != c.want {
			t.Errorf("solve: %s%v += %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if delta(s4, s5, "iscd_events_pushed_total") < 2 {
		t.Errorf("solve: %v events pushed (its progress and result are events)", delta(s4, s5, "iscd_events_pushed_total"))
	}
	if run := delta(s4, s5, "iscd_job_run_seconds_sum"); run < res.WallSeconds {
		t.Errorf("solve: run time %v s, under the solver's wall time %v s", run, res.WallSeconds)
	}
	if s5.Value("iscd_jobs", "state", "queued") != 0 || s5.Value("iscd_jobs", "state", "running") != 0 || s5.Value("iscd_workers_jobs_running") != 0 {
		t.Errorf("after the solve: %v queued, %v running, %v on workers", s5.Value("iscd_jobs", "state", "queued"),
			s5.Value("iscd_jobs", "state", "running"), s5.Value("iscd_workers_jobs_running"))
	}

	// A marketplace call, and one with a bad signature.
	mkt := marketplaceCaller(t, srv)
	mkt.call(t, true, map[string]any{"activity": "newInstance", "orderId": "ord-m", "orderLineId": "line-m", "businessId": "biz-m",
		"productId": server.DevProduct, "quantity": 1, "expireTime": time.Now().AddDate(1, 0, 0).UTC().Format(marketplace.TimeLayout)})
	mkt.call(t, false, map[string]any{"activity": "newInstance"})
	s6 := metricstest.Get(t, srv.MetricsURL, srv.MetricsToken)
	if got := delta(s5, s6, "iscd_marketplace_calls_total", "activity", "newInstance", "code", marketplace.ResultOK); got != 1 {
		t.Errorf("marketplace: newInstance ok += %v, want 1", got)
	}
	if got := delta(s5, s6, "iscd_marketplace_calls_total", "activity", "none", "code", marketplace.ResultAuth); got != 1 {
		t.Errorf("marketplace: refused before reading += %v, want 1", got)
	}

	// An upgrade: published, offered, downloaded and staged.
	pkg := make([]byte, 1<<20)
	rand.Read(pkg)
	if _, err := srv.Admin().PublishRelease(ctx, adminapi.PublishRelease{ProductID: srv.Product, Platform: sdk.Platform(), Version: "2.0.0",
		FileName: "setup.run", InstallCommand: "{package} --silent"}, bytes.NewReader(pkg), srv.ReleaseKey, nil); err != nil {
		t.Fatal(err)
	}
	s6 = metricstest.Get(t, srv.MetricsURL, srv.MetricsToken)
	if _, err := sdk.NewDesk(c).CheckNewVersions(); err != nil {
		t.Fatal(err)
	}
	servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventUpgradeNotice && e.Params["available"] == "true" })
	if err := sdk.NewDesk(c).UpgradeNotify(true); err != nil {
		t.Fatal(err)
	}
	if u := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventUpdate }); u.Params["status"] != "staged" {
		t.Fatalf("upgrade: %v", u.Params)
	}
	s6u := metricstest.Get(t, srv.MetricsURL, srv.MetricsToken)
	if got := delta(s6, s6u, "iscd_upgrade_downloads_total"); got != 1 {
		t.Errorf("upgrade: downloads += %v, want 1", got)
	}
	if got := delta(s6, s6u, "iscd_upgrade_chunks_total"); got < 1 || got != delta(s6, s6u, "iscd_requests_total", "op", wire.OpUpgradesChunk, "code", "ok") {
		t.Errorf("upgrade: chunks sent += %v, upgrades.chunk answered %v", got, delta(s6, s6u, "iscd_requests_total", "op", wire.OpUpgradesChunk, "code", "ok"))
	}
	if got := delta(s6, s6u, "iscd_session_sent_bytes_total"); got < float64(len(pkg)) {
		t.Errorf("upgrade: session bytes sent += %v, under the package's %d", got, len(pkg))
	}
	s6 = s6u

	// An event stored while the session is away is replayed when it
	// resumes (the client waits at least 125 ms before reconnecting).
	if !srv.Hub().Disconnect(c.SessionID()) {
		t.Fatal("the session was not connected")
	}
	if _, err := srv.Hub().Publish(ctx, c.SessionID(), wire.Event{Kind: wire.KindNotice, Operate: "Notice", Params: map[string]string{"title": "t", "text": "replayed"}}); err != nil {
		t.Fatal(err)
	}
	servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventNotice && e.Params["text"] == "replayed" })
	s7 := metricstest.Get(t, srv.MetricsURL, srv.MetricsToken)
	if got := delta(s6, s7, "iscd_events_replayed_total"); got != 1 {
		t.Errorf("resume: events replayed += %v, want 1", got)
	}
	if delta(s0, s7, "iscd_session_sent_bytes_total") <= 0 {
		t.Errorf("no session bytes sent")
	}

	t.Logf("flow: %d chunks (%d bytes) stored, %d deduplicated; job queue wait %.3f s, run %.3f s; session bytes in %v, out %v",
		first.ChunksSent, first.BytesSent, second.ChunksTotal, delta(s4, s5, "iscd_job_queue_wait_seconds_sum"), delta(s4, s5, "iscd_job_run_seconds_sum"),
		delta(s0, s7, "iscd_session_received_bytes_total"), delta(s0, s7, "iscd_session_sent_bytes_total"))

	// Shutting out ends the session and frees the seat.
	c.Close()
	scrapeUntil(t, srv, func(s metricstest.Scrape) bool {
		return s.Value("iscd_sessions_connected") == 0 && s.Value("iscd_seats_in_use") == 0 && !s.Has("iscd_license_seats_in_use", "license", server.DevLicense)
	})
}

// mktCaller signs production interface calls with the dev access key.
type mktCaller struct{ url, key string }

func marketplaceCaller(t *testing.T, srv *servertest.Server) mktCaller {
	t.Helper()
	env := map[string]string{}
	data, err := os.ReadFile(filepath.Join(srv.DataDir, "dev.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if k, v, ok := bytes.Cut(line, []byte("=")); ok {
			env[string(k)] = string(v)
		}
	}
	return mktCaller{url: env["ISCD_MARKETPLACE_URL"], key: env["ISCD_MARKETPLACE_KEY"]}
}

// call posts body, signed (or with a wrong signature), and fails the test
// if a signed call is not answered 000000.
func (m mktCaller) call(t *testing.T, signed bool, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	nonce := rand.Text()
	sig := marketplace.Sign(m.key, nonce, ts, b)
	if !signed {
		sig = marketplace.Sign("not-the-key", nonce, ts, b)
	}
	q := url.Values{"signature": {sig}, "timestamp": {ts}, "nonce": {nonce}}
	resp, err := http.Post(m.url+"?"+q.Encode(), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct{ ResultCode, ResultMsg string }
	json.NewDecoder(resp.Body).Decode(&r)
	if signed && r.ResultCode != marketplace.ResultOK {
		t.Fatalf("marketplace %v: %+v", body, r)
	}
}
