// Command iscd is the iscsdk service: sessions, the admin API and (as later
// capabilities land) licences, cloud files and compute.
//
//	iscd serve [--dev] [--listen ADDR] [--data DIR] [--kek-file F] [--tls-cert F --tls-key F]
//	           [--marketplace-key-file F [--marketplace-org ORG] [--marketplace-product P]]
//	           [--kit-key-file F [--kit-private-key F] [--kit-path /produceAPI/v2/] [--kit-sign body|body-hmac]]
//	           [--unified-login-page URL] [--unified-login-api URL]
//	           [--blobs s3://BUCKET?endpoint=URL&region=R [--blobs-credentials-file F]]
//	           [--job-lease D] [--dev-plugin NAME=LIB]
//	           [--db postgres://USER@HOST/DB [--db-password-file F]]
//	           [--max-conns-per-token N] [--max-conns-per-org N] [--conn-inflight-mib M] [--inflight-mib M]
//	           [--metrics-listen ADDR] [--metrics-token-file F]
//	           [--marketplace-ak AK --marketplace-sk-file F [--marketplace-api URL] [--marketplace-check-orders]
//	            [--marketplace-async-licenses] [--marketplace-appinfo-url URL]]
//	iscd migrate --db postgres://... [--db-password-file F]
//	iscd kek generate --out F | rotate --kek-file F | rewrap --kek-file F [--retire]
//	iscd worker --server URL --token-file F [--solver NAME[=PROGRAM ARGS...]]... [--plugin NAME=LIB]...
//	            [--capacity N] [--sandbox on|off] [--sandbox-share DIR]... [--solver-network NAME]...
//	            [--metrics-listen ADDR [--metrics-token-file F]]
//	iscd gc [--data DIR] [--blobs ...] [--db ...]
//	iscd admin-token [--name N] [--data DIR | --db ... [--db-password-file F]]
//	iscd version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/console"
	"github.com/iscsdk/iscsdk/internal/server/jobs"
	"github.com/iscsdk/iscsdk/internal/server/licensing"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
	"github.com/iscsdk/iscsdk/internal/server/signin"
	"github.com/iscsdk/iscsdk/internal/server/signin/unified"
	solverrun "github.com/iscsdk/iscsdk/internal/solver/run"
	"github.com/iscsdk/iscsdk/internal/unifiedlogin"
	"github.com/iscsdk/iscsdk/internal/worker"
	"github.com/iscsdk/iscsdk/sdk"
)

const usage = `usage: iscd <command> [flags]

commands:
  serve     run the service (iscd serve --help for flags)
  worker    run a compute worker for an iscd (iscd worker --help)
  gc        delete unreferenced file chunks once, and exit (iscd gc --help)
  migrate   bring a PostgreSQL store's schema up to date, and exit
  kek       make, rotate and retire the key-encryption key of the signing keys (iscd kek)
  admin-token  make an owner's admin token in the store and print it once (a deployment's first)
  version   print the version
`

func main() {
	if len(os.Args) > 1 && os.Args[1] == solverrun.PluginHostCommand {
		// A worker's plugin solve, in the sandbox (internal/solver/run).
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := solverrun.HostPlugin(ctx, os.Args[2:], os.Stdout)
		stop()
		os.Exit(code)
	}
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "iscd:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "gc":
		return gc(args[1:], stdout, stderr)
	case "migrate":
		return migrate(args[1:], stdout, stderr)
	case "kek":
		return kekCommand(args[1:], stdout, stderr)
	case "admin-token":
		return adminToken(args[1:], stdout, stderr)
	case "worker":
		return runWorker(args[1:], stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, versionLine())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// commit is the git commit iscd was built from, set by the Makefile
// (-ldflags "-X main.commit=..."); "+dirty" follows it when the tree had
// uncommitted changes. Go's own VCS stamp is the fallback.
var commit string

// versionLine is what iscd version prints: the version and the commit.
// The container images carry the same two in their labels
// (docs/deploy.md).
func versionLine() string {
	line := "iscd " + sdk.Version
	c := commit
	if info, ok := debug.ReadBuildInfo(); ok && c == "" {
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision":
				c = s.Value + c
			case s.Key == "vcs.modified" && s.Value == "true":
				c += "+dirty"
			}
		}
	}
	if c == "" || c == "+dirty" {
		return line
	}
	return line + " (commit " + c + ")"
}

