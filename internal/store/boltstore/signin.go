package boltstore

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iscsdk/iscsdk/internal/store"
)

var (
	bktDeviceGrants    = []byte("devicegrants")    // key: grant id
	bktRefreshFamilies = []byte("refreshfamilies") // key: family id
)

// signInBuckets are created at Open.
var signInBuckets = [][]byte{bktDeviceGrants, bktRefreshFamilies, bktBrowserFlows, bktOIDCProviders, bktUserLinks}

// CreateDeviceGrant implements store.SignIns.
func (d *DB) CreateDeviceGrant(_ context.Context, g store.DeviceGrant) error {
	return d.db.Update(func(tx *bolt.Tx) error { return put(tx, bktDeviceGrants, g.ID, g, true) })
}

// UpdateDeviceGrant implements store.SignIns.
func (d *DB) UpdateDeviceGrant(_ context.Context, id string, change func(*store.DeviceGrant) error) (store.DeviceGrant, error) {
	return update(d, bktDeviceGrants, "device grant", id, change, func(_, g *store.DeviceGrant) { g.ID = id })
}

// DeleteDeviceGrant implements store.SignIns.
func (d *DB) DeleteDeviceGrant(_ context.Context, id string) error {
	return d.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bktDeviceGrants).Delete([]byte(id)) })
}

// DeleteExpiredDeviceGrants implements store.SignIns.
func (d *DB) DeleteExpiredDeviceGrants(_ context.Context, t time.Time) (int, error) {
	return deleteWhere(d, bktDeviceGrants, "device grant", func(g store.DeviceGrant) bool { return g.Expires.Before(t) })
}

// CreateRefreshFamily implements store.SignIns.
func (d *DB) CreateRefreshFamily(_ context.Context, f store.RefreshFamily) error {
	return d.db.Update(func(tx *bolt.Tx) error { return put(tx, bktRefreshFamilies, f.ID, f, true) })
}

// RefreshFamily implements store.SignIns.
func (d *DB) RefreshFamily(_ context.Context, id string) (store.RefreshFamily, error) {
	return getNamed[store.RefreshFamily](d, bktRefreshFamilies, "refresh family", id)
}

// UpdateRefreshFamily implements store.SignIns.
func (d *DB) UpdateRefreshFamily(_ context.Context, id string, change func(*store.RefreshFamily) error) (store.RefreshFamily, error) {
	return update(d, bktRefreshFamilies, "refresh family", id, change, func(was, f *store.RefreshFamily) { f.ID, f.UserID = id, was.UserID })
}

// update reads a record, lets change edit it, lets keep restore what may
// not change (keep gets the record as read and as changed) and writes it
// back, in one transaction.
func update[T any](d *DB, bkt []byte, what, id string, change func(*T) error, keep func(was, v *T)) (T, error) {
	var v T
	err := d.db.Update(func(tx *bolt.Tx) error {
		var err error
		if v, err = getTx[T](tx, bkt, id); err != nil {
			return fmt.Errorf("%s %q: %w", what, id, err)
		}
		was := v
		if err := change(&v); err != nil {
			return err
		}
		keep(&was, &v)
		return put(tx, bkt, id, v, false)
	})
	return v, err
}
