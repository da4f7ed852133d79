package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/iscsdk/iscsdk/internal/store"
)

var (
	bktReleases         = []byte("releases")          // product \x00 platform \x00 version → storedRelease
	bktReleaseManifests = []byte("release_manifests") // the same key → manifest
	releaseBuckets      = [][]byte{bktReleases, bktReleaseManifests}
)

// storedRelease keeps a withdrawn release's record, so its version is
// never published again with other bytes.
type storedRelease struct {
	store.Release
	Withdrawn bool `json:"withdrawn,omitempty"`
}

func releaseKey(product, platform, version string) []byte {
	return []byte(product + "\x00" + platform + "\x00" + version)
}

// PutRelease implements store.Releases.
func (d *DB) PutRelease(_ context.Context, r store.Release, manifest []byte) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bktProducts).Get([]byte(r.ProductID)) == nil {
			return fmt.Errorf("product %q: %w", r.ProductID, store.ErrNotFound)
		}
		key := releaseKey(r.ProductID, r.Platform, r.Version)
		if tx.Bucket(bktReleases).Get(key) != nil {
			return fmt.Errorf("release %s %s of %s: %w", r.Version, r.Platform, r.ProductID, store.ErrExists)
		}
		data, err := json.Marshal(storedRelease{Release: r})
		if err != nil {
			return err
		}
		if err := tx.Bucket(bktReleases).Put(key, data); err != nil {
			return err
		}
		return tx.Bucket(bktReleaseManifests).Put(key, manifest)
	})
}

func getRelease(tx *bolt.Tx, product, platform, version string) (storedRelease, error) {
	var r storedRelease
	data := tx.Bucket(bktReleases).Get(releaseKey(product, platform, version))
	if data == nil {
		return r, fmt.Errorf("release %s %s of %s: %w", version, platform, product, store.ErrNotFound)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, err
	}
	if r.Withdrawn {
		return r, fmt.Errorf("release %s %s of %s (withdrawn): %w", version, platform, product, store.ErrNotFound)
	}
	return r, nil
}

// Release implements store.Releases.
func (d *DB) Release(_ context.Context, product, platform, version string) (store.Release, error) {
	var r storedRelease
	err := d.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = getRelease(tx, product, platform, version)
		return err
	})
	return r.Release, err
}

// ReleaseManifest implements store.Releases.
func (d *DB) ReleaseManifest(_ context.Context, product, platform, version string) ([]byte, error) {
	var out []byte
	err := d.db.View(func(tx *bolt.Tx) error {
		if _, err := getRelease(tx, product, platform, version); err != nil {
			return err
		}
		out = bytes.Clone(tx.Bucket(bktReleaseManifests).Get(releaseKey(product, platform, version)))
		return nil
	})
	return out, err
}

// ListReleases implements store.Releases.
func (d *DB) ListReleases(_ context.Context, product, platform string) ([]store.Release, error) {
	out := []store.Release{}
	prefix := []byte(product + "\x00")
	if platform != "" {
		prefix = []byte(product + "\x00" + platform + "\x00")
	}
	err := d.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktReleases).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var r storedRelease
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if !r.Withdrawn {
				out = append(out, r.Release)
			}
		}
		return nil
	})
	return out, err
}

// WithdrawRelease implements store.Releases.
func (d *DB) WithdrawRelease(_ context.Context, product, platform, version string) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		r, err := getRelease(tx, product, platform, version)
		if err != nil {
			return err
		}
		r.Withdrawn = true
		data, err := json.Marshal(r)
		if err != nil {
			return err
		}
		key := releaseKey(product, platform, version)
		if err := tx.Bucket(bktReleases).Put(key, data); err != nil {
			return err
		}
		return tx.Bucket(bktReleaseManifests).Delete(key)
	})
}

// ReleaseManifests implements store.Releases.
func (d *DB) ReleaseManifests(_ context.Context, product string, fn func([]byte) error) error {
	return d.db.View(func(tx *bolt.Tx) error {
		prefix := []byte(product + "\x00")
		c := tx.Bucket(bktReleaseManifests).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if err := fn(v); err != nil {
				return err
			}
		}
		return nil
	})
}
