package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iscsdk/iscsdk/internal/store"
)

// create inserts a record; ErrExists if its key is taken.
func (d *DB) create(ctx context.Context, what, sql string, args ...any) error {
	_, err := d.pool.Exec(ctx, sql, args...)
	if isUniqueViolation(err) {
		return fmt.Errorf("%s: %w", what, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// CreateOrg implements store.Directory.
func (d *DB) CreateOrg(ctx context.Context, o store.Org) error {
	return d.create(ctx, "org "+o.ID, "INSERT INTO orgs (id, doc) VALUES ($1, $2)", o.ID, mustJSON(o))
}

// Org implements store.Directory.
func (d *DB) Org(ctx context.Context, id string) (store.Org, error) {
	return getDoc[store.Org](ctx, d.pool, "org "+id, "SELECT doc FROM orgs WHERE id = $1", id)
}

// Orgs implements store.Directory.
func (d *DB) Orgs(ctx context.Context) ([]store.Org, error) {
	return listDocs[store.Org](ctx, d.pool, "SELECT doc FROM orgs ORDER BY id")
}

// CreateUser implements store.Directory; the org must exist.
func (d *DB) CreateUser(ctx context.Context, u store.User) error {
	err := d.create(ctx, "user "+u.ID, "INSERT INTO users (id, org_id, doc) VALUES ($1, $2, $3)", u.ID, u.OrgID, mustJSON(u))
	if isForeignKeyViolation(err) {
		return fmt.Errorf("org %q: %w", u.OrgID, store.ErrNotFound)
	}
	return err
}

// User implements store.Directory.
func (d *DB) User(ctx context.Context, id string) (store.User, error) {
	return getDoc[store.User](ctx, d.pool, "user "+id, "SELECT doc FROM users WHERE id = $1", id)
}

// Users implements store.Directory.
func (d *DB) Users(ctx context.Context, orgID string) ([]store.User, error) {
	return listDocs[store.User](ctx, d.pool, "SELECT doc FROM users WHERE $1 = '' OR org_id = $1 ORDER BY id", orgID)
}

// CreateToken implements store.Directory.
func (d *DB) CreateToken(ctx context.Context, t store.Token) error {
	return d.create(ctx, "token "+t.ID, "INSERT INTO tokens (id, user_id, doc) VALUES ($1, $2, $3)", t.ID, t.UserID, mustJSON(t))
}

// Token implements store.Directory.
func (d *DB) Token(ctx context.Context, id string) (store.Token, error) {
	return getDoc[store.Token](ctx, d.pool, "token "+id, "SELECT doc FROM tokens WHERE id = $1", id)
}

// Tokens implements store.Directory.
func (d *DB) Tokens(ctx context.Context, userID string) ([]store.Token, error) {
	return listDocs[store.Token](ctx, d.pool, "SELECT doc FROM tokens WHERE $1 = '' OR user_id = $1 ORDER BY id", userID)
}

// RevokeToken implements store.Directory.
func (d *DB) RevokeToken(ctx context.Context, id string) error {
	return d.tx(ctx, func(tx pgx.Tx) error {
		t, err := getDoc[store.Token](ctx, tx, "token "+id, "SELECT doc FROM tokens WHERE id = $1 FOR UPDATE", id)
		if err != nil {
			return err
		}
		t.Revoked = true
		_, err = tx.Exec(ctx, "UPDATE tokens SET doc = $2 WHERE id = $1", id, mustJSON(t))
		return err
	})
}

// DeleteExpiredTokens implements store.Directory. A token's expiry is
// in its document only (absent when it has none).
func (d *DB) DeleteExpiredTokens(ctx context.Context, kind string, t time.Time) (int, error) {
	tag, err := d.pool.Exec(ctx, "DELETE FROM tokens WHERE doc->>'kind' = $1 AND (doc->>'expires')::timestamptz < $2", kind, t)
	if err != nil {
		return 0, fmt.Errorf("expired %s tokens: %w", kind, err)
	}
	return int(tag.RowsAffected()), nil
}

// CreateProduct implements store.Directory.
func (d *DB) CreateProduct(ctx context.Context, p store.Product) error {
	return d.create(ctx, "product "+p.ID, "INSERT INTO products (id, doc) VALUES ($1, $2)", p.ID, mustJSON(p))
}

// Product implements store.Directory.
func (d *DB) Product(ctx context.Context, id string) (store.Product, error) {
	return getDoc[store.Product](ctx, d.pool, "product "+id, "SELECT doc FROM products WHERE id = $1", id)
}

// Products implements store.Directory.
func (d *DB) Products(ctx context.Context) ([]store.Product, error) {
	return listDocs[store.Product](ctx, d.pool, "SELECT doc FROM products ORDER BY id")
}

// UpdateProduct implements store.Directory.
func (d *DB) UpdateProduct(ctx context.Context, id string, change func(*store.Product) error) error {
	return d.tx(ctx, func(tx pgx.Tx) error {
		p, err := getDoc[store.Product](ctx, tx, "product "+id, "SELECT doc FROM products WHERE id = $1 FOR UPDATE", id)
		if err != nil {
			return err
		}
		if err := change(&p); err != nil {
			return err
		}
		p.ID = id
		_, err = tx.Exec(ctx, "UPDATE products SET doc = $2 WHERE id = $1", id, mustJSON(p))
		return err
	})
}

// PutSession implements store.Sessions. The event sequence stays.
func (d *DB) PutSession(ctx context.Context, s store.Session) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO sessions (id, doc) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`, s.ID, mustJSON(s))
	if err != nil {
		return fmt.Errorf("session %s: %w", s.ID, err)
	}
	return nil
}

// Session implements store.Sessions.
func (d *DB) Session(ctx context.Context, id string) (store.Session, error) {
	return getDoc[store.Session](ctx, d.pool, "session "+id, "SELECT doc FROM sessions WHERE id = $1", id)
}

// ListSessions implements store.Sessions.
func (d *DB) ListSessions(ctx context.Context) ([]store.Session, error) {
	return listDocs[store.Session](ctx, d.pool, "SELECT doc FROM sessions ORDER BY id")
}

// DeleteSession implements store.Sessions; its events go with it.
func (d *DB) DeleteSession(ctx context.Context, id string) error {
	if _, err := d.pool.Exec(ctx, "DELETE FROM sessions WHERE id = $1", id); err != nil {
		return fmt.Errorf("session %s: %w", id, err)
	}
	return nil
}

// AppendEvent implements store.Sessions. One statement: the session row's
// lock orders concurrent appends (from any replica), and the events past
// the retention go in the same step. Then the replicas watching (Watch)
// are told.
func (d *DB) AppendEvent(ctx context.Context, sessionID string, data []byte) (uint64, error) {
	if data == nil {
		data = []byte{}
	}
	var seq int64
	err := d.pool.QueryRow(ctx, `
		WITH s AS (UPDATE sessions SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq),
		     i AS (INSERT INTO events (session_id, seq, data) SELECT $1, last_seq, $2 FROM s),
		     r AS (DELETE FROM events WHERE session_id = $1 AND seq <= (SELECT last_seq FROM s) - $3)
		SELECT last_seq FROM s`, sessionID, data, d.retention).Scan(&seq)
	if err == pgx.ErrNoRows {
		return 0, fmt.Errorf("session %q: %w", sessionID, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("session %q: append event: %w", sessionID, err)
	}
	d.notify(ctx, eventsChannel, sessionID)
	return uint64(seq), nil
}

// EventsAfter implements store.Sessions.
func (d *DB) EventsAfter(ctx context.Context, sessionID string, after uint64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := d.pool.Query(ctx, `SELECT seq, data FROM events WHERE session_id = $1 AND seq > $2
		ORDER BY seq LIMIT $3`, sessionID, int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("session %q: events: %w", sessionID, err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var e store.Event
		var seq int64
		if err := rows.Scan(&seq, &e.Data); err != nil {
			return nil, err
		}
		e.Seq = uint64(seq)
		out = append(out, e)
	}
	return out, rows.Err()
}

// AckEvents implements store.Sessions.
func (d *DB) AckEvents(ctx context.Context, sessionID string, upTo uint64) error {
	_, err := d.pool.Exec(ctx, "DELETE FROM events WHERE session_id = $1 AND seq <= $2", sessionID, int64(upTo))
	if err != nil {
		return fmt.Errorf("session %q: ack events: %w", sessionID, err)
	}
	return nil
}

// EventRange implements store.Sessions.
func (d *DB) EventRange(ctx context.Context, sessionID string) (first, last uint64, err error) {
	var f, l int64
	err = d.pool.QueryRow(ctx, `SELECT
		coalesce((SELECT min(seq) FROM events WHERE session_id = $1), 0),
		coalesce((SELECT last_seq FROM sessions WHERE id = $1), 0)`, sessionID).Scan(&f, &l)
	if err != nil {
		return 0, 0, fmt.Errorf("session %q: event range: %w", sessionID, err)
	}
	return uint64(f), uint64(l), nil
}
