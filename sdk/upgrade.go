package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/atomicfile"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/release"
	"github.com/iscsdk/iscsdk/internal/semver"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Upgrades (docs/upgrades.md): CheckNewVersions asks the service for a
// newer release; UpgradeNotify answers an optional offer; the package is
// downloaded in the background, verified against the vendor's release key
// and staged in the workspace; at Close the SDK hands it to a detached
// installer that waits for the program's process to end (install.go).

// Platform is the platform this program's releases are published for:
// GOOS-GOARCH as Go names them, e.g. "windows-amd64", "linux-amd64".
func Platform() string { return runtime.GOOS + "-" + runtime.GOARCH }

// Upgrade error codes of UpgradeNotice, Update and UpgradeResult events
// (param errorCode), besides the service's (not_found, bad_version, ...).
const (
	UpgradeNoReleaseKey = "no_release_key" // Config.ReleaseKeys is empty or malformed: nothing can be verified
	UpgradeBadSignature = "bad_signature"  // the release's signature does not verify
	UpgradeUnknownKey   = "unknown_key"    // signed by a key the program was not given (or not signed)
	UpgradeBadPackage   = "bad_package"    // the package's bytes are not those that were signed
	UpgradeInstallStart = "install_start"  // the installer could not be started
	// An offer the program refuses before downloading anything: it is
	// for another product or platform, or not newer than the program.
	UpgradeWrongProduct  = "wrong_product"
	UpgradeWrongPlatform = "wrong_platform"
	UpgradeNotNewer      = "not_newer"
)

// upgrader keeps a client's upgrade state: the offer awaiting the host's
// answer and the downloads in progress. What outlives the process is in
// the workspace, under upgrades/<product>/.
type upgrader struct {
	c   *Client
	dir string

	mu       sync.Mutex
	offer    *wire.UpgradeOffer // the latest offer, until answered
	offerReq uint64             // the request that got it (events carry it)
	staging  map[string]bool    // versions being downloaded
}

func newUpgrader(c *Client) *upgrader {
	return &upgrader{c: c, dir: filepath.Join(c.cfg.WorkspaceDir, "upgrades", c.cfg.ProductID), staging: map[string]bool{}}
}

// staged is a verified package ready to install, as upgrades/<product>/
// staged.json records it (installing.json once handed to the installer).
type staged struct {
	Statement release.Statement `json:"statement"`
	Signature release.Signature `json:"signature"`
	Package   string            `json:"package"` // absolute path
	Forced    bool              `json:"forced,omitempty"`
	Staged    time.Time         `json:"staged"`
	Started   time.Time         `json:"started,omitzero"` // handed to the installer
	Result    string            `json:"result,omitempty"` // where the installer's exit code goes
	Log       string            `json:"log,omitempty"`
}

func (u *upgrader) path(name string) string { return filepath.Join(u.dir, name) }

func readJSON[T any](path string) (T, bool) {
	var v T
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &v) != nil {
		return v, false
	}
	return v, true
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o600)
}

// Upgrade is the service's answer to CheckUpgrade: a newer release of
// the program for its product and platform, or none.
type Upgrade struct {
	Available bool
	Current   string // the program's version, as the service saw it
	Version   string
	Notes     string
	FileName  string
	Size      int64
	// Forced: the program must upgrade; ForcedBy says why: "release" (a
	// newer release is forced) or "minimum" (the program is older than
	// the oldest version still supported).
	Forced   bool
	ForcedBy string
	// Declined is the version the user declined (DeclineUpgrade), which
	// is not offered again unless it becomes forced; Available is false.
	Declined string

	offer wire.UpgradeOffer
}

// StagedUpgrade is a release downloaded, verified and waiting to be
// installed.
type StagedUpgrade struct {
	Version        string
	Package        string   // the package's path in the workspace
	InstallCommand []string // what runs it, after the program exits
	// AutoInstall: Close hands it to the installer (not with
	// Config.NoAutoInstall: the program installs it itself).
	AutoInstall  bool
	BytesFetched int64 // encoded bytes received
	ChunksReused int   // chunks the workspace had from an earlier download
}

// CheckUpgrade asks the service whether a newer version of the program
// (Config.AppVersion, a semantic version) exists for this platform. An
// offer this program must not take — another product's or platform's
// release, or not newer — is refused before anything is downloaded: an
// *Error with code UpgradeWrongProduct, UpgradeWrongPlatform or
// UpgradeNotNewer.
func (c *Client) CheckUpgrade(ctx context.Context) (Upgrade, error) {
	if c.shut.Load() {
		return Upgrade{}, ErrShutOut
	}
	return c.upgrades.ask(ctx)
}

