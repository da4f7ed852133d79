package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
)

// TestMarketRequests: the marketplace's replay cache refuses a key it
// keeps, on every replica and when replicas race; an expired key is
// forgotten and may come again.
func TestMarketRequests(t *testing.T, b Backend) {
	dbs := replicas(t, b, 2)
	now := created
	must(t, dbs[0].RememberRequest(ctx, "sig-a", now, now.Add(2*time.Minute)))
	for i, db := range dbs {
		if err := db.RememberRequest(ctx, "sig-a", now.Add(time.Minute), now.Add(3*time.Minute)); !errors.Is(err, store.ErrExists) {
			t.Fatalf("replica %d: replay of a kept key: %v, want ErrExists", i, err)
		}
	}
	must(t, dbs[1].RememberRequest(ctx, "sig-b", now, now.Add(time.Minute)))

	// Past its expiry the key is forgotten: the same key is new again.
	later := now.Add(2*time.Minute + time.Second)
	must(t, dbs[1].RememberRequest(ctx, "sig-a", later, later.Add(2*time.Minute)))
	if err := dbs[0].RememberRequest(ctx, "sig-a", later, later.Add(2*time.Minute)); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a key kept again: %v, want ErrExists", err)
	}
	must(t, dbs[0].RememberRequest(ctx, "sig-b", later, later.Add(time.Minute)))

	// Eight callers, two replicas, one key: exactly one is first.
	var wg sync.WaitGroup
	var mu sync.Mutex
	firsts := 0
	for i := range 8 {
		wg.Go(func() {
			err := dbs[i%2].RememberRequest(ctx, "sig-race", later, later.Add(time.Minute))
			switch {
			case err == nil:
				mu.Lock()
				firsts++
				mu.Unlock()
			case !errors.Is(err, store.ErrExists):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if firsts != 1 {
		t.Fatalf("%d of 8 racing callers were first, want 1", firsts)
	}
}
