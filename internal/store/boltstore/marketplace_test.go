package boltstore_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/boltstore"
)

func TestMarketplace(t *testing.T) {
	db, path := open(t, 0)
	if _, err := db.Instance(ctx, "mkt_x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Instance(unknown): %v, want ErrNotFound", err)
	}
	in := store.MarketInstance{ID: "mkt_x", OrderID: "o1", OrderLineID: "l1", Renewals: []store.Renewal{{OrderID: "o2", Previous: created, Expires: created.AddDate(1, 0, 0)}}, Created: created}
	must(t, db.PutInstance(ctx, in))

	// Concurrent first writers of one event: all see the same licence.
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() {
			l, err := db.PutMarketLicense(ctx, store.MarketLicense{EventID: "ev1", InstanceID: "mkt_x", License: string(rune('a' + i))})
			if err != nil {
				t.Error(err)
			}
			got[i] = l.License
		})
	}
	wg.Wait()
	for _, g := range got {
		if g != got[0] {
			t.Fatalf("concurrent PutMarketLicense disagree: %q", got)
		}
	}
	if _, err := db.MarketLicense(ctx, "ev2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("MarketLicense(unknown): %v", err)
	}

	code := string(make([]byte, 40000)) // longer than a bbolt key may be
	must(t, db.BindLicenseCode(ctx, code, "mkt_x"))
	if _, err := db.LicenseCodeInstance(ctx, "other"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown code: %v", err)
	}

	// Everything survives a reopen.
	must(t, db.Close())
	db2, err := boltstore.Open(path, 0)
	must(t, err)
	defer db2.Close()
	if i, err := db2.Instance(ctx, "mkt_x"); err != nil || i.OrderLineID != "l1" || len(i.Renewals) != 1 || !i.Renewals[0].Previous.Equal(created) {
		t.Fatalf("Instance after reopen = %+v, %v", i, err)
	}
	if l, err := db2.MarketLicense(ctx, "ev1"); err != nil || l.License != got[0] {
		t.Fatalf("MarketLicense after reopen = %+v, %v", l, err)
	}
	if id, err := db2.LicenseCodeInstance(ctx, code); err != nil || id != "mkt_x" {
		t.Fatalf("LicenseCodeInstance = %q, %v", id, err)
	}
}
