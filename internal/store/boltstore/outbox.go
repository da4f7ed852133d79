package boltstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iscsdk/iscsdk/internal/store"
)

// The outbox's buckets are made on first write, so that older data
// directories need no step to get them.
var (
	bktOutbox        = []byte("usageoutbox")        // sn → OutboxRecord
	bktOutboxPending = []byte("usageoutboxpending") // sn → nothing: the pending records
	bktDeliveries    = []byte("deliveries")         // eventId → Delivery
	bktLeases        = []byte("leases")             // name → lease
	bktOutboxMarks   = []byte("outboxmarks")        // name → RFC 3339 time
)

func bucket(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	if tx.Writable() {
		return tx.CreateBucketIfNotExists(name)
	}
	return tx.Bucket(name), nil // nil: nothing written yet
}

// EnqueueUsage implements store.Outbox.
func (d *DB) EnqueueUsage(_ context.Context, recs []store.OutboxRecord) (int, error) {
	n := 0
	err := d.db.Update(func(tx *bolt.Tx) error {
		n = 0
		b, err := bucket(tx, bktOutbox)
		if err != nil {
			return err
		}
		p, err := bucket(tx, bktOutboxPending)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if b.Get([]byte(r.SN)) != nil {
				continue
			}
			r.State = store.OutboxPending
			data, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(r.SN), data); err != nil {
				return err
			}
			if err := p.Put([]byte(r.SN), nil); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("usage outbox: %w", err)
	}
	return n, nil
}

// DueUsage implements store.Outbox.
func (d *DB) DueUsage(_ context.Context, now time.Time, limit int) ([]store.OutboxRecord, error) {
	out := []store.OutboxRecord{}
	err := d.db.View(func(tx *bolt.Tx) error {
		p, b := tx.Bucket(bktOutboxPending), tx.Bucket(bktOutbox)
		if p == nil {
			return nil
		}
		return p.ForEach(func(sn, _ []byte) error {
			var r store.OutboxRecord
			if err := json.Unmarshal(b.Get(sn), &r); err != nil {
				return fmt.Errorf("%s: %w", sn, err)
			}
			if !r.NextTry.After(now) {
				out = append(out, r)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("usage outbox: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Begin.Equal(out[j].Begin) {
			return out[i].Begin.Before(out[j].Begin)
		}
		return out[i].SN < out[j].SN
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// SaveUsage implements store.Outbox.
func (d *DB) SaveUsage(_ context.Context, recs []store.OutboxRecord) error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bktOutbox)
		if err != nil {
			return err
		}
		p, err := bucket(tx, bktOutboxPending)
		if err != nil {
			return err
		}
		for _, r := range recs {
			data := b.Get([]byte(r.SN))
			if data == nil {
				continue
			}
			var old store.OutboxRecord
			if err := json.Unmarshal(data, &old); err != nil {
				return err
			}
			old.State, old.Attempts, old.NextTry, old.Reason, old.Warned, old.Sent = r.State, r.Attempts, r.NextTry, r.Reason, r.Warned, r.Sent
			if err := putOutbox(b, p, old); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("usage outbox: %w", err)
	}
	return nil
}

func putOutbox(b, p *bolt.Bucket, r store.OutboxRecord) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(r.SN), data); err != nil {
		return err
	}
	if r.State == store.OutboxPending {
		return p.Put([]byte(r.SN), nil)
	}
	return p.Delete([]byte(r.SN))
}

// UsageOutbox implements store.Outbox.
func (d *DB) UsageOutbox(_ context.Context, state string, limit int) ([]store.OutboxRecord, error) {
	out := []store.OutboxRecord{}
	err := d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktOutbox)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, data []byte) error {
			var r store.OutboxRecord
			if err := json.Unmarshal(data, &r); err != nil {
				return err
			}
			if state == "" || r.State == state {
				out = append(out, r)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("usage outbox: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].SN > out[j].SN
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// OutboxStats implements store.Outbox.
func (d *DB) OutboxStats(ctx context.Context) (store.OutboxStats, error) {
	var s store.OutboxStats
	all, err := d.UsageOutbox(ctx, "", 0)
	if err != nil {
		return s, err
	}
	for _, r := range all {
		switch r.State {
		case store.OutboxPending:
			s.Pending++
			if r.Warned {
				s.Warned++
			}
			if s.Oldest.IsZero() || r.Created.Before(s.Oldest) {
				s.Oldest = r.Created
			}
		case store.OutboxSent:
			s.Sent++
		case store.OutboxParked:
			s.Parked++
		}
	}
	return s, nil
}

// UpdateParked implements store.Outbox.
func (d *DB) UpdateParked(_ context.Context, sns []string, fn func(store.OutboxRecord) store.OutboxRecord) (int, error) {
	n := 0
	err := d.db.Update(func(tx *bolt.Tx) error {
		n = 0
		b, err := bucket(tx, bktOutbox)
		if err != nil {
			return err
		}
		p, err := bucket(tx, bktOutboxPending)
		if err != nil {
			return err
		}
		var parked []store.OutboxRecord
		each := func(data []byte) error {
			var r store.OutboxRecord
			if err := json.Unmarshal(data, &r); err != nil {
				return err
			}
			if r.State == store.OutboxParked {
				parked = append(parked, r)
			}
			return nil
		}
		if len(sns) == 0 {
			err = b.ForEach(func(_, data []byte) error { return each(data) })
		} else {
			for _, sn := range sns {
				if data := b.Get([]byte(sn)); data != nil {
					if err = each(data); err != nil {
						break
					}
				}
			}
		}
		if err != nil {
			return err
		}
		for _, r := range parked {
			if err := putOutbox(b, p, fn(r)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("usage outbox: %w", err)
	}
	return n, nil
}

// OutboxMark implements store.Outbox.
func (d *DB) OutboxMark(_ context.Context, name string) (time.Time, error) {
	var t time.Time
	err := d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktOutboxMarks)
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(name)); v != nil {
			return t.UnmarshalText(v)
		}
		return nil
	})
	return t, err
}

// SetOutboxMark implements store.Outbox.
func (d *DB) SetOutboxMark(_ context.Context, name string, t time.Time) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bktOutboxMarks)
		if err != nil {
			return err
		}
		v, err := t.UTC().MarshalText()
		if err != nil {
			return err
		}
		return b.Put([]byte(name), v)
	})
}

