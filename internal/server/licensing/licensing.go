// Package licensing is iscd's licence service: it keeps each product's
// signing keys, answers the SDK's licence requests with signed documents,
// allocates floating seats as leases and binds node-locked devices, and
// pushes freeze, unfreeze and release to running programs.
package licensing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/device"
	"github.com/iscsdk/iscsdk/internal/envelope"
	"github.com/iscsdk/iscsdk/internal/license"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// DefaultLease is how long a floating seat lasts without renewal. The SDK
// renews at half-time, so a crashed program's seat is free again within
// one lease.
const DefaultLease = 30 * time.Minute

// Service is the licence service of one iscd.
type Service struct {
	st    Store
	hub   *session.Hub
	log   *slog.Logger
	lease time.Duration
	now   func() time.Time
	keys  keyring // the products' signing keys, sealed at rest (keys.go)

	keyMu    sync.Mutex // serialises key creation per service
	notifies counter    // license.notify calls per session

	stopMu   sync.Mutex
	onStop   []func(context.Context, store.License, string) // see OnStop
	onReturn []func(context.Context, store.Seat, time.Time) // see OnSeatReturned
	timed    func(op string, d time.Duration)               // see OnStoreCall
}

// OnStoreCall has fn told how long each seat transaction took, by op
// ("acquire_seat", "renew_seat": iscd's metrics). Call it before serving.
func (s *Service) OnStoreCall(fn func(op string, d time.Duration)) { s.timed = fn }

// since tells OnStoreCall's function the time since start under op.
func (s *Service) since(op string, start time.Time) {
	if s.timed != nil {
		s.timed(op, time.Since(start))
	}
}

// OnSeatReturned registers fn, called after a floating seat is given back
// (released by its program, or by the end of its session) with the time it
// was last held: the marketplace's pusher meters pay-per-use seat time
// with it, so a seat held between two of its cycles is billed too.
func (s *Service) OnSeatReturned(fn func(ctx context.Context, seat store.Seat, held time.Time)) {
	s.stopMu.Lock()
	s.onReturn = append(s.onReturn, fn)
	s.stopMu.Unlock()
}

// returned tells the OnSeatReturned functions; a seat whose lease lapsed
// before it was given back was held until its lease ended.
func (s *Service) returned(ctx context.Context, seat store.Seat) {
	s.stopMu.Lock()
	fns := s.onReturn
	s.stopMu.Unlock()
	held := s.now()
	if !seat.LeaseExpires.IsZero() && seat.LeaseExpires.Before(held) {
		held = seat.LeaseExpires
	}
	for _, fn := range fns {
		fn(ctx, seat, held)
	}
}

// maxNotifies bounds the licence verdicts one session may record.
const maxNotifies = 100

// counter counts calls per session, up to a limit.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) allow(session string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[session]++
	return c.n[session] <= maxNotifies
}

func (c *counter) forget(session string) {
	c.mu.Lock()
	delete(c.n, session)
	c.mu.Unlock()
}

// Store is the part of iscd's store the licensing service uses: the
// licences with their seats, signing keys and audit log, and the
// directory's records a licence names.
type Store interface {
	store.Licenses
	Org(ctx context.Context, id string) (store.Org, error)
	User(ctx context.Context, id string) (store.User, error)
	Product(ctx context.Context, id string) (store.Product, error)
	Products(ctx context.Context) ([]store.Product, error)
}

// New returns the service and registers its request handlers on hub.
// lease <= 0 means DefaultLease. kek wraps the products' signing keys at
// rest (nil: the service signs nothing; SealKeys says why).
func New(st Store, hub *session.Hub, log *slog.Logger, lease time.Duration, kek envelope.Wrapper) *Service {
	if lease <= 0 {
		lease = DefaultLease
	}
	s := &Service{st: st, hub: hub, log: log, lease: lease, now: func() time.Time { return time.Now().UTC() }, keys: keyring{kek: kek}}
	session.Handle(hub, wire.OpLicenseRequest, s.request)
	session.Handle(hub, wire.OpLicenseRenew, s.renew)
	session.Handle(hub, wire.OpLicenseRelease, s.release)
	session.Handle(hub, wire.OpLicenseNotify, s.notify)
	hub.OnEnd(s.sessionEnded)
	return s
}

