// Package lease is the rule of named leases, which let one replica at a
// time do a job (push the outbox to the marketplace, deliver a licence,
// claim an activation): written once, above the store, and run in its
// store.Outbox.UpdateLease transaction, so it holds on the embedded store
// and across replicas on PostgreSQL alike.
package lease

import (
	"context"

	"time"

	"github.com/iscsdk/iscsdk/internal/store"
)

// Updater is the part of the store leases need.
type Updater interface {
	UpdateLease(ctx context.Context, name string, fn func(l store.Lease) (next store.Lease, write bool)) error
}

// Take gives holder the named lease until until when it is free, lapsed
// at now, or holder's already (a renewal), and reports whether holder
// holds it.
func Take(ctx context.Context, st Updater, name, holder string, now, until time.Time) (bool, error) {
	held := false
	err := st.UpdateLease(ctx, name, func(l store.Lease) (store.Lease, bool) {
		if l.Holder != "" && l.Holder != holder && !l.Until.Before(now) {
			return l, false
		}
		held = true
		return store.Lease{Holder: holder, Until: until}, true
	})
	if err != nil {
		return false, err
	}
	return held, nil
}

// Release gives the named lease up if holder holds it.
func Release(ctx context.Context, st Updater, name, holder string) error {
	return st.UpdateLease(ctx, name, func(l store.Lease) (store.Lease, bool) {
		return store.Lease{}, l.Holder == holder && holder != ""
	})
}
