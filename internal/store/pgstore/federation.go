package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iscsdk/iscsdk/internal/store"
)

// CreateBrowserFlow implements store.Federation.
func (d *DB) CreateBrowserFlow(ctx context.Context, f store.BrowserFlow) error {
	return d.create(ctx, "browser flow "+f.ID, "INSERT INTO browser_flows (id, expires, doc) VALUES ($1, $2, $3)", f.ID, f.Expires, mustJSON(f))
}

// UpdateBrowserFlow implements store.Federation.
func (d *DB) UpdateBrowserFlow(ctx context.Context, id string, change func(*store.BrowserFlow) error) (store.BrowserFlow, error) {
	var f store.BrowserFlow
	err := d.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if f, err = getDoc[store.BrowserFlow](ctx, tx, "browser flow "+id, "SELECT doc FROM browser_flows WHERE id = $1 FOR UPDATE", id); err != nil {
			return err
		}
		if err := change(&f); err != nil {
			return err
		}
		f.ID = id
		_, err = tx.Exec(ctx, "UPDATE browser_flows SET expires = $2, doc = $3 WHERE id = $1", id, f.Expires, mustJSON(f))
		return err
	})
	return f, err
}

// DeleteExpiredBrowserFlows implements store.Federation.
func (d *DB) DeleteExpiredBrowserFlows(ctx context.Context, t time.Time) (int, error) {
	tag, err := d.pool.Exec(ctx, "DELETE FROM browser_flows WHERE expires < $1", t)
	if err != nil {
		return 0, fmt.Errorf("expired browser flows: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// PutOIDCProvider implements store.Federation.
func (d *DB) PutOIDCProvider(ctx context.Context, p store.OIDCProvider) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO oidc_providers (id, org_id, doc) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET org_id = EXCLUDED.org_id, doc = EXCLUDED.doc`, p.ID, p.OrgID, mustJSON(p))
	if err != nil {
		return fmt.Errorf("OIDC provider %s: %w", p.ID, err)
	}
	return nil
}

// OIDCProvider implements store.Federation.
func (d *DB) OIDCProvider(ctx context.Context, id string) (store.OIDCProvider, error) {
	return getDoc[store.OIDCProvider](ctx, d.pool, "OIDC provider "+id, "SELECT doc FROM oidc_providers WHERE id = $1", id)
}

// OIDCProviders implements store.Federation.
func (d *DB) OIDCProviders(ctx context.Context) ([]store.OIDCProvider, error) {
	return listDocs[store.OIDCProvider](ctx, d.pool, "SELECT doc FROM oidc_providers ORDER BY id")
}

// DeleteOIDCProvider implements store.Federation.
func (d *DB) DeleteOIDCProvider(ctx context.Context, id string) error {
	tag, err := d.pool.Exec(ctx, "DELETE FROM oidc_providers WHERE id = $1", id)
	if err != nil {
		return fmt.Errorf("OIDC provider %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("OIDC provider %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// LinkedUser implements store.Federation.
func (d *DB) LinkedUser(ctx context.Context, key string) (string, error) {
	var id string
	err := d.pool.QueryRow(ctx, "SELECT user_id FROM user_links WHERE key = $1", key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("user link: %w", store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("user link: %w", err)
	}
	return id, nil
}

// LinkUser implements store.Federation.
func (d *DB) LinkUser(ctx context.Context, key, userID string) error {
	_, err := d.pool.Exec(ctx, "INSERT INTO user_links (key, user_id) VALUES ($1, $2)", key, userID)
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("user link: %w", store.ErrExists)
	case isForeignKeyViolation(err):
		return fmt.Errorf("user %q: %w", userID, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("user link: %w", err)
	}
	return nil
}
