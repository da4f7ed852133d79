package boltstore_test

import (
	"context"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/boltstore"
)

// A store made before the audit log was listed across licences kept one
// bucket per licence, each with its own sequence: Open moves its entries
// into the log in the order of their times, gives an entry without its
// organisation its licence's, and lists them as the new ones are.
func TestOpenMovesTheOldAuditLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iscd.db")
	old, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = old.Update(func(tx *bolt.Tx) error {
		lic, err := tx.CreateBucket([]byte("licenses"))
		if err != nil {
			return err
		}
		if err := lic.Put([]byte("L"), []byte(`{"id":"L","orgId":"acme","productId":"cad","kind":"floating","seats":1}`)); err != nil {
			return err
		}
		audit, err := tx.CreateBucket([]byte("audit"))
		if err != nil {
			return err
		}
		for name, entries := range map[string][]string{
			"L\x00": {`{"time":"2026-01-01T00:00:00Z","licenseId":"L","orgId":"acme","event":"created"}`,
				`{"time":"2026-01-03T00:00:00Z","licenseId":"L","event":"seat-returned"}`},
			"M\x00": {`{"time":"2026-01-02T00:00:00Z","licenseId":"M","orgId":"globex","event":"created"}`},
		} {
			b, err := audit.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			for i, e := range entries {
				if err := b.Put([]byte{0, 0, 0, 0, 0, 0, 0, byte(i + 1)}, []byte(e)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	old.Close()
	if err != nil {
		t.Fatal(err)
	}

	db, err := boltstore.Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if err := db.AppendAudit(ctx, store.AuditEntry{LicenseID: "M", OrgID: "globex", Event: "frozen"}); err != nil {
		t.Fatal(err)
	}
	events := func(q store.AuditQuery) string {
		t.Helper()
		es, err := db.AuditLog(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		s := ""
		for _, e := range es {
			s += e.LicenseID + ":" + e.OrgID + ":" + e.Event + " "
		}
		return s
	}
	if got, want := events(store.AuditQuery{Limit: 10}), "M:globex:frozen L:acme:seat-returned M:globex:created L:acme:created "; got != want {
		t.Errorf("the log after Open: %q, want %q", got, want)
	}
	if got, want := events(store.AuditQuery{OrgID: "acme", Limit: 10}), "L:acme:seat-returned L:acme:created "; got != want {
		t.Errorf("acme's log: %q, want %q", got, want)
	}
	if got, err := db.Audit(ctx, "M", 10); err != nil || len(got) != 2 || got[0].Event != "created" || got[1].Event != "frozen" {
		t.Errorf("Audit(M): %+v, %v", got, err)
	}
	// Opened again, nothing moves twice.
	db.Close()
	if db, err = boltstore.Open(path, 0); err != nil {
		t.Fatal(err)
	}
	if got := events(store.AuditQuery{Limit: 10}); got != "M:globex:frozen L:acme:seat-returned M:globex:created L:acme:created " {
		t.Errorf("the log after a second Open: %q", got)
	}
}
