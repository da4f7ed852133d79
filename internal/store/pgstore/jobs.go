package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iscsdk/iscsdk/internal/store"
)

// PutSolver implements store.Jobs; the product must exist.
func (d *DB) PutSolver(ctx context.Context, s store.Solver) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO solvers (product_id, name, doc) VALUES ($1, $2, $3)
		ON CONFLICT (product_id, name) DO UPDATE SET doc = excluded.doc`, s.ProductID, s.Name, mustJSON(s))
	if isForeignKeyViolation(err) {
		return fmt.Errorf("product %q: %w", s.ProductID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("solver %s/%s: %w", s.ProductID, s.Name, err)
	}
	return nil
}

// Solvers implements store.Jobs.
func (d *DB) Solvers(ctx context.Context, productID string) ([]store.Solver, error) {
	return listDocs[store.Solver](ctx, d.pool, "SELECT doc FROM solvers WHERE $1 = '' OR product_id = $1 ORDER BY product_id, name", productID)
}

// DeleteSolver implements store.Jobs.
func (d *DB) DeleteSolver(ctx context.Context, productID, name string) error {
	tag, err := d.pool.Exec(ctx, "DELETE FROM solvers WHERE product_id = $1 AND name = $2", productID, name)
	if err != nil {
		return fmt.Errorf("solver %s/%s: %w", productID, name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("solver %s/%s: %w", productID, name, store.ErrNotFound)
	}
	return nil
}

// nanos is a job time as stored in the ordering columns; nil for zero.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// CreateJob implements store.Jobs; the replicas watching (Watch) are told.
func (d *DB) CreateJob(ctx context.Context, j store.Job, inputs []byte) error {
	j.State = store.JobQueued
	if inputs == nil {
		inputs = []byte{}
	}
	_, err := d.pool.Exec(ctx, `INSERT INTO jobs (id, org_id, state, solver, created_ns, doc, inputs)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, j.ID, j.OrgID, j.State, j.Solver.Name, j.Created.UnixNano(), mustJSON(j), inputs)
	if isUniqueViolation(err) {
		return store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("job %s: %w", j.ID, err)
	}
	d.notify(ctx, jobsChannel, "")
	return nil
}

// Job implements store.Jobs.
func (d *DB) Job(ctx context.Context, id string) (store.Job, error) {
	return getDoc[store.Job](ctx, d.pool, fmt.Sprintf("job %q", id), "SELECT doc FROM jobs WHERE id = $1", id)
}

// JobManifest implements store.Jobs.
func (d *DB) JobManifest(ctx context.Context, id string, outputs bool) ([]byte, error) {
	col := "inputs"
	if outputs {
		col = "outputs"
	}
	var m []byte
	err := d.pool.QueryRow(ctx, "SELECT "+col+" FROM jobs WHERE id = $1", id).Scan(&m)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && m == nil) {
		return nil, fmt.Errorf("manifest of job %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("manifest of job %s: %w", id, err)
	}
	return m, nil
}

// ListJobs implements store.Jobs: newest first.
func (d *DB) ListJobs(ctx context.Context, f store.JobFilter) ([]store.Job, error) {
	limit := any(nil) // LIMIT NULL: all
	if f.Limit > 0 {
		limit = f.Limit
	}
	return listDocs[store.Job](ctx, d.pool, `SELECT doc FROM jobs WHERE ($1 = '' OR org_id = $1) AND ($2 = '' OR state = $2)
		ORDER BY created_ns DESC, id LIMIT $3`, f.OrgID, f.State, limit)
}

// putJob writes a job's record and the columns that follow from it.
func putJob(ctx context.Context, tx pgx.Tx, j store.Job) error {
	var lease any
	if j.State == store.JobRunning {
		lease = nanos(j.LeaseExpires)
	}
	_, err := tx.Exec(ctx, "UPDATE jobs SET state = $2, lease_expires_ns = $3, doc = $4 WHERE id = $1",
		j.ID, j.State, lease, mustJSON(j))
	return err
}

// LeaseJob implements store.Jobs. The oldest matching queued job is locked
// with SKIP LOCKED: workers leasing at once, from any replica, take
// different jobs and never wait for each other.
func (d *DB) LeaseJob(ctx context.Context, worker string, solvers []string, now, expires time.Time) (store.Job, error) {
	var j store.Job
	err := d.tx(ctx, func(tx pgx.Tx) error {
		var err error
		j, err = getDoc[store.Job](ctx, tx, "queued job", `SELECT doc FROM jobs WHERE state = 'queued' AND solver = ANY($1)
			ORDER BY created_ns, id LIMIT 1 FOR UPDATE SKIP LOCKED`, solvers)
		if err != nil {
			return err
		}
		j.State, j.LeaseExpires = store.JobRunning, expires
		j.Attempts = append(j.Attempts, store.JobAttempt{Worker: worker, Started: now})
		return putJob(ctx, tx, j)
	})
	if err != nil {
		return store.Job{}, err
	}
	return j, nil
}