// audit appends e to the audit log, with its licence's organisation
// when it does not name one (a seat returned when its session ended): the
// log is listed by organisation too (GET /admin/v1/audit?org=).
func (s *Service) audit(ctx context.Context, e store.AuditEntry) {
	e.Time = s.now()
	if e.OrgID == "" && e.LicenseID != "" {
		if l, err := s.st.License(ctx, e.LicenseID); err == nil {
			e.OrgID = l.OrgID
		}
	}
	if err := s.st.AppendAudit(ctx, e); err != nil {
		s.log.Error("licence audit", "event", e.Event, "err", err)
	}
}

// parseDevice checks a fingerprint sent by a client.
func parseDevice(raw string) (device.Fingerprint, error) {
	if raw == "" {
		return device.Fingerprint{}, nil
	}
	fp, err := device.Parse(raw)
	if err != nil {
		return fp, wire.Errorf(wire.CodeBadDevice, "device fingerprint: %v", err)
	}
	return fp, nil
}

// request finds the caller's org a licence for the product and grants it.
func (s *Service) request(ctx context.Context, c session.Caller, req wire.LicenseRequest) (any, error) {
	fp, err := parseDevice(req.Device)
	if err != nil {
		return nil, err
	}
	all, err := s.st.Licenses(ctx, c.OrgID, "")
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, s.refuse(ctx, c, "", wire.Errorf(wire.CodeNotEntitled, "organisation %s has no licence", c.OrgID))
	}
	var mine []store.License
	for _, l := range all {
		if l.ProductID == c.ProductID {
			mine = append(mine, l)
		}
	}
	if len(mine) == 0 {
		return nil, s.refuse(ctx, c, "", wire.Errorf(wire.CodeWrongProduct, "organisation %s has no licence for product %s", c.OrgID, c.ProductID))
	}
	// Active licences first, then by expiry (latest first): the best
	// failure is reported when none can be granted.
	slices.SortStableFunc(mine, func(a, b store.License) int {
		if (a.Status == store.StatusActive) != (b.Status == store.StatusActive) {
			if a.Status == store.StatusActive {
				return -1
			}
			return 1
		}
		return b.ExpiresAt.Compare(a.ExpiresAt)
	})
	var firstErr error
	for _, l := range mine {
		g, err := s.grant(ctx, c, l, req.Device, fp)
		if err == nil {
			s.audit(ctx, store.AuditEntry{LicenseID: l.ID, OrgID: l.OrgID, SessionID: c.Session, UserID: c.UserID, Event: "issued", Detail: l.Kind})
			return g, nil
		}
		var we *wire.Error
		if !errors.As(err, &we) {
			return nil, err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, s.refuse(ctx, c, mine[0].ID, firstErr)
}

func (s *Service) refuse(ctx context.Context, c session.Caller, licenseID string, err error) error {
	s.audit(ctx, store.AuditEntry{LicenseID: licenseID, OrgID: c.OrgID, SessionID: c.Session, UserID: c.UserID, Event: "refused", Detail: err.Error()})
	return err
}

// usable says why l cannot be granted now, or nil.
func (s *Service) usable(l store.License, now time.Time) error {
	switch {
	case l.Status == store.StatusFrozen:
		return wire.Errorf(wire.CodeFrozen, "licence %s is frozen", l.ID)
	case l.Status == store.StatusReleased:
		return wire.Errorf(wire.CodeReleased, "licence %s was released", l.ID)
	case !l.EffectiveAt.IsZero() && now.Before(l.EffectiveAt):
		return wire.Errorf(wire.CodeNotYetValid, "licence %s starts at %s", l.ID, l.EffectiveAt.Format(time.RFC3339))
	case !l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt.Add(l.Grace)):
		return wire.Errorf(wire.CodeExpired, "licence %s expired at %s", l.ID, l.ExpiresAt.Format(time.RFC3339))
	}
	return nil
}

