package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
)

func floating(id string, seats int) store.License {
	return store.License{ID: id, OrgID: "acme", ProductID: "cad", Kind: store.KindFloating, Seats: seats,
		EffectiveAt: created, ExpiresAt: created.AddDate(1, 0, 0), Grace: time.Hour, OfflineGrace: time.Minute,
		Status: store.StatusActive, Created: created, Updated: created}
}

func seat(license, session, user, device string, now time.Time) store.Seat {
	return store.Seat{LicenseID: license, SessionID: session, UserID: user, Device: device,
		Acquired: now, Renewed: now, LeaseExpires: now.Add(time.Minute)}
}

// TestSeats: floating seats are counted, kept by their session, taken over
// by the same user's program on the same device, reclaimed when lapsed,
// refused when the licence is not active, and released.
func TestSeats(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	if _, err := db.AcquireSeat(ctx, seat("nope", "s1", "ann", "d1", created)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("seat of an unknown licence: %v", err)
	}
	must(t, db.PutLicense(ctx, floating("L", 2)))
	must(t, db.PutLicense(ctx, store.License{ID: "M", OrgID: "beta", ProductID: "cae", Kind: store.KindFloating, Seats: 1, Status: store.StatusActive}))
	if ls, err := db.Licenses(ctx, "acme", ""); err != nil || len(ls) != 1 || ls[0].ID != "L" || ls[0].Grace != time.Hour {
		t.Fatalf("Licenses(acme) = %+v, %v", ls, err)
	}
	if ls, err := db.Licenses(ctx, "", "cae"); err != nil || len(ls) != 1 || ls[0].ID != "M" {
		t.Fatalf("Licenses(product cae) = %+v, %v", ls, err)
	}

	now := created
	s1, err := db.AcquireSeat(ctx, seat("L", "s1", "ann", "d1", now))
	must(t, err)
	if s1.ID == "" || s1.SessionID != "s1" {
		t.Fatalf("first seat %+v", s1)
	}
	again, err := db.AcquireSeat(ctx, seat("L", "s1", "ann", "d1", now.Add(time.Second)))
	if err != nil || again.ID != s1.ID {
		t.Fatalf("the same session again: %+v, %v; want seat %s", again, err, s1.ID)
	}
	s2, err := db.AcquireSeat(ctx, seat("L", "s2", "bob", "d2", now.Add(2*time.Second)))
	if err != nil || s2.ID == s1.ID {
		t.Fatalf("second seat: %+v, %v", s2, err)
	}
	if _, err := db.AcquireSeat(ctx, seat("L", "s3", "cy", "d3", now.Add(3*time.Second))); !errors.Is(err, store.ErrNoSeat) {
		t.Fatalf("third session on two seats: %v, want ErrNoSeat", err)
	}
	// Ann's program comes back in a new session: it takes its seat over.
	back, err := db.AcquireSeat(ctx, seat("L", "s1b", "ann", "d1", now.Add(4*time.Second)))
	if err != nil || back.ID != s1.ID || back.SessionID != "s1b" {
		t.Fatalf("the same user and device in a new session: %+v, %v; want seat %s", back, err, s1.ID)
	}
	seats, err := db.Seats(ctx, "L")
	if err != nil || len(seats) != 2 || seats[0].ID != s1.ID || seats[1].ID != s2.ID {
		t.Fatalf("Seats(L) = %+v, %v; want %s then %s", seats, err, s1.ID, s2.ID)
	}
	if _, err := db.RenewSeat(ctx, "L", "s1", now.Add(time.Hour), now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("renewing the seat a new session took: %v", err)
	}
	renewed, err := db.RenewSeat(ctx, "L", "s1b", now.Add(time.Hour), now.Add(5*time.Second))
	if err != nil || renewed.ID != s1.ID || !renewed.LeaseExpires.Equal(now.Add(time.Hour)) {
		t.Fatalf("renew: %+v, %v", renewed, err)
	}

	// Bob's lease lapses: the next session takes his seat, and his renewal
	// finds it gone.
	later := now.Add(10 * time.Minute)
	s3, err := db.AcquireSeat(ctx, seat("L", "s3", "cy", "d3", later))
	if err != nil {
		t.Fatalf("a lapsed seat is free: %v", err)
	}
	if _, err := db.RenewSeat(ctx, "L", "s2", later.Add(time.Minute), later); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("renewing a lapsed, taken seat: %v", err)
	}
	if seats, _ := db.Seats(ctx, "L"); len(seats) != 2 {
		t.Fatalf("after the lapse: %d seats, want 2", len(seats))
	}
	if all, _ := db.Seats(ctx, ""); len(all) != 2 {
		t.Fatalf("Seats(all) = %d, want 2", len(all))
	}

	// A frozen licence gives no seat, not even the one a session held.
	frozen := floating("L", 2)
	frozen.Status = store.StatusFrozen
	must(t, db.PutLicense(ctx, frozen))
	if _, err := db.AcquireSeat(ctx, seat("L", "s4", "dee", "d4", later)); !errors.Is(err, store.ErrNotActive) {
		t.Fatalf("seat of a frozen licence: %v, want ErrNotActive", err)
	}
	must(t, db.PutLicense(ctx, floating("L", 2)))

	if got, err := db.ReleaseSeat(ctx, s3.ID); err != nil || got.SessionID != "s3" {
		t.Fatalf("ReleaseSeat = %+v, %v", got, err)
	}
	if _, err := db.ReleaseSeat(ctx, s3.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("releasing twice: %v", err)
	}
	if got, err := db.ReleaseSessionSeats(ctx, "s1b"); err != nil || len(got) != 1 || got[0].ID != s1.ID {
		t.Fatalf("ReleaseSessionSeats = %+v, %v", got, err)
	}
	if got, err := db.ReleaseSessionSeats(ctx, "s1b"); err != nil || len(got) != 0 {
		t.Fatalf("ReleaseSessionSeats again = %+v, %v", got, err)
	}
	if seats, _ := db.Seats(ctx, "L"); len(seats) != 0 {
		t.Fatalf("after the releases: %+v", seats)
	}
}

