// Package storetest is the behavioural test suite every store.Store
// backend passes: the embedded boltstore and pgstore run the same tests
// (Run), so iscd behaves the same on either.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
)

// Backend opens the stores under test.
type Backend struct {
	// Open opens the store whose data is at where, or a new, empty one
	// when where is "", and returns it with its where (a file, a
	// connection string). retention <= 0 is the backend's default. The
	// store is closed when the test ends; closing it earlier is allowed.
	Open func(t *testing.T, where string, retention int) (store.Store, string)
	// Replicas says several stores may be open on one where at once (as
	// iscd replicas on one database): the concurrency tests then spread
	// their goroutines over two of them.
	Replicas bool
}

// Run runs the whole suite against b, one subtest per behaviour.
func Run(t *testing.T, b Backend) {
	for _, tc := range Tests {
		t.Run(tc.Name, func(t *testing.T) {
			tc.F(t, b)
		})
	}
}

// Tests are the suite's tests, by name.
var Tests = []struct {
	Name string
	F    func(*testing.T, Backend)
}{
	{"Directory", TestDirectory},
	{"Sessions", TestSessions},
	{"Events", TestEvents},
	{"Retention", TestRetention},
	{"ConcurrentAppends", TestConcurrentAppends},
	{"SurvivesReopen", TestSurvivesReopen},
	{"SeatRecords", TestSeatRecords},
	{"ConcurrentSeatUpdates", TestConcurrentSeatUpdates},
	{"KeysAndAudit", TestKeysAndAudit},
	{"AuditLog", TestAuditLog},
	{"Marketplace", TestMarketplace},
	{"MarketRequests", TestMarketRequests},
	{"Identity", TestIdentity},
	{"SignIns", TestSignIns},
	{"Federation", TestFederation},
	{"FileRecords", TestFileRecords},
	{"ListFilesPage", TestListFilesPage},
	{"FileAndFolder", TestFileAndFolder},
	{"ConcurrentUpdates", TestConcurrentUpdates},
	{"JobQueue", TestJobQueue},
	{"JobRecords", TestJobRecords},
	{"Solvers", TestSolvers},
	{"Releases", TestReleases},
	{"Outbox", TestOutbox},
	{"Deliveries", TestDeliveries},
	{"LeasesAndMarks", TestLeasesAndMarks},
	{"AnyString", TestAnyString},
}

var ctx = context.Background()

var created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// replicas returns n stores on one data set: the same store n times when
// the backend has no replicas.
func replicas(t *testing.T, b Backend, n int) []store.Store {
	t.Helper()
	return b.OpenReplicas(t, n)
}

// OpenReplicas opens n stores on one new, empty where, as n iscd replicas
// on one database; a backend without Replicas gives the one store n
// times.
func (b Backend) OpenReplicas(t *testing.T, n int) []store.Store {
	t.Helper()
	first, where := b.Open(t, "", 0)
	out := []store.Store{first}
	for len(out) < n {
		if !b.Replicas {
			out = append(out, first)
			continue
		}
		s, _ := b.Open(t, where, 0)
		out = append(out, s)
	}
	return out
}

