package jobs

import (
	"testing"

	"github.com/iscsdk/iscsdk/internal/adminapi/adminapitest"
	"github.com/iscsdk/iscsdk/internal/store"
)

// A job and a usage record answer as the store's records did.
func TestRecordsAnswerAsTheStoreRecordsDid(t *testing.T) {
	j := adminapitest.Filled[store.Job]()
	adminapitest.SameJSON(t, j, jobOut(j))
	u := adminapitest.Filled[store.UsageRecord]()
	adminapitest.SameJSON(t, u, meteredOut(u))
}

// A solver put through the admin API is stored as it was given, and
// answered so (its time limit in whole seconds).
func TestSolverRoundTrip(t *testing.T) {
	sv := adminapitest.Filled[store.Solver]()
	if got := solverIn(solverOut(sv)); got.TimeLimit != sv.TimeLimit || got.Name != sv.Name || got.MaxAttempts != sv.MaxAttempts {
		t.Errorf("solver %+v comes back as %+v", sv, got)
	}
}
