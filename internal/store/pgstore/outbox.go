package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iscsdk/iscsdk/internal/store"
)

// EnqueueUsage implements store.Outbox. ON CONFLICT DO NOTHING keeps a
// held record as it is, whichever replica enqueues it again.
func (d *DB) EnqueueUsage(ctx context.Context, recs []store.OutboxRecord) (int, error) {
	n := 0
	err := d.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		for _, r := range recs {
			r.State = store.OutboxPending
			tag, err := tx.Exec(ctx, `INSERT INTO usage_outbox (sn, state, next_try, begin_at, created, doc)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sn) DO NOTHING`,
				r.SN, r.State, r.NextTry, r.Begin, r.Created, mustJSON(r))
			if err != nil {
				return err
			}
			n += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("usage outbox: %w", err)
	}
	return n, nil
}

// DueUsage implements store.Outbox.
func (d *DB) DueUsage(ctx context.Context, now time.Time, limit int) ([]store.OutboxRecord, error) {
	if limit <= 0 {
		limit = 1 << 30
	}
	out, err := listDocs[store.OutboxRecord](ctx, d.pool, `SELECT doc FROM usage_outbox
		WHERE state = 'pending' AND next_try <= $1 ORDER BY begin_at, sn LIMIT $2`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("usage outbox: %w", err)
	}
	return out, nil
}

