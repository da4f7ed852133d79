package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/iscsdk/iscsdk/internal/store"
)

func releaseName(product, platform, version string) string {
	return fmt.Sprintf("release %s %s of %s", version, platform, product)
}

// PutRelease implements store.Releases; the product must exist.
func (d *DB) PutRelease(ctx context.Context, r store.Release, manifest []byte) error {
	if manifest == nil {
		manifest = []byte{}
	}
	_, err := d.pool.Exec(ctx, `INSERT INTO releases (product_id, platform, version, doc, manifest)
		VALUES ($1, $2, $3, $4, $5)`, r.ProductID, r.Platform, r.Version, mustJSON(r), manifest)
	switch {
	case isForeignKeyViolation(err):
		return fmt.Errorf("product %q: %w", r.ProductID, store.ErrNotFound)
	case isUniqueViolation(err):
		return fmt.Errorf("%s: %w", releaseName(r.ProductID, r.Platform, r.Version), store.ErrExists)
	case err != nil:
		return fmt.Errorf("%s: %w", releaseName(r.ProductID, r.Platform, r.Version), err)
	}
	return nil
}

// Release implements store.Releases.
func (d *DB) Release(ctx context.Context, product, platform, version string) (store.Release, error) {
	return getDoc[store.Release](ctx, d.pool, releaseName(product, platform, version), `SELECT doc FROM releases
		WHERE product_id = $1 AND platform = $2 AND version = $3 AND NOT withdrawn`, product, platform, version)
}

// ReleaseManifest implements store.Releases.
func (d *DB) ReleaseManifest(ctx context.Context, product, platform, version string) ([]byte, error) {
	var m []byte
	err := d.pool.QueryRow(ctx, `SELECT manifest FROM releases
		WHERE product_id = $1 AND platform = $2 AND version = $3 AND NOT withdrawn`, product, platform, version).Scan(&m)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", releaseName(product, platform, version), store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", releaseName(product, platform, version), err)
	}
	return m, nil
}

// ListReleases implements store.Releases.
func (d *DB) ListReleases(ctx context.Context, product, platform string) ([]store.Release, error) {
	return listDocs[store.Release](ctx, d.pool, `SELECT doc FROM releases
		WHERE product_id = $1 AND ($2 = '' OR platform = $2) AND NOT withdrawn ORDER BY platform, version`, product, platform)
}

// WithdrawRelease implements store.Releases.
func (d *DB) WithdrawRelease(ctx context.Context, product, platform, version string) error {
	tag, err := d.pool.Exec(ctx, `UPDATE releases SET withdrawn = true, manifest = NULL
		WHERE product_id = $1 AND platform = $2 AND version = $3 AND NOT withdrawn`, product, platform, version)
	if err != nil {
		return fmt.Errorf("%s: %w", releaseName(product, platform, version), err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", releaseName(product, platform, version), store.ErrNotFound)
	}
	return nil
}

// ReleaseManifests implements store.Releases.
func (d *DB) ReleaseManifests(ctx context.Context, product string, fn func([]byte) error) error {
	rows, err := d.pool.Query(ctx, `SELECT manifest FROM releases WHERE product_id = $1 AND NOT withdrawn
		ORDER BY platform, version`, product)
	if err != nil {
		return fmt.Errorf("release manifests of %s: %w", product, err)
	}
	defer rows.Close()
	for rows.Next() {
		var m []byte
		if err := rows.Scan(&m); err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return rows.Err()
}
