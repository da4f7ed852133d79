package jobs

import (
	"testing"

	"github.com/iscsdk/iscsdk/internal/adminapi"
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

// iscctl filters and prints with adminapi's names of the job states and
// solver kinds: they are the store's.
func TestStateNamesAreTheStores(t *testing.T) {
	for api, st := range map[string]string{adminapi.JobQueued: store.JobQueued, adminapi.JobRunning: store.JobRunning,
		adminapi.JobSucceeded: store.JobSucceeded, adminapi.JobFailed: store.JobFailed, adminapi.JobCanceled: store.JobCanceled,
		adminapi.SolverCommand: store.SolverCommand, adminapi.SolverPlugin: store.SolverPlugin} {
		if api != st {
			t.Errorf("adminapi says %q where the store says %q", api, st)
		}
	}
}