// grant takes a seat of l (or binds the device) and signs a document.
func (s *Service) grant(ctx context.Context, c session.Caller, l store.License, rawDevice string, fp device.Fingerprint) (wire.LicenseGrant, error) {
	now := s.now()
	if err := s.usable(l, now); err != nil {
		return wire.LicenseGrant{}, err
	}
	if err := s.named(ctx, l, c.UserID); err != nil {
		return wire.LicenseGrant{}, err
	}
	seat := store.Seat{LicenseID: l.ID, SessionID: c.Session, UserID: c.UserID, Device: rawDevice, Acquired: now, Renewed: now}
	var err error
	switch l.Kind {
	case store.KindNodeLocked:
		if fp.IsZero() {
			return wire.LicenseGrant{}, wire.Errorf(wire.CodeDeviceRequired, "licence %s is node-locked: a device fingerprint is required", l.ID)
		}
		seat, err = BindDevice(ctx, s.st, seat)
		if errors.Is(err, store.ErrDeviceLimit) {
			return wire.LicenseGrant{}, wire.Errorf(wire.CodeDeviceLimit, "licence %s is already bound to %d devices", l.ID, l.Seats)
		}
	default:
		seat.LeaseExpires = now.Add(s.lease)
		start := time.Now()
		seat, err = AcquireSeat(ctx, s.st, seat)
		s.since("acquire_seat", start)
		if errors.Is(err, store.ErrNotActive) { // frozen or released meanwhile
			if fresh, ferr := s.st.License(ctx, l.ID); ferr == nil && s.usable(fresh, now) != nil {
				return wire.LicenseGrant{}, s.usable(fresh, now)
			}
			return wire.LicenseGrant{}, wire.Errorf(wire.CodeFrozen, "licence %s is not active", l.ID)
		}
		if errors.Is(err, store.ErrNoSeat) {
			return wire.LicenseGrant{}, wire.Errorf(wire.CodeNoSeat, "all %d seats of licence %s are in use", l.Seats, l.ID)
		}
	}
	if err != nil {
		return wire.LicenseGrant{}, err
	}
	return s.sign(ctx, l, seat, fp, now)
}

