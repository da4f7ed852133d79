package store

import (
	"context"
	"time"
)

// States of an outbox record.
const (
	OutboxPending = "pending" // waiting to be pushed (NextTry says when)
	OutboxSent    = "sent"    // the marketplace accepted it
	OutboxParked  = "parked"  // refused for good; Reason says why; re-queued by hand
)

// OutboxRecord is one usage record on its way to the marketplace's usage
// push, in the push's terms. SN (metering_sn) is unique: the outbox holds
// each once, and the marketplace bills each once.
type OutboxRecord struct {
	SN         string    `json:"meteringSn"`
	InstanceID string    `json:"instanceId"`
	Begin      time.Time `json:"beginTime"`
	End        time.Time `json:"endTime"`
	Value      float64   `json:"usageValue"` // > 0, at most 4 decimals
	Source     string    `json:"source"`     // "compute": a job attempt's solver hours
	State      string    `json:"state"`
	Attempts   int       `json:"attempts,omitempty"`
	NextTry    time.Time `json:"nextTry,omitzero"`
	Reason     string    `json:"reason,omitempty"` // why it is parked, or the last failure
	Warned     bool      `json:"warned,omitempty"` // near the marketplace's 21-day limit
	Created    time.Time `json:"created"`
	Sent       time.Time `json:"sent,omitzero"`
}

// OutboxStats counts the outbox by state. Oldest is the creation time of
// the oldest pending record (zero when none is pending).
type OutboxStats struct {
	Pending int       `json:"pending"`
	Sent    int       `json:"sent"`
	Parked  int       `json:"parked"`
	Warned  int       `json:"warned"` // pending records flagged near the 21-day limit
	Oldest  time.Time `json:"oldestPending,omitzero"`
}

// Delivery is a licence string getLicenseAsync answered 000004 for, to be
// delivered to the marketplace for its eventId until it is accepted.
type Delivery struct {
	EventID    string    `json:"eventId"`
	InstanceID string    `json:"instanceId"`
	License    string    `json:"license"`
	State      string    `json:"state"` // OutboxPending, OutboxSent or OutboxParked
	Attempts   int       `json:"attempts,omitempty"`
	NextTry    time.Time `json:"nextTry,omitzero"`
	Reason     string    `json:"reason,omitempty"`
	Created    time.Time `json:"created"`
	Sent       time.Time `json:"sent,omitzero"`
}

// Lease is a named lease: Holder holds it until Until.
type Lease struct {
	Holder string    `json:"holder"`
	Until  time.Time `json:"until"`
}

// Outbox is what iscd owes the marketplace: usage records to push,
// licences to deliver, and the leases that let one replica at a time do
// it.
type Outbox interface {
	// EnqueueUsage stores, pending and due at once, the records whose SN
	// the outbox does not hold, and returns how many it stored. A record
	// already held is left exactly as it is, whatever its state.
	EnqueueUsage(ctx context.Context, recs []OutboxRecord) (int, error)
	// DueUsage lists up to limit pending records due at now (NextTry not
	// after it), the oldest Begin first.
	DueUsage(ctx context.Context, now time.Time, limit int) ([]OutboxRecord, error)
	// SaveUsage writes the State, Attempts, NextTry, Reason, Warned and
	// Sent of records the outbox holds (by SN); other SNs are skipped.
	SaveUsage(ctx context.Context, recs []OutboxRecord) error
	// UsageOutbox lists up to limit records in state ("" any), the newest
	// Created first; limit 0: all.
	UsageOutbox(ctx context.Context, state string, limit int) ([]OutboxRecord, error)
	// OutboxStats counts the records.
	OutboxStats(ctx context.Context) (OutboxStats, error)
	// UpdateParked runs fn, in one transaction, on the parked records
	// (sns: those of these SNs; none: every parked record), stores what fn
	// makes of each, and returns how many. Re-queuing them is the pusher's
	// rule (marketpush.RequeueParked).
	UpdateParked(ctx context.Context, sns []string, fn func(OutboxRecord) OutboxRecord) (int, error)

	// EnqueueDelivery stores d, pending and due at once, unless its
	// EventID has one, and returns the stored one: the first wins.
	EnqueueDelivery(ctx context.Context, d Delivery) (Delivery, error)
	// Delivery is the delivery of an eventId; ErrNotFound if none.
	Delivery(ctx context.Context, eventID string) (Delivery, error)
	// DueDeliveries lists up to limit pending deliveries due at now, the
	// oldest first.
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]Delivery, error)
	// SaveDelivery writes the State, Attempts, NextTry, Reason and Sent
	// of a delivery the outbox holds.
	SaveDelivery(ctx context.Context, d Delivery) error

	// OutboxMark and SetOutboxMark keep a named time (the collector's
	// progress through the usage records, the seats it has seen); zero
	// when never set. OutboxMarks lists the marks whose name starts with
	// prefix; DeleteOutboxMark forgets one.
	OutboxMark(ctx context.Context, name string) (time.Time, error)
	SetOutboxMark(ctx context.Context, name string, t time.Time) error
	OutboxMarks(ctx context.Context, prefix string) (map[string]time.Time, error)
	DeleteOutboxMark(ctx context.Context, name string) error

	// UpdateLease runs fn in one transaction on the named lease (zero when
	// there is none): no other UpdateLease of that name runs until fn
	// returns, on any replica. When fn says write, its next lease is
	// stored (a zero one, with no Holder, forgets the name). Who may take
	// a lease is the rule of internal/server/lease.
	UpdateLease(ctx context.Context, name string, fn func(l Lease) (next Lease, write bool)) error
}