// TestDirectory: orgs, users, tokens and products; duplicates refused.
func TestDirectory(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)

	must(t, db.CreateOrg(ctx, store.Org{ID: "acme", Name: "Acme", Created: created}))
	must(t, db.CreateOrg(ctx, store.Org{ID: "beta", Name: "Beta", Created: created}))
	if err := db.CreateOrg(ctx, store.Org{ID: "acme", Name: "Again"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate org: %v, want ErrExists", err)
	}
	if o, err := db.Org(ctx, "acme"); err != nil || o.Name != "Acme" || !o.Created.Equal(created) {
		t.Errorf("Org(acme) = %+v, %v; the duplicate must not overwrite it", o, err)
	}
	if _, err := db.Org(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Org(nope): %v, want ErrNotFound", err)
	}
	if orgs, err := db.Orgs(ctx); err != nil || len(orgs) != 2 || orgs[0].ID != "acme" {
		t.Errorf("Orgs = %+v, %v", orgs, err)
	}

	must(t, db.CreateUser(ctx, store.User{ID: "ann", OrgID: "acme", Name: "Ann", Email: "ann@acme.example"}))
	must(t, db.CreateUser(ctx, store.User{ID: "bob", OrgID: "beta", Name: "Bob"}))
	if err := db.CreateUser(ctx, store.User{ID: "ann", OrgID: "acme", Name: "Ann 2"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate user: %v, want ErrExists", err)
	}
	if err := db.CreateUser(ctx, store.User{ID: "eve", OrgID: "nope", Name: "Eve"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("user in an unknown org: %v, want ErrNotFound", err)
	}
	if _, err := db.User(ctx, "eve"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("User(eve): %v; a user of an unknown org was stored", err)
	}
	if u, err := db.User(ctx, "ann"); err != nil || u.Email != "ann@acme.example" || u.OrgID != "acme" {
		t.Errorf("User(ann) = %+v, %v", u, err)
	}
	if us, err := db.Users(ctx, "acme"); err != nil || len(us) != 1 || us[0].ID != "ann" {
		t.Errorf("Users(acme) = %+v, %v", us, err)
	}
	if us, err := db.Users(ctx, ""); err != nil || len(us) != 2 {
		t.Errorf("Users(all) = %+v, %v", us, err)
	}
	if us, err := db.Users(ctx, "nope"); err != nil || us == nil || len(us) != 0 {
		t.Errorf("Users(nope) = %#v, %v; want an empty, non-nil list", us, err)
	}

	must(t, db.CreateToken(ctx, store.Token{ID: "t1", Kind: "isk", Hash: "h1", UserID: "ann", OrgID: "acme"}))
	must(t, db.CreateToken(ctx, store.Token{ID: "t2", Kind: "isk", Hash: "h2", UserID: "bob", OrgID: "beta"}))
	must(t, db.CreateToken(ctx, store.Token{ID: "a1", Kind: "isa", Hash: "h3"}))
	if err := db.CreateToken(ctx, store.Token{ID: "t1", Kind: "isk", Hash: "other"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate token: %v, want ErrExists", err)
	}
	if ts, err := db.Tokens(ctx, "ann"); err != nil || len(ts) != 1 || ts[0].ID != "t1" {
		t.Errorf("Tokens(ann) = %+v, %v", ts, err)
	}
	if ts, err := db.Tokens(ctx, ""); err != nil || len(ts) != 3 {
		t.Errorf("Tokens(all) = %+v, %v", ts, err)
	}
	must(t, db.RevokeToken(ctx, "t1"))
	if tk, err := db.Token(ctx, "t1"); err != nil || !tk.Revoked || tk.Hash != "h1" || tk.UserID != "ann" {
		t.Errorf("revoked token = %+v, %v; want it revoked and otherwise unchanged", tk, err)
	}
	if tk, _ := db.Token(ctx, "t2"); tk.Revoked {
		t.Error("revoking t1 revoked t2")
	}
	if err := db.RevokeToken(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeToken(nope): %v, want ErrNotFound", err)
	}
	if _, err := db.Token(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Token(nope): %v, want ErrNotFound", err)
	}

	must(t, db.CreateProduct(ctx, store.Product{ID: "cad", Name: "CAD"}))
	if err := db.CreateProduct(ctx, store.Product{ID: "cad", Name: "CAD 2"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate product: %v, want ErrExists", err)
	}
	if p, err := db.Product(ctx, "cad"); err != nil || p.Name != "CAD" {
		t.Errorf("Product(cad) = %+v, %v", p, err)
	}
	if _, err := db.Product(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Product(nope): %v, want ErrNotFound", err)
	}
	if ps, err := db.Products(ctx); err != nil || len(ps) != 1 {
		t.Errorf("Products = %+v, %v", ps, err)
	}

	// An admin token's role and expiry come back as stored.
	expires := created.Add(30 * 24 * time.Hour)
	must(t, db.CreateToken(ctx, store.Token{ID: "a2", Kind: "isa", Hash: "h4", Role: "releases", Expires: expires}))
	if tk, err := db.Token(ctx, "a2"); err != nil || tk.Role != "releases" || !tk.Expires.Equal(expires) {
		t.Errorf("Token(a2) = %+v, %v; want role releases, expiring %v", tk, err, expires)
	}

	// Expired tokens of one kind are deleted; those of that kind with no
	// expiry or a later one, and other kinds whatever their expiry, stay.
	must(t, db.CreateToken(ctx, store.Token{ID: "c1", Kind: "iso", Hash: "h5", UserID: "ann", Expires: created.Add(time.Hour)}))
	must(t, db.CreateToken(ctx, store.Token{ID: "c2", Kind: "iso", Hash: "h6", UserID: "ann", Expires: created.Add(3 * time.Hour)}))
	must(t, db.CreateToken(ctx, store.Token{ID: "c3", Kind: "iso", Hash: "h7"}))
	if n, err := db.DeleteExpiredTokens(ctx, "iso", created.Add(2*time.Hour)); err != nil || n != 1 {
		t.Errorf("DeleteExpiredTokens = %d, %v; want 1", n, err)
	}
	if _, err := db.Token(ctx, "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired token is still there: %v", err)
	}
	for _, id := range []string{"c2", "c3", "a2", "t1"} {
		if _, err := db.Token(ctx, id); err != nil {
			t.Errorf("token %s was deleted: %v", id, err)
		}
	}
	if n, err := db.DeleteExpiredTokens(ctx, "isa", expires.Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("DeleteExpiredTokens(isa) = %d, %v; want a2 only", n, err)
	}
	must(t, db.CreateToken(ctx, store.Token{ID: "a2", Kind: "isa", Hash: "h4", Role: "releases", Expires: expires}))

	// UpdateProduct edits in place; an error from the change stores nothing.
	must(t, db.UpdateProduct(ctx, "cad", func(p *store.Product) error {
		p.Name, p.ID = "CAD 2026", "renamed"
		p.RequireLicense = &store.LicenseGates{Compute: true}
		return nil
	}))
	if p, err := db.Product(ctx, "cad"); err != nil || p.Name != "CAD 2026" || p.RequireLicense == nil ||
		!p.RequireLicense.Compute || p.RequireLicense.Files {
		t.Errorf("updated product = %+v, %v; want the new name and a compute gate only", p, err)
	}
	if _, err := db.Product(ctx, "renamed"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateProduct changed the product's id: %v", err)
	}
	stop := errors.New("stop")
	if err := db.UpdateProduct(ctx, "cad", func(p *store.Product) error { p.Name = "lost"; return stop }); !errors.Is(err, stop) {
		t.Errorf("UpdateProduct with a failing change: %v, want its error", err)
	}
	if p, _ := db.Product(ctx, "cad"); p.Name != "CAD 2026" {
		t.Errorf("a failed change was stored: %+v", p)
	}
	if err := db.UpdateProduct(ctx, "nope", func(*store.Product) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateProduct(nope): %v, want ErrNotFound", err)
	}
}

// TestSessions: Put replaces, Session reads back exactly what was put.
func TestSessions(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	s := store.Session{ID: "s1", ResumeHash: "rh", OrgID: "acme", UserID: "ann", ProductID: "cad", Created: created, LastSeen: created}
	must(t, db.PutSession(ctx, s))
	s.LastSeen = created.Add(time.Minute + time.Nanosecond)
	s.AppVersion = "2.0"
	must(t, db.PutSession(ctx, s)) // Put replaces
	if got, err := db.Session(ctx, "s1"); err != nil || got != s {
		t.Errorf("Session(s1) = %+v, %v; want %+v", got, err, s)
	}
	if _, err := db.Session(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session(nope): %v, want ErrNotFound", err)
	}
	must(t, db.PutSession(ctx, store.Session{ID: "s2"}))
	if ss, err := db.ListSessions(ctx); err != nil || len(ss) != 2 {
		t.Errorf("ListSessions = %+v, %v", ss, err)
	}
}

func appendN(t *testing.T, db store.Store, session string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		seq, err := db.AppendEvent(ctx, session, fmt.Appendf(nil, "event %d", i))
		if err != nil || seq != uint64(i) {
			t.Fatalf("AppendEvent #%d = %d, %v", i, seq, err)
		}
	}
}

// wantEvents checks that EventsAfter(after) returns exactly seqs, each
// with the data appendN stored for it.
func wantEvents(t *testing.T, db store.Store, session string, after uint64, limit int, seqs ...uint64) {
	t.Helper()
	evs, err := db.EventsAfter(ctx, session, after, limit)
	if err != nil {
		t.Fatalf("EventsAfter(%d): %v", after, err)
	}
	got := make([]uint64, len(evs))
	for i, e := range evs {
		got[i] = e.Seq
		if want := fmt.Sprintf("event %d", e.Seq); string(e.Data) != want {
			t.Errorf("event %d holds %q, want %q", e.Seq, e.Data, want)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(seqs) {
		t.Errorf("EventsAfter(%d, limit %d) = seqs %v, want %v", after, limit, got, seqs)
	}
}

func wantRange(t *testing.T, db store.Store, session string, first, last uint64) {
	t.Helper()
	f, l, err := db.EventRange(ctx, session)
	if err != nil || f != first || l != last {
		t.Errorf("EventRange = %d, %d, %v; want %d, %d", f, l, err, first, last)
	}
}

// TestEvents: numbering per session, acks, deletion.
func TestEvents(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	must(t, db.PutSession(ctx, store.Session{ID: "s1"}))
	must(t, db.PutSession(ctx, store.Session{ID: "s2"}))
	wantRange(t, db, "s1", 0, 0)
	wantEvents(t, db, "s1", 0, 10)

	appendN(t, db, "s1", 1, 5)
	appendN(t, db, "s2", 1, 2) // each session counts from 1
	wantRange(t, db, "s1", 1, 5)
	wantEvents(t, db, "s1", 0, 100, 1, 2, 3, 4, 5)
	wantEvents(t, db, "s1", 2, 100, 3, 4, 5)
	wantEvents(t, db, "s1", 0, 2, 1, 2)
	wantEvents(t, db, "s1", 5, 100)
	wantEvents(t, db, "s2", 0, 100, 1, 2)

	if _, err := db.AppendEvent(ctx, "nope", []byte("x")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AppendEvent to an unknown session: %v, want ErrNotFound", err)
	}

	// Putting the session again keeps its events and numbering.
	must(t, db.PutSession(ctx, store.Session{ID: "s1", LastSeen: created}))
	wantRange(t, db, "s1", 1, 5)

	// Acknowledged events go; the sequence goes on.
	must(t, db.AckEvents(ctx, "s1", 3))
	wantRange(t, db, "s1", 4, 5)
	wantEvents(t, db, "s1", 0, 100, 4, 5)
	must(t, db.AckEvents(ctx, "s1", 2)) // an old ack changes nothing
	wantRange(t, db, "s1", 4, 5)
	must(t, db.AckEvents(ctx, "s1", 5))
	wantRange(t, db, "s1", 0, 5)
	appendN(t, db, "s1", 6, 6)
	wantRange(t, db, "s1", 6, 6)
	must(t, db.AckEvents(ctx, "nope", 10)) // nothing to drop
	wantEvents(t, db, "s2", 0, 100, 1, 2)

	// Deleting a session deletes its events; a new session of the same id
	// starts again at 1.
	must(t, db.DeleteSession(ctx, "s1"))
	if _, err := db.Session(ctx, "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session after DeleteSession: %v, want ErrNotFound", err)
	}
	wantRange(t, db, "s1", 0, 0)
	wantEvents(t, db, "s1", 0, 100)
	if _, err := db.AppendEvent(ctx, "s1", []byte("x")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AppendEvent after DeleteSession: %v, want ErrNotFound", err)
	}
	must(t, db.PutSession(ctx, store.Session{ID: "s1"}))
	appendN(t, db, "s1", 1, 1)
	wantEvents(t, db, "s2", 0, 100, 1, 2)
	must(t, db.DeleteSession(ctx, "never-had-events"))
}

// TestRetention: beyond the retention, the oldest events go.
func TestRetention(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 3)
	must(t, db.PutSession(ctx, store.Session{ID: "s1"}))
	appendN(t, db, "s1", 1, 3)
	wantRange(t, db, "s1", 1, 3)
	appendN(t, db, "s1", 4, 7)
	wantRange(t, db, "s1", 5, 7)
	wantEvents(t, db, "s1", 0, 100, 5, 6, 7)
	wantEvents(t, db, "s1", 5, 100, 6, 7)
}

// TestConcurrentAppends: concurrent appends (from every replica) number
// each session's events 1, 2, ... without a gap or a repeat, and a
// failing append disturbs none.
func TestConcurrentAppends(t *testing.T, b Backend) {
	dbs := replicas(t, b, 2)
	const sessions, perSession = 8, 20
	for i := range sessions {
		must(t, dbs[0].PutSession(ctx, store.Session{ID: fmt.Sprint("s", i)}))
	}
	var wg sync.WaitGroup
	seqs := make([][]uint64, sessions)
	var mu sync.Mutex
	for i := range sessions {
		for k := range perSession {
			db := dbs[k%len(dbs)]
			wg.Go(func() {
				seq, err := db.AppendEvent(ctx, fmt.Sprint("s", i), []byte("x"))
				if err != nil {
					t.Errorf("append to s%d: %v", i, err)
					return
				}
				mu.Lock()
				seqs[i] = append(seqs[i], seq)
				mu.Unlock()
			})
			wg.Go(func() {
				if _, err := db.AppendEvent(ctx, "gone", []byte("x")); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("append to a missing session: %v", err)
				}
			})
		}
	}
	wg.Wait()
	for i := range sessions {
		got := map[uint64]bool{}
		for _, s := range seqs[i] {
			got[s] = true
		}
		for want := uint64(1); want <= perSession; want++ {
			if !got[want] {
				t.Errorf("s%d: no event numbered %d; got %v", i, want, seqs[i])
				break
			}
		}
		wantRange(t, dbs[0], fmt.Sprint("s", i), 1, perSession)
	}
}

// TestSurvivesReopen: what was stored is there after a close and reopen,
// and event numbering carries on.
func TestSurvivesReopen(t *testing.T, b Backend) {
	db, where := b.Open(t, "", 0)
	must(t, db.CreateOrg(ctx, store.Org{ID: "acme", Name: "Acme", Created: created}))
	must(t, db.CreateUser(ctx, store.User{ID: "ann", OrgID: "acme", Name: "Ann"}))
	must(t, db.CreateToken(ctx, store.Token{ID: "t1", Kind: "isk", Hash: "h1", UserID: "ann"}))
	must(t, db.RevokeToken(ctx, "t1"))
	must(t, db.CreateProduct(ctx, store.Product{ID: "cad", Name: "CAD"}))
	must(t, db.PutSession(ctx, store.Session{ID: "s1", UserID: "ann", LastSeen: created}))
	appendN(t, db, "s1", 1, 4)
	must(t, db.AckEvents(ctx, "s1", 1))
	must(t, db.PutLicense(ctx, Floating("L", 1)))
	_, err := commit(db, store.Version{OrgID: "acme", Path: "/a.prt"}, []byte("m"))
	must(t, err)
	must(t, db.Close())

	db, _ = b.Open(t, where, 0)
	if o, err := db.Org(ctx, "acme"); err != nil || o.Name != "Acme" || !o.Created.Equal(created) {
		t.Errorf("org after reopen: %+v, %v", o, err)
	}
	if u, err := db.User(ctx, "ann"); err != nil || u.OrgID != "acme" {
		t.Errorf("user after reopen: %+v, %v", u, err)
	}
	if tk, err := db.Token(ctx, "t1"); err != nil || !tk.Revoked || tk.Hash != "h1" {
		t.Errorf("token after reopen: %+v, %v", tk, err)
	}
	if _, err := db.Product(ctx, "cad"); err != nil {
		t.Errorf("product after reopen: %v", err)
	}
	if s, err := db.Session(ctx, "s1"); err != nil || !s.LastSeen.Equal(created) {
		t.Errorf("session after reopen: %+v, %v", s, err)
	}
	if l, err := db.License(ctx, "L"); err != nil || l.Seats != 1 || l.Grace != time.Hour {
		t.Errorf("licence after reopen: %+v, %v", l, err)
	}
	if m, err := db.Manifest(ctx, "acme", "/a.prt", 1); err != nil || string(m) != "m" {
		t.Errorf("manifest after reopen: %q, %v", m, err)
	}
	wantRange(t, db, "s1", 2, 4)
	wantEvents(t, db, "s1", 0, 100, 2, 3, 4)
	appendN(t, db, "s1", 5, 5) // the sequence carries on
}

// TestAnyString: records keep any string a client or an operator may send,
// control characters included, as they were.
func TestAnyString(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	odd := "a\x00b\x01c\u2028d\"e\\f\U0001F600"
	must(t, db.CreateOrg(ctx, store.Org{ID: "acme", Name: odd}))
	must(t, db.CreateUser(ctx, store.User{ID: "ann", OrgID: "acme", Name: odd}))
	must(t, db.PutSession(ctx, store.Session{ID: "s1", Device: odd, AppVersion: odd}))
	if o, err := db.Org(ctx, "acme"); err != nil || o.Name != odd {
		t.Errorf("org name %q, %v; want %q", o.Name, err, odd)
	}
	if u, err := db.User(ctx, "ann"); err != nil || u.Name != odd {
		t.Errorf("user name %q, %v", u.Name, err)
	}
	if s, err := db.Session(ctx, "s1"); err != nil || s.Device != odd || s.AppVersion != odd {
		t.Errorf("session device %q, %v", s.Device, err)
	}
	must(t, db.PutLicense(ctx, Floating("L", 1)))
	st := Seat("L", "s1", "ann", odd, created)
	st.ID = "seat_1"
	must(t, db.UpdateSeats(ctx, "L", func(tx store.SeatTx, _ store.License) error { return tx.PutSeat(st) }))
	if seats, err := db.Seats(ctx, "L"); err != nil || len(seats) != 1 || seats[0].Device != odd {
		t.Errorf("seats %+v, %v; want the device %q", seats, err, odd)
	}
	if got, err := db.DeleteSessionSeats(ctx, "s1", func(store.Seat) bool { return true }); err != nil || len(got) != 1 || got[0].Device != odd {
		t.Errorf("DeleteSessionSeats = %+v, %v", got, err)
	}
	must(t, db.CreateToken(ctx, store.Token{ID: "t1", Kind: "isk", Hash: "h", UserID: "ann", Name: odd}))
	must(t, db.RevokeToken(ctx, "t1"))
	if tk, err := db.Token(ctx, "t1"); err != nil || !tk.Revoked || tk.Name != odd {
		t.Errorf("revoked token %+v, %v", tk, err)
	}
	must(t, db.AppendAudit(ctx, store.AuditEntry{LicenseID: "L", Event: "e", Detail: odd}))
	if a, err := db.Audit(ctx, "L", 1); err != nil || len(a) != 1 || a[0].Detail != odd {
		t.Errorf("audit %+v, %v", a, err)
	}
}