// StageUpgrade downloads the package of an available upgrade (resuming
// across dropped connections; progress may be nil), checks its hash and
// signature against Config.ReleaseKeys and stages it in the workspace: it
// is installed after the program exits (see StagedUpgrade.AutoInstall). A
// package that does not verify is never staged: an *Error with code
// UpgradeNoReleaseKey, UpgradeUnknownKey, UpgradeBadSignature or
// UpgradeBadPackage.
func (c *Client) StageUpgrade(ctx context.Context, up Upgrade, progress func(Progress)) (StagedUpgrade, error) {
	if c.shut.Load() {
		return StagedUpgrade{}, ErrShutOut
	}
	if !up.Available {
		return StagedUpgrade{}, fmt.Errorf("%w: no upgrade is available", ErrInvalidArgument)
	}
	s, res, code, err := c.upgrades.download(ctx, up.offer, progress)
	if err != nil {
		c.log.Warn("upgrade refused or failed", "version", up.Version, "code", code, "err", err)
		return StagedUpgrade{}, fmt.Errorf("upgrade to %s: %w", up.Version, &Error{Code: code, Message: err.Error()})
	}
	c.log.Info("upgrade staged", "version", up.Version, "package", s.Package, "fetched", res.BytesFetched)
	argv, _ := release.Command(s.Statement.InstallCommand, s.Package, filepath.Dir(s.Package), s.Statement.Version)
	return StagedUpgrade{Version: s.Statement.Version, Package: s.Package, InstallCommand: argv, AutoInstall: !c.cfg.NoAutoInstall,
		BytesFetched: res.BytesFetched, ChunksReused: res.ChunksReused}, nil
}

// DeclineUpgrade records that the user does not want version: CheckUpgrade
// does not offer it again unless it becomes forced.
func (c *Client) DeclineUpgrade(version string) error {
	if c.shut.Load() {
		return ErrShutOut
	}
	if version == "" {
		return fmt.Errorf("%w: no version", ErrInvalidArgument)
	}
	if err := checkText("version", version, 256); err != nil {
		return err
	}
	return c.upgrades.decline(version)
}

// ask asks the service for an upgrade and checks the offer. A refused
// offer is an *Error with the refusal's code, and Upgrade.Current set.
func (u *upgrader) ask(ctx context.Context) (Upgrade, error) {
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	var o wire.UpgradeOffer
	err := u.c.call(cctx, wire.OpUpgradesCheck, wire.UpgradesCheck{Platform: Platform()}, &o)
	cancel()
	if err != nil {
		u.c.log.Warn("upgrade check failed", "err", err)
		return Upgrade{}, err
	}
	if code, err := u.suits(o); err != nil {
		// The service offered what this program must not take: it is not
		// shown to the host as an upgrade, and nothing is downloaded.
		u.c.log.Warn("upgrade offer refused", "version", o.Version, "code", code, "err", err)
		return Upgrade{Current: u.c.cfg.AppVersion}, &Error{Code: code, Message: err.Error()}
	}
	up := Upgrade{Available: o.Available, Current: o.Current, Version: o.Version, Notes: o.Notes, FileName: o.FileName, Size: o.Size,
		Forced: o.Forced, ForcedBy: o.ForcedBy, offer: o}
	if o.Available && !o.Forced && slices.Contains(u.declined(), o.Version) {
		up.Available, up.Declined = false, o.Version
	}
	return up, nil
}

func (u *upgrader) declined() []string {
	v, _ := readJSON[[]string](u.path("declined.json"))
	return v
}

func (u *upgrader) decline(version string) error {
	d := u.declined()
	if !slices.Contains(d, version) {
		d = append(d, version)
	}
	if err := os.MkdirAll(u.dir, 0o700); err != nil {
		return err
	}
	u.c.log.Info("upgrade declined", "version", version)
	return writeJSON(u.path("declined.json"), d)
}

func (u *upgrader) notice(id uint64, p map[string]string) {
	u.c.emit(Event{Type: EventUpgradeNotice, RequestID: id, Operate: EventUpgradeNotice.String(), Params: p})
}

