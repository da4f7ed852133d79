package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
)

// The rules of the job queue, written once above the store: each runs in
// one store.Jobs transaction, so a queued job is leased to one worker at a
// time, and only the holder of the current attempt's lease renews or
// finishes it, on the embedded store and across replicas on PostgreSQL
// alike.

// JobUpdater is the part of the store the queue's rules need.
type JobUpdater interface {
	UpdateJob(ctx context.Context, id string, fn func(tx store.JobTx, j store.Job) error) error
	UpdateQueuedJob(ctx context.Context, solvers []string, fn func(tx store.JobTx, j store.Job) error) error
	UpdateLapsedJobs(ctx context.Context, now time.Time, fn func(tx store.JobTx, j store.Job) error) error
}

// LeaseJob starts a new attempt of the oldest queued job whose solver is
// one of solvers, on worker, until expires; store.ErrNotFound if none.
func LeaseJob(ctx context.Context, st JobUpdater, worker string, solvers []string, now, expires time.Time) (store.Job, error) {
	var out store.Job
	err := st.UpdateQueuedJob(ctx, solvers, func(tx store.JobTx, j store.Job) error {
		j.State, j.LeaseExpires = store.JobRunning, expires
		j.Attempts = append(j.Attempts, store.JobAttempt{Worker: worker, Started: now})
		out = j
		return tx.PutJob(j)
	})
	if err != nil {
		return store.Job{}, err
	}
	return out, nil
}

// holds checks that worker holds the lease of the job's current attempt.
func holds(j store.Job, worker string, attempt int) error {
	if j.State != store.JobRunning || j.Attempt() != attempt || j.Worker() != worker {
		return fmt.Errorf("job %s attempt %d: %w", j.ID, attempt, store.ErrLeaseLost)
	}
	return nil
}

// RenewJob extends the lease of attempt to expires; store.ErrLeaseLost
// unless worker holds it. The job returned tells whether a cancel was
// requested.
func RenewJob(ctx context.Context, st JobUpdater, id, worker string, attempt int, expires time.Time) (store.Job, error) {
	var out store.Job
	err := st.UpdateJob(ctx, id, func(tx store.JobTx, j store.Job) error {
		if err := holds(j, worker, attempt); err != nil {
			return err
		}
		j.LeaseExpires = expires
		out = j
		return tx.PutJob(j)
	})
	return out, err
}

// FinishJob ends attempt in state (succeeded, failed or canceled) with
// its result, storing the outputs manifest (nil for none) and, if u is not
// nil, its usage record, all at once; store.ErrLeaseLost unless worker
// holds the attempt's lease.
func FinishJob(ctx context.Context, st JobUpdater, id, worker string, attempt int, state string, r store.JobResult, outputs []byte, u *store.UsageRecord, now time.Time) (store.Job, error) {
	var out store.Job
	err := st.UpdateJob(ctx, id, func(tx store.JobTx, j store.Job) error {
		if err := holds(j, worker, attempt); err != nil {
			return err
		}
		j.JobResult = r
		end(&j, state, state, now)
		if outputs != nil {
			if err := tx.PutOutputs(id, outputs); err != nil {
				return err
			}
		}
		if u != nil {
			if err := tx.PutUsage(*u); err != nil {
				return err
			}
		}
		out = j
		return tx.PutJob(j)
	})
	return out, err
}

// end finishes the current attempt of j with outcome, j now in state.
func end(j *store.Job, state, outcome string, now time.Time) {
	if n := len(j.Attempts); n > 0 && j.Attempts[n-1].Ended.IsZero() {
		j.Attempts[n-1].Ended, j.Attempts[n-1].Outcome = now, outcome
	}
	j.State, j.LeaseExpires = state, time.Time{}
	if state != store.JobQueued {
		j.Finished = now
	}
}

// CancelJob cancels a queued job at once (its Finished is now; its
// ErrorCode and Error are code and reason, "canceled" and "canceled
// before it started" when empty); a running one gets CancelRequested,
// CancelCode and CancelReason (its worker stops it and finishes it
// canceled, or it ends canceled when its lease lapses). A finished job is
// returned unchanged.
func CancelJob(ctx context.Context, st JobUpdater, id, code, reason string, now time.Time) (store.Job, error) {
	var out store.Job
	err := st.UpdateJob(ctx, id, func(tx store.JobTx, j store.Job) error {
		out = j
		switch j.State {
		case store.JobQueued:
			j.State, j.Finished = store.JobCanceled, now
			j.ErrorCode, j.Error = code, reason
			if code == "" {
				j.ErrorCode = "canceled"
			}
			if reason == "" {
				j.Error = "canceled before it started"
			}
		case store.JobRunning:
			j.CancelRequested, j.CancelCode, j.CancelReason = true, code, reason
		default:
			return nil
		}
		out = j
		return tx.PutJob(j)
	})
	return out, err
}

// canceledResult is the error code and message of a job that a requested
// cancel ended: the cancel's code and reason ("canceled" for a plain
// cancel), and how it ended when detail is not "".
func canceledResult(j store.Job, detail string) (code, msg string) {
	code, msg = j.CancelCode, j.CancelReason
	if code == "" {
		code = "canceled"
	}
	if msg == "" {
		msg = "canceled"
	}
	if detail != "" {
		msg += "; " + detail
	}
	return code, msg
}

// ExpireLeases ends the attempts whose lease lapsed before now, as lost:
// the job is canceled if a cancel was requested, failed when it has had
// its solver's MaxAttempts (at least one), else queued again. It returns
// the jobs it changed.
func ExpireLeases(ctx context.Context, st JobUpdater, now time.Time) ([]store.Job, error) {
	var changed []store.Job
	err := st.UpdateLapsedJobs(ctx, now, func(tx store.JobTx, j store.Job) error {
		state := store.JobQueued
		switch {
		case j.CancelRequested:
			state = store.JobCanceled
			j.ErrorCode, j.Error = canceledResult(j, "its worker stopped answering")
		case j.Attempt() >= max(j.Solver.MaxAttempts, 1):
			state = store.JobFailed
			j.ErrorCode = "worker_lost"
			j.Error = fmt.Sprintf("its worker was lost %d times", j.Attempt())
		}
		end(&j, state, "lost", now)
		if err := tx.PutJob(j); err != nil {
			return err
		}
		changed = append(changed, j)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return changed, nil
}
