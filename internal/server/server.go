// Package server assembles iscd: the store, the session hub, the admin API
// and the health endpoints behind one HTTP server.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/atomicfile"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/envelope"
	"github.com/iscsdk/iscsdk/internal/metrics"
	"github.com/iscsdk/iscsdk/internal/server/admin"
	"github.com/iscsdk/iscsdk/internal/server/console"
	"github.com/iscsdk/iscsdk/internal/server/federation"
	"github.com/iscsdk/iscsdk/internal/server/files"
	"github.com/iscsdk/iscsdk/internal/server/jobs"
	"github.com/iscsdk/iscsdk/internal/server/licensing"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
	"github.com/iscsdk/iscsdk/internal/server/marketpush"
	"github.com/iscsdk/iscsdk/internal/server/picker"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/server/signin"
	"github.com/iscsdk/iscsdk/internal/server/signin/unified"
	"github.com/iscsdk/iscsdk/internal/server/upgrades"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/internal/worker"
)

// Config configures a Server.
type Config struct {
	DataDir      string // holds iscd.db, admin.token, dev.env
	TLSCert      string // PEM files; both empty: plain HTTP (behind a TLS proxy, or loopback)
	TLSKey       string
	Dev          bool          // create the demo org, user, product and tokens, write dev.env
	Heartbeat    time.Duration // application heartbeat interval for clients; 0: 15s
	ResumeWindow time.Duration // 0: 15m
	// Database is where the metadata lives: "" for the embedded bbolt
	// file DataDir/iscd.db, or a PostgreSQL connection string
	// (postgres://...) that several replicas share. It is never logged
	// with its password.
	Database string
	// DatabasePassword, if set, is the password of Database (kept out of
	// the connection string: read from a file); $PGPASSWORD works too.
	DatabasePassword string
	// KEK wraps the products' licence signing keys at rest: a keyring
	// read from --kek-file or $ISCD_KEK, or a cloud KMS (envelope.Wrapper).
	// Start refuses to run without it, except in dev mode, which keeps a
	// dev KEK in DataDir/dev.kek.
	KEK envelope.Wrapper
	// EventRetention bounds the unacknowledged events kept per session;
	// 0: the store's default (4096).
	EventRetention int
	// LicenseLease is how long a floating seat lasts between renewals;
	// 0: licensing.DefaultLease.
	LicenseLease time.Duration
	// Chunks stores the chunks of cloud files; nil: a chunkstore.Dir
	// under DataDir/chunks.
	Chunks chunkstore.Store
	// GCInterval is how often unreferenced chunks are collected; 0: daily,
	// negative: never. (Expired sessions are ended every minute.)
	GCInterval time.Duration
	// Marketplace configures the cloud marketplace's production
	// interface (off unless Enabled). Dev mode turns it on with a fresh
	// random key, the demo org and the demo product.
	Marketplace marketplace.Config
	// KitSync configures the marketplace's 联营kit sync interfaces
	// (tenants, application credentials, users, departments: mounted when
	// KitSync.KitKey is set). Its KEK, when nil, is KEK. Dev mode turns
	// them on with a fresh random key (in dev.env: ISCD_KIT_URL,
	// ISCD_KIT_KEY) unless one is given.
	KitSync marketplace.SyncConfig
	// MarketAPI configures iscd's calls to the marketplace: the usage
	// push, licence delivery, order checks (off without its AK/SK).
	MarketAPI MarketAPI
	// Picker tunes the file pickers' links (TTL, clock).
	Picker picker.Config
	// Jobs tunes the compute service (the workers' lease).
	Jobs jobs.Config
	// DevWorker configures the compute worker dev mode runs inside iscd
	// (Dev only). Its URL and token are filled in; with no solvers named,
	// it runs the dev product's CalculiX solver if ccx is on PATH.
	DevWorker worker.Config
	// NoDevWorker keeps dev mode from starting its worker (tests that
	// bring their own).
	NoDevWorker bool
	// Limits bounds what each client may hold: connections, request
	// bytes in memory (docs/deploy.md).
	Limits Limits
	// Metrics says where /metrics is served, and to whom.
	Metrics MetricsConfig
	// Console tunes the web console (/console/): its sessions' lifetime.
	Console console.Config
	// UnifiedLogin says where the marketplace's unified login is: the
	// identity provider of organisations synced as tenants with an
	// application (docs/identity.md).
	UnifiedLogin unified.Config
	// SignIn tunes the device sign-in (docs/identity.md); dev mode lets its
	// page sign in as the demo user.
	SignIn signin.Config
	Logger *slog.Logger
}

