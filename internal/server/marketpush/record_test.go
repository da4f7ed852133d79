package marketpush_test

import (
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/licensing"
	"github.com/iscsdk/iscsdk/internal/server/marketpush"
	"github.com/iscsdk/iscsdk/internal/store"
)

// A solve is billed in the unit of the product's metered SKU: core time is
// the solver's CPU time over all its cores, solver time its wall time.
func TestComputeUnits(t *testing.T) {
	now := time.Now().UTC()
	fourCores := store.UsageRecord{SN: "j-1", LicenseID: "mkt_a", Begin: now.Add(-time.Minute), End: now,
		SolverSeconds: 90, CPUSeconds: 360}
	unmeasured := fourCores
	unmeasured.CPUSeconds = 0
	tiny := store.UsageRecord{SN: "j-2", SolverSeconds: 0.01, CPUSeconds: 0.02}
	for _, c := range []struct {
		unit string
		u    store.UsageRecord
		want float64
	}{
		{marketpush.UnitCoreSeconds, fourCores, 360},
		{marketpush.UnitCoreHours, fourCores, 0.1},
		{marketpush.UnitSolverSeconds, fourCores, 90},
		{marketpush.UnitSolverHours, fourCores, 0.025},
		{marketpush.UnitCoreSeconds, unmeasured, 90}, // one core
		{marketpush.UnitCoreHours, tiny, 0.0001},     // never 0: rounded up to 4 decimals
	} {
		r := marketpush.Record(c.u, c.unit, now)
		if r.Value != c.want || r.SN != c.u.SN || r.Source != "compute" {
			t.Errorf("%s of %+v: value %v sn %q, want %v", c.unit, c.u, r.Value, r.SN, c.want)
		}
	}
	if err := marketpush.CheckUnit("cores"); err == nil {
		t.Error("an unknown unit was accepted")
	}
}

// A pay-per-use seat taken and given back between two cycles — a program
// that ran for a few seconds — is billed from its return (licensing's
// OnSeatReturned), not lost because no cycle saw it held.
func TestShortSeatBilledFromItsReturn(t *testing.T) {
	r := newRig(t, 10*time.Second)
	now := time.Now().UTC()
	if err := r.st.CreateOrg(ctx, store.Org{ID: "o", Name: "O", Created: now}); err != nil {
		t.Fatal(err)
	}
	for id, mode := range map[string]string{"mkt_od": "ON_DEMAND", "mkt_period": "PERIOD"} {
		if err := r.st.PutLicense(ctx, store.License{ID: id, OrgID: "o", ProductID: "p", Kind: store.KindFloating, Seats: 2,
			Status: store.StatusActive, Created: now, Updated: now}); err != nil {
			t.Fatal(err)
		}
		if err := r.st.PutInstance(ctx, store.MarketInstance{ID: id, OrderID: id, OrderLineID: id + "-1", ChargingMode: mode, Created: now, Updated: now}); err != nil {
			t.Fatal(err)
		}
	}
	r.cycle(t) // no seat yet
	var held []store.Seat
	for _, lic := range []string{"mkt_od", "mkt_period"} {
		seat, err := licensing.AcquireSeat(ctx, r.st, store.Seat{ID: "s-" + lic, LicenseID: lic, SessionID: "sess-" + lic, UserID: "u",
			Acquired: now.Add(-10 * time.Minute), Renewed: now.Add(-9 * time.Minute), LeaseExpires: now.Add(5 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.st.ReleaseSeat(ctx, seat.ID); err != nil {
			t.Fatal(err)
		}
		r.p.SeatReturned(ctx, seat, now.Add(-2*time.Minute))
		held = append(held, seat)
	}
	r.cycle(t)
	var sum float64
	for sn, u := range r.mkt.Billed() {
		if u.InstanceID != "mkt_od" {
			t.Errorf("%s billed for a PERIOD instance: %+v", sn, u)
		}
		sum += float64(u.UsageValue)
	}
	want := now.Add(-2 * time.Minute).Sub(held[0].Acquired).Hours()
	if sum < want-0.0002 || sum > want+0.0002*2 {
		t.Errorf("a seat held 8 minutes between cycles billed %.4f h, want %.4f h", sum, want)
	}
	r.cycle(t)
	if ms, _ := r.st.OutboxMarks(ctx, "seat|"); len(ms) != 0 {
		t.Errorf("marks of a seat given back remain: %v", ms)
	}
}
