package licensing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/licensing"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/backendtest"
	"github.com/iscsdk/iscsdk/internal/store/storetest"
)

// The rules of seats (seats.go) on each store backend. These tests were
// storetest's (TestSeats, TestConcurrentSeats, TestNodeLocked,
// TestNamedSeats) while each backend wrote the rules; their assertions
// are unchanged, but for the node-locked devices: real fingerprints that
// drift by the device package's rule, where the store was given a rule of
// the test's.

var (
	ctx     = context.Background()
	created = backendtest.Created
	must    = backendtest.Must
)

// TestSeats: floating seats are counted, kept by their session, taken over
// by the same user's program on the same device, reclaimed when lapsed,
// refused when the licence is not active, and released.
func TestSeats(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, b storetest.Backend) {
		db, _ := b.Open(t, "", 0)
		if _, err := licensing.AcquireSeat(ctx, db, storetest.Seat("nope", "s1", "ann", "d1", created)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("seat of an unknown licence: %v", err)
		}
		must(t, db.PutLicense(ctx, storetest.Floating("L", 2)))
		must(t, db.PutLicense(ctx, store.License{ID: "M", OrgID: "beta", ProductID: "cae", Kind: store.KindFloating, Seats: 1, Status: store.StatusActive}))
		if ls, err := db.Licenses(ctx, "acme", ""); err != nil || len(ls) != 1 || ls[0].ID != "L" || ls[0].Grace != time.Hour {
			t.Fatalf("Licenses(acme) = %+v, %v", ls, err)
		}
		if ls, err := db.Licenses(ctx, "", "cae"); err != nil || len(ls) != 1 || ls[0].ID != "M" {
			t.Fatalf("Licenses(product cae) = %+v, %v", ls, err)
		}

		now := created
		s1, err := licensing.AcquireSeat(ctx, db, storetest.Seat("L", "s1", "ann", "d1", now))
		must(t, err)
		if s1.ID == "" || s1.SessionID != "s1" {
			t.Fatalf("first seat %+v", s1)
		}
		again, err := licensing.AcquireSeat(ctx, db, storetest.Seat("L", "s1", "ann", "d1", now.Add(time.Second)))
		if err != nil || again.ID != s1.ID {
			t.Fatalf("the same session again: %+v, %v; want seat %s", again, err, s1.ID)
		}
		s2, err := licensing.AcquireSeat(ctx, db, storetest.Seat("L", "s2", "bob", "d2", now.Add(2*time.Second)))
		if err != nil || s2.ID == s1.ID {
			t.Fatalf("second seat: %+v, %v", s2, err)
		}
		if _, err := licensing.AcquireSeat(ctx, db, storetest.Seat("L", "s3", "cy", "d3", now.Add(3*time.Second))); !errors.Is(err, store.ErrNoSeat) {
			t.Fatalf("third session on two seats: %v, want ErrNoSeat", err)
		}
		// Ann's program comes back in a new session: it takes its seat over.
		back, err := licensing.AcquireSeat(ctx, db, storetest.Seat("L", "s1b", "ann", "d1", now.Add(4*time.Second)))
		if err != nil || back.ID != s1.ID || back.SessionID != "s1b" {
			t.Fatalf("the same user and device in a new session: %+v, %v; want seat %s", back, err, s1.ID)
		}
		seats, err := db.Seats(ctx, "L")
		if err != nil || len(seats) != 2 || seats[0].ID != s1.ID || seats[1].ID != s2.ID {
			t.Fatalf("Seats(L) = %+v, %v; want %s then %s", seats, err, s1.ID, s2.ID)
		}
		if _, err := licensing.RenewSeat(ctx, db, "L", "s1", now.Add(time.Hour), now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("renewing the seat a new session took: %v", err)
		}
		renewed, err := licensing.RenewSeat(ctx, db, "L", "s1b", now.Add(time.Hour), now.Add(5*time.Second))
		if err != nil || renewed.ID != s1.ID || !renewed.LeaseExpires.Equal(now.Add(time.Hour)) {
			t.Fatalf("renew: %+v, %v", renewed, err)
		}

		// Bob's lease lapses: the next session takes his seat, and his renewal
		// finds it gone.
		later := now.Add(10 * time.Minute)
		s3, err := licensing.AcquireSeat(ctx, db, storetest.Seat("L", "s3", "cy", "d3", later))
		if err != nil {
			t.Fatalf("a lapsed seat is free: %v", err)
		}
		if _, err := licensing.RenewSeat(ctx, db, "L", "s2", later.Add(time.Minute), later); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("renewing a lapsed, taken seat: %v", err)
		}
		if seats, _ := db.Seats(ctx, "L"); len(seats) != 2 {
			t.Fatalf("after the lapse: %d seats, want 2", len(seats))
		}
		if all, _ := db.Seats(ctx, ""); len(all) != 2 {
			t.Fatalf("Seats(all) = %d, want 2", len(all))
		}

		// A frozen licence gives no seat, not even the one a session held.
		frozen := storetest.Floating("L", 2)
		frozen.Status = store.StatusFrozen
		must(t, db.PutLicense(ctx, frozen))
		if _, err := licensing.AcquireSeat(ctx, db, storetest.Seat("L", "s4", "dee", "d4", later)); !errors.Is(err, store.ErrNotActive) {
			t.Fatalf("seat of a frozen licence: %v, want ErrNotActive", err)
		}
		must(t, db.PutLicense(ctx, storetest.Floating("L", 2)))

		if got, err := db.ReleaseSeat(ctx, s3.ID); err != nil || got.SessionID != "s3" {
			t.Fatalf("ReleaseSeat = %+v, %v", got, err)
		}
		if _, err := db.ReleaseSeat(ctx, s3.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("releasing twice: %v", err)
		}
		if got, err := licensing.ReleaseSessionSeats(ctx, db, "s1b"); err != nil || len(got) != 1 || got[0].ID != s1.ID {
			t.Fatalf("ReleaseSessionSeats = %+v, %v", got, err)
		}
		if got, err := licensing.ReleaseSessionSeats(ctx, db, "s1b"); err != nil || len(got) != 0 {
			t.Fatalf("ReleaseSessionSeats again = %+v, %v", got, err)
		}
		if seats, _ := db.Seats(ctx, "L"); len(seats) != 0 {
			t.Fatalf("after the releases: %+v", seats)
		}
	})
}

