// Package backendtest runs a test on each store backend: the embedded
// boltstore, and pgstore where PostgreSQL is installed (pgtest). The
// service packages test the rules they write above the stores with it, so
// each rule is seen to hold on both.
//
// A package that uses it calls pgtest.Main (or servertest.Main) from its
// TestMain.
package backendtest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/boltstore"
	"github.com/iscsdk/iscsdk/internal/store/pgstore"
	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
	"github.com/iscsdk/iscsdk/internal/store/storetest"
)

// Bolt opens boltstore files in the test's temporary directory.
var Bolt = storetest.Backend{
	Open: func(t *testing.T, where string, retention int) (store.Store, string) {
		t.Helper()
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
}

// Postgres opens pgstore databases on the test binary's PostgreSQL
// server; several stores on one database stand for iscd replicas.
var Postgres = storetest.Backend{
	Open: func(t *testing.T, where string, retention int) (store.Store, string) {
		t.Helper()
		if where == "" {
			where = pgtest.DSN(t)
		}
		db, err := pgstore.Open(context.Background(), where, pgstore.Options{Retention: retention})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db, where
	},
	Replicas: true,
}

// Run runs fn once per backend, as the subtests "bolt" and "postgres"
// (skipped without PostgreSQL).
func Run(t *testing.T, fn func(t *testing.T, b storetest.Backend)) {
	t.Run("bolt", func(t *testing.T) { fn(t, Bolt) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres) })
}

// Created is the time the rules' tests make their records at.
var Created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Must fails the test at once on err.
func Must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
