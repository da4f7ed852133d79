package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/boltstore"
	"github.com/iscsdk/iscsdk/internal/store/storetest"
)

// TestSuite runs the behavioural suite every backend passes.
func TestSuite(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T, where string, retention int) (store.Store, string) {
			if where == "" {
				where = filepath.Join(t.TempDir(), "iscd.db")
			}
			db, err := boltstore.Open(where, retention)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db, where
		},
	})
}
