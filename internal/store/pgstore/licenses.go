package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/iscsdk/iscsdk/internal/store"
)

// PutLicense implements store.Licenses.
func (d *DB) PutLicense(ctx context.Context, l store.License) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO licenses (id, org_id, product_id, doc) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET org_id = excluded.org_id, product_id = excluded.product_id, doc = excluded.doc`,
		l.ID, l.OrgID, l.ProductID, mustJSON(l))
	if err != nil {
		return fmt.Errorf("licence %s: %w", l.ID, err)
	}
	return nil
}

// License implements store.Licenses.
func (d *DB) License(ctx context.Context, id string) (store.License, error) {
	return getDoc[store.License](ctx, d.pool, "licence "+id, "SELECT doc FROM licenses WHERE id = $1", id) // a read: no lock (it would wait behind every seat transaction)
}

// Licenses implements store.Licenses.
func (d *DB) Licenses(ctx context.Context, orgID, productID string) ([]store.License, error) {
	return listDocs[store.License](ctx, d.pool, `SELECT doc FROM licenses
		WHERE ($1 = '' OR org_id = $1) AND ($2 = '' OR product_id = $2) ORDER BY id`, orgID, productID)
}

// lockLicense reads a licence and locks its row until tx ends: every
// transaction that counts, takes or extends the licence's seats holds it,
// so they run one after the other whichever replica runs them.
func lockLicense(ctx context.Context, tx pgx.Tx, id string) (store.License, error) {
	return getDoc[store.License](ctx, tx, "licence "+id, "SELECT doc FROM licenses WHERE id = $1 FOR UPDATE", id)
}

func seatsOf(ctx context.Context, q querier, licenseID string) ([]store.Seat, error) {
	return listDocs[store.Seat](ctx, q, "SELECT doc FROM seats WHERE $1 = '' OR license_id = $1 ORDER BY id", licenseID)
}

func putSeat(ctx context.Context, tx pgx.Tx, s store.Seat) error {
	_, err := tx.Exec(ctx, `INSERT INTO seats (id, license_id, session_id, leased, doc) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET license_id = excluded.license_id, session_id = excluded.session_id,
		leased = excluded.leased, doc = excluded.doc`,
		s.ID, s.LicenseID, s.SessionID, !s.LeaseExpires.IsZero(), mustJSON(s))
	return err
}

// UpdateSeats implements store.Licenses, under the licence's row lock.
func (d *DB) UpdateSeats(ctx context.Context, licenseID string, fn func(store.SeatTx, store.License) error) error {
	return d.tx(ctx, func(tx pgx.Tx) error {
		l, err := lockLicense(ctx, tx, licenseID)
		if err != nil {
			return err
		}
		return fn(seatTx{ctx: ctx, tx: tx, license: licenseID}, l)
	})
}

// seatTx is store.SeatTx in a PostgreSQL transaction.
type seatTx struct {
	ctx     context.Context
	tx      pgx.Tx
	license string
}

func (s seatTx) Seats(sessionID string) ([]store.Seat, error) {
	return listDocs[store.Seat](s.ctx, s.tx, `SELECT doc FROM seats WHERE license_id = $1 AND ($2 = '' OR session_id = $2)
		ORDER BY id`, s.license, sessionID)
}

func (s seatTx) PutSeat(seat store.Seat) error {
	seat.LicenseID = s.license
	return putSeat(s.ctx, s.tx, seat)
}

func (s seatTx) DeleteSeats(ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.tx.Exec(s.ctx, "DELETE FROM seats WHERE license_id = $1 AND id = ANY($2)", s.license, ids)
	return err
}

// Seats implements store.Licenses: oldest first.
func (d *DB) Seats(ctx context.Context, licenseID string) ([]store.Seat, error) {
	out, err := seatsOf(ctx, d.pool, licenseID)
	if len(out) == 0 {
		out = nil // as the embedded store
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Acquired.Before(out[j].Acquired) })
	return out, err
}

// ReleaseSeat implements store.Licenses.
func (d *DB) ReleaseSeat(ctx context.Context, seatID string) (store.Seat, error) {
	return getDoc[store.Seat](ctx, d.pool, "seat "+seatID, "DELETE FROM seats WHERE id = $1 RETURNING doc", seatID)
}

// DeleteSessionSeats implements store.Licenses.
func (d *DB) DeleteSessionSeats(ctx context.Context, sessionID string, which func(store.Seat) bool) ([]store.Seat, error) {
	var out []store.Seat
	err := d.tx(ctx, func(tx pgx.Tx) error {
		seats, err := listDocs[store.Seat](ctx, tx, "SELECT doc FROM seats WHERE session_id = $1 ORDER BY id FOR UPDATE", sessionID)
		if err != nil {
			return err
		}
		out = nil // as the embedded store
		var ids []string
		for _, s := range seats {
			if which(s) {
				out, ids = append(out, s), append(ids, s.ID)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, "DELETE FROM seats WHERE id = ANY($1)", ids)
		return err
	})
	return out, err
}

// PutProductKey implements store.Licenses.
func (d *DB) PutProductKey(ctx context.Context, k store.ProductKey) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO product_keys (product_id, id, doc) VALUES ($1, $2, $3)
		ON CONFLICT (product_id, id) DO UPDATE SET doc = excluded.doc`, k.ProductID, k.ID, mustJSON(k))
	if err != nil {
		return fmt.Errorf("product key %s/%s: %w", k.ProductID, k.ID, err)
	}
	return nil
}

