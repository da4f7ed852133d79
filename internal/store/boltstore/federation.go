package boltstore

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iscsdk/iscsdk/internal/store"
)

var (
	bktBrowserFlows  = []byte("browserflows")  // key: flow id
	bktOIDCProviders = []byte("oidcproviders") // key: provider id
	bktUserLinks     = []byte("userlinks")     // key: link key, value: user id
)

// CreateBrowserFlow implements store.Federation.
func (d *DB) CreateBrowserFlow(_ context.Context, f store.BrowserFlow) error {
	return d.db.Update(func(tx *bolt.Tx) error { return put(tx, bktBrowserFlows, f.ID, f, true) })
}

// UpdateBrowserFlow implements store.Federation.
func (d *DB) UpdateBrowserFlow(_ context.Context, id string, change func(*store.BrowserFlow) error) (store.BrowserFlow, error) {
	return update(d, bktBrowserFlows, "browser flow", id, change, func(_, f *store.BrowserFlow) { f.ID = id })
}

// DeleteExpiredBrowserFlows implements store.Federation.
func (d *DB) DeleteExpiredBrowserFlows(_ context.Context, t time.Time) (int, error) {
	return deleteWhere(d, bktBrowserFlows, "browser flow", func(f store.BrowserFlow) bool { return f.Expires.Before(t) })
}

// PutOIDCProvider implements store.Federation.
func (d *DB) PutOIDCProvider(_ context.Context, p store.OIDCProvider) error {
	return d.db.Update(func(tx *bolt.Tx) error { return put(tx, bktOIDCProviders, p.ID, p, false) })
}

// OIDCProvider implements store.Federation.
func (d *DB) OIDCProvider(_ context.Context, id string) (store.OIDCProvider, error) {
	return getNamed[store.OIDCProvider](d, bktOIDCProviders, "OIDC provider", id)
}

// OIDCProviders implements store.Federation.
func (d *DB) OIDCProviders(_ context.Context) ([]store.OIDCProvider, error) {
	return list(d, bktOIDCProviders, func(store.OIDCProvider) bool { return true })
}

// DeleteOIDCProvider implements store.Federation.
func (d *DB) DeleteOIDCProvider(_ context.Context, id string) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktOIDCProviders)
		if b.Get([]byte(id)) == nil {
			return fmt.Errorf("OIDC provider %q: %w", id, store.ErrNotFound)
		}
		return b.Delete([]byte(id))
	})
}

// LinkedUser implements store.Federation.
func (d *DB) LinkedUser(_ context.Context, key string) (string, error) {
	var id string
	err := d.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bktUserLinks).Get([]byte(key))
		if v == nil {
			return fmt.Errorf("user link: %w", store.ErrNotFound)
		}
		id = string(v)
		return nil
	})
	return id, err
}

// LinkUser implements store.Federation.
func (d *DB) LinkUser(_ context.Context, key, userID string) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktUserLinks)
		if b.Get([]byte(key)) != nil {
			return fmt.Errorf("user link: %w", store.ErrExists)
		}
		if tx.Bucket(bktUsers).Get([]byte(userID)) == nil {
			return fmt.Errorf("user %q: %w", userID, store.ErrNotFound)
		}
		return b.Put([]byte(key), []byte(userID))
	})
}
