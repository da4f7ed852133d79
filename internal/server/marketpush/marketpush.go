// Package marketpush is what iscd owes the marketplace, delivered: the
// usage of pay-per-use instances (compute metered when jobs finish) pushed
// as usage records, and the licences getLicenseAsync answered 000004 for.
// Both wait in the store's outbox until the marketplace accepts them, so a
// crash, a timeout or an outage loses nothing; every record keeps its
// metering_sn across retries, so the marketplace bills it once. One
// replica at a time pushes: the one holding the store's lease.
package marketpush

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/marketapi"
	"github.com/iscsdk/iscsdk/internal/server/lease"
	"github.com/iscsdk/iscsdk/internal/store"
)

// LeaseName is the store lease the pushing replica holds.
const LeaseName = "marketplace-push"

// MarkCollected is the outbox mark of the usage records collected so far.
const MarkCollected = "usage-collected"

// Limit is the marketplace's: a record whose begin_time is older is
// refused (MKT.9004).
const Limit = 21 * 24 * time.Hour

// collectSlack is how far before the mark each collection looks again: a
// job finished on another replica may commit its record a little after
// its end time. Records already held are skipped by metering_sn.
const collectSlack = 10 * time.Minute

// Marketplace is the part of marketapi.Client the pusher uses.
type Marketplace interface {
	PushUsage(ctx context.Context, recs []marketapi.UsageRecord) error
	DeliverLicense(ctx context.Context, d marketapi.Delivery) error
}

// Config tunes the pusher; zero values take the defaults.
type Config struct {
	Interval   time.Duration // between pushes: 1 minute
	Batch      int           // records per push: marketapi.MaxBatch
	Lease      time.Duration // the push lease: 2 minutes
	MinBackoff time.Duration // the first retry's wait: 30 s (doubling, with jitter)
	MaxBackoff time.Duration // the longest: 1 hour
	Warn       time.Duration // flag records this old (by begin_time): 18 days
	Holder     string        // this replica's name in the lease: random
	// ComputeUnit is what a solve's usage_value counts: UnitCoreSeconds
	// (the default), UnitCoreHours, UnitSolverSeconds or UnitSolverHours.
	// It must be the unit of the product's metered SKU on the marketplace.
	ComputeUnit string
}

// Units of compute usage. Core time is the solver's CPU time as the worker
// measured it (all of its processes, every core); solver time is its wall
// time. A solve whose CPU time was not measured (0) is billed its wall
// time as core time: one core.
const (
	UnitCoreSeconds   = "core-seconds"
	UnitCoreHours     = "core-hours"
	UnitSolverSeconds = "solver-seconds"
	UnitSolverHours   = "solver-hours"
)

// CheckUnit says whether unit is one of the units above.
func CheckUnit(unit string) error {
	switch unit {
	case UnitCoreSeconds, UnitCoreHours, UnitSolverSeconds, UnitSolverHours:
		return nil
	}
	return fmt.Errorf("marketpush: compute unit %q: want %s, %s, %s or %s", unit, UnitCoreSeconds, UnitCoreHours, UnitSolverSeconds, UnitSolverHours)
}

// Pusher pushes the outbox.
type Pusher struct {
	st   Store
	mkt  Marketplace
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	kick chan struct{}

	mu   sync.Mutex
	last Status
}

// Status is what this replica's pusher did last.
type Status struct {
	Holder    string    `json:"holder"`
	Leader    bool      `json:"leader"` // it held the lease at its last cycle
	LastCycle time.Time `json:"lastCycle,omitzero"`
	LastPush  time.Time `json:"lastPush,omitzero"`
	LastError string    `json:"lastError,omitempty"`
}

// Store is the part of iscd's store the pusher uses: the outbox, and what
// it collects usage from (the organisations' usage records, the
// marketplace's instances and the seats of their licences).
type Store interface {
	store.Outbox
	Orgs(ctx context.Context) ([]store.Org, error)
	Usage(ctx context.Context, orgID string, from, to time.Time) ([]store.UsageRecord, error)
	Instance(ctx context.Context, id string) (store.MarketInstance, error)
	Licenses(ctx context.Context, orgID, productID string) ([]store.License, error)
	Seats(ctx context.Context, licenseID string) ([]store.Seat, error)
}

