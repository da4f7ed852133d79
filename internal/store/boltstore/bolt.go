// Package boltstore is the embedded store of iscd: one bbolt file under the
// data directory, nothing to install or run.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/iscsdk/iscsdk/internal/store"
)

// DefaultRetention is how many unacknowledged events a session keeps.
const DefaultRetention = 4096

var (
	bktOrgs     = []byte("orgs")
	bktUsers    = []byte("users")
	bktTokens   = []byte("tokens")
	bktProducts = []byte("products")
	bktSessions = []byte("sessions")
	bktEvents   = []byte("events") // holds one sub-bucket per session
	keyLastSeq  = []byte("last")   // in a session's event bucket, beside the 8-byte seq keys
)

// DB is a store.Store on a bbolt file.
type DB struct {
	db        *bolt.DB
	retention int
	batch     *group // write transactions shared by concurrent calls (group commit)
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path. retention <= 0
// means DefaultRetention.
func Open(path string, retention int) (*DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// Shared commits go through d.batch (group.go), not bbolt's Batch,
	// whose lone call waited MaxBatchDelay for company (docs/benchmarks.md);
	// this bounds it for any Batch call still made.
	db.MaxBatchDelay = time.Millisecond
	err = db.Update(func(tx *bolt.Tx) error {
		buckets := [][]byte{bktOrgs, bktUsers, bktTokens, bktProducts, bktSessions, bktEvents,
			bktLicenses, bktSeats, bktKeys, bktAuditLog, bktAuditByLicense, bktAuditByOrg, bktFiles, bktVersions, bktManifests, bktMarketInstances, bktMarketLicenses, bktMarketCodes, bktMarketRequests}
		for _, b := range append(append(append(append(buckets, jobBuckets...), releaseBuckets...), identityBuckets...), signInBuckets...) {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return migrateAudit(tx)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init store %s: %w", path, err)
	}
	if retention <= 0 {
		retention = DefaultRetention
	}
	return &DB{db: db, retention: retention, batch: &group{db: db}}, nil
}

// Close closes the database file.
func (d *DB) Close() error { return d.db.Close() }

func put(tx *bolt.Tx, bkt []byte, id string, v any, create bool) error {
	b := tx.Bucket(bkt)
	if create && b.Get([]byte(id)) != nil {
		return store.ErrExists
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(id), data)
}

func get[T any](d *DB, bkt []byte, id string) (T, error) {
	var v T
	err := d.db.View(func(tx *bolt.Tx) error {
		data := tx.Bucket(bkt).Get([]byte(id))
		if data == nil {
			return store.ErrNotFound
		}
		return json.Unmarshal(data, &v)
	})
	return v, err
}

// getNamed is get with the record named in its error: what and id
// ("OIDC provider \"acme\": not found").
func getNamed[T any](d *DB, bkt []byte, what, id string) (T, error) {
	v, err := get[T](d, bkt, id)
	if err != nil {
		return v, fmt.Errorf("%s %q: %w", what, id, err)
	}
	return v, nil
}

func list[T any](d *DB, bkt []byte, keep func(T) bool) ([]T, error) {
	out := []T{}
	err := d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bkt).ForEach(func(_, data []byte) error {
			var v T
			if err := json.Unmarshal(data, &v); err != nil {
				return err
			}
			if keep == nil || keep(v) {
				out = append(out, v)
			}
			return nil
		})
	})
	return out, err
}