// Server is a running iscd.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    store.Store
	packs    *chunkstore.Dir // the chunk store it opened (none when given one)
	hub      *session.Hub
	licenses *licensing.Service
	files    *files.Service
	jobs     *jobs.Service
	push     *marketpush.Pusher // nil without a marketplace API
	base     string             // the URL it serves, once started
	upgrades *upgrades.Service
	signin   *signin.Service
	http     *http.Server
	stopping atomic.Bool
	served   chan error
	stopGC   context.CancelFunc
	gcDone   sync.WaitGroup // housekeeping, the lease expiry and the dev worker

	metrics     *metrics.Service
	timed       store.Store  // the store the parts use: store, with its hot calls timed
	metricsHTTP *http.Server // on MetricsConfig.Listen
	metricsURL  string
}

// Open opens the data directory and prepares the service; Serve starts it.
func Open(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("iscd: no data directory")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("iscd: data directory: %w", err)
	}
	if cfg.Dev {
		if cfg.Metrics.Token == "" {
			cfg.Metrics.Token = metricsToken()
		}
		devMarketplace(&cfg.Marketplace)
		if cfg.SignIn.DevUserID == "" {
			cfg.SignIn.DevUserID = DevUser
		}
		if cfg.KitSync.KitKey == "" {
			cfg.KitSync.KitKey = "devkit_" + rand.Text() // to dev.env, as the marketplace's key
		}
		if err := devKEK(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.Marketplace.Enabled && cfg.Marketplace.AccessKey == "" {
		return nil, errors.New("iscd: the marketplace endpoint needs an access key")
	}
	st, err := openStore(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, store: st, metrics: metrics.NewService()}
	s.timed = s.metrics.Store(st)
	st = s.timed
	s.hub = session.New(st, tokenAuth{st}, cfg.Logger, cfg.Limits.hub(session.Config{Heartbeat: cfg.Heartbeat, ResumeWindow: cfg.ResumeWindow, Metrics: s.metrics}, cfg.Logger))

	adm := admin.New(st, s.hub, cfg.Logger)
	s.licenses = licensing.New(st, s.hub, cfg.Logger, cfg.LicenseLease, cfg.KEK)
	s.licenses.OnStoreCall(s.metrics.StoreCall)
	chunks := cfg.Chunks
	if chunks == nil {
		dir, err := chunkstore.NewDir(filepath.Join(cfg.DataDir, "chunks"))
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("iscd: chunk store: %w", err)
		}
		chunks, s.packs = dir, dir
	}
	chunks = s.metrics.Chunks(chunks)
	s.files = files.New(st, chunks, s.hub, s.licenses, cfg.Logger)
	s.licenses.MountAdmin(adm)
	adm.MountIdentity(st)
	files.MountAdmin(adm, st, cfg.Logger)
	s.upgrades = upgrades.New(st, chunks, s.hub, cfg.Logger)
	s.upgrades.MountAdmin(adm)
	s.jobs = jobs.New(st, chunks, s.hub, s.licenses, cfg.Logger, cfg.Jobs)
	s.jobs.Measure(s.metrics)
	s.jobs.MountAdmin(adm)
	s.licenses.OnStop(s.jobs.StopLicensed)
	pickers := picker.New(st, s.hub, s.licenses, cfg.Logger, cfg.Picker)
	pickers.Register(s.hub)

	if err := s.openMarketAPI(&cfg, adm); err != nil {
		st.Close()
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle(wire.Path, s.hub)
	mux.Handle(adminapi.Prefix+"/", adm)
	mux.Handle(picker.Path, pickers)
	mux.Handle(wire.WorkerPath, s.jobs)
	if cfg.Marketplace.Enabled {
		mh, err := marketplace.New(cfg.Marketplace, st, s.licenses, cfg.Logger)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("iscd: %w", err)
		}
		mh.OnCall(s.metrics.MarketplaceCall)
		mux.Handle(marketplace.Path, mh)
		mountActivation(mux, mh)
		cfg.Logger.Info("marketplace endpoint", "path", marketplace.Path, "config", cfg.Marketplace)
	}
	if cfg.KitSync.KitKey != "" {
		if cfg.KitSync.KEK == nil {
			cfg.KitSync.KEK = cfg.KEK
		}
		sh, err := marketplace.NewSync(cfg.KitSync, st, s.hub, cfg.Logger)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("iscd: %w", err)
		}
		mux.Handle(sh.Prefix(), sh)
		cfg.Logger.Info("marketplace sync interfaces", "path", sh.Prefix(), "privateKey", cfg.KitSync.PrivateKey != nil)
	}
	s.signin = signin.New(st, tokenAuth{st}, s.hub, cfg.Logger, cfg.SignIn)
	s.signin.Mount(mux)
	oidcs := federation.New(st, cfg.KEK, cfg.Logger)
	oidcs.MountAdmin(adm)
	s.signin.AddUpstreams(oidcs)
	ul := unified.New(st, cfg.KEK, cfg.UnifiedLogin, cfg.Logger)
	s.signin.AddUpstreams(ul)
	mux.HandleFunc("GET "+unified.CallbackPath, ul.Callback)
	consoleCfg := cfg.Console
	consoleCfg.Secure = consoleCfg.Secure || cfg.TLSCert != ""
	mux.Handle(console.Path, console.New(consoleCfg, st, adm, tokenAuth{st}, s.signin, cfg.Logger))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.ready)
	s.instrument(mux)
	s.http = newHTTPServer(mux, cfg.Limits, cfg.Logger)
	return s, nil
}