// check asks the service and tells the host with events: an
// UpgradeNotice for request id, and for a forced upgrade the Update event
// of its staging (CheckNewVersions, and the service's news of a forced
// release). pushed: that news; the host hears of it only if it concerns
// this program.
func (u *upgrader) check(ctx context.Context, id uint64, pushed bool) {
	up, err := u.ask(ctx)
	if err != nil {
		if !pushed {
			code, msg := errorCode(err)
			p := map[string]string{"available": "false", "errorCode": code, "errorMsg": msg}
			if up.Current != "" { // an offer refused
				p["current"] = up.Current
			}
			u.notice(id, p)
		}
		return
	}
	o := up.offer
	if pushed && !o.Forced {
		return
	}
	if !up.Available {
		p := map[string]string{"available": "false", "current": o.Current}
		if up.Declined != "" {
			p["declined"] = up.Declined
		}
		u.notice(id, p)
		return
	}
	u.mu.Lock()
	u.offer, u.offerReq = &o, id
	u.mu.Unlock()
	p := map[string]string{"available": "true", "version": o.Version, "notes": o.Notes, "forced": strconv.FormatBool(o.Forced),
		"size": strconv.FormatInt(o.Size, 10), "current": o.Current, "fileName": o.FileName}
	if o.ForcedBy != "" {
		p["forcedBy"] = o.ForcedBy // release, or minimum (the program is older than the minimum supported)
	}
	u.notice(id, p)
	if o.Forced {
		u.stage(ctx, id, o)
	}
}

// pushed handles the service's news of a forced release.
func (u *upgrader) pushed(e Event) {
	if e.Params["platform"] != Platform() {
		return
	}
	u.c.goAsync(func(ctx context.Context) { u.check(ctx, 0, true) })
}

// suits checks an available offer against the program itself, before
// anything is downloaded: the service (or whoever answers in its name)
// must not move the program to another product's or platform's package,
// nor back to an older version (a downgrade to a release with a known
// flaw is an attack too, even when that release was signed).
func (u *upgrader) suits(o wire.UpgradeOffer) (string, error) {
	if !o.Available {
		return "", nil
	}
	if o.Product != u.c.cfg.ProductID {
		return UpgradeWrongProduct, fmt.Errorf("the offer is a release of product %q; this program is %q", o.Product, u.c.cfg.ProductID)
	}
	if o.Platform != Platform() {
		return UpgradeWrongPlatform, fmt.Errorf("the offer is a release for %q; this program runs on %q", o.Platform, Platform())
	}
	offered, err := semver.Parse(o.Version)
	if err != nil {
		return UpgradeNotNewer, fmt.Errorf("the offered version: %v", err)
	}
	running, err := semver.Parse(u.c.cfg.AppVersion)
	if err != nil {
		return wire.CodeBadVersion, fmt.Errorf("the program's version: %v", err)
	}
	if offered.Compare(running) <= 0 {
		return UpgradeNotNewer, fmt.Errorf("the offered version %s is not newer than this program's %s", offered, running)
	}
	return "", nil
}

func statementOf(o wire.UpgradeOffer) (release.Statement, release.Signature) {
	return release.Statement{Product: o.Product, Platform: o.Platform, Version: o.Version, FileName: o.FileName, Size: o.Size,
		SHA256: o.SHA256, InstallCommand: o.InstallCommand}, release.Signature{KeyID: o.KeyID, Value: o.Signature}
}

// verify checks a release's signature with the program's release keys.
func (u *upgrader) verify(st release.Statement, sig release.Signature) (string, error) {
	if u.c.cfg.ReleaseKeys == "" {
		return UpgradeNoReleaseKey, fmt.Errorf("no release key to verify the package with: every upgrade is refused (set Config.ReleaseKeys, iscsdk_options.release_key or %s to the vendor's release public key)", EnvReleaseKey)
	}
	keys, err := release.ParsePublicKeys(u.c.cfg.ReleaseKeys)
	if err != nil {
		return UpgradeNoReleaseKey, fmt.Errorf("release key: %v", err)
	}
	err = release.Verify(st, sig, keys)
	switch {
	case errors.Is(err, release.ErrUnknownKey):
		return UpgradeUnknownKey, err
	case err != nil:
		return UpgradeBadSignature, err
	}
	return "", nil
}

