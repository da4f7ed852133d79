package lease_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/lease"
	"github.com/iscsdk/iscsdk/internal/store/backendtest"
	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
	"github.com/iscsdk/iscsdk/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var (
	ctx     = context.Background()
	created = backendtest.Created
	must    = backendtest.Must
)

// TestLeases: a lease is taken when free, lapsed or the taker's own, on
// any replica; released only by its holder; and a lapsed one goes to
// exactly one of many at once. (The lease half of storetest's
// TestLeasesAndMarks while each backend wrote the rule; its assertions
// are unchanged.)
func TestLeases(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, b storetest.Backend) {
		dbs := b.OpenReplicas(t, 3)
		db := dbs[0]
		until := created.Add(time.Minute)
		if ok, err := lease.Take(ctx, db, "push", "a", created, until); err != nil || !ok {
			t.Fatalf("TakeLease(a) = %v, %v", ok, err)
		}
		if ok, _ := lease.Take(ctx, dbs[1], "push", "b", created.Add(30*time.Second), until.Add(time.Minute)); ok {
			t.Error("b took a lease a holds")
		}
		if ok, _ := lease.Take(ctx, db, "push", "a", created.Add(30*time.Second), until.Add(time.Minute)); !ok {
			t.Error("a could not renew its lease")
		}
		if ok, _ := lease.Take(ctx, dbs[1], "other", "b", created, until); !ok {
			t.Error("another lease's name is not free")
		}
		must(t, lease.Release(ctx, dbs[1], "push", "b")) // not b's: nothing
		if ok, _ := lease.Take(ctx, dbs[2], "push", "c", until.Add(30*time.Second), until.Add(2*time.Minute)); ok {
			t.Error("c took a lease a renewed")
		}
		must(t, lease.Release(ctx, db, "push", "a"))
		if ok, _ := lease.Take(ctx, dbs[2], "push", "c", created, until); !ok {
			t.Error("c could not take a released lease")
		}

		// A lapsed lease goes to exactly one of many at once.
		later := created.Add(time.Hour)
		var won atomic.Int32
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Go(func() {
				ok, err := lease.Take(ctx, dbs[i%len(dbs)], "push", fmt.Sprintf("r%d", i), later, later.Add(time.Minute))
				if err != nil {
					t.Error(err)
				}
				if ok {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Errorf("%d replicas took one lapsed lease at once, want 1", won.Load())
		}
	})
}