// New returns a pusher; Run starts it.
func New(st Store, mkt Marketplace, cfg Config, log *slog.Logger) *Pusher {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Batch <= 0 || cfg.Batch > marketapi.MaxBatch {
		cfg.Batch = marketapi.MaxBatch
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 30 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Hour
	}
	if cfg.Warn <= 0 {
		cfg.Warn = 18 * 24 * time.Hour
	}
	if cfg.ComputeUnit == "" {
		cfg.ComputeUnit = UnitCoreSeconds
	}
	if cfg.Holder == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		cfg.Holder = "iscd-" + hex.EncodeToString(b)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pusher{st: st, mkt: mkt, cfg: cfg, log: log, now: func() time.Time { return time.Now().UTC() },
		kick: make(chan struct{}, 1), last: Status{Holder: cfg.Holder}}
}

// Status is this replica's last cycle.
func (p *Pusher) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// Kick asks for a cycle now (a new record, a re-queue).
func (p *Pusher) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run pushes every Interval (or when kicked) while this replica holds the
// lease, until ctx ends; then it gives the lease up.
func (p *Pusher) Run(ctx context.Context) {
	defer lease.Release(context.WithoutCancel(ctx), p.st, LeaseName, p.cfg.Holder)
	for {
		res, err := p.Cycle(ctx)
		if err != nil && ctx.Err() == nil {
			p.log.Warn("marketplace push", "err", err)
		}
		wait := p.cfg.Interval
		if !res.NextRetry.IsZero() {
			wait = min(wait, max(time.Until(res.NextRetry), 0))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-p.kick:
			t.Stop()
		}
	}
}

// Result counts one cycle's work.
type Result struct {
	Leader    bool
	Collected int
	Sent      int
	Parked    int
	Retried   int
	Warned    int
	Delivered int
	NextRetry time.Time // the earliest retry this cycle scheduled (zero: none)
}

func (r *Result) retryAt(t time.Time) {
	if r.NextRetry.IsZero() || t.Before(r.NextRetry) {
		r.NextRetry = t
	}
}

// Cycle collects new usage and pushes what is due, if this replica holds
// (or gets) the lease.
func (p *Pusher) Cycle(ctx context.Context) (Result, error) {
	var res Result
	now := p.now()
	ok, err := lease.Take(ctx, p.st, LeaseName, p.cfg.Holder, now, now.Add(p.cfg.Lease))
	if err != nil {
		return res, err
	}
	res.Leader = ok
	defer func() {
		p.mu.Lock()
		p.last.Leader, p.last.LastCycle = ok, now
		if err != nil {
			p.last.LastError = err.Error()
		}
		p.mu.Unlock()
	}()
	if !ok {
		return res, nil
	}
	if res.Collected, err = p.collect(ctx, now); err != nil {
		return res, err
	}
	if err = p.push(ctx, &res); err != nil {
		return res, err
	}
	err = p.deliver(ctx, &res)
	return res, err
}

// renew keeps the lease through a long cycle; false: it was lost.
func (p *Pusher) renew(ctx context.Context) bool {
	now := p.now()
	ok, err := lease.Take(ctx, p.st, LeaseName, p.cfg.Holder, now, now.Add(p.cfg.Lease))
	return err == nil && ok
}

// collect turns the compute usage of marketplace instances into outbox
// records: every store usage record ended since the last collection (less
// a slack) whose licence is a marketplace instance.
func (p *Pusher) collect(ctx context.Context, now time.Time) (int, error) {
	mark, err := p.st.OutboxMark(ctx, MarkCollected)
	if err != nil {
		return 0, err
	}
	// The first collection looks back as far as the marketplace still
	// bills (21 days), not over the whole history.
	from := now.Add(-Limit)
	if !mark.IsZero() {
		from = mark.Add(-collectSlack)
	}
	orgs, err := p.st.Orgs(ctx)
	if err != nil {
		return 0, err
	}
	market := map[string]bool{}
	var recs []store.OutboxRecord
	for _, o := range orgs {
		us, err := p.st.Usage(ctx, o.ID, from, now.Add(time.Second))
		if err != nil {
			return 0, fmt.Errorf("usage of %s: %w", o.ID, err)
		}
		for _, u := range us {
			if u.LicenseID == "" {
				continue
			}
			is, seen := market[u.LicenseID]
			if !seen {
				_, err := p.st.Instance(ctx, u.LicenseID)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return 0, err
				}
				is = err == nil
				market[u.LicenseID] = is
			}
			if is {
				recs = append(recs, Record(u, p.cfg.ComputeUnit, now))
			}
		}
	}
	seats, err := p.seatTime(ctx, orgs, now)
	if err != nil {
		return 0, err
	}
	n := len(seats) // queued already (some perhaps before)
	for len(recs) > 0 {
		chunk := recs[:min(len(recs), 1000)]
		recs = recs[len(chunk):]
		added, err := p.st.EnqueueUsage(ctx, chunk)
		if err != nil {
			return n, err
		}
		n += added
	}
	return n, p.st.SetOutboxMark(ctx, MarkCollected, now)
}

