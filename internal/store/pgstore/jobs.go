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

// UpdateJob implements store.Jobs, under the job's row lock.
func (d *DB) UpdateJob(ctx context.Context, id string, fn func(store.JobTx, store.Job) error) error {
	return d.jobTx(ctx, func(tx *jobTx) error {
		j, err := getDoc[store.Job](ctx, tx.tx, fmt.Sprintf("job %q", id), "SELECT doc FROM jobs WHERE id = $1 FOR UPDATE", id)
		if err != nil {
			return err
		}
		return fn(tx, j)
	})
}

// UpdateQueuedJob implements store.Jobs. The oldest matching queued job
// is locked with SKIP LOCKED: workers leasing at once, from any replica,
// take different jobs and never wait for each other.
func (d *DB) UpdateQueuedJob(ctx context.Context, solvers []string, fn func(store.JobTx, store.Job) error) error {
	return d.jobTx(ctx, func(tx *jobTx) error {
		j, err := getDoc[store.Job](ctx, tx.tx, "queued job", `SELECT doc FROM jobs WHERE state = 'queued' AND solver = ANY($1)
			ORDER BY created_ns, id LIMIT 1 FOR UPDATE SKIP LOCKED`, solvers)
		if err != nil {
			return err
		}
		return fn(tx, j)
	})
}

// UpdateLapsedJobs implements store.Jobs. Replicas expiring at once skip
// each other's locked jobs, and a job renewed or finished meanwhile is
// seen as it is now (its row is read under the lock).
func (d *DB) UpdateLapsedJobs(ctx context.Context, now time.Time, fn func(store.JobTx, store.Job) error) error {
	return d.jobTx(ctx, func(tx *jobTx) error {
		jobs, err := listDocs[store.Job](ctx, tx.tx, `SELECT doc FROM jobs WHERE state = 'running' AND lease_expires_ns < $1
			ORDER BY lease_expires_ns, id FOR UPDATE SKIP LOCKED`, now.UnixNano())
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if !now.After(j.LeaseExpires) {
				continue
			}
			if err := fn(tx, j); err != nil {
				return err
			}
		}
		return nil
	})
}

// jobTx runs fn in a transaction and, once it committed a queued job, tells
// the replicas watching (Watch): their workers may lease it.
func (d *DB) jobTx(ctx context.Context, fn func(*jobTx) error) error {
	var t *jobTx
	err := d.tx(ctx, func(tx pgx.Tx) error {
		t = &jobTx{ctx: ctx, tx: tx}
		return fn(t)
	})
	if err == nil && t.queued {
		d.notify(ctx, jobsChannel, "")
	}
	return err
}

// jobTx is store.JobTx in a PostgreSQL transaction.
type jobTx struct {
	ctx    context.Context
	tx     pgx.Tx
	queued bool // a job was put back in the queue
}

// PutJob writes a job's record and the columns that follow from it.
func (t *jobTx) PutJob(j store.Job) error {
	var lease any
	if j.State == store.JobRunning {
		lease = nanos(j.LeaseExpires)
	}
	t.queued = t.queued || j.State == store.JobQueued
	_, err := t.tx.Exec(t.ctx, "UPDATE jobs SET state = $2, lease_expires_ns = $3, doc = $4 WHERE id = $1",
		j.ID, j.State, lease, mustJSON(j))
	return err
}

func (t *jobTx) PutOutputs(id string, manifest []byte) error {
	if manifest == nil {
		manifest = []byte{}
	}
	_, err := t.tx.Exec(t.ctx, "UPDATE jobs SET outputs = $2 WHERE id = $1", id, manifest)
	return err
}

func (t *jobTx) PutUsage(u store.UsageRecord) error {
	_, err := t.tx.Exec(t.ctx, `INSERT INTO usage (sn, org_id, end_ns, doc) VALUES ($1, $2, $3, $4)
		ON CONFLICT (sn) DO NOTHING`, u.SN, u.OrgID, u.End.UnixNano(), mustJSON(u))
	return err
}

// Usage implements store.Jobs: oldest first.
func (d *DB) Usage(ctx context.Context, orgID string, from, to time.Time) ([]store.UsageRecord, error) {
	return listDocs[store.UsageRecord](ctx, d.pool, `SELECT doc FROM usage WHERE org_id = $1 AND end_ns >= $2 AND end_ns < $3
		ORDER BY end_ns, sn`, orgID, from.UnixNano(), to.UnixNano())
}