func serve(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("iscd serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:7400", "address to listen on (host:port; port 0 picks a free one)")
	data := fs.String("data", envOr("ISCD_DATA", "iscd-data"), "data directory (store, tokens, dev.env); $ISCD_DATA")
	dev := fs.Bool("dev", false, "development mode: demo org/user/product/tokens, writes DATA/dev.env")
	tlsCert := fs.String("tls-cert", "", "TLS certificate (PEM); with --tls-key serves https/wss")
	tlsKey := fs.String("tls-key", "", "TLS private key (PEM)")
	kekFile := addKEKFlag(fs)
	heartbeat := fs.Duration("heartbeat", 15*time.Second, "application heartbeat interval told to clients")
	resume := fs.Duration("resume-window", 15*time.Minute, "how long a disconnected session can be resumed")
	lease := fs.Duration("license-lease", licensing.DefaultLease, "how long a floating licence seat lasts between renewals")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("log-format", "json", "log format: json or text")
	mktKeyFile := fs.String("marketplace-key-file", "", "turn on the marketplace production interface with the access key in this file; $ISCD_MARKETPLACE_KEY holds the key itself otherwise")
	mktOrg := fs.String("marketplace-org", "", "organisation for marketplace orders that name no customer")
	mktProduct := fs.String("marketplace-product", "", "product for marketplace orders whose productId is not an iscd product")
	mktAPI := addMarketAPIFlags(fs)
	kit := addKitFlags(fs)
	unifiedPage := fs.String("unified-login-page", unifiedlogin.DefaultLoginPage, "the marketplace's unified login page, {appId} in it")
	unifiedAPI := fs.String("unified-login-api", "", "base URL of the unified login's token, user-info and logout endpoints; default https:// + the tenant's domainName")
	publicURL := fs.String("public-url", "", "the https:// address browsers and programs reach iscd at, when a proxy in front of it serves TLS: sign-in pages and the identity providers' callback (https://ISCD/signin/callback) are built on it; default: each request's own")
	consoleTTL := fs.Duration("console-session-ttl", console.DefaultSessionTTL, "how long a sign-in to the web console (/console/) lasts")
	consoleSecure := fs.Bool("console-secure-cookies", false, "mark the console's cookies Secure although iscd serves plain HTTP: a proxy in front of it serves TLS (with --tls-cert they are)")
	jobLease := fs.Duration("job-lease", jobs.DefaultLease, "how long a compute worker holds a job between renewals; a silent worker's job runs again elsewhere")
	maxWaiting := fs.Int("max-waiting-jobs", jobs.DefaultMaxWaiting, "the most compute jobs an organisation may have queued or running at once")
	devPlugins := pluginFlag{}
	fs.Var(devPlugins, "dev-plugin", "NAME=LIBRARY: a native solver plugin for the dev worker (repeatable)")
	devSolvers := solverFlag{}
	fs.Var(devSolvers, "dev-solver", "NAME=PROGRAM ARGS...: a command solver for the dev worker, as iscd worker --solver (repeatable; default: calculix when ccx is on PATH)")
	devSandbox, devSandboxCfg := sandboxFlags(fs, "dev-")
	blobs := addBlobFlags(fs)
	db := addDBFlags(fs)
	limits := addLimitFlags(fs)
	metricsFl := addMetricsFlags(fs, "; without it /metrics is served on --listen, and only with a token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	metricsCfg, err := metricsFl.config()
	if err != nil {
		return err
	}
	mkt, err := marketplaceConfig(*mktKeyFile, *mktOrg, *mktProduct)
	if err != nil {
		return err
	}
	marketAPI, appInfo, err := mktAPI.config()
	if err != nil {
		return err
	}
	mkt.Outbound.AppInfo = appInfo
	kitSync, err := kit.config()
	if err != nil {
		return err
	}
	dsn, dbPassword, err := db.config()
	if err != nil {
		return err
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewJSONHandler(stderr, opts)
	if *format == "text" {
		h = slog.NewTextHandler(stderr, opts)
	}
	log := slog.New(h)
	chunks, err := blobs.open(log)
	if err != nil {
		return err
	}
	kek, err := loadKEK(*kekFile, *dev)
	if err != nil {
		return err
	}

	if u, err := url.Parse(*publicURL); *publicURL != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "") {
		return fmt.Errorf("--public-url %q: an http(s)://host[:port] address, nothing after it", *publicURL)
	}
	srv, err := server.Open(server.Config{
		DataDir: *data, TLSCert: *tlsCert, TLSKey: *tlsKey, Dev: *dev,
		KEK:       kek,
		Heartbeat: *heartbeat, ResumeWindow: *resume, LicenseLease: *lease, Marketplace: mkt, KitSync: kitSync, MarketAPI: marketAPI, Logger: log,
		UnifiedLogin: unified.Config{LoginPage: *unifiedPage, API: *unifiedAPI},
		Chunks:       chunks, Jobs: jobs.Config{Lease: *jobLease, MaxWaiting: *maxWaiting}, DevWorker: worker.Config{Plugins: devPlugins, PluginHost: self(), Commands: devSolvers, Sandbox: *devSandboxCfg, NoSandbox: !bool(*devSandbox)},
		Database: dsn, DatabasePassword: dbPassword, Limits: limits.config(), Metrics: metricsCfg,
		Console: console.Config{SessionTTL: *consoleTTL, Secure: *consoleSecure},
		SignIn:  signin.Config{PublicURL: *publicURL},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer startTrace(stderr)()
	heapProfileOnSignal(ctx, stderr)
	defer cpuProfileOnSignal(ctx, stderr)()
	if err := srv.Start(ln); err != nil {
		return err
	}
	go rewrapOnHangup(ctx, srv, log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Wait() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("signal received")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	return errors.Join(err, <-errc)
}

// marketplaceConfig reads the marketplace access key from keyFile, or
// else from $ISCD_MARKETPLACE_KEY; with neither the endpoint stays off
// (dev mode turns it on with a key of its own).
func marketplaceConfig(keyFile, org, product string) (marketplace.Config, error) {
	cfg := marketplace.Config{DefaultOrg: org, DefaultProduct: product}
	if keyFile != "" {
		data, err := os.ReadFile(keyFile)
		if err != nil {
			return cfg, fmt.Errorf("--marketplace-key-file: %w", err)
		}
		cfg.AccessKey = strings.TrimSpace(string(data))
		if cfg.AccessKey == "" {
			return cfg, fmt.Errorf("--marketplace-key-file %s is empty", keyFile)
		}
	} else {
		cfg.AccessKey = strings.TrimSpace(os.Getenv("ISCD_MARKETPLACE_KEY"))
	}
	cfg.Enabled = cfg.AccessKey != ""
	return cfg, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
