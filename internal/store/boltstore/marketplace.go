package boltstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iscsdk/iscsdk/internal/store"
)

var (
	bktMarketInstances = []byte("marketinstances")
	bktMarketLicenses  = []byte("marketlicenses") // key: eventId
	bktMarketCodes     = []byte("marketcodes")    // key: hex SHA-256 of the code; value: instance id
	bktMarketRequests  = []byte("marketrequests") // key: a request's signature; value: expiry, unix ns (8 bytes)
)

// PutInstance implements store.Marketplace.
func (d *DB) PutInstance(_ context.Context, i store.MarketInstance) error {
	return d.db.Update(func(tx *bolt.Tx) error { return put(tx, bktMarketInstances, i.ID, i, false) })
}

// Instance implements store.Marketplace.
func (d *DB) Instance(_ context.Context, id string) (store.MarketInstance, error) {
	return getNamed[store.MarketInstance](d, bktMarketInstances, "marketplace instance", id)
}

// PutMarketLicense implements store.Marketplace. The check and the write
// are one transaction, so two concurrent retries store one licence.
func (d *DB) PutMarketLicense(_ context.Context, l store.MarketLicense) (store.MarketLicense, error) {
	err := d.db.Update(func(tx *bolt.Tx) error {
		old, err := getTx[store.MarketLicense](tx, bktMarketLicenses, l.EventID)
		if err == nil {
			l = old
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return put(tx, bktMarketLicenses, l.EventID, l, true)
	})
	if err != nil {
		return store.MarketLicense{}, fmt.Errorf("marketplace event %q: %w", l.EventID, err)
	}
	return l, nil
}

// MarketLicense implements store.Marketplace.
func (d *DB) MarketLicense(_ context.Context, eventID string) (store.MarketLicense, error) {
	return getNamed[store.MarketLicense](d, bktMarketLicenses, "marketplace event", eventID)
}

func codeKey(code string) []byte {
	sum := sha256.Sum256([]byte(code))
	return []byte(hex.EncodeToString(sum[:]))
}

// BindLicenseCode implements store.Marketplace.
func (d *DB) BindLicenseCode(_ context.Context, code, instanceID string) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bktMarketCodes).Put(codeKey(code), []byte(instanceID))
	})
}

// LicenseCodeInstance implements store.Marketplace.
func (d *DB) LicenseCodeInstance(_ context.Context, code string) (string, error) {
	var id string
	err := d.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bktMarketCodes).Get(codeKey(code))
		if v == nil {
			return fmt.Errorf("licence code: %w", store.ErrNotFound)
		}
		id = string(v)
		return nil
	})
	return id, err
}

// RememberRequest implements store.Marketplace. The bucket holds only
// authenticated calls of the last two minutes or so (a few a minute), so
// forgetting the expired ones scans it whole.
func (d *DB) RememberRequest(_ context.Context, key string, now, expires time.Time) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktMarketRequests)
		var stale [][]byte
		err := b.ForEach(func(k, v []byte) error {
			if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) < now.UnixNano() {
				stale = append(stale, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		if b.Get([]byte(key)) != nil {
			return fmt.Errorf("marketplace request: %w", store.ErrExists)
		}
		return b.Put([]byte(key), binary.BigEndian.AppendUint64(nil, uint64(expires.UnixNano())))
	})
}