// Record is the outbox record of a compute usage record: its time in unit
// (CheckUnit), rounded up to 4 decimals (so never 0), metering_sn the
// usage record's (job id "-" attempt).
func Record(u store.UsageRecord, unit string, now time.Time) store.OutboxRecord {
	v := u.SolverSeconds
	if (unit == UnitCoreSeconds || unit == UnitCoreHours) && u.CPUSeconds > 0 {
		v = u.CPUSeconds
	}
	if unit == UnitCoreHours || unit == UnitSolverHours {
		v /= 3600
	}
	return store.OutboxRecord{SN: u.SN, InstanceID: u.LicenseID, Begin: u.Begin.UTC(), End: u.End.UTC(),
		Value: max(math.Ceil(v*1e4)/1e4, 0.0001), Source: "compute",
		State: store.OutboxPending, NextTry: now, Created: now}
}

// permanent codes park records: fixing them needs a person. A push
// refused with one of them is first split, to find the records at fault
// (MKT.9003, too many records, is cured by the split itself).
var permanent = map[string]bool{
	marketapi.CodeNoInstance: true, marketapi.CodeEntities: true, marketapi.CodeInput: true,
	marketapi.CodeParam: true, marketapi.CodeTooOld: true, marketapi.CodeRequest: true,
	marketapi.CodeTooMany: true,
}

// Permanent reports whether the marketplace refused for good (the records
// are parked); everything else — timeouts, 5xx, MKT.0999, a signature or
// gateway failure a key fix cures — is retried.
func Permanent(err error) bool {
	var e *marketapi.Error
	return errors.As(err, &e) && permanent[e.Code] && e.Status < 500
}

func (p *Pusher) push(ctx context.Context, res *Result) error {
	for {
		now := p.now()
		due, err := p.st.DueUsage(ctx, now, p.cfg.Batch)
		if err != nil || len(due) == 0 {
			return err
		}
		var send, save []store.OutboxRecord
		for _, r := range due {
			age := now.Sub(r.Begin)
			switch {
			case age > Limit:
				r.State, r.Reason = store.OutboxParked, marketapi.CodeTooOld+": not sent, begin_time is more than 21 days old"
				res.Parked++
				p.log.Error("marketplace usage record too old to bill", "meteringSn", r.SN, "instance", r.InstanceID, "begin", r.Begin)
				save = append(save, r)
				continue
			case age > p.cfg.Warn && !r.Warned:
				r.Warned = true
				res.Warned++
				p.log.Warn("marketplace usage record nears the 21-day limit", "meteringSn", r.SN, "instance", r.InstanceID,
					"begin", r.Begin, "left", (Limit - age).Round(time.Minute))
				save = append(save, r)
			}
			send = append(send, r)
		}
		if len(save) > 0 {
			if err := p.st.SaveUsage(ctx, save); err != nil {
				return err
			}
		}
		if len(send) > 0 {
			retried := res.Retried
			if err := p.send(ctx, send, res); err != nil {
				return err
			}
			if res.Retried > retried {
				return nil // the marketplace is failing: the rest waits for the retry
			}
		}
		if len(due) < p.cfg.Batch || !p.renew(ctx) {
			return nil
		}
	}
}