// SignIn is iscd's sign-in, for the parts that sign a browser's user in
// (BeginSignIn, OnSignedIn) or add identity providers (AddUpstreams).
func (s *Server) SignIn() *signin.Service { return s.signin }

// Hub is the session hub, for capabilities that register request handlers
// or publish events.
func (s *Server) Hub() *session.Hub { return s.hub }

// Files is the cloud file service.
func (s *Server) Files() *files.Service { return s.files }

// Jobs is the compute service.
func (s *Server) Jobs() *jobs.Service { return s.jobs }

// Licenses is the licence service.
func (s *Server) Licenses() *licensing.Service { return s.licenses }

// Upgrades is the release catalogue.
func (s *Server) Upgrades() *upgrades.Service { return s.upgrades }

// Store is the service's store.
func (s *Server) Store() store.Store { return s.store }

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.stopping.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	if _, err := s.store.Products(r.Context()); err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}

// Start prepares the service for ln's address (it makes sure an admin
// token exists and, in dev mode, writes dev.env) and serves ln in the
// background. When it returns without error the service accepts
// connections; Wait returns when serving ends.
func (s *Server) Start(ln net.Listener) error {
	scheme := "http"
	if s.cfg.TLSCert != "" || s.cfg.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("iscd: TLS: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		scheme = "https"
	}
	base := scheme + "://" + ln.Addr().String()
	if err := s.sealKeys(context.Background()); err != nil {
		return err
	}
	var err error
	if s.metricsURL, err = s.startMetrics(base); err != nil {
		return err
	}
	if s.cfg.Dev {
		err = s.setupDev(context.Background(), base)
	} else {
		err = s.ensureAdminToken(context.Background())
	}
	if err != nil {
		s.stopMetrics(context.Background())
		return err
	}
	s.log.Info("listening", "addr", ln.Addr().String(), "url", base, "dev", s.cfg.Dev)
	s.base = base
	watching := s.startHousekeeping()
	// Serve only once the other replicas are heard: a client connected
	// here before then could not be ended from another replica (an
	// operator's kick, a revoked token).
	select {
	case <-watching:
	case <-time.After(openTimeout):
		s.stopGC()
		s.gcDone.Wait()
		s.stopMetrics(context.Background())
		return fmt.Errorf("iscd: not listening to the other replicas' changes after %v (see the log)", openTimeout)
	}
	s.served = make(chan error, 1)
	go func() {
		err := s.http.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.served <- err
	}()
	return nil
}

// Wait blocks until the service stops serving (after Shutdown, or on a
// listener failure) and returns why.
func (s *Server) Wait() error { return <-s.served }

// Shutdown tells connected clients the service is stopping (they get a
// ServiceClosed event and reconnect later), stops the HTTP server and
// closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopping.Store(true)
	s.log.Info("shutting down")
	if s.stopGC != nil {
		s.stopGC()
		s.gcDone.Wait()
	}
	herr := s.hub.Shutdown(ctx, "iscd is shutting down; the session resumes when it is back")
	jerr := s.jobs.Shutdown(ctx) // workers must not talk to a closed store
	serr := s.http.Shutdown(ctx)
	s.stopMetrics(ctx)
	cerr := s.store.Close()
	if s.packs != nil {
		s.packs.Close()
	}
	return errors.Join(herr, jerr, serr, cerr)
}

