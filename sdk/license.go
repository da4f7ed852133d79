package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/iscsdk/iscsdk/internal/atomicfile"
	"github.com/iscsdk/iscsdk/internal/device"
	"github.com/iscsdk/iscsdk/internal/license"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// ErrInvalidArgument: an argument is too long, not UTF-8, or malformed.
var ErrInvalidArgument = errors.New("iscsdk: invalid argument")

// Limits on what a host passes in.
const (
	MaxDeviceInfo   = device.MaxLen // 5 KB, as compat-api.md says
	MaxComeBackJSON = 64 << 10
	maxPathLen      = 4096
)

// requestTimeout bounds a licence request, including waiting for a
// reconnection.
const requestTimeout = 60 * time.Second

// LicenseResult is the verdict of VerifyLicense. Its JSON form (what
// iscsdk_license_verify returns) is
// {"valid":true|false,"code":"ok"|...,"message":...,"licenseId":...,
// "product":...,"edition":...,"features":[...],"kind":...,"trial":...,
// "issuedAt":...,"effectiveAt":...,"expiresAt":...,"leaseExpiresAt":...,
// "state":"valid"|"grace"|"offline-grace"}; docs/licensing.md lists the codes.
type LicenseResult = license.Result

// DeviceInfo returns this machine's fingerprint, "MAC|diskId|boardId|cpuId"
// (docs/licensing.md says where each part comes from). It is read again
// at most every deviceInfoTTL.
func DeviceInfo() string {
	devCache.mu.Lock()
	defer devCache.mu.Unlock()
	if now := time.Now(); devCache.value == "" || now.Sub(devCache.read) >= deviceInfoTTL || now.Before(devCache.read) {
		devCache.value, devCache.read = device.Info(), now
	}
	return devCache.value
}

// deviceInfoTTL is how long DeviceInfo reuses what it read: reading the
// fingerprint's sources (sysfs, SMBIOS, CPUID) takes about 0.4 ms, which
// was most of a licence verification and of a licence request's call
// (docs/benchmarks.md). A device change shows within this time.
const deviceInfoTTL = 10 * time.Second

var devCache struct {
	mu    sync.Mutex
	value string
	read  time.Time
}

// VerifyLicense checks a licence string entirely offline: the signature with
// the product's public keys (one or more, comma-separated, as
// `iscctl key export-public` prints them), the product, the device (devInfo,
// "" for this machine when the licence is bound to one), the validity window
// and the clock. It returns an error only for unusable arguments; an invalid
// licence is a result with Valid false and a Code.
func VerifyLicense(licenseString, publicKeys, devInfo string) (LicenseResult, error) {
	if err := checkText("dev_info", devInfo, MaxDeviceInfo); err != nil {
		return LicenseResult{}, err
	}
	if !utf8.ValidString(publicKeys) || len(publicKeys) > 64<<10 {
		return LicenseResult{}, fmt.Errorf("%w: public_key is not UTF-8 or too long", ErrInvalidArgument)
	}
	keys, err := license.ParsePublicKeys(publicKeys)
	if err != nil {
		return LicenseResult{}, fmt.Errorf("%w: public_key: %v", ErrInvalidArgument, err)
	}
	if devInfo == "" {
		devInfo = DeviceInfo()
	}
	now := time.Now()
	hw, tamper := trustedTime()
	if tamper != nil {
		return LicenseResult{Code: license.CodeClockTampered, Message: tamper.Error() +
			": the clock cannot be trusted until the program reaches the service again"}, nil
	}
	if now.Before(hw.Add(-license.ClockTolerance)) {
		return LicenseResult{Code: license.CodeClockTampered, Message: fmt.Sprintf(
			"the clock (%s) is behind the last trusted time (%s): it was set back", now.UTC().Format(time.RFC3339), hw.UTC().Format(time.RFC3339))}, nil
	}
	return license.Verify(licenseString, keys, devInfo, now), nil
}

func checkText(name, v string, max int) error {
	switch {
	case len(v) > max:
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidArgument, name, max)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidArgument, name)
	}
	return nil
}