// deleteWhere deletes, in one transaction, the records of bkt that gone
// picks, and says how many it deleted; what names a record in errors.
func deleteWhere[T any](d *DB, bkt []byte, what string, gone func(T) bool) (int, error) {
	n := 0
	err := d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bkt)
		var keys [][]byte
		err := b.ForEach(func(k, data []byte) error {
			var v T
			if err := json.Unmarshal(data, &v); err != nil {
				return fmt.Errorf("%s %q: %w", what, k, err)
			}
			if gone(v) {
				keys = append(keys, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	return n, err
}

func (d *DB) create(bkt []byte, id string, v any) error {
	return d.db.Update(func(tx *bolt.Tx) error { return put(tx, bkt, id, v, true) })
}

// CreateOrg implements store.Directory.
func (d *DB) CreateOrg(_ context.Context, o store.Org) error { return d.create(bktOrgs, o.ID, o) }

// Org implements store.Directory.
func (d *DB) Org(_ context.Context, id string) (store.Org, error) {
	return get[store.Org](d, bktOrgs, id)
}

// Orgs implements store.Directory.
func (d *DB) Orgs(context.Context) ([]store.Org, error) { return list[store.Org](d, bktOrgs, nil) }

// CreateUser implements store.Directory; the org must exist.
func (d *DB) CreateUser(_ context.Context, u store.User) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bktOrgs).Get([]byte(u.OrgID)) == nil {
			return fmt.Errorf("org %q: %w", u.OrgID, store.ErrNotFound)
		}
		return put(tx, bktUsers, u.ID, u, true)
	})
}

// User implements store.Directory.
func (d *DB) User(_ context.Context, id string) (store.User, error) {
	return get[store.User](d, bktUsers, id)
}

// Users implements store.Directory.
func (d *DB) Users(_ context.Context, orgID string) ([]store.User, error) {
	return list(d, bktUsers, func(u store.User) bool { return orgID == "" || u.OrgID == orgID })
}

// CreateToken implements store.Directory.
func (d *DB) CreateToken(_ context.Context, t store.Token) error { return d.create(bktTokens, t.ID, t) }

// Token implements store.Directory.
func (d *DB) Token(_ context.Context, id string) (store.Token, error) {
	return get[store.Token](d, bktTokens, id)
}

// Tokens implements store.Directory.
func (d *DB) Tokens(_ context.Context, userID string) ([]store.Token, error) {
	return list(d, bktTokens, func(t store.Token) bool { return userID == "" || t.UserID == userID })
}

// RevokeToken implements store.Directory.
func (d *DB) RevokeToken(_ context.Context, id string) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		data := tx.Bucket(bktTokens).Get([]byte(id))
		if data == nil {
			return store.ErrNotFound
		}
		var t store.Token
		if err := json.Unmarshal(data, &t); err != nil {
			return err
		}
		t.Revoked = true
		return put(tx, bktTokens, id, t, false)
	})
}

// DeleteExpiredTokens implements store.Directory.
func (d *DB) DeleteExpiredTokens(_ context.Context, kind string, t time.Time) (int, error) {
	return deleteWhere(d, bktTokens, "token", func(tok store.Token) bool {
		return tok.Kind == kind && !tok.Expires.IsZero() && tok.Expires.Before(t)
	})
}

// CreateProduct implements store.Directory.
func (d *DB) CreateProduct(_ context.Context, p store.Product) error {
	return d.create(bktProducts, p.ID, p)
}

// Product implements store.Directory.
func (d *DB) Product(_ context.Context, id string) (store.Product, error) {
	return get[store.Product](d, bktProducts, id)
}

// Products implements store.Directory.
func (d *DB) Products(context.Context) ([]store.Product, error) {
	return list[store.Product](d, bktProducts, nil)
}

// UpdateProduct implements store.Directory.
func (d *DB) UpdateProduct(_ context.Context, id string, change func(*store.Product) error) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		p, err := getTx[store.Product](tx, bktProducts, id)
		if err != nil {
			return err
		}
		if err := change(&p); err != nil {
			return err
		}
		p.ID = id
		return put(tx, bktProducts, id, p, false)
	})
}

// PutSession implements store.Sessions. Concurrent puts share one
// transaction (a group commit; a put is idempotent, as a grouped function
// must be): every connected session stores its last-seen time each
// minute, and all of them at once at shutdown.
func (d *DB) PutSession(_ context.Context, s store.Session) error {
	return d.batch.do(func(tx *bolt.Tx) error { return put(tx, bktSessions, s.ID, s, false) })
}

