// Package servertest runs a development-mode iscd on a loopback port for
// tests, as net/http/httptest runs an HTTP server.
package servertest

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/envelope"
	"github.com/iscsdk/iscsdk/internal/release"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
	"github.com/iscsdk/iscsdk/sdk"
)

// Server is a running development-mode iscd. Its fields come from the
// DATA/dev.env file the service writes when it starts; a restart mints new
// tokens (the old ones stay valid) and keeps the data directory and port.
type Server struct {
	*server.Server
	DataDir    string
	Addr       string // host:port of the listener
	AdminURL   string // ISCD_ADMIN_URL, e.g. http://127.0.0.1:41234
	AdminToken string // ISCD_ADMIN_TOKEN, an isa_ token
	Endpoint   string // ISCSDK_ENDPOINT, ws://ADDR/v1/session
	APIToken   string // ISCSDK_TOKEN, the demo user's isk_ token
	Product    string // ISCSDK_PRODUCT, the demo product
	// ReleaseKeys is ISCSDK_RELEASE_KEY, the dev release public key that
	// programs verify upgrades with; ReleaseKey is its private key (from
	// ISCD_RELEASE_KEY_FILE, its file), which signs what tests publish.
	ReleaseKeys    string
	ReleaseKey     release.PrivateKey
	ReleaseKeyFile string
	// ConsoleURL is ISCD_CONSOLE_URL, the web console.
	ConsoleURL string
	// MetricsURL and MetricsToken are ISCD_METRICS_URL and
	// ISCD_METRICS_TOKEN: where /metrics is scraped, and with what.
	MetricsURL, MetricsToken string
	// MarketplaceURL and MarketplaceKey are ISCD_MARKETPLACE_URL and
	// ISCD_MARKETPLACE_KEY: the production interface and its access key.
	MarketplaceURL, MarketplaceKey string

	t   testing.TB
	cfg server.Config
}

// Start opens a development-mode iscd with its data in t.TempDir(), serves
// it on 127.0.0.1:0 and shuts it down when the test ends. It fails the
// test if the service cannot start or does not stop cleanly.
func Start(t testing.TB) *Server { return StartConfig(t, server.Config{}) }

// StartConfig is Start with settings; DataDir and Dev are set by it, and
// KEK, if nil, to one key-encryption key shared by every service of the
// test binary (replicas of one database share their KEK, as in
// production; dev mode's own DATA/dev.kek would differ per service).
//
// With $ISCD_TEST_DATABASE=postgres, a service given no Database gets a
// fresh PostgreSQL database (pgtest.DSN; the package's TestMain must call
// pgtest.Main): the same tests then run against the PostgreSQL store.
// With $ISCD_TEST_BLOBS=s3, a service given no Chunks keeps them in a
// fresh bucket of a versitygw (s3test) that the test process shares.
func StartConfig(t testing.TB, cfg server.Config) *Server {
	t.Helper()
	cfg.DataDir, cfg.Dev = t.TempDir(), true
	if cfg.KEK == nil {
		cfg.KEK = testKEK()
	}
	if cfg.Database == "" && os.Getenv("ISCD_TEST_DATABASE") == "postgres" {
		cfg.Database = pgtest.DSN(t)
	}
	if cfg.Chunks == nil && os.Getenv("ISCD_TEST_BLOBS") == "s3" {
		cfg.Chunks = s3Chunks(t)
	}
	s := &Server{t: t, cfg: cfg, DataDir: cfg.DataDir, Addr: "127.0.0.1:0"}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	srv, err := server.Open(s.cfg)
	if err != nil {
		s.t.Fatalf("open iscd: %v", err)
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		srv.Shutdown(context.Background()) // closes the store
		s.t.Fatalf("listen: %v", err)
	}
	// Start has written dev.env when it returns.
	if err := srv.Start(ln); err != nil {
		ln.Close()
		srv.Shutdown(context.Background())
		s.t.Fatalf("start iscd: %v", err)
	}
	env, err := readEnv(filepath.Join(s.DataDir, "dev.env"))
	if err != nil {
		s.t.Fatalf("read dev.env: %v", err)
	}
	s.Server, s.Addr = srv, ln.Addr().String()
	s.AdminURL, s.AdminToken = env["ISCD_ADMIN_URL"], env["ISCD_ADMIN_TOKEN"]
	s.Endpoint, s.APIToken, s.Product = env["ISCSDK_ENDPOINT"], env["ISCSDK_TOKEN"], env["ISCSDK_PRODUCT"]
	s.ReleaseKeys, s.ReleaseKeyFile = env["ISCSDK_RELEASE_KEY"], env["ISCD_RELEASE_KEY_FILE"]
	s.MetricsURL, s.MetricsToken = env["ISCD_METRICS_URL"], env["ISCD_METRICS_TOKEN"]
	s.ConsoleURL = env["ISCD_CONSOLE_URL"]
	s.MarketplaceURL, s.MarketplaceKey = env["ISCD_MARKETPLACE_URL"], env["ISCD_MARKETPLACE_KEY"]
	if s.ReleaseKey, err = readReleaseKey(env["ISCD_RELEASE_KEY_FILE"]); err != nil {
		s.t.Fatalf("dev release key: %v", err)
	}
}