func checkComeBack(cb json.RawMessage) (json.RawMessage, error) {
	if len(cb) == 0 {
		return nil, nil
	}
	if len(cb) > MaxComeBackJSON {
		return nil, fmt.Errorf("%w: come-back JSON longer than %d bytes", ErrInvalidArgument, MaxComeBackJSON)
	}
	var obj map[string]json.RawMessage
	if !utf8.Valid(cb) || json.Unmarshal(cb, &obj) != nil || obj == nil {
		return nil, fmt.Errorf("%w: come-back JSON must be a JSON object", ErrInvalidArgument)
	}
	return cb, nil
}

// LicenseOptions say how to ask for a licence.
type LicenseOptions struct {
	// Device is the fingerprint of the device the licence is for (at
	// most MaxDeviceInfo bytes); "": DeviceInfo().
	Device string
	// File, when set, is where the licence string is also written,
	// atomically and mode 0600: an absolute path, or a relative name
	// taken inside the workspace's "licenses" directory, which it may not
	// leave.
	File string
}

// License is a licence the service granted this device.
type License struct {
	ID      string
	Kind    string // the licence's kind (e.g. floating, node-locked)
	Content string // the signed licence string: check it with VerifyLicense
	File    string // where it was written (LicenseOptions.File), or ""
	// ExpiresAt is when the licence ends; zero: it does not.
	ExpiresAt time.Time
	// LeaseExpiresAt is when a floating licence's seat lease ends unless
	// renewed; the client renews it in the background until Close and
	// reports with LicenseState events. Zero for other licences.
	LeaseExpiresAt time.Time
}

// RequestLicense asks the service for a licence for this device and waits
// for it. A refusal is a *wire.Error with the service's code (e.g.
// no_license, license_frozen, device_limit); a floating licence's seat is
// then held until Close.
func (c *Client) RequestLicense(ctx context.Context, opt LicenseOptions) (License, error) {
	if c.shut.Load() {
		return License{}, ErrShutOut
	}
	dev, path, err := c.licenseOptions(opt)
	if err != nil {
		return License{}, err
	}
	return c.requestLicense(ctx, dev, path)
}

// licenseOptions checks opt and resolves its defaults: the device and the
// file's path.
func (c *Client) licenseOptions(opt LicenseOptions) (dev, path string, err error) {
	if err := checkText("dev_info", opt.Device, MaxDeviceInfo); err != nil {
		return "", "", err
	}
	dev = opt.Device
	if dev == "" {
		dev = DeviceInfo()
	}
	if opt.File != "" {
		if err := checkText("file name", opt.File, maxPathLen); err != nil {
			return "", "", err
		}
		if path, err = c.licenseFilePath(opt.File); err != nil {
			return "", "", err
		}
	}
	return dev, path, nil
}

// licenseFilePath resolves fileName; relative names stay under the
// workspace's licenses directory.
func (c *Client) licenseFilePath(fileName string) (string, error) {
	if isAbsLocal(fileName) {
		return localAbs(fileName)
	}
	if !filepath.IsLocal(fileName) {
		return "", fmt.Errorf("%w: licence file %q leaves the workspace", ErrInvalidArgument, fileName)
	}
	return filepath.Join(c.cfg.WorkspaceDir, "licenses", fileName), nil
}

func (c *Client) requestLicense(ctx context.Context, dev, path string) (License, error) {
	var g wire.LicenseGrant
	if err := c.call(ctx, wire.OpLicenseRequest, wire.LicenseRequest{Device: dev}, &g); err != nil {
		return License{}, err
	}
	if path != "" {
		if err := atomicfile.Write(path, []byte(g.License+"\n"), 0o600); err != nil {
			return License{}, err
		}
	}
	c.licenses.hold(g, dev)
	return License{ID: g.LicenseID, Kind: g.Kind, Content: g.License, File: path, ExpiresAt: g.ExpiresAt, LeaseExpiresAt: g.LeaseExpiresAt}, nil
}

// ReportLicenseCheck tells the service's audit log what the program's own
// check of the licence it received found: valid, or not with msg (at most
// 4096 bytes). It waits until the service has it.
func (c *Client) ReportLicenseCheck(ctx context.Context, valid bool, msg string) error {
	if c.shut.Load() {
		return ErrShutOut
	}
	if err := checkText("error_msg", msg, 4096); err != nil {
		return err
	}
	return c.reportLicenseCheck(ctx, wire.LicenseNotify{Verified: valid, Message: msg, LicenseID: c.licenses.latest()})
}