// send pushes one batch. A permanent refusal of several records is split
// in halves until the refused records are found, so one bad record does
// not park its batch.
func (p *Pusher) send(ctx context.Context, recs []store.OutboxRecord, res *Result) error {
	body := make([]marketapi.UsageRecord, len(recs))
	for i, r := range recs {
		body[i] = marketapi.UsageRecord{InstanceID: r.InstanceID, RecordTime: r.End.Format(marketapi.TimeLayout),
			BeginTime: r.Begin.Format(marketapi.TimeLayout), EndTime: r.End.Format(marketapi.TimeLayout),
			UsageValue: marketapi.Value(r.Value), MeteringSN: r.SN}
	}
	err := p.mkt.PushUsage(ctx, body)
	if ctx.Err() != nil {
		return ctx.Err() // stopping: the records stay pending as they were
	}
	now := p.now()
	switch {
	case err == nil:
		for i := range recs {
			recs[i].State, recs[i].Sent, recs[i].Reason = store.OutboxSent, now, ""
			recs[i].Attempts++
		}
		res.Sent += len(recs)
		p.mu.Lock()
		p.last.LastPush, p.last.LastError = now, ""
		p.mu.Unlock()
	case Permanent(err) && len(recs) > 1:
		half := len(recs) / 2
		if err := p.send(ctx, recs[:half], res); err != nil {
			return err
		}
		return p.send(ctx, recs[half:], res)
	case Permanent(err):
		recs[0].State, recs[0].Reason = store.OutboxParked, err.Error()
		recs[0].Attempts++
		res.Parked++
		p.log.Error("marketplace refused a usage record; parked", "meteringSn", recs[0].SN, "instance", recs[0].InstanceID, "err", err)
	default:
		for i := range recs {
			recs[i].Attempts++
			recs[i].Reason = err.Error()
			recs[i].NextTry = now.Add(p.backoff(recs[i].Attempts))
			res.retryAt(recs[i].NextTry)
		}
		res.Retried += len(recs)
		p.mu.Lock()
		p.last.LastError = err.Error()
		p.mu.Unlock()
		p.log.Warn("marketplace usage push failed; retried later", "records", len(recs), "err", err)
	}
	return p.st.SaveUsage(ctx, recs)
}

