package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
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

// AcquireSeat implements store.Licenses. Counting and taking happen in one
// write transaction, so two sessions never get the last seat both.
func (d *DB) AcquireSeat(_ context.Context, s store.Seat) (store.Seat, error) {
	err := d.db.Update(func(tx *bolt.Tx) error {
		l, err := getTx[store.License](tx, bktLicenses, s.LicenseID)
		if err != nil {
			return err
		}
		if l.Status != store.StatusActive {
			return fmt.Errorf("licence %s is %s: %w", l.ID, l.Status, store.ErrNotActive)
		}
		seats, err := seatsOf(tx, s.LicenseID)
		if err != nil {
			return err
		}
		var live []store.Seat
		for _, old := range seats {
			mine := old.SessionID == s.SessionID && s.SessionID != ""
			comeback := s.Device != "" && old.UserID == s.UserID && old.Device == s.Device && !old.Lapsed(s.Renewed)
			if mine || comeback {
				old.SessionID = s.SessionID
				old.Renewed, old.LeaseExpires, old.Device = s.Renewed, s.LeaseExpires, s.Device
				s = old
				return put(tx, bktSeats, s.ID, s, false)
			}
			if old.Lapsed(s.Renewed) {
				if err := tx.Bucket(bktSeats).Delete([]byte(old.ID)); err != nil {
					return err
				}
				continue
			}
			live = append(live, old)
		}
		if !l.Room(live, s) {
			return store.ErrNoSeat
		}
		s.ID = "seat_" + token.ID()
		return put(tx, bktSeats, s.ID, s, true)
	})
	return s, err
}

// RenewSeat implements store.Licenses.
func (d *DB) RenewSeat(_ context.Context, licenseID, sessionID string, leaseExpires, now time.Time) (store.Seat, error) {
	var s store.Seat
	err := d.db.Update(func(tx *bolt.Tx) error {
		seats, err := seatsOf(tx, licenseID)
		if err != nil {
			return err
		}
		for _, old := range seats {
			if old.SessionID == sessionID {
				old.Renewed, old.LeaseExpires = now, leaseExpires
				s = old
				return put(tx, bktSeats, s.ID, s, false)
			}
		}
		return fmt.Errorf("seat of session %s on licence %s: %w", sessionID, licenseID, store.ErrNotFound)
	})
	return s, err
}

// BindDevice implements store.Licenses.
func (d *DB) BindDevice(_ context.Context, s store.Seat, same store.SameDevice) (store.Seat, error) {
	err := d.db.Update(func(tx *bolt.Tx) error {
		l, err := getTx[store.License](tx, bktLicenses, s.LicenseID)
		if err != nil {
			return err
		}
		seats, err := seatsOf(tx, s.LicenseID)
		if err != nil {
			return err
		}
		for _, old := range seats {
			if same(old.Device, s.Device) {
				old.Renewed, old.SessionID, old.UserID = s.Renewed, s.SessionID, s.UserID
				s = old
				return put(tx, bktSeats, s.ID, s, false)
			}
		}
		if len(seats) >= l.Seats {
			return store.ErrDeviceLimit
		}
		s.ID = "seat_" + token.ID()
		return put(tx, bktSeats, s.ID, s, true)
	})
	return s, err
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

// ReleaseSessionSeats implements store.Licenses; node-locked bindings stay.
func (d *DB) ReleaseSessionSeats(_ context.Context, sessionID string) ([]store.Seat, error) {
	var out []store.Seat
	err := d.db.Update(func(tx *bolt.Tx) error {
		out = nil
		seats, err := seatsOf(tx, "")
		if err != nil {
			return err
		}
		for _, s := range seats {
			if s.SessionID == sessionID && !s.LeaseExpires.IsZero() {
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