// OutboxMarks implements store.Outbox.
func (d *DB) OutboxMarks(_ context.Context, prefix string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktOutboxMarks)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, v = c.Next() {
			var t time.Time
			if err := t.UnmarshalText(v); err != nil {
				return err
			}
			out[string(k)] = t
		}
		return nil
	})
	return out, err
}

// DeleteOutboxMark implements store.Outbox.
func (d *DB) DeleteOutboxMark(_ context.Context, name string) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bktOutboxMarks)
		if err != nil {
			return err
		}
		return b.Delete([]byte(name))
	})
}

// UpdateLease implements store.Outbox: bbolt's one writer at a time is
// the lease's lock.
func (d *DB) UpdateLease(_ context.Context, name string, fn func(store.Lease) (store.Lease, bool)) error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bktLeases)
		if err != nil {
			return err
		}
		var l store.Lease
		if v := b.Get([]byte(name)); v != nil {
			if err := json.Unmarshal(v, &l); err != nil {
				return err
			}
		}
		next, write := fn(l)
		switch {
		case !write:
			return nil
		case next.Holder == "":
			return b.Delete([]byte(name))
		}
		data, err := json.Marshal(next)
		if err != nil {
			return err
		}
		return b.Put([]byte(name), data)
	})
	if err != nil {
		return fmt.Errorf("lease %s: %w", name, err)
	}
	return nil
}

// EnqueueDelivery implements store.Outbox.
func (d *DB) EnqueueDelivery(_ context.Context, dl store.Delivery) (store.Delivery, error) {
	err := d.db.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bktDeliveries)
		if err != nil {
			return err
		}
		if v := b.Get([]byte(dl.EventID)); v != nil {
			return json.Unmarshal(v, &dl)
		}
		dl.State = store.OutboxPending
		data, err := json.Marshal(dl)
		if err != nil {
			return err
		}
		return b.Put([]byte(dl.EventID), data)
	})
	if err != nil {
		return store.Delivery{}, fmt.Errorf("delivery %q: %w", dl.EventID, err)
	}
	return dl, nil
}

// Delivery implements store.Outbox.
func (d *DB) Delivery(_ context.Context, eventID string) (store.Delivery, error) {
	var dl store.Delivery
	err := d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktDeliveries)
		if b == nil {
			return store.ErrNotFound
		}
		v := b.Get([]byte(eventID))
		if v == nil {
			return store.ErrNotFound
		}
		return json.Unmarshal(v, &dl)
	})
	if err != nil {
		return dl, fmt.Errorf("delivery %q: %w", eventID, err)
	}
	return dl, nil
}

// DueDeliveries implements store.Outbox.
func (d *DB) DueDeliveries(_ context.Context, now time.Time, limit int) ([]store.Delivery, error) {
	out := []store.Delivery{}
	err := d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktDeliveries)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var dl store.Delivery
			if err := json.Unmarshal(v, &dl); err != nil {
				return err
			}
			if dl.State == store.OutboxPending && !dl.NextTry.After(now) {
				out = append(out, dl)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("deliveries: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// SaveDelivery implements store.Outbox.
func (d *DB) SaveDelivery(_ context.Context, dl store.Delivery) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bktDeliveries)
		if err != nil {
			return err
		}
		v := b.Get([]byte(dl.EventID))
		if v == nil {
			return nil
		}
		var old store.Delivery
		if err := json.Unmarshal(v, &old); err != nil {
			return err
		}
		old.State, old.Attempts, old.NextTry, old.Reason, old.Sent = dl.State, dl.Attempts, dl.NextTry, dl.Reason, dl.Sent
		data, err := json.Marshal(old)
		if err != nil {
			return err
		}
		return b.Put([]byte(dl.EventID), data)
	})
}