// holder locks a running job whose current attempt is worker's.
func holder(ctx context.Context, tx pgx.Tx, id, worker string, attempt int) (store.Job, error) {
	j, err := getDoc[store.Job](ctx, tx, fmt.Sprintf("job %q", id), "SELECT doc FROM jobs WHERE id = $1 FOR UPDATE", id)
	if err != nil {
		return j, err
	}
	if j.State != store.JobRunning || j.Attempt() != attempt || j.Worker() != worker {
		return j, fmt.Errorf("job %s attempt %d: %w", id, attempt, store.ErrLeaseLost)
	}
	return j, nil
}

// RenewJob implements store.Jobs.
func (d *DB) RenewJob(ctx context.Context, id, worker string, attempt int, expires time.Time) (store.Job, error) {
	var j store.Job
	err := d.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if j, err = holder(ctx, tx, id, worker, attempt); err != nil {
			return err
		}
		j.LeaseExpires = expires
		return putJob(ctx, tx, j)
	})
	return j, err
}

// end finishes the current attempt of j in state with outcome.
func end(j *store.Job, state, outcome string, now time.Time) {
	if n := len(j.Attempts); n > 0 && j.Attempts[n-1].Ended.IsZero() {
		j.Attempts[n-1].Ended, j.Attempts[n-1].Outcome = now, outcome
	}
	j.State, j.LeaseExpires = state, time.Time{}
	if state != store.JobQueued {
		j.Finished = now
	}
}

// FinishJob implements store.Jobs: result, outputs and usage in one
// transaction, under the job's row lock.
func (d *DB) FinishJob(ctx context.Context, id, worker string, attempt int, state string, r store.JobResult, outputs []byte, u *store.UsageRecord, now time.Time) (store.Job, error) {
	var j store.Job
	err := d.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if j, err = holder(ctx, tx, id, worker, attempt); err != nil {
			return err
		}
		j.JobResult = r
		end(&j, state, state, now)
		if outputs != nil {
			if _, err := tx.Exec(ctx, "UPDATE jobs SET outputs = $2 WHERE id = $1", id, outputs); err != nil {
				return err
			}
		}
		if u != nil {
			if _, err := tx.Exec(ctx, `INSERT INTO usage (sn, org_id, end_ns, doc) VALUES ($1, $2, $3, $4)
				ON CONFLICT (sn) DO NOTHING`, u.SN, u.OrgID, u.End.UnixNano(), mustJSON(*u)); err != nil {
				return err
			}
		}
		return putJob(ctx, tx, j)
	})
	return j, err
}

// CancelJob implements store.Jobs.
func (d *DB) CancelJob(ctx context.Context, id, code, reason string, now time.Time) (store.Job, error) {
	var j store.Job
	err := d.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if j, err = getDoc[store.Job](ctx, tx, fmt.Sprintf("job %q", id), "SELECT doc FROM jobs WHERE id = $1 FOR UPDATE", id); err != nil {
			return err
		}
		if !store.RequestCancel(&j, code, reason, now) {
			return nil
		}
		return putJob(ctx, tx, j)
	})
	return j, err
}

// ExpireLeases implements store.Jobs. Replicas expiring at once skip each
// other's locked jobs, and a job renewed or finished meanwhile is seen as
// it is now (its row is re-read under the lock).
func (d *DB) ExpireLeases(ctx context.Context, now time.Time) ([]store.Job, error) {
	var changed []store.Job
	err := d.tx(ctx, func(tx pgx.Tx) error {
		changed = nil
		jobs, err := listDocs[store.Job](ctx, tx, `SELECT doc FROM jobs WHERE state = 'running' AND lease_expires_ns < $1
			ORDER BY lease_expires_ns, id FOR UPDATE SKIP LOCKED`, now.UnixNano())
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if !now.After(j.LeaseExpires) {
				continue
			}
			state := store.JobQueued
			switch {
			case j.CancelRequested:
				state = store.JobCanceled
				j.ErrorCode, j.Error = j.CanceledResult("its worker stopped answering")
			case j.Attempt() >= max(j.Solver.MaxAttempts, 1):
				state = store.JobFailed
				j.ErrorCode = "worker_lost"
				j.Error = fmt.Sprintf("its worker was lost %d times", j.Attempt())
			}
			end(&j, state, "lost", now)
			if err := putJob(ctx, tx, j); err != nil {
				return err
			}
			changed = append(changed, j)
		}
		return nil
	})
	for _, j := range changed {
		if j.State == store.JobQueued {
			d.notify(ctx, jobsChannel, "")
			break
		}
	}
	return changed, err
}

// Usage implements store.Jobs: oldest first.
func (d *DB) Usage(ctx context.Context, orgID string, from, to time.Time) ([]store.UsageRecord, error) {
	return listDocs[store.UsageRecord](ctx, d.pool, `SELECT doc FROM usage WHERE org_id = $1 AND end_ns >= $2 AND end_ns < $3
		ORDER BY end_ns, sn`, orgID, from.UnixNano(), to.UnixNano())
}