// Serve runs iscd on cfg as `iscd serve` would — cfg as given, none of
// StartConfig's test settings, for tests of what iscd does with a data
// directory of its own — with the test binary's KEK when cfg has none, and
// returns it with its address; stop shuts it down and waits for it.
func Serve(t testing.TB, cfg server.Config) (srv *server.Server, addr string, stop func()) {
	t.Helper()
	if cfg.KEK == nil {
		cfg.KEK = testKEK()
	}
	srv, err := server.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ln); err != nil {
		t.Fatal(err)
	}
	return srv, ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		srv.Wait()
	}
}

// testKEK is the KEK of the services StartConfig starts.
var testKEK = sync.OnceValue(func() *envelope.Keyring {
	text, err := envelope.GenerateKEK()
	if err != nil {
		panic(err)
	}
	k, err := envelope.ParseKeyring(text)
	if err != nil {
		panic(err)
	}
	return k
})

// Stop shuts the service down gracefully (connected clients are told);
// stopping a stopped service does nothing.
func (s *Server) Stop() {
	if s.Server == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		s.t.Errorf("shut down iscd: %v", err)
	}
	if err := s.Wait(); err != nil {
		s.t.Errorf("iscd serve: %v", err)
	}
	s.Server = nil
}

// Restart stops the service (if it runs) and starts it again on the same
// data directory and port.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Admin returns an admin API client. It keeps no idle connections, so
// goroutine-leak checks see only the code under test.
func (s *Server) Admin() *adminapi.Client {
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	return &adminapi.Client{BaseURL: s.AdminURL, Token: s.AdminToken, HTTP: hc}
}

func readReleaseKey(path string) (release.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return release.PrivateKey{}, err
	}
	return release.ParsePrivateKey(string(b))
}

// readEnv parses KEY=VALUE lines.
func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env, sc.Err()
}

// NextEvent polls c for the next event that keep accepts, dropping the
// others, and fails the test after 15 seconds.
func NextEvent(t testing.TB, c *sdk.Client, keep func(sdk.Event) bool) sdk.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		e, err := c.PollEvent(ctx)
		if err != nil {
			t.Fatalf("waiting for an event: %v", err)
		}
		if keep(e) {
			return e
		}
	}
}

// Main runs a package's tests and then stops what the test services
// shared (the PostgreSQL server of $ISCD_TEST_DATABASE=postgres); a
// package whose tests start services calls it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(servertest.Main(m)) }
func Main(m *testing.M) int { return pgtest.Main(m) }