// sweepEvery is how often sessions past their resume window are ended.
const sweepEvery = time.Minute

// startHousekeeping ends expired sessions every minute and collects every
// org's unreferenced chunks every GCInterval, until Shutdown. The channel
// it returns is closed when this replica hears the others (watch).
func (s *Server) startHousekeeping() <-chan struct{} {
	gcEvery := s.cfg.GCInterval
	if gcEvery == 0 {
		gcEvery = 24 * time.Hour
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopGC = cancel
	s.gcDone.Go(func() { s.jobs.Run(ctx) })
	s.gcDone.Go(func() { s.runMarketPush(ctx) })
	watching := s.watch(ctx)
	s.gcDone.Go(func() {
		sweep := time.NewTicker(sweepEvery)
		defer sweep.Stop()
		var gc <-chan time.Time
		if gcEvery > 0 {
			t := time.NewTicker(gcEvery)
			defer t.Stop()
			gc = t.C
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-sweep.C:
				if err := s.hub.Sweep(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("session sweep", "err", err)
				}
			case <-gc:
				s.collectChunks(ctx)
			}
		}
	})
	if s.cfg.Dev && !s.cfg.NoDevWorker {
		s.gcDone.Go(func() { s.runDevWorker(ctx) })
	}
	return watching
}

func (s *Server) collectChunks(ctx context.Context) {
	if _, err := s.CollectChunks(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("chunk GC", "err", err)
	}
}

// CollectChunks deletes every organisation's chunks that no version
// references and no upload touched within files.UploadGrace (iscd does it
// every GCInterval; `iscd gc` once). It goes on past an organisation that
// fails and returns the totals and the errors.
func (s *Server) CollectChunks(ctx context.Context) (chunkstore.GCStats, error) {
	var total chunkstore.GCStats
	orgs, err := s.store.Orgs(ctx)
	if err != nil {
		return total, fmt.Errorf("iscd: chunk GC: list orgs: %w", err)
	}
	var errs []error
	for _, o := range orgs {
		st, err := s.files.GC(ctx, o.ID, files.UploadGrace)
		total.Chunks += st.Chunks
		total.Live += st.Live
		total.Recent += st.Recent
		total.Deleted += st.Deleted
		if err != nil {
			errs = append(errs, fmt.Errorf("org %s: %w", o.ID, err))
			if ctx.Err() != nil {
				break
			}
		}
	}
	return total, errors.Join(errs...)
}

// tokenAuth authenticates API tokens, and signed-in programs' access
// tokens (internal/server/signin), against the store.
type tokenAuth struct {
	dir interface {
		store.Directory
		store.SignIns
	}
}

func (a tokenAuth) Authenticate(ctx context.Context, bearer string) (session.Identity, error) {
	id, err := a.bearer(ctx, bearer)
	if err != nil {
		return id, err
	}
	if err := a.allowed(ctx, id); err != nil {
		return session.Identity{}, err
	}
	return id, nil
}

// Recheck tells whether a connection authenticated as id may stay: its
// API token or sign-in not revoked, its user and organisation allowed.
func (a tokenAuth) Recheck(ctx context.Context, id session.Identity) error {
	t, err := a.dir.Token(ctx, id.TokenID)
	switch {
	case err == nil && t.Revoked:
		return fmt.Errorf("token %s: revoked", id.TokenID)
	case errors.Is(err, store.ErrNotFound): // a sign-in's access token
		f, err := a.dir.RefreshFamily(ctx, id.TokenID)
		if err != nil {
			return fmt.Errorf("token %s: %w", id.TokenID, unchecked(err))
		}
		if f.Revoked {
			return fmt.Errorf("access token of sign-in %s: revoked", id.TokenID)
		}
	case err != nil:
		return fmt.Errorf("token %s: %w", id.TokenID, unchecked(err))
	}
	return a.allowed(ctx, id)
}

// allowed checks id's user and organisation: the marketplace may have
// disabled, revoked or deleted the user, or closed the organisation
// (docs/identity.md).
func (a tokenAuth) allowed(ctx context.Context, id session.Identity) error {
	u, err := a.dir.User(ctx, id.UserID)
	if err != nil {
		return fmt.Errorf("token %s: user %s: %w", id.TokenID, id.UserID, unchecked(err))
	}
	if why := u.Refused(); why != "" {
		return fmt.Errorf("token %s: %s", id.TokenID, why)
	}
	o, err := a.dir.Org(ctx, id.OrgID)
	if err != nil {
		return fmt.Errorf("token %s: organisation %s: %w", id.TokenID, id.OrgID, unchecked(err))
	}
	if o.Closed {
		return fmt.Errorf("token %s: organisation %s is closed", id.TokenID, id.OrgID)
	}
	return nil
}

