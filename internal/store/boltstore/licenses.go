package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/iscsdk/iscsdk/internal/store"
)

var (
	bktLicenses = []byte("licenses")
	bktSeats    = []byte("seats")
	bktKeys     = []byte("productkeys") // key: product + "/" + key id
	bktAudit    = []byte("audit")       // one sub-bucket per licence, keyed by sequence
)

// PutLicense implements store.Licenses.
func (d *DB) PutLicense(_ context.Context, l store.License) error {
	return d.db.Update(func(tx *bolt.Tx) error { return put(tx, bktLicenses, l.ID, l, false) })
}

// License implements store.Licenses.
func (d *DB) License(_ context.Context, id string) (store.License, error) {
	return get[store.License](d, bktLicenses, id)
}

// Licenses implements store.Licenses.
func (d *DB) Licenses(_ context.Context, orgID, productID string) ([]store.License, error) {
	return list(d, bktLicenses, func(l store.License) bool {
		return (orgID == "" || l.OrgID == orgID) && (productID == "" || l.ProductID == productID)
	})
}

// seatsOf reads a licence's seats inside tx.
func seatsOf(tx *bolt.Tx, licenseID string) ([]store.Seat, error) {
	var out []store.Seat
	err := tx.Bucket(bktSeats).ForEach(func(_, v []byte) error {
		var s store.Seat
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		if licenseID == "" || s.LicenseID == licenseID {
			out = append(out, s)
		}
		return nil
	})
	return out, err
}

// UpdateSeats implements store.Licenses: bbolt's one writer at a time is
// the licence's lock.
func (d *DB) UpdateSeats(_ context.Context, licenseID string, fn func(store.SeatTx, store.License) error) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		l, err := getTx[store.License](tx, bktLicenses, licenseID)
		if err != nil {
			return err
		}
		return fn(seatTx{tx: tx, license: licenseID}, l)
	})
}

// seatTx is store.SeatTx in a bbolt transaction.
type seatTx struct {
	tx      *bolt.Tx
	license string
}

func (s seatTx) Seats(sessionID string) ([]store.Seat, error) {
	seats, err := seatsOf(s.tx, s.license)
	if err != nil || sessionID == "" {
		return seats, err
	}
	var out []store.Seat
	for _, seat := range seats {
		if seat.SessionID == sessionID {
			out = append(out, seat)
		}
	}
	return out, nil
}

func (s seatTx) PutSeat(seat store.Seat) error {
	seat.LicenseID = s.license
	return put(s.tx, bktSeats, seat.ID, seat, false)
}

func (s seatTx) DeleteSeats(ids ...string) error {
	for _, id := range ids {
		if err := s.tx.Bucket(bktSeats).Delete([]byte(id)); err != nil {
			return err
		}
	}
	return nil
}

// Seats implements store.Licenses.
func (d *DB) Seats(_ context.Context, licenseID string) ([]store.Seat, error) {
	var out []store.Seat
	err := d.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = seatsOf(tx, licenseID)
		return err
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Acquired.Before(out[j].Acquired) })
	return out, err
}

// ReleaseSeat implements store.Licenses.
func (d *DB) ReleaseSeat(_ context.Context, seatID string) (store.Seat, error) {
	var s store.Seat
	err := d.db.Update(func(tx *bolt.Tx) error {
		var err error
		if s, err = getTx[store.Seat](tx, bktSeats, seatID); err != nil {
			return err
		}
		return tx.Bucket(bktSeats).Delete([]byte(seatID))
	})
	return s, err
}

// DeleteSessionSeats implements store.Licenses.
func (d *DB) DeleteSessionSeats(_ context.Context, sessionID string, which func(store.Seat) bool) ([]store.Seat, error) {
	var out []store.Seat
	err := d.db.Update(func(tx *bolt.Tx) error {
		out = nil
		seats, err := seatsOf(tx, "")
		if err != nil {
			return err
		}
		for _, s := range seats {
			if s.SessionID == sessionID && which(s) {
				if err := tx.Bucket(bktSeats).Delete([]byte(s.ID)); err != nil {
					return err
				}
				out = append(out, s)
			}
		}
		return nil
	})
	return out, err
}

// PutProductKey implements store.Licenses.
func (d *DB) PutProductKey(_ context.Context, k store.ProductKey) error {
	return d.db.Update(func(tx *bolt.Tx) error { return put(tx, bktKeys, k.ProductID+"/"+k.ID, k, false) })
}

// ProductKeys implements store.Licenses: a product's keys, oldest first.
// The product's keys are the records under "<product>/" (a product id
// holds no '/'): read by seeking there, not by reading every product's.
func (d *DB) ProductKeys(_ context.Context, productID string) ([]store.ProductKey, error) {
	keys := []store.ProductKey{}
	prefix := []byte(productID + "/")
	err := d.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktKeys).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var pk store.ProductKey
			if err := json.Unmarshal(v, &pk); err != nil {
				return err
			}
			if pk.ProductID == productID {
				keys = append(keys, pk)
			}
		}
		return nil
	})
	sort.Slice(keys, func(i, j int) bool { return keys[i].Created.Before(keys[j].Created) })
	return keys, err
}

// AppendAudit implements store.Licenses.
func (d *DB) AppendAudit(_ context.Context, e store.AuditEntry) error {
	return d.batch.do(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bktAudit).CreateBucketIfNotExists([]byte(e.LicenseID + "\x00"))
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		data, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return b.Put(seqKey(seq), data)
	})
}

// Audit implements store.Licenses: the newest limit entries, oldest first.
func (d *DB) Audit(_ context.Context, licenseID string, limit int) ([]store.AuditEntry, error) {
	var out []store.AuditEntry
	err := d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktAudit).Bucket([]byte(licenseID + "\x00"))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			var e store.AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

func getTx[T any](tx *bolt.Tx, bkt []byte, id string) (T, error) {
	var v T
	data := tx.Bucket(bkt).Get([]byte(id))
	if data == nil {
		return v, fmt.Errorf("%s %q: %w", bkt[:len(bkt)-1], id, store.ErrNotFound)
	}
	return v, json.Unmarshal(data, &v)
}