func (c *Client) reportLicenseCheck(ctx context.Context, n wire.LicenseNotify) error {
	return c.call(ctx, wire.OpLicenseNotify, n, nil)
}

// goAsync runs fn on a goroutine that Close waits for; fn's context ends
// at Close. Once Close has begun waiting it starts nothing more, and a
// panic in fn is logged, never passed on to the host.
func (c *Client) goAsync(fn func(ctx context.Context)) { c.spawn(fn, nil) }

// goReport is goAsync for a report the service must get although Close
// may follow at once (LicenseVerifyNotify): Close lets reports under way
// finish, within its time to say goodbye, before it ends the session —
// the service cancels what a session still runs when it ends.
func (c *Client) goReport(fn func(ctx context.Context)) { c.spawn(fn, &c.reportWG) }

func (c *Client) spawn(fn func(ctx context.Context), also *sync.WaitGroup) {
	c.asyncMu.Lock()
	defer c.asyncMu.Unlock()
	if c.closing {
		return
	}
	c.asyncWG.Add(1)
	if also != nil {
		also.Add(1)
	}
	go func() {
		defer c.asyncWG.Done()
		if also != nil {
			defer also.Done()
		}
		defer func() {
			if r := recover(); r != nil {
				c.log.Error("asynchronous call panicked", "panic", fmt.Sprint(r))
			}
		}()
		fn(c.ctx)
	}()
}

// ---- leases ----

// Licence states reported in LicenseState events (param "state").
const (
	LicenseRenewed      = "renewed"       // the lease was extended
	LicenseOfflineGrace = "offline-grace" // the lease lapsed while offline; usable until the grace ends
	LicenseExpired      = "expired"       // lease and grace are over: stop using the licence
	LicenseFrozen       = "frozen"        // pushed by the service
	LicenseUnfrozen     = "unfrozen"
	LicenseReleased     = "released"
)

// keeper renews the leases of the licences the client holds and tells the
// host when one lapses into offline grace or expires.
type keeper struct {
	c    *Client
	mu   sync.Mutex
	held map[string]*held
	last string
	wake chan struct{}
}

type held struct {
	grant    wire.LicenseGrant
	device   string
	received time.Time // when grant arrived
	state    string    // "" (valid), offline-grace, expired, frozen
	failed   int       // renewals failed in a row
	renewNow bool      // unfrozen: get a fresh document at once
}

// renewAt is half-way through the lease as it was granted.
func (h *held) renewAt() time.Time {
	if h.renewNow {
		return time.Time{}
	}
	return h.received.Add(h.grant.LeaseExpiresAt.Sub(h.received) / 2)
}

func newKeeper(c *Client) *keeper {
	return &keeper{c: c, held: map[string]*held{}, wake: make(chan struct{}, 1)}
}

func (k *keeper) poke() {
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

func (k *keeper) hold(g wire.LicenseGrant, dev string) {
	k.mu.Lock()
	k.held[g.LicenseID] = &held{grant: g, device: dev, received: time.Now()}
	k.last = g.LicenseID
	k.mu.Unlock()
	k.poke()
}

func (k *keeper) latest() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.last
}

// pushed handles a LicenseState event from the service.
func (k *keeper) pushed(e Event) {
	id, state := e.Params["licenseId"], e.Params["state"]
	k.mu.Lock()
	h := k.held[id]
	if h != nil {
		switch state {
		case LicenseFrozen:
			h.state = LicenseFrozen
		case LicenseReleased:
			delete(k.held, id)
		case LicenseUnfrozen:
			h.state, h.renewNow = "", true
		}
	}
	k.mu.Unlock()
	k.poke()
}