// TestConcurrentSeats: many sessions (over every replica) ask for a
// licence's seats at once: exactly Seats of them get one, every round.
func TestConcurrentSeats(t *testing.T, b Backend) {
	dbs := replicas(t, b, 2)
	const seats, sessions = 3, 24
	must(t, dbs[0].PutLicense(ctx, floating("L", seats)))
	for round := range 3 {
		var got atomic.Int32
		var wg sync.WaitGroup
		for i := range sessions {
			db := dbs[i%len(dbs)]
			wg.Go(func() {
				id := fmt.Sprintf("r%d-s%d", round, i)
				_, err := db.AcquireSeat(ctx, seat("L", id, "u"+id, "d"+id, created))
				switch {
				case err == nil:
					got.Add(1)
				case !errors.Is(err, store.ErrNoSeat):
					t.Errorf("acquire: %v", err)
				}
			})
		}
		wg.Wait()
		held, err := dbs[0].Seats(ctx, "L")
		must(t, err)
		if got.Load() != seats || len(held) != seats {
			t.Fatalf("round %d: %d sessions got a seat, %d seats held; want %d", round, got.Load(), len(held), seats)
		}
		for _, s := range held {
			if _, err := dbs[1].ReleaseSeat(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestNodeLocked: devices bind for good, the same device (by the caller's
// rule) finds its binding, a full licence refuses new devices, and
// releasing a session's seats keeps the bindings.
func TestNodeLocked(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	l := floating("N", 2)
	l.Kind = store.KindNodeLocked
	must(t, db.PutLicense(ctx, l))
	same := func(a, b string) bool { return a == b || a+"'" == b } // a drifted fingerprint
	bind := func(session, device string) (store.Seat, error) {
		return db.BindDevice(ctx, store.Seat{LicenseID: "N", SessionID: session, UserID: "ann", Device: device, Acquired: created, Renewed: created}, same)
	}
	d1, err := bind("s1", "d1")
	must(t, err)
	again, err := bind("s2", "d1'")
	if err != nil || again.ID != d1.ID || again.SessionID != "s2" {
		t.Fatalf("the same device again: %+v, %v", again, err)
	}
	_, err = bind("s3", "d2")
	must(t, err)
	if _, err := bind("s4", "d3"); !errors.Is(err, store.ErrDeviceLimit) {
		t.Fatalf("a third device: %v, want ErrDeviceLimit", err)
	}
	if got, err := db.ReleaseSessionSeats(ctx, "s2"); err != nil || len(got) != 0 {
		t.Fatalf("ReleaseSessionSeats released a binding: %+v, %v", got, err)
	}
	if seats, _ := db.Seats(ctx, "N"); len(seats) != 2 {
		t.Fatalf("bindings: %+v", seats)
	}
}

// TestKeysAndAudit: a product's signing keys, oldest first, replaced by
// id; a licence's audit log, newest entries oldest first.
func TestKeysAndAudit(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	must(t, db.PutProductKey(ctx, store.ProductKey{ProductID: "cad", ID: "k2", Private: "p2", Created: created.Add(time.Hour)}))
	must(t, db.PutProductKey(ctx, store.ProductKey{ProductID: "cad", ID: "k1", Private: "p1", Created: created}))
	must(t, db.PutProductKey(ctx, store.ProductKey{ProductID: "cae", ID: "k3", Private: "p3", Created: created}))
	must(t, db.PutProductKey(ctx, store.ProductKey{ProductID: "cad", ID: "k1", Private: "p1", Created: created, Retired: true}))
	keys, err := db.ProductKeys(ctx, "cad")
	if err != nil || len(keys) != 2 || keys[0].ID != "k1" || !keys[0].Retired || keys[1].ID != "k2" {
		t.Fatalf("ProductKeys(cad) = %+v, %v", keys, err)
	}
	if keys, _ := db.ProductKeys(ctx, "none"); len(keys) != 0 {
		t.Fatalf("keys of an unknown product: %+v", keys)
	}

	for i := range 5 {
		must(t, db.AppendAudit(ctx, store.AuditEntry{Time: created.Add(time.Duration(i) * time.Second), LicenseID: "L", Event: fmt.Sprint("e", i)}))
	}
	must(t, db.AppendAudit(ctx, store.AuditEntry{LicenseID: "M", Event: "other"}))
	got, err := db.Audit(ctx, "L", 3)
	if err != nil || len(got) != 3 || got[0].Event != "e2" || got[2].Event != "e4" {
		t.Fatalf("Audit(L, 3) = %+v, %v; want e2, e3, e4", got, err)
	}
	if got, _ := db.Audit(ctx, "L", 100); len(got) != 5 {
		t.Fatalf("Audit(L, 100): %d entries", len(got))
	}
	if got, err := db.Audit(ctx, "none", 10); err != nil || len(got) != 0 {
		t.Fatalf("Audit(none) = %+v, %v", got, err)
	}
}

// TestMarketplace: instances, first-writer-wins licences per event (also
// from several replicas at once), and licence codes.
func TestMarketplace(t *testing.T, b Backend) {
	dbs := replicas(t, b, 2)
	db := dbs[0]
	if _, err := db.Instance(ctx, "mkt_x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Instance(unknown): %v, want ErrNotFound", err)
	}
	in := store.MarketInstance{ID: "mkt_x", OrderID: "o1", OrderLineID: "l1", Renewals: []store.Renewal{{OrderID: "o2", Previous: created, Expires: created.AddDate(1, 0, 0)}}, Created: created}
	must(t, db.PutInstance(ctx, in))

	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() {
			l, err := dbs[i%2].PutMarketLicense(ctx, store.MarketLicense{EventID: "ev1", InstanceID: "mkt_x", License: string(rune('a' + i))})
			if err != nil {
				t.Error(err)
			}
			got[i] = l.License
		})
	}
	wg.Wait()
	for _, g := range got {
		if g != got[0] || g == "" {
			t.Fatalf("concurrent PutMarketLicense disagree: %q", got)
		}
	}
	if _, err := db.MarketLicense(ctx, "ev2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("MarketLicense(unknown): %v", err)
	}
	code := string(make([]byte, 40000)) // longer than a key may be
	must(t, db.BindLicenseCode(ctx, code, "mkt_y"))
	must(t, db.BindLicenseCode(ctx, code, "mkt_x")) // binding again moves it
	if _, err := db.LicenseCodeInstance(ctx, "other"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown code: %v", err)
	}
	if i, err := db.Instance(ctx, "mkt_x"); err != nil || i.OrderLineID != "l1" || len(i.Renewals) != 1 || !i.Renewals[0].Previous.Equal(created) {
		t.Fatalf("Instance = %+v, %v", i, err)
	}
	if l, err := db.MarketLicense(ctx, "ev1"); err != nil || l.License != got[0] {
		t.Fatalf("MarketLicense = %+v, %v", l, err)
	}
	if id, err := db.LicenseCodeInstance(ctx, code); err != nil || id != "mkt_x" {
		t.Fatalf("LicenseCodeInstance = %q, %v", id, err)
	}
}