// Session implements store.Sessions.
func (d *DB) Session(_ context.Context, id string) (store.Session, error) {
	return get[store.Session](d, bktSessions, id)
}

// ListSessions implements store.Sessions.
func (d *DB) ListSessions(context.Context) ([]store.Session, error) {
	return list[store.Session](d, bktSessions, nil)
}

// DeleteSession implements store.Sessions.
func (d *DB) DeleteSession(_ context.Context, id string) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bktSessions).Delete([]byte(id)); err != nil {
			return err
		}
		err := tx.Bucket(bktEvents).DeleteBucket([]byte(id))
		if errors.Is(err, berrors.ErrBucketNotFound) {
			return nil
		}
		return err
	})
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// AppendEvent implements store.Sessions. Concurrent appends are coalesced
// into one transaction (a group commit), so a burst costs one fsync, and
// a lone one commits at once.
func (d *DB) AppendEvent(_ context.Context, sessionID string, data []byte) (uint64, error) {
	var seq uint64
	err := d.batch.do(func(tx *bolt.Tx) error {
		// This runs again when another call in the group fails, so
		// it must not build on what an earlier, rolled-back run left in seq.
		seq = 0
		if tx.Bucket(bktSessions).Get([]byte(sessionID)) == nil {
			return fmt.Errorf("session %q: %w", sessionID, store.ErrNotFound)
		}
		b, err := tx.Bucket(bktEvents).CreateBucketIfNotExists([]byte(sessionID))
		if err != nil {
			return err
		}
		if v := b.Get(keyLastSeq); v != nil {
			seq = binary.BigEndian.Uint64(v)
		}
		seq++
		if err := b.Put(keyLastSeq, seqKey(seq)); err != nil {
			return err
		}
		if err := b.Put(seqKey(seq), data); err != nil {
			return err
		}
		// Retention: drop the oldest beyond the limit.
		if seq > uint64(d.retention) {
			if err := dropThrough(b, seq-uint64(d.retention)); err != nil {
				return err
			}
		}
		return nil
	})
	return seq, err
}

// dropThrough deletes a session's events with Seq <= seq (the 8-byte keys
// sort before the "last" key, so the loop stops there).
func dropThrough(b *bolt.Bucket, seq uint64) error {
	c := b.Cursor()
	limit := seqKey(seq)
	for k, _ := c.First(); len(k) == 8 && bytes.Compare(k, limit) <= 0; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// EventsAfter implements store.Sessions.
func (d *DB) EventsAfter(_ context.Context, sessionID string, after uint64, limit int) ([]store.Event, error) {
	var out []store.Event
	err := d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktEvents).Bucket([]byte(sessionID))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(seqKey(after + 1)); len(k) == 8 && len(out) < limit; k, v = c.Next() {
			out = append(out, store.Event{Seq: binary.BigEndian.Uint64(k), Data: bytes.Clone(v)})
		}
		return nil
	})
	return out, err
}

// AckEvents implements store.Sessions.
func (d *DB) AckEvents(_ context.Context, sessionID string, upTo uint64) error {
	return d.batch.do(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktEvents).Bucket([]byte(sessionID))
		if b == nil {
			return nil
		}
		return dropThrough(b, upTo)
	})
}

// EventRange implements store.Sessions.
func (d *DB) EventRange(_ context.Context, sessionID string) (first, last uint64, err error) {
	err = d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktEvents).Bucket([]byte(sessionID))
		if b == nil {
			return nil
		}
		if v := b.Get(keyLastSeq); v != nil {
			last = binary.BigEndian.Uint64(v)
		}
		if k, _ := b.Cursor().First(); len(k) == 8 {
			first = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return first, last, err
}