// ProductKeys implements store.Licenses: a product's keys, oldest first.
func (d *DB) ProductKeys(ctx context.Context, productID string) ([]store.ProductKey, error) {
	keys, err := listDocs[store.ProductKey](ctx, d.pool, "SELECT doc FROM product_keys WHERE product_id = $1 ORDER BY id", productID)
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].Created.Before(keys[j].Created) })
	return keys, err
}

// AppendAudit implements store.Licenses.
func (d *DB) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	_, err := d.pool.Exec(ctx, "INSERT INTO audit (license_id, org_id, doc) VALUES ($1, $2, $3)", e.LicenseID, e.OrgID, mustJSON(e))
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Audit implements store.Licenses: the newest limit entries, oldest first.
func (d *DB) Audit(ctx context.Context, licenseID string, limit int) ([]store.AuditEntry, error) {
	out, err := d.AuditLog(ctx, store.AuditQuery{LicenseID: licenseID, Limit: limit})
	if len(out) == 0 {
		return nil, err // as the embedded store
	}
	slices.Reverse(out)
	return out, err
}

// AuditLog implements store.Licenses: by the licence's index, the
// organisation's, or the log's order itself, newest first.
func (d *DB) AuditLog(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	before := q.Before
	if before <= 0 {
		before = math.MaxInt64
	}
	where, args := []string{"id < $1"}, []any{before}
	if q.LicenseID != "" {
		args = append(args, q.LicenseID)
		where = append(where, fmt.Sprintf("license_id = $%d", len(args)))
	}
	if q.OrgID != "" {
		args = append(args, q.OrgID)
		where = append(where, fmt.Sprintf("org_id = $%d", len(args)))
	}
	args = append(args, q.Limit)
	rows, err := d.pool.Query(ctx, fmt.Sprintf("SELECT id, doc FROM audit WHERE %s ORDER BY id DESC LIMIT $%d", strings.Join(where, " AND "), len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var seq int64
		var doc []byte
		if err := rows.Scan(&seq, &doc); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		var e store.AuditEntry
		if err := json.Unmarshal(doc, &e); err != nil {
			return nil, fmt.Errorf("audit entry %d: %w", seq, err)
		}
		e.Seq = seq
		out = append(out, e)
	}
	return out, rows.Err()
}