// TestConcurrentSeats: many sessions (over every replica) ask for a
// licence's seats at once: exactly Seats of them get one, every round.
func TestConcurrentSeats(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, b storetest.Backend) {
		dbs := b.OpenReplicas(t, 2)
		must(t, dbs[0].PutLicense(ctx, storetest.Floating("L", 3)))
		storetest.RaceForSeats(t, dbs, 3, 24, func(db store.Store, s store.Seat) error {
			_, err := licensing.AcquireSeat(ctx, db, s)
			return err
		}, store.ErrNoSeat)
	})
}

// TestNodeLocked: devices bind for good, the same device (by the caller's
// rule of internal/device) finds its binding, a full licence refuses new devices, and
// releasing a session's seats keeps the bindings.
func TestNodeLocked(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, b storetest.Backend) {
		db, _ := b.Open(t, "", 0)
		l := storetest.Floating("N", 2)
		l.Kind = store.KindNodeLocked
		must(t, db.PutLicense(ctx, l))
		devices := map[string]string{
			"d1":  "04:7C:16:5E:E3:5D|DISK1|BOARD1|BFEBFBFF00090672",
			"d1'": "04:7C:16:5E:E3:5E|DISK1|BOARD1|BFEBFBFF000906A3", // d1 drifted: a new network card and CPU
			"d2":  "04:7C:16:5E:E3:60|DISK2|BOARD2|BFEBFBFF00090672",
			"d3":  "04:7C:16:5E:E3:61|DISK3|BOARD3|BFEBFBFF00090672",
		}
		bind := func(session, device string) (store.Seat, error) {
			return licensing.BindDevice(ctx, db, store.Seat{LicenseID: "N", SessionID: session, UserID: "ann", Device: devices[device], Acquired: created, Renewed: created})
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
		if got, err := licensing.ReleaseSessionSeats(ctx, db, "s2"); err != nil || len(got) != 0 {
			t.Fatalf("ReleaseSessionSeats released a binding: %+v, %v", got, err)
		}
		if seats, _ := db.Seats(ctx, "N"); len(seats) != 2 {
			t.Fatalf("bindings: %+v", seats)
		}
	})
}

// TestNamedSeats: a named-user licence counts its floating seats per
// user: one user's sessions on two machines hold one seat between them,
// and a second user is refused on a one-seat licence until they are gone.
func TestNamedSeats(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, b storetest.Backend) {
		db, _ := b.Open(t, "", 0)
		l := storetest.Floating("N", 1)
		l.NamedUsers = true
		must(t, db.PutLicense(ctx, l))
		now := created
		s1, err := licensing.AcquireSeat(ctx, db, storetest.Seat("N", "s1", "ann", "d1", now))
		must(t, err)
		s2, err := licensing.AcquireSeat(ctx, db, storetest.Seat("N", "s2", "ann", "d2", now.Add(time.Second)))
		if err != nil || s2.ID == s1.ID {
			t.Fatalf("the same user on a second machine: %+v, %v (want a seat of its own, counted with the first)", s2, err)
		}
		if _, err := licensing.AcquireSeat(ctx, db, storetest.Seat("N", "s3", "bob", "d3", now.Add(2*time.Second))); !errors.Is(err, store.ErrNoSeat) {
			t.Fatalf("a second user on a one-user licence: %v, want ErrNoSeat", err)
		}
		if _, err := licensing.ReleaseSessionSeats(ctx, db, "s1"); err != nil {
			t.Fatal(err)
		}
		if _, err := licensing.AcquireSeat(ctx, db, storetest.Seat("N", "s3", "bob", "d3", now.Add(3*time.Second))); !errors.Is(err, store.ErrNoSeat) {
			t.Fatalf("ann still holds the seat from her second machine; bob got one: %v", err)
		}
		if _, err := licensing.ReleaseSessionSeats(ctx, db, "s2"); err != nil {
			t.Fatal(err)
		}
		if _, err := licensing.AcquireSeat(ctx, db, storetest.Seat("N", "s3", "bob", "d3", now.Add(4*time.Second))); err != nil {
			t.Fatalf("bob once ann is gone: %v", err)
		}
		// The licence's fields survive the store.
		if got, err := db.License(ctx, "N"); err != nil || !got.NamedUsers {
			t.Fatalf("stored licence: %+v %v", got, err)
		}
	})
}
