package marketpush_test

import (
	"testing"
	"time"

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