// named refuses a user that a named-user licence does not list: neither
// authorised by the marketplace (authSync) nor assigned by an operator.
func (s *Service) named(ctx context.Context, l store.License, userID string) error {
	if !l.NamedUsers || slices.Contains(l.Users, userID) {
		return nil
	}
	u, err := s.st.User(ctx, userID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err == nil && u.Authorised && u.Refused() == "" {
		return nil
	}
	return wire.Errorf(wire.CodeNotNamedUser, "licence %s is for named users, and user %s is not one of them (the marketplace did not authorise this user, nor did an operator assign the licence)", l.ID, userID)
}

func sameDevice(a, b string) bool {
	fa, err1 := device.Parse(a)
	fb, err2 := device.Parse(b)
	return err1 == nil && err2 == nil && device.Same(fa, fb)
}

func (s *Service) sign(ctx context.Context, l store.License, seat store.Seat, fp device.Fingerprint, now time.Time) (wire.LicenseGrant, error) {
	key, err := s.SigningKey(ctx, l.ProductID)
	if err != nil {
		return wire.LicenseGrant{}, err
	}
	doc := license.Document{
		ID: l.ID, Product: l.ProductID, Org: l.OrgID, Edition: l.Edition, Features: l.Features,
		Kind: l.Kind, Seat: seat.ID, IssuedAt: now, EffectiveAt: l.EffectiveAt, ExpiresAt: l.ExpiresAt,
		LeaseExpiresAt: seat.LeaseExpires, Grace: l.Grace, LeaseGrace: l.OfflineGrace, Trial: l.Trial,
	}
	if len(fp.MACs)+len(fp.Disks) > 0 || fp.Board != "" || fp.CPU != "" {
		doc.Device = device.Hash(fp, l.ID)
	}
	str, err := license.Sign(doc, key)
	if err != nil {
		return wire.LicenseGrant{}, fmt.Errorf("sign licence %s: %w", l.ID, err)
	}
	return wire.LicenseGrant{License: str, LicenseID: l.ID, Kind: l.Kind, LeaseExpiresAt: seat.LeaseExpires, ExpiresAt: l.ExpiresAt, OfflineGrace: int64(l.OfflineGrace / time.Second)}, nil
}

// renew extends the caller's lease on a licence and signs a fresh document.
// A seat that lapsed meanwhile is taken again if one is free.
func (s *Service) renew(ctx context.Context, c session.Caller, req wire.LicenseRef) (any, error) {
	if req.LicenseID == "" {
		return nil, wire.Errorf(wire.CodeBadRequest, "license.renew needs a licenseId")
	}
	fp, err := parseDevice(req.Device)
	if err != nil {
		return nil, err
	}
	l, err := s.st.License(ctx, req.LicenseID)
	if err != nil || l.OrgID != c.OrgID || l.ProductID != c.ProductID {
		return nil, wire.Errorf(wire.CodeNotFound, "no licence %s for this session", req.LicenseID)
	}
	now := s.now()
	if err := s.usable(l, now); err != nil {
		return nil, err
	}
	if err := s.named(ctx, l, c.UserID); err != nil {
		return nil, err
	}
	if l.Kind == store.KindNodeLocked {
		return s.grant(ctx, c, l, req.Device, fp)
	}
	start := time.Now()
	seat, err := RenewSeat(ctx, s.st, l.ID, c.Session, now.Add(s.lease), now)
	s.since("renew_seat", start)
	if errors.Is(err, store.ErrNotFound) {
		return s.grant(ctx, c, l, req.Device, fp)
	}
	if err != nil {
		return nil, err
	}
	return s.sign(ctx, l, seat, fp, now)
}

// release gives the caller's seat of a licence back.
func (s *Service) release(ctx context.Context, c session.Caller, req wire.LicenseRef) (any, error) {
	if req.LicenseID == "" {
		return nil, wire.Errorf(wire.CodeBadRequest, "license.release needs a licenseId")
	}
	seats, err := s.st.Seats(ctx, req.LicenseID)
	if err != nil {
		return nil, err
	}
	for _, seat := range seats {
		if seat.SessionID == c.Session && floating(seat) {
			if _, err := s.st.ReleaseSeat(ctx, seat.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			s.audit(ctx, store.AuditEntry{LicenseID: req.LicenseID, OrgID: c.OrgID, SessionID: c.Session, UserID: c.UserID, Event: "seat-returned"})
			s.returned(ctx, seat)
		}
	}
	return struct{}{}, nil
}

// notify records the program's own verdict on a licence.
func (s *Service) notify(ctx context.Context, c session.Caller, req wire.LicenseNotify) (any, error) {
	// Only a licence of the caller's own org gets the entry: nobody writes
	// into another org's audit log.
	if req.LicenseID != "" {
		if l, err := s.st.License(ctx, req.LicenseID); err != nil || l.OrgID != c.OrgID {
			return nil, wire.Errorf(wire.CodeNotFound, "no licence %s for this session", req.LicenseID)
		}
	}
	if !s.notifies.allow(c.Session) {
		return nil, wire.Errorf(wire.CodeUnavailable, "more than %d licence verdicts from one session", maxNotifies)
	}
	ev := "verify-ok"
	if !req.Verified {
		ev = "verify-failed"
	}
	s.audit(ctx, store.AuditEntry{LicenseID: req.LicenseID, OrgID: c.OrgID, SessionID: c.Session, UserID: c.UserID, Event: ev, Detail: req.Message})
	return struct{}{}, nil
}

// sessionEnded returns the seats of a session that ended.
func (s *Service) sessionEnded(ctx context.Context, sessionID string) {
	s.notifies.forget(sessionID)
	seats, err := ReleaseSessionSeats(ctx, s.st, sessionID)
	if err != nil {
		s.log.Error("release seats of ended session", "session", sessionID, "err", err)
		return
	}
	for _, seat := range seats {
		s.audit(ctx, store.AuditEntry{LicenseID: seat.LicenseID, SessionID: sessionID, UserID: seat.UserID, Event: "seat-returned", Detail: "session ended"})
		if !seat.LeaseExpires.IsZero() { // floating
			s.returned(ctx, seat)
		}
	}
}
