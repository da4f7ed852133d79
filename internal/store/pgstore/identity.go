package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/iscsdk/iscsdk/internal/store"
)

// UpdateOrg implements store.Identity.
func (d *DB) UpdateOrg(ctx context.Context, id string, change func(*store.Org) error) error {
	return d.tx(ctx, func(tx pgx.Tx) error {
		o, err := getDoc[store.Org](ctx, tx, "org "+id, "SELECT doc FROM orgs WHERE id = $1 FOR UPDATE", id)
		if err != nil {
			return err
		}
		if err := change(&o); err != nil {
			return err
		}
		o.ID = id
		_, err = tx.Exec(ctx, "UPDATE orgs SET doc = $2 WHERE id = $1", id, mustJSON(o))
		return err
	})
}

// UpsertUsers implements store.Identity: one read of every user locked,
// one batch of writes, one transaction (a 500-user authSync is two round
// trips, not a thousand).
func (d *DB) UpsertUsers(ctx context.Context, orgID string, ids []string, change func(u *store.User, found bool) error) ([]store.User, error) {
	var out []store.User
	err := d.tx(ctx, func(tx pgx.Tx) error {
		out = make([]store.User, 0, len(ids))
		var one int
		err := tx.QueryRow(ctx, "SELECT 1 FROM orgs WHERE id = $1 FOR SHARE", orgID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("org %q: %w", orgID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		stored, err := listDocs[store.User](ctx, tx, "SELECT doc FROM users WHERE id = ANY($1) ORDER BY id FOR UPDATE", ids)
		if err != nil {
			return fmt.Errorf("users of org %s: %w", orgID, err)
		}
		byID := make(map[string]store.User, len(stored))
		for _, u := range stored {
			byID[u.ID] = u
		}
		b := &pgx.Batch{}
		for _, id := range ids {
			u, found := byID[id]
			if !found {
				u = store.User{ID: id, OrgID: orgID}
			} else if u.OrgID != orgID {
				return fmt.Errorf("user %q is in another org: %w", id, store.ErrExists)
			}
			if err := change(&u, found); err != nil {
				return err
			}
			u.ID, u.OrgID = id, orgID
			byID[id] = u
			b.Queue(`INSERT INTO users (id, org_id, doc) VALUES ($1, $2, $3)
				ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`, id, orgID, mustJSON(u))
			out = append(out, u)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Departments implements store.Identity.
func (d *DB) Departments(ctx context.Context, orgID string) ([]store.Department, error) {
	out, err := getDoc[[]store.Department](ctx, d.pool, "departments of org "+orgID, "SELECT doc FROM departments WHERE org_id = $1", orgID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && out == nil) {
		return []store.Department{}, nil
	}
	return out, err
}

// UpdateDepartments implements store.Identity. The org's row is locked
// first, so two changes of a tree not yet stored do not both insert.
func (d *DB) UpdateDepartments(ctx context.Context, orgID string, change func([]store.Department) ([]store.Department, error)) error {
	return d.tx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, "SELECT 1 FROM orgs WHERE id = $1 FOR UPDATE", orgID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("org %q: %w", orgID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		var data []byte
		cur := []store.Department{}
		err = tx.QueryRow(ctx, "SELECT doc FROM departments WHERE org_id = $1", orgID).Scan(&data)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		default:
			if err := json.Unmarshal(data, &cur); err != nil {
				return err
			}
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO departments (org_id, doc) VALUES ($1, $2)
			ON CONFLICT (org_id) DO UPDATE SET doc = excluded.doc`, orgID, mustJSON(next))
		return err
	})
}

// PutOrgLogin implements store.Identity.
func (d *DB) PutOrgLogin(ctx context.Context, l store.OrgLogin) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO org_logins (org_id, doc) VALUES ($1, $2)
		ON CONFLICT (org_id) DO UPDATE SET doc = excluded.doc`, l.OrgID, mustJSON(l))
	if isForeignKeyViolation(err) {
		return fmt.Errorf("org %q: %w", l.OrgID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("login of org %s: %w", l.OrgID, err)
	}
	return nil
}

// OrgLogin implements store.Identity.
func (d *DB) OrgLogin(ctx context.Context, orgID string) (store.OrgLogin, error) {
	return getDoc[store.OrgLogin](ctx, d.pool, "login of org "+orgID, "SELECT doc FROM org_logins WHERE org_id = $1", orgID)
}
