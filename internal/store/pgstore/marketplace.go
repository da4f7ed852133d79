package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iscsdk/iscsdk/internal/store"
)

// PutInstance implements store.Marketplace.
func (d *DB) PutInstance(ctx context.Context, i store.MarketInstance) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO market_instances (id, doc) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`, i.ID, mustJSON(i))
	if err != nil {
		return fmt.Errorf("marketplace instance %q: %w", i.ID, err)
	}
	return nil
}

// Instance implements store.Marketplace.
func (d *DB) Instance(ctx context.Context, id string) (store.MarketInstance, error) {
	return getDoc[store.MarketInstance](ctx, d.pool, fmt.Sprintf("marketplace instance %q", id),
		"SELECT doc FROM market_instances WHERE id = $1", id)
}

// PutMarketLicense implements store.Marketplace. The insert does nothing
// when the event has a licence (waiting for a concurrent insert of it to
// commit), and the read that follows sees the one stored: retries on any
// replica agree.
func (d *DB) PutMarketLicense(ctx context.Context, l store.MarketLicense) (store.MarketLicense, error) {
	what := fmt.Sprintf("marketplace event %q", l.EventID)
	_, err := d.pool.Exec(ctx, `INSERT INTO market_licenses (event_id, doc) VALUES ($1, $2)
		ON CONFLICT (event_id) DO NOTHING`, l.EventID, mustJSON(l))
	if err != nil {
		return store.MarketLicense{}, fmt.Errorf("%s: %w", what, err)
	}
	return d.MarketLicense(ctx, l.EventID)
}

// MarketLicense implements store.Marketplace.
func (d *DB) MarketLicense(ctx context.Context, eventID string) (store.MarketLicense, error) {
	return getDoc[store.MarketLicense](ctx, d.pool, fmt.Sprintf("marketplace event %q", eventID),
		"SELECT doc FROM market_licenses WHERE event_id = $1", eventID)
}

func codeKey(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// BindLicenseCode implements store.Marketplace.
func (d *DB) BindLicenseCode(ctx context.Context, code, instanceID string) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO market_codes (code_hash, instance_id) VALUES ($1, $2)
		ON CONFLICT (code_hash) DO UPDATE SET instance_id = excluded.instance_id`, codeKey(code), instanceID)
	if err != nil {
		return fmt.Errorf("licence code: %w", err)
	}
	return nil
}

// LicenseCodeInstance implements store.Marketplace.
func (d *DB) LicenseCodeInstance(ctx context.Context, code string) (string, error) {
	var id string
	err := d.pool.QueryRow(ctx, "SELECT instance_id FROM market_codes WHERE code_hash = $1", codeKey(code)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("licence code: %w", store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("licence code: %w", err)
	}
	return id, nil
}

// RememberRequest implements store.Marketplace. The insert takes an
// expired row's place; two replicas inserting one key at once serialise on
// it, and the second changes no row: a replay.
func (d *DB) RememberRequest(ctx context.Context, key string, now, expires time.Time) error {
	if _, err := d.pool.Exec(ctx, "DELETE FROM market_requests WHERE expires < $1", now); err != nil {
		return fmt.Errorf("marketplace requests: %w", err)
	}
	tag, err := d.pool.Exec(ctx, `INSERT INTO market_requests (key, expires) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET expires = excluded.expires WHERE market_requests.expires < $3`, key, expires, now)
	if err != nil {
		return fmt.Errorf("marketplace request: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("marketplace request: %w", store.ErrExists)
	}
	return nil
}