// SaveUsage implements store.Outbox.
func (d *DB) SaveUsage(ctx context.Context, recs []store.OutboxRecord) error {
	err := d.tx(ctx, func(tx pgx.Tx) error {
		for _, r := range recs {
			old, err := getDoc[store.OutboxRecord](ctx, tx, r.SN, "SELECT doc FROM usage_outbox WHERE sn = $1 FOR UPDATE", r.SN)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			old.State, old.Attempts, old.NextTry, old.Reason, old.Warned, old.Sent = r.State, r.Attempts, r.NextTry, r.Reason, r.Warned, r.Sent
			if err := putOutbox(ctx, tx, old); err != nil {
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

func putOutbox(ctx context.Context, q querier, r store.OutboxRecord) error {
	_, err := q.Exec(ctx, "UPDATE usage_outbox SET state = $2, next_try = $3, doc = $4 WHERE sn = $1",
		r.SN, r.State, r.NextTry, mustJSON(r))
	return err
}

// UsageOutbox implements store.Outbox.
func (d *DB) UsageOutbox(ctx context.Context, state string, limit int) ([]store.OutboxRecord, error) {
	if limit <= 0 {
		limit = 1 << 30
	}
	out, err := listDocs[store.OutboxRecord](ctx, d.pool, `SELECT doc FROM usage_outbox
		WHERE $1 = '' OR state = $1 ORDER BY created DESC, sn DESC LIMIT $2`, state, limit)
	if err != nil {
		return nil, fmt.Errorf("usage outbox: %w", err)
	}
	return out, nil
}

// OutboxStats implements store.Outbox.
func (d *DB) OutboxStats(ctx context.Context) (store.OutboxStats, error) {
	var s store.OutboxStats
	var oldest *time.Time
	err := d.pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE state = 'pending'),
			count(*) FILTER (WHERE state = 'sent'),
			count(*) FILTER (WHERE state = 'parked'),
			count(*) FILTER (WHERE state = 'pending' AND (doc->>'warned')::boolean),
			min(created) FILTER (WHERE state = 'pending')
		FROM usage_outbox`).Scan(&s.Pending, &s.Sent, &s.Parked, &s.Warned, &oldest)
	if err != nil {
		return s, fmt.Errorf("usage outbox: %w", err)
	}
	if oldest != nil {
		s.Oldest = oldest.UTC()
	}
	return s, nil
}

// UpdateParked implements store.Outbox, the records' rows locked.
func (d *DB) UpdateParked(ctx context.Context, sns []string, fn func(store.OutboxRecord) store.OutboxRecord) (int, error) {
	n := 0
	err := d.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		parked, err := listDocs[store.OutboxRecord](ctx, tx, `SELECT doc FROM usage_outbox
			WHERE state = 'parked' AND (coalesce(cardinality($1::text[]), 0) = 0 OR sn = ANY($1)) FOR UPDATE`, sns)
		if err != nil {
			return err
		}
		for _, r := range parked {
			if err := putOutbox(ctx, tx, fn(r)); err != nil {
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

// EnqueueDelivery implements store.Outbox.
func (d *DB) EnqueueDelivery(ctx context.Context, dl store.Delivery) (store.Delivery, error) {
	dl.State = store.OutboxPending
	_, err := d.pool.Exec(ctx, `INSERT INTO deliveries (event_id, state, next_try, created, doc)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING`, dl.EventID, dl.State, dl.NextTry, dl.Created, mustJSON(dl))
	if err != nil {
		return store.Delivery{}, fmt.Errorf("delivery %q: %w", dl.EventID, err)
	}
	return d.Delivery(ctx, dl.EventID)
}

// Delivery implements store.Outbox.
func (d *DB) Delivery(ctx context.Context, eventID string) (store.Delivery, error) {
	return getDoc[store.Delivery](ctx, d.pool, fmt.Sprintf("delivery %q", eventID), "SELECT doc FROM deliveries WHERE event_id = $1", eventID)
}

// DueDeliveries implements store.Outbox.
func (d *DB) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]store.Delivery, error) {
	if limit <= 0 {
		limit = 1 << 30
	}
	out, err := listDocs[store.Delivery](ctx, d.pool, `SELECT doc FROM deliveries
		WHERE state = 'pending' AND next_try <= $1 ORDER BY created, event_id LIMIT $2`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("deliveries: %w", err)
	}
	return out, nil
}

// SaveDelivery implements store.Outbox.
func (d *DB) SaveDelivery(ctx context.Context, dl store.Delivery) error {
	return d.tx(ctx, func(tx pgx.Tx) error {
		old, err := getDoc[store.Delivery](ctx, tx, dl.EventID, "SELECT doc FROM deliveries WHERE event_id = $1 FOR UPDATE", dl.EventID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		old.State, old.Attempts, old.NextTry, old.Reason, old.Sent = dl.State, dl.Attempts, dl.NextTry, dl.Reason, dl.Sent
		_, err = tx.Exec(ctx, "UPDATE deliveries SET state = $2, next_try = $3, doc = $4 WHERE event_id = $1",
			old.EventID, old.State, old.NextTry, mustJSON(old))
		return err
	})
}

// OutboxMark implements store.Outbox.
func (d *DB) OutboxMark(ctx context.Context, name string) (time.Time, error) {
	var t time.Time
	err := d.pool.QueryRow(ctx, "SELECT at FROM outbox_marks WHERE name = $1", name).Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return t, fmt.Errorf("outbox mark %s: %w", name, err)
	}
	return t.UTC(), nil
}

// SetOutboxMark implements store.Outbox.
func (d *DB) SetOutboxMark(ctx context.Context, name string, t time.Time) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO outbox_marks (name, at) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET at = excluded.at`, name, t)
	if err != nil {
		return fmt.Errorf("outbox mark %s: %w", name, err)
	}
	return nil
}

// OutboxMarks implements store.Outbox.
func (d *DB) OutboxMarks(ctx context.Context, prefix string) (map[string]time.Time, error) {
	rows, err := d.pool.Query(ctx, "SELECT name, at FROM outbox_marks WHERE starts_with(name, $1)", prefix)
	if err != nil {
		return nil, fmt.Errorf("outbox marks: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var name string
		var at time.Time
		if err := rows.Scan(&name, &at); err != nil {
			return nil, fmt.Errorf("outbox marks: %w", err)
		}
		out[name] = at.UTC()
	}
	return out, rows.Err()
}

// DeleteOutboxMark implements store.Outbox.
func (d *DB) DeleteOutboxMark(ctx context.Context, name string) error {
	if _, err := d.pool.Exec(ctx, "DELETE FROM outbox_marks WHERE name = $1", name); err != nil {
		return fmt.Errorf("outbox mark %s: %w", name, err)
	}
	return nil
}

// leaseLock is the namespace of the transaction-level advisory locks, one
// per lease name, that UpdateLease takes: a lease that is not there yet
// has no row to lock.
const leaseLock int32 = 0x6c656173 // "leas"

// UpdateLease implements store.Outbox, under the name's advisory lock.
func (d *DB) UpdateLease(ctx context.Context, name string, fn func(store.Lease) (store.Lease, bool)) error {
	err := d.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", leaseLock, name); err != nil {
			return err
		}
		var l store.Lease
		err := tx.QueryRow(ctx, "SELECT holder, until FROM leases WHERE name = $1", name).Scan(&l.Holder, &l.Until)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		next, write := fn(l)
		switch {
		case !write:
			return nil
		case next.Holder == "":
			_, err = tx.Exec(ctx, "DELETE FROM leases WHERE name = $1", name)
		default:
			_, err = tx.Exec(ctx, `INSERT INTO leases (name, holder, until) VALUES ($1, $2, $3)
				ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until`, name, next.Holder, next.Until)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("lease %s: %w", name, err)
	}
	return nil
}