// dropAll forgets every licence held and tells the host each one was
// released: the service ended the session and freed its seats.
func (k *keeper) dropAll(why string) {
	k.mu.Lock()
	ids := make([]string, 0, len(k.held))
	for id := range k.held {
		ids = append(ids, id)
	}
	clear(k.held)
	k.mu.Unlock()
	slices.Sort(ids)
	for _, id := range ids {
		k.c.emit(localEvent(EventLicenseState, map[string]string{"licenseId": id, "state": LicenseReleased, "message": why}))
	}
}

// run renews leases at half-time until ctx ends.
func (k *keeper) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := k.step(ctx, time.Now())
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return
		case <-k.wake:
		case <-timer.C:
		}
	}
}

// step does what is due at now and returns when to look again.
func (k *keeper) step(ctx context.Context, now time.Time) time.Time {
	next := now.Add(time.Hour)
	k.mu.Lock()
	ids := make([]string, 0, len(k.held))
	for id := range k.held {
		ids = append(ids, id)
	}
	k.mu.Unlock()
	for _, id := range ids {
		if t := k.stepOne(ctx, id, now); t.Before(next) {
			next = t
		}
	}
	return next
}

func (k *keeper) stepOne(ctx context.Context, id string, now time.Time) time.Time {
	k.mu.Lock()
	h := k.held[id]
	if h == nil || h.state == LicenseFrozen || h.state == LicenseExpired || h.grant.LeaseExpiresAt.IsZero() {
		k.mu.Unlock()
		return now.Add(time.Hour) // nothing to renew: node-locked, frozen or over
	}
	g, dev, due := h.grant, h.device, h.renewAt()
	k.mu.Unlock()
	if now.Before(due) {
		return due
	}

	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	var ng wire.LicenseGrant
	err := k.c.tryCall(cctx, wire.OpLicenseRenew, wire.LicenseRef{LicenseID: id, Device: dev}, &ng)
	cancel()
	k.mu.Lock()
	defer k.mu.Unlock()
	if h = k.held[id]; h == nil {
		return now.Add(time.Hour)
	}
	if err == nil {
		*h = held{grant: ng, device: dev, received: time.Now()}
		k.c.emit(localEvent(EventLicenseState, map[string]string{
			"licenseId": id, "state": LicenseRenewed, "leaseExpiresAt": ng.LeaseExpiresAt.UTC().Format(time.RFC3339), "LicenseContent": ng.License}))
		return h.renewAt()
	}
	var we *wire.Error
	if errors.As(err, &we) {
		// The service refused: stop renewing this licence. A freeze or a
		// release was pushed to the host already; anything else (expired,
		// no seat left) the host hears of here.
		k.c.log.Warn("lease renewal refused", "license", id, "code", we.Code)
		switch we.Code {
		case wire.CodeFrozen:
			h.state = LicenseFrozen
		case wire.CodeReleased:
			h.state = LicenseExpired
		default:
			h.state = LicenseExpired
			k.c.emit(localEvent(EventLicenseState, map[string]string{"licenseId": id, "state": LicenseExpired,
				"errorCode": we.Code, "message": "the service refused to renew the lease: " + we.Message}))
		}
		return now.Add(time.Hour)
	}
	// Unreachable: keep trying; say so when the lease lapses and when the
	// offline grace ends.
	h.failed++
	lease := g.LeaseExpiresAt
	end := lease.Add(time.Duration(g.OfflineGrace) * time.Second)
	switch {
	case !now.Before(end):
		h.state = LicenseExpired
		k.c.emit(localEvent(EventLicenseState, map[string]string{"licenseId": id, "state": LicenseExpired,
			"message": "the lease and its offline grace are over and the service could not be reached"}))
		return now.Add(time.Hour)
	case !now.Before(lease) && h.state != LicenseOfflineGrace:
		h.state = LicenseOfflineGrace
		k.c.emit(localEvent(EventLicenseState, map[string]string{"licenseId": id, "state": LicenseOfflineGrace,
			"graceEndsAt": end.UTC().Format(time.RFC3339), "message": "offline: the licence stays usable until the grace ends"}))
	}
	// Retry with backoff, but wake for the next state change.
	retry := now.Add(reconnectBackoff.Delay(min(h.failed, 8)))
	for _, t := range []time.Time{lease, end} {
		if t.After(now) && t.Before(retry) {
			retry = t
		}
	}
	return retry
}
