package jobs

import (
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/store"
)

// The compute service's records as the admin API answers them. Go
// conversions where the types are alike: they stop compiling when either
// side gains a field, so the admin API never shows a new field by accident.

// solverOut is sv as the admin API shows it: its time limit in seconds.
func solverOut(sv store.Solver) adminapi.Solver {
	return adminapi.Solver{ProductID: sv.ProductID, Name: sv.Name, Kind: sv.Kind, Outputs: sv.Outputs, Progress: sv.Progress,
		TimeLimitSeconds: int64(sv.TimeLimit / time.Second), MaxOutput: sv.MaxOutput, MaxAttempts: sv.MaxAttempts}
}

// solverIn is what an operator put, as the store keeps it.
func solverIn(s adminapi.Solver) store.Solver {
	return store.Solver{ProductID: s.ProductID, Name: s.Name, Kind: s.Kind, Outputs: s.Outputs, Progress: s.Progress,
		TimeLimit: time.Duration(s.TimeLimitSeconds) * time.Second, MaxOutput: s.MaxOutput, MaxAttempts: s.MaxAttempts}
}

// jobOut is j as the admin API shows it.
func jobOut(j store.Job) adminapi.Job {
	attempts := make([]adminapi.JobAttempt, len(j.Attempts))
	for i, a := range j.Attempts {
		attempts[i] = adminapi.JobAttempt(a)
	}
	if j.Attempts == nil {
		attempts = nil
	}
	return adminapi.Job{ID: j.ID, OrgID: j.OrgID, UserID: j.UserID, SessionID: j.SessionID, ProductID: j.ProductID,
		LicenseID: j.LicenseID, Solver: adminapi.JobSolver(j.Solver), Main: j.Main, Args: j.Args, Cores: j.Cores,
		TimeLimit: j.TimeLimit, InputHash: j.InputHash, InputSize: j.InputSize, State: j.State, Attempts: attempts,
		LeaseExpires: j.LeaseExpires, CancelRequested: j.CancelRequested, CancelCode: j.CancelCode,
		CancelReason: j.CancelReason, Created: j.Created, Finished: j.Finished, JobResult: adminapi.JobResult(j.JobResult)}
}

// meteredOut is one usage record as the admin API shows it.
func meteredOut(u store.UsageRecord) adminapi.Metered { return adminapi.Metered(u) }
