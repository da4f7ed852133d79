package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/iscsdk/iscsdk/internal/store"
)

var (
	bktLicenses = []byte("licenses")
	bktSeats    = []byte("seats")
	bktKeys     = []byte("productkeys") // key: product + "/" + key id
	// The audit log: its entries by sequence number, and their numbers
	// (empty values) in one sub-bucket per licence and per organisation,
	// each named id + "\x00".
	bktAuditLog       = []byte("auditlog")
	bktAuditByLicense = []byte("auditlicense")
	bktAuditByOrg     = []byte("auditorg")
	// bktAudit held the audit log before it was listed across licences
	// (one bucket per licence); Open moves it (migrateAudit).
	bktAudit = []byte("audit")
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
	return d.batch.do(func(tx *bolt.Tx) error { return appendAudit(tx, e) })
}

// appendAudit files e in the log under the next sequence number, and
// that number under its licence and its organisation.
func appendAudit(tx *bolt.Tx, e store.AuditEntry) error {
	log := tx.Bucket(bktAuditLog)
	seq, err := log.NextSequence()
	if err != nil {
		return err
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := log.Put(seqKey(seq), data); err != nil {
		return err
	}
	if err := indexAudit(tx, bktAuditByLicense, e.LicenseID, seq); err != nil {
		return err
	}
	if e.OrgID == "" {
		return nil
	}
	return indexAudit(tx, bktAuditByOrg, e.OrgID, seq)
}

// indexAudit files an entry's sequence number under id in bkt.
func indexAudit(tx *bolt.Tx, bkt []byte, id string, seq uint64) error {
	b, err := tx.Bucket(bkt).CreateBucketIfNotExists([]byte(id + "\x00"))
	if err != nil {
		return err
	}
	return b.Put(seqKey(seq), nil)
}

// Audit implements store.Licenses: the newest limit entries, oldest first.
func (d *DB) Audit(ctx context.Context, licenseID string, limit int) ([]store.AuditEntry, error) {
	out, err := d.AuditLog(ctx, store.AuditQuery{LicenseID: licenseID, Limit: limit})
	if len(out) == 0 {
		return nil, err
	}
	slices.Reverse(out)
	return out, err
}

// AuditLog implements store.Licenses: it walks the licence's index, the
// organisation's, or the log itself, newest first from q.Before.
func (d *DB) AuditLog(_ context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	var out []store.AuditEntry
	if q.Limit <= 0 {
		return out, nil
	}
	err := d.db.View(func(tx *bolt.Tx) error {
		log := tx.Bucket(bktAuditLog)
		walk := log
		switch {
		case q.LicenseID != "":
			walk = tx.Bucket(bktAuditByLicense).Bucket([]byte(q.LicenseID + "\x00"))
		case q.OrgID != "":
			walk = tx.Bucket(bktAuditByOrg).Bucket([]byte(q.OrgID + "\x00"))
		}
		if walk == nil {
			return nil
		}
		c := walk.Cursor()
		k, v := c.Last()
		if q.Before > 0 {
			// The first key at or after Before, then the one before it.
			if k, v = c.Seek(seqKey(uint64(q.Before))); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
		for ; k != nil && len(out) < q.Limit; k, v = c.Prev() {
			if walk != log {
				v = log.Get(k)
			}
			var e store.AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("audit entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			// With a licence and an organisation both, the licence's
			// entries of another organisation are skipped: a licence is
			// one organisation's, so these are all of them or none.
			if q.OrgID != "" && e.OrgID != q.OrgID {
				continue
			}
			e.Seq = int64(binary.BigEndian.Uint64(k))
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// migrateAudit moves the audit log of stores made before it was listed
// across licences (bktAudit: one bucket per licence, its own sequence)
// into the log and its indexes: the entries in the order of their times,
// each licence's in its own order, an entry without its organisation
// given its licence's.
func migrateAudit(tx *bolt.Tx) error {
	old := tx.Bucket(bktAudit)
	if old == nil {
		return nil
	}
	var all []store.AuditEntry
	err := old.ForEachBucket(func(name []byte) error {
		return old.Bucket(name).ForEach(func(_, v []byte) error {
			var e store.AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("audit of %q: %w", name, err)
			}
			if e.OrgID == "" {
				if l, err := getTx[store.License](tx, bktLicenses, e.LicenseID); err == nil {
					e.OrgID = l.OrgID
				}
			}
			all = append(all, e)
			return nil
		})
	})
	if err != nil {
		return err
	}
	slices.SortStableFunc(all, func(a, b store.AuditEntry) int { return a.Time.Compare(b.Time) })
	for _, e := range all {
		if err := appendAudit(tx, e); err != nil {
			return err
		}
	}
	return tx.DeleteBucket(bktAudit)
}

func getTx[T any](tx *bolt.Tx, bkt []byte, id string) (T, error) {
	var v T
	data := tx.Bucket(bkt).Get([]byte(id))
	if data == nil {
		return v, fmt.Errorf("%s %q: %w", bkt[:len(bkt)-1], id, store.ErrNotFound)
	}
	return v, json.Unmarshal(data, &v)
}