// bearer checks the token itself: an access token against its sign-in, an
// API token against its record.
func (a tokenAuth) bearer(ctx context.Context, bearer string) (session.Identity, error) {
	if strings.HasPrefix(bearer, token.PrefixAccess+"_") {
		return signin.Access(ctx, a.dir, bearer, time.Now())
	}
	id, secret, err := token.Parse(token.PrefixAPI, bearer)
	if err != nil {
		return session.Identity{}, err
	}
	t, err := a.dir.Token(ctx, id)
	if err != nil {
		return session.Identity{}, fmt.Errorf("token %s: %w", id, unchecked(err))
	}
	if !token.Verify(secret, t.Hash) || t.Kind != token.PrefixAPI {
		return session.Identity{}, fmt.Errorf("token %s: wrong secret", id)
	}
	if t.Revoked {
		return session.Identity{}, fmt.Errorf("token %s: revoked", id)
	}
	return session.Identity{OrgID: t.OrgID, UserID: t.UserID, TokenID: t.ID}, nil
}

// unchecked marks a store's failure (not a record it does not have) as
// session.ErrAuthUnavailable: the token was not checked, not refused.
func unchecked(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return err
	}
	return fmt.Errorf("%w: %w", session.ErrAuthUnavailable, err)
}

// ensureAdminToken creates the first admin token, an owner's, and writes
// it, readable by the operator only, to DATA/admin.token. Later starts
// leave it alone while an owner token works (not revoked, not expired): a
// new one is how an operator with the data directory recovers from losing
// them all.
func (s *Server) ensureAdminToken(ctx context.Context) error {
	toks, err := s.store.Tokens(ctx, "")
	if err != nil {
		return err
	}
	now := time.Now()
	for _, t := range toks {
		owner := t.Role == "" || t.Role == string(adminapi.RoleOwner)
		// An owner's operator grant (UserID set) signs a user into the
		// console and is no token: it does not keep a new one from being
		// written.
		if t.Kind == token.PrefixAdmin && owner && t.UserID == "" && !t.Revoked && (t.Expires.IsZero() || now.Before(t.Expires)) {
			return nil
		}
	}
	secret, err := s.mintAdminToken(ctx, "bootstrap")
	if err != nil {
		return err
	}
	path := filepath.Join(s.cfg.DataDir, "admin.token")
	if err := atomicfile.Write(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("iscd: write admin token: %w", err)
	}
	s.log.Info("admin token created", "file", path)
	return nil
}

func (s *Server) mintAdminToken(ctx context.Context, name string) (string, error) {
	secret, id, hash := token.New(token.PrefixAdmin)
	err := s.store.CreateToken(ctx, store.Token{ID: id, Kind: token.PrefixAdmin, Hash: hash, Name: name, Created: time.Now().UTC(),
		Role: string(adminapi.RoleOwner)})
	return secret, err
}

// Dev mode names.
const (
	DevOrg     = "demo"
	DevUser    = "demo"
	DevProduct = "demo-cad"
	DevLicense = "demo-floating" // 5 floating seats, a year from the first dev start
)

// devMarketplace turns the marketplace endpoint on for dev mode: a fresh
// random access key unless one is given (it goes to dev.env), and the demo
// org and product as defaults.
func devMarketplace(m *marketplace.Config) {
	m.Enabled = true
	if m.AccessKey == "" {
		m.AccessKey = "devmkt_" + rand.Text()
	}
	if m.DefaultOrg == "" {
		m.DefaultOrg = DevOrg
	}
	if m.DefaultProduct == "" {
		m.DefaultProduct = DevProduct
	}
}

