package marketpush_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/aksk"
	"github.com/iscsdk/iscsdk/internal/marketapi"
	"github.com/iscsdk/iscsdk/internal/marketapi/markettest"
	"github.com/iscsdk/iscsdk/internal/server/licensing"
	"github.com/iscsdk/iscsdk/internal/server/marketpush"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/boltstore"
)

var ctx = context.Background()

type rig struct {
	st  *boltstore.DB
	mkt *markettest.Server
	p   *marketpush.Pusher
}

func newRig(t *testing.T, timeout time.Duration) *rig {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "iscd.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mkt := markettest.Start(t, "ak", "sk", "uk")
	c, err := marketapi.New(marketapi.Config{BaseURL: mkt.URL, Key: aksk.Key{Access: "ak", Secret: "sk"}, UsageKey: "uk", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	p := marketpush.New(st, c, marketpush.Config{MinBackoff: time.Nanosecond, MaxBackoff: time.Nanosecond}, nil)
	return &rig{st, mkt, p}
}

func (r *rig) enqueue(t *testing.T, n int, instance string, begin time.Time) []string {
	t.Helper()
	var recs []store.OutboxRecord
	var sns []string
	now := time.Now().UTC()
	for i := range n {
		sn := fmt.Sprintf("%s-%04d", instance, i)
		sns = append(sns, sn)
		recs = append(recs, store.OutboxRecord{SN: sn, InstanceID: instance, Begin: begin, End: begin.Add(time.Minute),
			Value: 0.0167, Source: "compute", NextTry: now, Created: now})
	}
	if _, err := r.st.EnqueueUsage(ctx, recs); err != nil {
		t.Fatal(err)
	}
	return sns
}

func (r *rig) cycle(t *testing.T) marketpush.Result {
	t.Helper()
	res, err := r.p.Cycle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (r *rig) stats(t *testing.T) store.OutboxStats {
	t.Helper()
	s, err := r.st.OutboxStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// 2,500 records go in three pushes of at most 1,000, each billed once.
func TestBatches(t *testing.T) {
	r := newRig(t, 10*time.Second)
	r.enqueue(t, 2500, "mkt_a", time.Now().UTC().Add(-time.Hour))
	res := r.cycle(t)
	if res.Sent != 2500 {
		t.Fatalf("cycle = %+v", res)
	}
	if b := r.mkt.Batches(); len(b) != 3 || b[0] != 1000 || b[1] != 1000 || b[2] != 500 {
		t.Errorf("pushes = %v, want [1000 1000 500]", b)
	}
	if n := len(r.mkt.Billed()); n != 2500 {
		t.Errorf("billed %d records", n)
	}
	if s := r.stats(t); s.Sent != 2500 || s.Pending != 0 {
		t.Errorf("stats = %+v", s)
	}
	if res := r.cycle(t); res.Sent != 0 || len(r.mkt.Batches()) != 3 {
		t.Errorf("a second cycle pushed again: %+v", res)
	}
}

// Each refusal code parks or retries as docs/marketplace.md says; a
// refused instance parks its records only, not the rest of the batch.
func TestRefusals(t *testing.T) {
	begin := time.Now().UTC().Add(-time.Hour)
	for _, code := range []string{"MKT.9001", "MKT.9002", "MKT.0100", "MKT.0101"} {
		t.Run(code, func(t *testing.T) {
			r := newRig(t, 10*time.Second)
			good := r.enqueue(t, 5, "mkt_good", begin)
			bad := r.enqueue(t, 2, "mkt_bad", begin.Add(time.Second))
			r.mkt.RefuseInstance("mkt_bad", code)
			res := r.cycle(t)
			if res.Sent != 5 || res.Parked != 2 {
				t.Fatalf("cycle = %+v; want 5 sent, 2 parked", res)
			}
			billed := r.mkt.Billed()
			for _, sn := range good {
				if _, ok := billed[sn]; !ok {
					t.Errorf("%s not billed", sn)
				}
			}
			parked, _ := r.st.UsageOutbox(ctx, store.OutboxParked, 0)
			if len(parked) != 2 || !strings.Contains(parked[0].Reason, code) {
				t.Fatalf("parked = %+v", parked)
			}
			// Parked records are not retried...
			if res := r.cycle(t); res.Sent+res.Parked+res.Retried != 0 {
				t.Errorf("parked records pushed again: %+v", res)
			}
			// ...until re-queued after the fix.
			r.mkt.RefuseInstance("mkt_bad", "")
			if n, err := marketpush.RequeueParked(ctx, r.st, nil, time.Now().UTC()); err != nil || n != 2 {
				t.Fatalf("requeue = %d, %v", n, err)
			}
			if res := r.cycle(t); res.Sent != 2 {
				t.Errorf("after re-queue: %+v", res)
			}
			for _, sn := range bad {
				if _, ok := r.mkt.Billed()[sn]; !ok {
					t.Errorf("%s not billed after re-queue", sn)
				}
			}
		})
	}
	for _, a := range []markettest.Answer{{Code: "MKT.0999"}, {Status: 503, Code: "APIGW.0503"}, {Status: 500}} {
		t.Run(fmt.Sprintf("retry %d %s", a.Status, a.Code), func(t *testing.T) {
			r := newRig(t, 10*time.Second)
			sns := r.enqueue(t, 3, "mkt_a", begin)
			r.mkt.Script(marketapi.UsagePath, a)
			if res := r.cycle(t); res.Retried != 3 || res.Sent != 0 {
				t.Fatalf("cycle = %+v; want 3 retried", res)
			}
			pending, _ := r.st.UsageOutbox(ctx, store.OutboxPending, 0)
			if len(pending) != 3 || pending[0].Attempts != 1 || pending[0].Reason == "" {
				t.Errorf("pending = %+v", pending)
			}
			if res := r.cycle(t); res.Sent != 3 {
				t.Errorf("retry = %+v", res)
			}
			for _, sn := range sns {
				if _, ok := r.mkt.Billed()[sn]; !ok {
					t.Errorf("%s not billed", sn)
				}
			}
		})
	}
}

// The marketplace bills a push, then its answer is lost (the client
// times out): the records are pushed again with the same metering_sn and
// billed once.
func TestTimeoutAfterAccept(t *testing.T) {
	r := newRig(t, 300*time.Millisecond)
	sns := r.enqueue(t, 10, "mkt_a", time.Now().UTC().Add(-time.Hour))
	r.mkt.Script(marketapi.UsagePath, markettest.Answer{Hang: true, AcceptFirst: true})
	if res := r.cycle(t); res.Retried != 10 {
		t.Fatalf("cycle = %+v", res)
	}
	if res := r.cycle(t); res.Sent != 10 {
		t.Fatalf("retry = %+v", res)
	}
	billed := r.mkt.Billed()
	for _, sn := range sns {
		if _, ok := billed[sn]; !ok || r.mkt.Received(sn) != 2 {
			t.Errorf("%s: billed %v, received %d times (want billed, received twice)", sn, ok, r.mkt.Received(sn))
		}
	}
	if len(billed) != 10 || len(r.mkt.Conflicts()) != 0 {
		t.Errorf("billed %d, conflicts %v", len(billed), r.mkt.Conflicts())
	}
}

// Records near the 21-day limit are flagged before it (counted in the
// stats); past it they are parked with MKT.9004 without being sent.
func TestTwentyOneDays(t *testing.T) {
	r := newRig(t, 10*time.Second)
	now := time.Now().UTC()
	r.mkt.Script(marketapi.UsagePath, markettest.Answer{Code: "MKT.0999"}) // keep the old ones pending once
	old := r.enqueue(t, 2, "mkt_old", now.Add(-19*24*time.Hour))
	r.enqueue(t, 1, "mkt_dead", now.Add(-22*24*time.Hour))
	res := r.cycle(t)
	if res.Warned != 2 || res.Parked != 1 || res.Retried != 2 {
		t.Fatalf("cycle = %+v; want 2 warned and retried, 1 parked", res)
	}
	if s := r.stats(t); s.Warned != 2 || s.Pending != 2 || s.Parked != 1 {
		t.Errorf("stats = %+v", s)
	}
	parked, _ := r.st.UsageOutbox(ctx, store.OutboxParked, 0)
	if len(parked) != 1 || !strings.Contains(parked[0].Reason, "MKT.9004") || r.mkt.Received(parked[0].SN) != 0 {
		t.Errorf("parked = %+v (received %d)", parked, r.mkt.Received(parked[0].SN))
	}
	if res := r.cycle(t); res.Sent != 2 || res.Warned != 0 {
		t.Errorf("second cycle = %+v; warned once only", res)
	}
	for _, sn := range old {
		if _, ok := r.mkt.Billed()[sn]; !ok {
			t.Errorf("%s not billed", sn)
		}
	}
}

// Only the lease holder pushes.
func TestLease(t *testing.T) {
	r := newRig(t, 10*time.Second)
	c, _ := marketapi.New(marketapi.Config{BaseURL: r.mkt.URL, Key: aksk.Key{Access: "ak", Secret: "sk"}, UsageKey: "uk"})
	other := marketpush.New(r.st, c, marketpush.Config{}, nil)
	r.enqueue(t, 3, "mkt_a", time.Now().UTC().Add(-time.Hour))
	if res := r.cycle(t); !res.Leader || res.Sent != 3 {
		t.Fatalf("first = %+v", res)
	}
	r.enqueue(t, 4, "mkt_b", time.Now().UTC().Add(-time.Hour))
	if res, err := other.Cycle(ctx); err != nil || res.Leader || res.Sent != 0 {
		t.Errorf("the other replica = %+v, %v; it must not push while the lease is held", res, err)
	}
}

// Seat time of an ON_DEMAND instance: an hour record per seat and hour
// once the hour has passed, the last (partial) hour once the seat is
// given back; a PERIOD instance's seats are not metered.
func TestSeatTime(t *testing.T) {
	r := newRig(t, 10*time.Second)
	now := time.Now().UTC()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.st.CreateOrg(ctx, store.Org{ID: "o", Name: "O", Created: now}))
	for id, mode := range map[string]string{"mkt_od": "ON_DEMAND", "mkt_period": "PERIOD"} {
		must(r.st.PutLicense(ctx, store.License{ID: id, OrgID: "o", ProductID: "p", Kind: store.KindFloating, Seats: 2,
			Status: store.StatusActive, Created: now, Updated: now}))
		must(r.st.PutInstance(ctx, store.MarketInstance{ID: id, OrderID: id, OrderLineID: id + "-1", ChargingMode: mode, Created: now, Updated: now}))
	}
	acquired := now.Add(-150 * time.Minute)
	renewed := now.Add(-time.Minute)
	seat, err := licensing.AcquireSeat(ctx, r.st, store.Seat{ID: "s1", LicenseID: "mkt_od", SessionID: "sess", UserID: "u",
		Acquired: acquired, Renewed: renewed, LeaseExpires: now.Add(5 * time.Minute)})
	must(err)
	_, err = licensing.AcquireSeat(ctx, r.st, store.Seat{ID: "s2", LicenseID: "mkt_period", SessionID: "sess2", UserID: "u",
		Acquired: acquired, Renewed: renewed, LeaseExpires: now.Add(5 * time.Minute)})
	must(err)
	acquired, renewed = seat.Acquired, seat.Renewed // as stored

	hours := func() (n int, sum float64, sns []string) {
		for sn, u := range r.mkt.Billed() {
			if strings.HasPrefix(sn, "seat-") {
				if u.InstanceID != "mkt_od" {
					t.Errorf("seat time of %s billed: %+v", u.InstanceID, u)
				}
				n++
				sum += float64(u.UsageValue)
				sns = append(sns, sn)
			}
		}
		return
	}
	r.cycle(t)
	cycled := time.Now().UTC()                                  // the hours passed by the cycle count as held
	wantClosed := now.Truncate(time.Hour).Sub(acquired).Hours() // the hours passed
	n, sum, _ := hours()
	if n != int(math.Ceil(now.Truncate(time.Hour).Sub(acquired.Truncate(time.Hour)).Hours())) || math.Abs(sum-wantClosed) > 0.001*float64(n) {
		t.Fatalf("while held: %d records, %.4f h; want the %.4f h of the hours passed", n, sum, wantClosed)
	}
	r.cycle(t) // nothing new
	if n2, _, _ := hours(); n2 != n {
		t.Errorf("a second cycle billed %d more", n2-n)
	}
	if _, err := r.st.ReleaseSeat(ctx, seat.ID); err != nil {
		t.Fatal(err)
	}
	r.cycle(t)
	n, sum, sns := hours()
	// Up to the last renewal seen — or to the end of an hour that the first
	// cycle saw pass while the seat was held (a run just after the hour).
	want := latest(renewed, cycled.Truncate(time.Hour)).Sub(acquired).Hours()
	if math.Abs(sum-want) > 0.001*float64(n) {
		t.Errorf("after release: %d records %v, %.4f h; want %.4f h", n, sns, sum, want)
	}
	r.cycle(t)
	if n2, _, _ := hours(); n2 != n {
		t.Errorf("after release, another cycle billed %d more", n2-n)
	}
	if ms, _ := r.st.OutboxMarks(ctx, "seat|"); len(ms) != 0 {
		t.Errorf("marks of a seat given back remain: %v", ms)
	}
	t.Logf("a seat held %.4f h: %d hour records, %.4f h billed", want, n, sum)
}

// While the marketplace fails, a cycle stops at the first failed push:
// the backlog waits for the retry instead of being sent into the outage.
func TestOutageStopsTheCycle(t *testing.T) {
	r := newRig(t, 10*time.Second)
	r.enqueue(t, 2500, "mkt_a", time.Now().UTC().Add(-time.Hour))
	r.mkt.Script(marketapi.UsagePath, markettest.Answer{Code: "MKT.0999"})
	if res := r.cycle(t); res.Retried != 1000 || res.Sent != 0 || len(r.mkt.Batches()) != 1 {
		t.Fatalf("cycle = %+v, pushes %v; want one push of 1,000 retried", res, r.mkt.Batches())
	}
	if res := r.cycle(t); res.Sent != 2500 {
		t.Errorf("after the outage: %+v", res)
	}
}

// A marketplace that takes fewer records a push than 1,000 (MKT.9003):
// the push is split until it is accepted, nothing parked.
func TestTooManySplits(t *testing.T) {
	r := newRig(t, 10*time.Second)
	r.enqueue(t, 1000, "mkt_a", time.Now().UTC().Add(-time.Hour))
	r.mkt.Script(marketapi.UsagePath, markettest.Answer{Code: "MKT.9003"})
	if res := r.cycle(t); res.Sent != 1000 || res.Parked != 0 {
		t.Fatalf("cycle = %+v, pushes %v", res, r.mkt.Batches())
	}
	if b := r.mkt.Batches(); len(b) != 3 || b[1] != 500 || b[2] != 500 {
		t.Errorf("pushes %v, want [1000 500 500]", b)
	}
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
