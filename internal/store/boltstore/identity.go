package boltstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/iscsdk/iscsdk/internal/store"
)

var (
	bktDepartments = []byte("departments") // key: org id; value: the whole tree, JSON
	bktOrgLogins   = []byte("orglogins")   // key: org id
)

// identityBuckets are created at Open.
var identityBuckets = [][]byte{bktDepartments, bktOrgLogins}

// UpdateOrg implements store.Identity.
func (d *DB) UpdateOrg(_ context.Context, id string, change func(*store.Org) error) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		o, err := getTx[store.Org](tx, bktOrgs, id)
		if err != nil {
			return fmt.Errorf("org %q: %w", id, err)
		}
		if err := change(&o); err != nil {
			return err
		}
		o.ID = id
		return put(tx, bktOrgs, id, o, false)
	})
}

// UpsertUsers implements store.Identity.
func (d *DB) UpsertUsers(_ context.Context, orgID string, ids []string, change func(u *store.User, found bool) error) ([]store.User, error) {
	out := make([]store.User, 0, len(ids))
	err := d.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bktOrgs).Get([]byte(orgID)) == nil {
			return fmt.Errorf("org %q: %w", orgID, store.ErrNotFound)
		}
		for _, id := range ids {
			u, err := getTx[store.User](tx, bktUsers, id)
			found := err == nil
			switch {
			case errors.Is(err, store.ErrNotFound):
				u = store.User{ID: id, OrgID: orgID}
			case err != nil:
				return err
			case u.OrgID != orgID:
				return fmt.Errorf("user %q is in another org: %w", id, store.ErrExists)
			}
			if err := change(&u, found); err != nil {
				return err
			}
			u.ID, u.OrgID = id, orgID
			if err := put(tx, bktUsers, id, u, false); err != nil {
				return err
			}
			out = append(out, u)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Departments implements store.Identity.
func (d *DB) Departments(_ context.Context, orgID string) ([]store.Department, error) {
	out := []store.Department{}
	err := d.db.View(func(tx *bolt.Tx) error {
		if data := tx.Bucket(bktDepartments).Get([]byte(orgID)); data != nil {
			return json.Unmarshal(data, &out)
		}
		return nil
	})
	return out, err
}

// UpdateDepartments implements store.Identity.
func (d *DB) UpdateDepartments(_ context.Context, orgID string, change func([]store.Department) ([]store.Department, error)) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bktOrgs).Get([]byte(orgID)) == nil {
			return fmt.Errorf("org %q: %w", orgID, store.ErrNotFound)
		}
		cur := []store.Department{}
		if data := tx.Bucket(bktDepartments).Get([]byte(orgID)); data != nil {
			if err := json.Unmarshal(data, &cur); err != nil {
				return err
			}
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		return put(tx, bktDepartments, orgID, next, false)
	})
}

// PutOrgLogin implements store.Identity.
func (d *DB) PutOrgLogin(_ context.Context, l store.OrgLogin) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bktOrgs).Get([]byte(l.OrgID)) == nil {
			return fmt.Errorf("org %q: %w", l.OrgID, store.ErrNotFound)
		}
		return put(tx, bktOrgLogins, l.OrgID, l, false)
	})
}

// OrgLogin implements store.Identity.
func (d *DB) OrgLogin(_ context.Context, orgID string) (store.OrgLogin, error) {
	return getNamed[store.OrgLogin](d, bktOrgLogins, "login of org", orgID)
}