// backoff is the wait before attempt+1: doubling from MinBackoff up to
// MaxBackoff, each a random 50–100 % of that (jitter, so replicas and
// records spread out).
func (p *Pusher) backoff(attempts int) time.Duration {
	d := p.cfg.MinBackoff << min(attempts-1, 20)
	if d <= 0 || d > p.cfg.MaxBackoff {
		d = p.cfg.MaxBackoff
	}
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

// deliver hands the marketplace the licences it is owed; a failure is
// retried later, whatever it was, until the marketplace accepts.
func (p *Pusher) deliver(ctx context.Context, res *Result) error {
	due, err := p.st.DueDeliveries(ctx, p.now(), 100)
	if err != nil {
		return err
	}
	for _, d := range due {
		err := p.mkt.DeliverLicense(ctx, marketapi.Delivery{EventID: d.EventID, InstanceID: d.InstanceID, License: d.License})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		now := p.now()
		d.Attempts++
		failed := err != nil
		if !failed {
			d.State, d.Sent, d.Reason = store.OutboxSent, now, ""
			res.Delivered++
		} else {
			d.Reason, d.NextTry = err.Error(), now.Add(p.backoff(d.Attempts))
			res.retryAt(d.NextTry)
			p.log.Warn("marketplace licence delivery failed; retried later", "eventId", d.EventID, "err", err)
		}
		if err := p.st.SaveDelivery(ctx, d); err != nil {
			return err
		}
		if failed {
			return nil // the marketplace is failing: the others wait for the next cycle
		}
	}
	return nil
}

// seatMark prefixes the marks of the seats seatTime has seen.
const seatMark = "seat|"

// seatTime meters the seat time of pay-per-use (ON_DEMAND) instances, as
// one record per seat and hour, metering_sn "seat-<seat id>-<yyyyMMddHH>":
// an hour once it has passed while the seat is held, and the seat's last
// hour once the seat is gone, up to the last renewal seen. Each cycle
// notes every seat held in two marks (the last renewal seen, the end of
// the hours already queued), so a restart or another replica carries on.
// A seat taken and given back between two cycles is noted by SeatReturned.
func (p *Pusher) seatTime(ctx context.Context, orgs []store.Org, now time.Time) ([]store.OutboxRecord, error) {
	var out []store.OutboxRecord
	live := map[string]bool{}
	for _, o := range orgs {
		ls, err := p.st.Licenses(ctx, o.ID, "")
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			in, err := p.st.Instance(ctx, l.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if in.ChargingMode != "ON_DEMAND" {
				continue
			}
			seats, err := p.st.Seats(ctx, l.ID)
			if err != nil {
				return nil, err
			}
			for _, st := range seats {
				key := seatKey(st)
				live[key] = true
				seen := earliest(latest(st.Renewed, st.Acquired), now)
				if err := p.st.SetOutboxMark(ctx, key+"|seen", seen); err != nil {
					return nil, err
				}
				recs, err := p.seatHours(ctx, key, l.ID, st.ID, st.Acquired.UTC(), now.Truncate(time.Hour), now)
				if err != nil {
					return nil, err
				}
				out = append(out, recs...)
			}
		}
	}
	marks, err := p.st.OutboxMarks(ctx, seatMark)
	if err != nil {
		return nil, err
	}
	for name, seen := range marks {
		key, ok := strings.CutSuffix(name, "|seen")
		if !ok || live[key] {
			continue
		}
		// The seat is gone: its hours up to the last renewal seen.
		parts := strings.Split(strings.TrimPrefix(key, seatMark), "|")
		if len(parts) != 3 {
			continue
		}
		ns, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil {
			continue
		}
		recs, err := p.seatHours(ctx, key, parts[0], parts[1], time.Unix(0, ns).UTC(), seen.Add(time.Hour).Truncate(time.Hour), seen)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
		for _, m := range []string{key + "|seen", key + "|done"} {
			if err := p.st.DeleteOutboxMark(ctx, m); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// seatKey names the marks of a seat.
func seatKey(st store.Seat) string {
	return seatMark + st.LicenseID + "|" + st.ID + "|" + strconv.FormatInt(st.Acquired.UnixNano(), 10)
}

// SeatReturned notes that a seat was given back, held until held (for
// licensing.Service.OnSeatReturned): the next cycle meters it up to then,
// although no cycle saw it held. Only seats of pay-per-use (ON_DEMAND)
// instances are noted.
func (p *Pusher) SeatReturned(ctx context.Context, st store.Seat, held time.Time) {
	in, err := p.st.Instance(ctx, st.LicenseID)
	if err != nil || in.ChargingMode != "ON_DEMAND" {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			p.log.Error("seat returned: read its instance", "license", st.LicenseID, "err", err)
		}
		return
	}
	if err := p.st.SetOutboxMark(ctx, seatKey(st)+"|seen", earliest(held, p.now()).UTC()); err != nil {
		p.log.Error("seat returned: note it for metering", "license", st.LicenseID, "seat", st.ID, "err", err)
	}
}

// seatHours is the records of a seat held from acquired to held, for the
// hours that start after the mark key|done and end by until (the hour in
// progress while the seat is held; the last one once it is gone). The
// mark moves to until.
func (p *Pusher) seatHours(ctx context.Context, key, instance, seat string, acquired, until, held time.Time) ([]store.OutboxRecord, error) {
	done, err := p.st.OutboxMark(ctx, key+"|done")
	if err != nil {
		return nil, err
	}
	from := latest(latest(acquired.Truncate(time.Hour), done), p.now().Add(-Limit).Truncate(time.Hour))
	var out []store.OutboxRecord
	now := p.now()
	for h := from; h.Before(until); h = h.Add(time.Hour) {
		begin, end := latest(h, acquired), earliest(h.Add(time.Hour), held)
		if !end.After(begin) {
			continue
		}
		out = append(out, store.OutboxRecord{SN: "seat-" + seat + "-" + h.Format("2006010215"), InstanceID: instance,
			Begin: begin, End: end, Value: max(math.Ceil(end.Sub(begin).Hours()*1e4)/1e4, 0.0001), Source: "seat",
			State: store.OutboxPending, NextTry: now, Created: now})
	}
	// Queued before the mark moves: a crash between the two queues
	// them again, which the metering numbers make harmless.
	if _, err := p.st.EnqueueUsage(ctx, out); err != nil {
		return nil, err
	}
	if until.After(done) {
		if err := p.st.SetOutboxMark(ctx, key+"|done", until); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
