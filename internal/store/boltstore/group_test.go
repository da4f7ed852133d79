package boltstore

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// Calls that arrive together commit together, each exactly once in the
// end state, and one that fails gets its own error without failing the
// others.
func TestGroupCommit(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g := &group{db: db}
	bad := errors.New("refused")
	var wg sync.WaitGroup
	errs := make([]error, 64)
	for i := range errs {
		wg.Go(func() {
			errs[i] = g.do(func(tx *bolt.Tx) error {
				if i%10 == 3 {
					return bad
				}
				b, err := tx.CreateBucketIfNotExists([]byte("n"))
				if err != nil {
					return err
				}
				return b.Put([]byte{byte(i)}, []byte{1})
			})
		})
	}
	wg.Wait()
	var txs int
	db.View(func(tx *bolt.Tx) error {
		txs = int(tx.ID())
		b := tx.Bucket([]byte("n"))
		for i, err := range errs {
			stored := b.Get([]byte{byte(i)}) != nil
			if i%10 == 3 {
				if !errors.Is(err, bad) || stored {
					t.Errorf("call %d: err %v, stored %v; want its own error, nothing stored", i, err, stored)
				}
			} else if err != nil || !stored {
				t.Errorf("call %d: err %v, stored %v", i, err, stored)
			}
		}
		return nil
	})
	t.Logf("64 calls, %d transactions", txs)
	if txs >= 32 {
		t.Fatalf("%d transactions for 64 concurrent calls: not grouped", txs)
	}
}