// setupDev creates the demo org, user and product (once), mints fresh demo
// tokens and writes DATA/dev.env with everything a client needs.
func (s *Server) setupDev(ctx context.Context, base string) error {
	now := time.Now().UTC()
	for _, err := range []error{
		s.store.CreateOrg(ctx, store.Org{ID: DevOrg, Name: "Demo organisation", Created: now}),
		// The demo user is its organisation's admin: signed into the
		// console through the sign-in page (no token on a dev server), it
		// sees what a customer's IT sees.
		s.store.CreateUser(ctx, store.User{ID: DevUser, OrgID: DevOrg, Name: "Demo engineer", Role: store.RoleAdmin, Created: now}),
		// Like a product sold through the marketplace, the demo product
		// needs an active licence for compute and cloud files: the demo
		// org has one (DevLicense).
		s.store.CreateProduct(ctx, store.Product{ID: DevProduct, Name: "Demo CAD", Created: now,
			RequireLicense: &store.LicenseGates{Compute: true, Files: true}}),
	} {
		if err != nil && !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("iscd: dev setup: %w", err)
		}
	}
	if _, err := s.store.License(ctx, DevLicense); errors.Is(err, store.ErrNotFound) {
		_, err = s.licenses.CreateLicense(ctx, adminapi.CreateLicense{
			ID: DevLicense, OrgID: DevOrg, ProductID: DevProduct, Edition: "professional",
			Features: []string{"mesh", "solve", "export"}, Kind: store.KindFloating, Seats: 5,
			ExpiresAt: now.AddDate(1, 0, 0), GraceSeconds: 7 * 24 * 3600,
		})
		if err != nil {
			return fmt.Errorf("iscd: dev licence: %w", err)
		}
	}
	if err := s.setupDevSolver(ctx); err != nil {
		return fmt.Errorf("iscd: dev solver: %w", err)
	}
	keys, err := s.licenses.PublicKeys(ctx, DevProduct)
	if err != nil {
		return fmt.Errorf("iscd: dev product key: %w", err)
	}
	pub := make([]string, len(keys))
	for i, k := range keys {
		pub[i] = k.String()
	}
	releaseKey, releaseKeyFile, err := s.devReleaseKey()
	if err != nil {
		return err
	}
	apiSecret, id, hash := token.New(token.PrefixAPI)
	if err := s.store.CreateToken(ctx, store.Token{ID: id, Kind: token.PrefixAPI, Hash: hash, UserID: DevUser, OrgID: DevOrg, Name: "dev", Created: now}); err != nil {
		return err
	}
	adminSecret, err := s.mintAdminToken(ctx, "dev")
	if err != nil {
		return err
	}
	ws := "ws" + strings.TrimPrefix(base, "http") + wire.Path
	env := strings.Join([]string{
		"ISCSDK_ENDPOINT=" + ws,
		"ISCSDK_TOKEN=" + apiSecret,
		"ISCSDK_PRODUCT=" + DevProduct,
		"ISCSDK_LICENSE_PUBLIC_KEY=" + strings.Join(pub, ","),
		"ISCSDK_RELEASE_KEY=" + releaseKey.Public().String(),
		"ISCD_RELEASE_KEY_FILE=" + releaseKeyFile,
		"ISCD_ADMIN_URL=" + base,
		"ISCD_ADMIN_TOKEN=" + adminSecret,
		"ISCD_CONSOLE_URL=" + base + console.Path,
	}, "\n") + "\n"
	if s.metricsURL != "" {
		env += "ISCD_METRICS_URL=" + s.metricsURL + "\n" + "ISCD_METRICS_TOKEN=" + s.cfg.Metrics.Token + "\n"
	}
	if m := s.cfg.Marketplace; m.Enabled {
		env += "ISCD_MARKETPLACE_URL=" + base + marketplace.Path + "\n" + "ISCD_MARKETPLACE_KEY=" + m.AccessKey + "\n"
	}
	if k := s.cfg.KitSync; k.KitKey != "" {
		prefix := k.Prefix
		if prefix == "" {
			prefix = marketplace.SyncPrefix
		}
		env += "ISCD_KIT_URL=" + base + prefix + "\n" + "ISCD_KIT_KEY=" + k.KitKey + "\n"
	}
	path := filepath.Join(s.cfg.DataDir, "dev.env")
	if err := atomicfile.Write(path, []byte(env), 0o600); err != nil {
		return fmt.Errorf("iscd: write dev.env: %w", err)
	}
	s.log.Info("dev mode", "env", path, "org", DevOrg, "user", DevUser, "product", DevProduct)
	return nil
}

// MintAdminToken makes a new owner's admin token named name and returns
// its secret, shown this once (iscd admin-token: how an operator gets a
// first token where no one reads the data directory, such as a pod's).
func (s *Server) MintAdminToken(ctx context.Context, name string) (string, error) {
	return s.mintAdminToken(ctx, name)
}
