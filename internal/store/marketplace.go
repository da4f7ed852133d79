package store

import (
	"context"
	"time"
)

// MarketInstance is a cloud-marketplace licence instance. Its ID is also
// the id of the licence it became; this record keeps what the licence
// itself has no room for: the order line and the history of renewals, so
// that a refunded renewal can be undone.
type MarketInstance struct {
	ID          string `json:"id"` // the instanceId, and the licence id
	OrderID     string `json:"orderId"`
	OrderLineID string `json:"orderLineId"`
	CustomerID  string `json:"customerId,omitempty"`
	Test        bool   `json:"test,omitempty"` // created by a call with testFlag 1
	// ChargingMode is the order line's (ON_DEMAND, PERIOD, ...) when the
	// order was queried; "" when not known.
	ChargingMode string    `json:"chargingMode,omitempty"`
	Renewals     []Renewal `json:"renewals,omitempty"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

// Renewal is one renewal period a marketplace order added to an instance.
type Renewal struct {
	OrderID  string    `json:"orderId"`
	Previous time.Time `json:"previous"` // the expiry before this renewal
	Expires  time.Time `json:"expires"`  // the expiry it set
	Refunded bool      `json:"refunded,omitempty"`
}

// MarketLicense is a licence string issued for one marketplace eventId,
// kept so that a retried request gets the very same string.
type MarketLicense struct {
	EventID    string    `json:"eventId"`
	InstanceID string    `json:"instanceId"`
	License    string    `json:"license"`
	Issued     time.Time `json:"issued"`
}

// Marketplace holds the marketplace's instances, the licences issued per
// event and the licence codes it refers to licences by.
type Marketplace interface {
	PutInstance(ctx context.Context, i MarketInstance) error
	Instance(ctx context.Context, id string) (MarketInstance, error)

	// PutMarketLicense stores l unless its EventID has one already, and
	// returns the stored one: the first writer wins, so retries agree.
	PutMarketLicense(ctx context.Context, l MarketLicense) (MarketLicense, error)
	MarketLicense(ctx context.Context, eventID string) (MarketLicense, error)

	// BindLicenseCode maps a licence code (any string, stored by its
	// SHA-256) onto an instance; binding it again moves it.
	BindLicenseCode(ctx context.Context, code, instanceID string) error
	// LicenseCodeInstance is the instance a code is bound to.
	LicenseCodeInstance(ctx context.Context, code string) (string, error)

	// RememberRequest is the replay cache of the production interface,
	// shared by every replica: it keeps key (an authenticated request's
	// signature) until expires, and returns ErrExists when key is kept
	// already and has not expired at now: the request is a replay. It
	// first forgets every key that expired before now.
	RememberRequest(ctx context.Context, key string, now, expires time.Time) error
}
