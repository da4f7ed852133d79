package adminapi

import "time"

// The marketplace's other direction: what iscd pushes and asks
// (docs/marketplace.md).
//
//	GET  /admin/v1/marketplace/usage?state=&limit=   reply MarketUsage (newest first; limit default 100)
//	POST /admin/v1/marketplace/usage/requeue         body Requeue; reply Requeued
//	GET  /admin/v1/marketplace/orders/{id}?line=     reply the marketplace's orderInfo, as it answered
type (
	// MarketUsage is the usage outbox: its counts, this replica's pusher
	// and records.
	MarketUsage struct {
		Pending       int           `json:"pending"`
		Sent          int           `json:"sent"`
		Parked        int           `json:"parked"`
		Warned        int           `json:"warned"` // pending, near the marketplace's 21-day limit
		OldestPending time.Time     `json:"oldestPending,omitzero"`
		OldestAge     float64       `json:"oldestPendingSeconds"`
		Pusher        MarketPusher  `json:"pusher"`
		Records       []OutboxEntry `json:"records"`
	}
	// MarketPusher is the pusher of the replica that answered.
	MarketPusher struct {
		Enabled   bool      `json:"enabled"`
		Holder    string    `json:"holder,omitempty"`
		Leader    bool      `json:"leader"`
		LastCycle time.Time `json:"lastCycle,omitzero"`
		LastPush  time.Time `json:"lastPush,omitzero"`
		LastError string    `json:"lastError,omitempty"`
	}
	// OutboxEntry is one usage record of the outbox.
	OutboxEntry struct {
		MeteringSN string    `json:"meteringSn"`
		InstanceID string    `json:"instanceId"`
		Begin      time.Time `json:"begin"`
		End        time.Time `json:"end"`
		Value      float64   `json:"usageValue"`
		State      string    `json:"state"`
		Attempts   int       `json:"attempts,omitempty"`
		Reason     string    `json:"reason,omitempty"`
		Warned     bool      `json:"warned,omitempty"`
		Sent       time.Time `json:"sent,omitzero"`
	}
	// Requeue names parked records to push again (none: all parked).
	Requeue struct {
		MeteringSNs []string `json:"meteringSns,omitempty"`
	}
	// Requeued says how many records went back to pending.
	Requeued struct {
		Requeued int `json:"requeued"`
	}
)
