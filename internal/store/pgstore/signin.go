package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iscsdk/iscsdk/internal/store"
)

// CreateDeviceGrant implements store.SignIns.
func (d *DB) CreateDeviceGrant(ctx context.Context, g store.DeviceGrant) error {
	return d.create(ctx, "device grant "+g.ID, "INSERT INTO device_grants (id, expires, doc) VALUES ($1, $2, $3)", g.ID, g.Expires, mustJSON(g))
}

// UpdateDeviceGrant implements store.SignIns.
func (d *DB) UpdateDeviceGrant(ctx context.Context, id string, change func(*store.DeviceGrant) error) (store.DeviceGrant, error) {
	var g store.DeviceGrant
	err := d.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if g, err = getDoc[store.DeviceGrant](ctx, tx, "device grant "+id, "SELECT doc FROM device_grants WHERE id = $1 FOR UPDATE", id); err != nil {
			return err
		}
		if err := change(&g); err != nil {
			return err
		}
		g.ID = id
		_, err = tx.Exec(ctx, "UPDATE device_grants SET expires = $2, doc = $3 WHERE id = $1", id, g.Expires, mustJSON(g))
		return err
	})
	return g, err
}

// DeleteDeviceGrant implements store.SignIns.
func (d *DB) DeleteDeviceGrant(ctx context.Context, id string) error {
	_, err := d.pool.Exec(ctx, "DELETE FROM device_grants WHERE id = $1", id)
	return err
}

// DeleteExpiredDeviceGrants implements store.SignIns.
func (d *DB) DeleteExpiredDeviceGrants(ctx context.Context, t time.Time) (int, error) {
	tag, err := d.pool.Exec(ctx, "DELETE FROM device_grants WHERE expires < $1", t)
	if err != nil {
		return 0, fmt.Errorf("expired device grants: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// CreateRefreshFamily implements store.SignIns.
func (d *DB) CreateRefreshFamily(ctx context.Context, f store.RefreshFamily) error {
	return d.create(ctx, "refresh family "+f.ID, "INSERT INTO refresh_families (id, user_id, doc) VALUES ($1, $2, $3)", f.ID, f.UserID, mustJSON(f))
}

// RefreshFamily implements store.SignIns.
func (d *DB) RefreshFamily(ctx context.Context, id string) (store.RefreshFamily, error) {
	return getDoc[store.RefreshFamily](ctx, d.pool, "refresh family "+id, "SELECT doc FROM refresh_families WHERE id = $1", id)
}

// UpdateRefreshFamily implements store.SignIns.
func (d *DB) UpdateRefreshFamily(ctx context.Context, id string, change func(*store.RefreshFamily) error) (store.RefreshFamily, error) {
	var f store.RefreshFamily
	err := d.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if f, err = getDoc[store.RefreshFamily](ctx, tx, "refresh family "+id, "SELECT doc FROM refresh_families WHERE id = $1 FOR UPDATE", id); err != nil {
			return err
		}
		userID := f.UserID
		if err := change(&f); err != nil {
			return err
		}
		f.ID, f.UserID = id, userID
		_, err = tx.Exec(ctx, "UPDATE refresh_families SET doc = $2 WHERE id = $1", id, mustJSON(f))
		return err
	})
	return f, err
}