// stage downloads, verifies and stages the offered package, and raises
// the Update event that says how it went.
func (u *upgrader) stage(ctx context.Context, id uint64, o wire.UpgradeOffer) {
	u.mu.Lock()
	if u.staging[o.Version] {
		u.mu.Unlock()
		return // already on its way
	}
	u.staging[o.Version] = true
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		delete(u.staging, o.Version)
		u.mu.Unlock()
	}()
	p := map[string]string{"fromForceWin": strconv.FormatBool(o.Forced), "version": o.Version}
	s, res, code, err := u.download(ctx, o, u.c.progressEvents(id))
	if err != nil {
		p["status"], p["errorCode"], p["errorMsg"] = "failed", code, err.Error()
		u.c.log.Warn("upgrade refused or failed", "version", o.Version, "code", code, "err", err)
	} else {
		argv, _ := release.Command(s.Statement.InstallCommand, s.Package, filepath.Dir(s.Package), s.Statement.Version)
		cmd, _ := json.Marshal(argv)
		p["status"], p["packagePath"], p["installCommand"] = "staged", s.Package, string(cmd)
		p["autoInstall"] = strconv.FormatBool(!u.c.cfg.NoAutoInstall)
		p["size"], p["bytesFetched"], p["chunksReused"] = strconv.FormatInt(o.Size, 10), strconv.FormatInt(res.BytesFetched, 10), strconv.Itoa(res.ChunksReused)
		u.c.log.Info("upgrade staged", "version", o.Version, "package", s.Package, "fetched", res.BytesFetched)
	}
	u.c.emit(Event{Type: EventUpdate, RequestID: id, Operate: EventUpdate.String(), Params: p})
}

// download fetches the package into upgrades/<product>/<version>/ and
// records it as staged. Nothing is recorded unless the signature verifies
// and the bytes hash to what was signed. A dropped connection resumes:
// chunks fetched before are in the workspace's chunk cache.
func (u *upgrader) download(ctx context.Context, o wire.UpgradeOffer, progress func(Progress)) (staged, OpenResult, string, error) {
	var res OpenResult
	if code, err := u.suits(o); err != nil {
		return staged{}, res, code, err
	}
	st, sig := statementOf(o)
	if code, err := u.verify(st, sig); err != nil {
		return staged{}, res, code, err
	}
	ctx, cancel := context.WithTimeout(ctx, transferTimout)
	defer cancel()
	ref := wire.UpgradeRef{Platform: st.Platform, Version: st.Version}
	dst := filepath.Join(u.dir, st.Version, st.FileName)
	if prev, ok := readJSON[staged](u.path("staged.json")); ok && prev.Statement == st && prev.Signature == sig {
		if h, err := fileHash(prev.Package); err == nil && h.String() == st.SHA256 {
			return prev, res, "", nil // staged before: nothing to fetch
		}
	}
	report := throttle(progress, st.FileName, st.Size)
	var bad error // the service's manifest is not the signed package's
	policy := transferPolicy
	policy.Retrying = func(attempt int, _ error) {
		u.c.log.Info("upgrade download interrupted, resuming", "version", st.Version, "attempt", attempt)
	}
	err := policy.Do(ctx, func(int) error {
		f, err := u.c.fetch(ctx, wire.OpUpgradesManifest, ref, wire.BinManifest)
		if err != nil {
			return err
		}
		m, err := manifest.Decode(f.Payload)
		switch {
		case err != nil:
			bad = fmt.Errorf("%w: manifest: %v", ErrProtocol, err)
		case len(m.Files) != 1 || m.Files[0].Hash.String() != st.SHA256 || m.Files[0].Size != st.Size:
			bad = fmt.Errorf("the package the service holds is not the one that was signed (SHA-256 %s, size %d)", st.SHA256, st.Size)
		}
		if bad != nil {
			return bad
		}
		var done int64
		return u.c.download(ctx, wire.OpUpgradesChunk, m.Files[0], dst, &res, func(n int64) { done += n; report(done, false) })
	})
	if bad != nil {
		return staged{}, res, UpgradeBadPackage, bad
	}
	if errors.Is(err, ErrProtocol) {
		// A chunk or the whole file did not hash as signed: nothing was
		// written where the package goes (download checks before it
		// renames), and nothing is staged.
		return staged{}, res, UpgradeBadPackage, fmt.Errorf("the package's bytes were altered: %v", err)
	}
	if err != nil {
		code, _ := errorCode(err)
		return staged{}, res, code, err
	}
	report(st.Size, true)
	if runtime.GOOS != "windows" {
		_ = os.Chmod(dst, 0o700) // an installer that is the package runs as a program
	}
	s := staged{Statement: st, Signature: sig, Package: dst, Forced: o.Forced, Staged: time.Now().UTC()}
	if err := writeJSON(u.path("staged.json"), s); err != nil {
		return staged{}, res, "internal", err
	}
	return s, res, "", nil
}

// atLeast reports whether the program's version is at least v.
func (u *upgrader) atLeast(v string) bool {
	c, err := semver.Compare(u.c.cfg.AppVersion, v)
	return err == nil && c >= 0
}
