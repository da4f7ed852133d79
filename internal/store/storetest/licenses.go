package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
)

// Floating is a floating licence of product cad in org acme, active
// for a year from the suites' fixed start, with seats seats.
func Floating(id string, seats int) store.License {
	return store.License{ID: id, OrgID: "acme", ProductID: "cad", Kind: store.KindFloating, Seats: seats,
		EffectiveAt: created, ExpiresAt: created.AddDate(1, 0, 0), Grace: time.Hour, OfflineGrace: time.Minute,
		Status: store.StatusActive, Created: created, Updated: created}
}

// Seat is a floating seat on license for a session, leased for a
// minute from now.
func Seat(license, session, user, device string, now time.Time) store.Seat {
	return store.Seat{LicenseID: license, SessionID: session, UserID: user, Device: device,
		Acquired: now, Renewed: now, LeaseExpires: now.Add(time.Minute)}
}

// TestSeatRecords: a licence's seats as UpdateSeats puts them, read by
// licence and by session, deleted by id and by session; an aborted
// UpdateSeats keeps nothing. (The rules of seats are the licensing
// service's: internal/server/licensing.)
func TestSeatRecords(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	put := func(license string, seats ...store.Seat) error {
		return db.UpdateSeats(ctx, license, func(tx store.SeatTx, _ store.License) error {
			for _, s := range seats {
				if err := tx.PutSeat(s); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := put("nope", Seat("nope", "s1", "ann", "d1", created)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("seat of an unknown licence: %v", err)
	}
	must(t, db.PutLicense(ctx, Floating("L", 2)))
	must(t, db.PutLicense(ctx, store.License{ID: "M", OrgID: "beta", ProductID: "cae", Kind: store.KindFloating, Seats: 1, Status: store.StatusActive}))
	if ls, err := db.Licenses(ctx, "acme", ""); err != nil || len(ls) != 1 || ls[0].ID != "L" || ls[0].Grace != time.Hour {
		t.Fatalf("Licenses(acme) = %+v, %v", ls, err)
	}
	if ls, err := db.Licenses(ctx, "", "cae"); err != nil || len(ls) != 1 || ls[0].ID != "M" {
		t.Fatalf("Licenses(product cae) = %+v, %v", ls, err)
	}
	withID := func(id string, s store.Seat) store.Seat { s.ID = id; return s }
	s1 := withID("seat_1", Seat("L", "s1", "ann", "d1", created.Add(time.Second)))
	s2 := withID("seat_2", Seat("L", "s2", "bob", "d2", created))
	s3 := withID("seat_3", Seat("L", "s1", "ann", "d9", created.Add(2*time.Second)))
	m1 := withID("seat_4", Seat("M", "s1", "ann", "d1", created))
	bound := withID("seat_5", store.Seat{SessionID: "s1", UserID: "ann", Device: "d1", Acquired: created, Renewed: created})
	must(t, put("L", s1, s2, s3))
	must(t, put("M", m1))
	must(t, db.UpdateSeats(ctx, "L", func(tx store.SeatTx, l store.License) error {
		if l.ID != "L" || l.Seats != 2 {
			t.Errorf("UpdateSeats sees licence %+v", l)
		}
		all, err := tx.Seats("")
		if err != nil || len(all) != 3 || all[0].ID != s1.ID || all[1].ID != s2.ID || all[2].ID != s3.ID {
			t.Errorf("SeatTx.Seats(all) = %+v, %v; want seat_1, seat_2, seat_3", all, err)
		}
		mine, err := tx.Seats("s1")
		if err != nil || len(mine) != 2 || mine[0].ID != s1.ID || mine[1].ID != s3.ID {
			t.Errorf("SeatTx.Seats(s1) = %+v, %v; want seat_1, seat_3", mine, err)
		}
		if none, err := tx.Seats("s9"); err != nil || len(none) != 0 {
			t.Errorf("SeatTx.Seats(s9) = %+v, %v", none, err)
		}
		return tx.DeleteSeats(s3.ID)
	}))
	// Seats lists oldest first (by Acquired).
	seats, err := db.Seats(ctx, "L")
	if err != nil || len(seats) != 2 || seats[0].ID != s2.ID || seats[1].ID != s1.ID || !seats[1].LeaseExpires.Equal(s1.LeaseExpires) {
		t.Fatalf("Seats(L) = %+v, %v; want %s then %s", seats, err, s2.ID, s1.ID)
	}
	if all, _ := db.Seats(ctx, ""); len(all) != 3 {
		t.Fatalf("Seats(all) = %d, want 3", len(all))
	}
	stop := errors.New("stop")
	err = db.UpdateSeats(ctx, "L", func(tx store.SeatTx, _ store.License) error {
		must(t, tx.DeleteSeats(s1.ID, s2.ID))
		must(t, tx.PutSeat(withID("seat_6", Seat("L", "s6", "cy", "d6", created))))
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("UpdateSeats passes fn's error on: %v", err)
	}
	if seats, _ := db.Seats(ctx, "L"); len(seats) != 2 {
		t.Fatalf("after an aborted UpdateSeats: %+v", seats)
	}

	if got, err := db.ReleaseSeat(ctx, s2.ID); err != nil || got.SessionID != "s2" {
		t.Fatalf("ReleaseSeat = %+v, %v", got, err)
	}
	if _, err := db.ReleaseSeat(ctx, s2.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("releasing twice: %v", err)
	}
	// A session's seats over every licence, those which keeps.
	must(t, put("M", bound))
	leased := func(s store.Seat) bool { return !s.LeaseExpires.IsZero() }
	if got, err := db.DeleteSessionSeats(ctx, "s1", leased); err != nil || len(got) != 2 {
		t.Fatalf("DeleteSessionSeats = %+v, %v; want seat_1 and seat_4", got, err)
	}
	if got, err := db.DeleteSessionSeats(ctx, "s1", leased); err != nil || len(got) != 0 {
		t.Fatalf("DeleteSessionSeats again = %+v, %v", got, err)
	}
	if seats, _ := db.Seats(ctx, ""); len(seats) != 1 || seats[0].ID != bound.ID {
		t.Fatalf("after the deletes: %+v; want the binding alone", seats)
	}
}

// TestConcurrentSeatUpdates: transactions on one licence's seats racing
// over every replica run one after the other: sessions that each count
// the seats and take one if fewer than Seats are held never take more.
func TestConcurrentSeatUpdates(t *testing.T, b Backend) {
	dbs := replicas(t, b, 2)
	must(t, dbs[0].PutLicense(ctx, Floating("L", 3)))
	full := errors.New("full")
	RaceForSeats(t, dbs, 3, 24, func(db store.Store, s store.Seat) error {
		return db.UpdateSeats(ctx, "L", func(tx store.SeatTx, l store.License) error {
			held, err := tx.Seats("")
			if err != nil {
				return err
			}
			if len(held) >= l.Seats {
				return full
			}
			s.ID = s.SessionID
			return tx.PutSeat(s)
		})
	}, full)
}

// RaceForSeats runs three rounds in which sessions sessions, spread over
// dbs, each try take with a seat of their own on licence L (of seats
// seats); take's error is nil or refused. Each round exactly seats of them
// must get one and seats must be held; then dbs[1] releases them all.
func RaceForSeats(t *testing.T, dbs []store.Store, seats, sessions int, take func(store.Store, store.Seat) error, refused error) {
	t.Helper()
	for round := range 3 {
		var got atomic.Int32
		var wg sync.WaitGroup
		for i := range sessions {
			db := dbs[i%len(dbs)]
			wg.Go(func() {
				id := fmt.Sprintf("r%d-s%d", round, i)
				switch err := take(db, Seat("L", id, "u"+id, "d"+id, created)); {
				case err == nil:
					got.Add(1)
				case !errors.Is(err, refused):
					t.Errorf("take a seat: %v", err)
				}
			})
		}
		wg.Wait()
		held, err := dbs[0].Seats(ctx, "L")
		must(t, err)
		if got.Load() != int32(seats) || len(held) != seats {
			t.Fatalf("round %d: %d sessions got a seat, %d seats held; want %d", round, got.Load(), len(held), seats)
		}
		for _, s := range held {
			if _, err := dbs[1].ReleaseSeat(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
		}
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

// TestAuditLog: the audit log across licences, newest first, by licence,
// by organisation or both, walked page by page with Before; every entry
// has a larger Seq than those before it.
func TestAuditLog(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	// L and N are acme's, M is globex's; one entry names no organisation.
	plan := []struct{ lic, org string }{{"L", "acme"}, {"M", "globex"}, {"N", "acme"}, {"L", "acme"}, {"M", "globex"}, {"L", ""}, {"N", "acme"}}
	for i, p := range plan {
		must(t, db.AppendAudit(ctx, store.AuditEntry{Time: created.Add(time.Duration(i) * time.Second), LicenseID: p.lic, OrgID: p.org, Event: fmt.Sprint("e", i)}))
	}
	events := func(es []store.AuditEntry) string {
		var out []string
		for _, e := range es {
			out = append(out, e.Event)
		}
		return strings.Join(out, " ")
	}
	all, err := db.AuditLog(ctx, store.AuditQuery{Limit: 100})
	if err != nil || events(all) != "e6 e5 e4 e3 e2 e1 e0" {
		t.Fatalf("AuditLog(all) = %q, %v", events(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= 0 || all[i].Seq >= all[i-1].Seq {
			t.Fatalf("Seq not decreasing newest first: %d then %d", all[i-1].Seq, all[i].Seq)
		}
	}
	if all[0].OrgID != "acme" || all[0].LicenseID != "N" || !all[0].Time.Equal(created.Add(6*time.Second)) {
		t.Fatalf("the newest entry: %+v", all[0])
	}
	// Page by page, three at a time: every entry once, in order.
	var walked []store.AuditEntry
	for q := (store.AuditQuery{Limit: 3}); ; {
		page, err := db.AuditLog(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 3 {
			t.Fatalf("a page of %d entries, limit 3", len(page))
		}
		walked = append(walked, page...)
		if len(page) < 3 {
			break
		}
		q.Before = page[len(page)-1].Seq
	}
	if events(walked) != events(all) {
		t.Fatalf("walked %q, want %q", events(walked), events(all))
	}
	for _, tc := range []struct {
		q    store.AuditQuery
		want string
	}{
		{store.AuditQuery{LicenseID: "L", Limit: 10}, "e5 e3 e0"},
		{store.AuditQuery{OrgID: "acme", Limit: 10}, "e6 e3 e2 e0"},
		{store.AuditQuery{OrgID: "globex", Limit: 1}, "e4"},
		{store.AuditQuery{OrgID: "globex", Limit: 10, Before: all[2].Seq}, "e1"},
		{store.AuditQuery{LicenseID: "L", OrgID: "acme", Limit: 10}, "e3 e0"},
		{store.AuditQuery{LicenseID: "M", OrgID: "acme", Limit: 10}, ""},
		{store.AuditQuery{LicenseID: "none", Limit: 10}, ""},
		{store.AuditQuery{OrgID: "none", Limit: 10}, ""},
		{store.AuditQuery{Limit: 0}, ""},
		{store.AuditQuery{Limit: 10, Before: all[len(all)-1].Seq}, ""},
		{store.AuditQuery{Limit: 2, Before: all[0].Seq + 1000}, "e6 e5"},
	} {
		got, err := db.AuditLog(ctx, tc.q)
		if err != nil || events(got) != tc.want {
			t.Errorf("AuditLog(%+v) = %q, %v; want %q", tc.q, events(got), err, tc.want)
		}
	}
	// A licence's log alone, as before: its newest, oldest first.
	if got, err := db.Audit(ctx, "L", 2); err != nil || events(got) != "e3 e5" {
		t.Fatalf("Audit(L, 2) = %q, %v", events(got), err)
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
