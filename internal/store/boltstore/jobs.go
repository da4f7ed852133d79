package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iscsdk/iscsdk/internal/store"
)

var (
	bktSolvers    = []byte("solvers")     // product \x00 name → Solver
	bktJobs       = []byte("jobs")        // id → Job
	bktJobQueue   = []byte("jobqueue")    // created (8) | id → nothing: the queued jobs, oldest first
	bktJobRunning = []byte("jobrunning")  // id → nothing: the leased jobs
	bktJobInputs  = []byte("jobinputs")   // id → inputs manifest
	bktJobOutputs = []byte("joboutputs")  // id → outputs manifest
	bktUsage      = []byte("usage")       // org \x00 end (8) | sn → UsageRecord
	bktUsageSN    = []byte("usagenumber") // sn → nothing: each record once
)

var jobBuckets = [][]byte{bktSolvers, bktJobs, bktJobQueue, bktJobRunning, bktJobInputs, bktJobOutputs, bktUsage, bktUsageSN}

func solverKey(product, name string) []byte { return []byte(product + "\x00" + name) }

func queueKey(j store.Job) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(j.Created.UnixNano())), j.ID...)
}

// PutSolver implements store.Jobs.
func (d *DB) PutSolver(_ context.Context, s store.Solver) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bktProducts).Get([]byte(s.ProductID)) == nil {
			return fmt.Errorf("product %q: %w", s.ProductID, store.ErrNotFound)
		}
		data, err := json.Marshal(s)
		if err != nil {
			return err
		}
		return tx.Bucket(bktSolvers).Put(solverKey(s.ProductID, s.Name), data)
	})
}

// Solvers implements store.Jobs.
func (d *DB) Solvers(_ context.Context, productID string) ([]store.Solver, error) {
	return list(d, bktSolvers, func(s store.Solver) bool { return productID == "" || s.ProductID == productID })
}

// DeleteSolver implements store.Jobs.
func (d *DB) DeleteSolver(_ context.Context, productID, name string) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktSolvers)
		if b.Get(solverKey(productID, name)) == nil {
			return fmt.Errorf("solver %s/%s: %w", productID, name, store.ErrNotFound)
		}
		return b.Delete(solverKey(productID, name))
	})
}

// CreateJob implements store.Jobs.
func (d *DB) CreateJob(_ context.Context, j store.Job, inputs []byte) error {
	j.State = store.JobQueued
	return d.db.Update(func(tx *bolt.Tx) error {
		if err := put(tx, bktJobs, j.ID, j, true); err != nil {
			return err
		}
		if err := tx.Bucket(bktJobInputs).Put([]byte(j.ID), inputs); err != nil {
			return err
		}
		return tx.Bucket(bktJobQueue).Put(queueKey(j), nil)
	})
}

// Job implements store.Jobs.
func (d *DB) Job(_ context.Context, id string) (store.Job, error) {
	var j store.Job
	err := d.db.View(func(tx *bolt.Tx) error {
		var err error
		j, err = getTx[store.Job](tx, bktJobs, id)
		return err
	})
	return j, err
}

// JobManifest implements store.Jobs.
func (d *DB) JobManifest(_ context.Context, id string, outputs bool) ([]byte, error) {
	bkt := bktJobInputs
	if outputs {
		bkt = bktJobOutputs
	}
	var m []byte
	err := d.db.View(func(tx *bolt.Tx) error {
		data := tx.Bucket(bkt).Get([]byte(id))
		if data == nil {
			return fmt.Errorf("manifest of job %s: %w", id, store.ErrNotFound)
		}
		m = slices.Clone(data)
		return nil
	})
	return m, err
}

// ListJobs implements store.Jobs.
// Queued and running jobs are read through their indexes, not by reading
// every job ever submitted (submits count them, workers' hellos list them).
func (d *DB) ListJobs(_ context.Context, f store.JobFilter) ([]store.Job, error) {
	keep := func(j store.Job) bool {
		return (f.OrgID == "" || j.OrgID == f.OrgID) && (f.State == "" || j.State == f.State)
	}
	var out []store.Job
	var err error
	switch f.State {
	case store.JobQueued, store.JobRunning:
		out = []store.Job{}
		idx, idOf := bktJobRunning, func(k []byte) string { return string(k) }
		if f.State == store.JobQueued {
			idx, idOf = bktJobQueue, func(k []byte) string { return string(k[8:]) }
		}
		err = d.db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(idx).ForEach(func(k, _ []byte) error {
				j, err := getTx[store.Job](tx, bktJobs, idOf(k))
				if err == nil && keep(j) {
					out = append(out, j)
				}
				return err
			})
		})
	default:
		out, err = list(d, bktJobs, keep)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Created.After(out[b].Created) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, err
}

// UpdateJob implements store.Jobs: bbolt's one writer at a time is the
// job's lock.
func (d *DB) UpdateJob(_ context.Context, id string, fn func(store.JobTx, store.Job) error) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		j, err := getTx[store.Job](tx, bktJobs, id)
		if err != nil {
			return err
		}
		return fn(jobTx{tx}, j)
	})
}

// UpdateQueuedJob implements store.Jobs, from the queue's index.
func (d *DB) UpdateQueuedJob(_ context.Context, solvers []string, fn func(store.JobTx, store.Job) error) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktJobQueue).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			j, err := getTx[store.Job](tx, bktJobs, string(k[8:]))
			if err != nil {
				return err
			}
			if slices.Contains(solvers, j.Solver.Name) {
				return fn(jobTx{tx}, j)
			}
		}
		return fmt.Errorf("queued job: %w", store.ErrNotFound)
	})
}

// UpdateLapsedJobs implements store.Jobs, from the running jobs' index.
func (d *DB) UpdateLapsedJobs(_ context.Context, now time.Time, fn func(store.JobTx, store.Job) error) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		var ids []string
		if err := tx.Bucket(bktJobRunning).ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		}); err != nil {
			return err
		}
		for _, id := range ids {
			j, err := getTx[store.Job](tx, bktJobs, id)
			if err != nil {
				return err
			}
			if !now.After(j.LeaseExpires) {
				continue
			}
			if err := fn(jobTx{tx}, j); err != nil {
				return err
			}
		}
		return nil
	})
}

// jobTx is store.JobTx in a bbolt transaction.
type jobTx struct{ tx *bolt.Tx }

// PutJob stores j and moves it between the queue's and the running jobs'
// indexes as its state says.
func (t jobTx) PutJob(j store.Job) error {
	old, err := getTx[store.Job](t.tx, bktJobs, j.ID)
	if err != nil {
		return err
	}
	if old.State == store.JobQueued {
		if err := t.tx.Bucket(bktJobQueue).Delete(queueKey(old)); err != nil {
			return err
		}
	}
	if err := t.tx.Bucket(bktJobRunning).Delete([]byte(j.ID)); err != nil {
		return err
	}
	switch j.State {
	case store.JobQueued:
		err = t.tx.Bucket(bktJobQueue).Put(queueKey(j), nil)
	case store.JobRunning:
		err = t.tx.Bucket(bktJobRunning).Put([]byte(j.ID), nil)
	}
	if err != nil {
		return err
	}
	return put(t.tx, bktJobs, j.ID, j, false)
}

func (t jobTx) PutOutputs(id string, manifest []byte) error {
	return t.tx.Bucket(bktJobOutputs).Put([]byte(id), manifest)
}

func (t jobTx) PutUsage(u store.UsageRecord) error { return putUsage(t.tx, u) }

func putUsage(tx *bolt.Tx, u store.UsageRecord) error {
	sns := tx.Bucket(bktUsageSN)
	if sns.Get([]byte(u.SN)) != nil {
		return nil // recorded already
	}
	data, err := json.Marshal(u)
	if err != nil {
		return err
	}
	key := append(binary.BigEndian.AppendUint64([]byte(u.OrgID+"\x00"), uint64(u.End.UnixNano())), u.SN...)
	if err := tx.Bucket(bktUsage).Put(key, data); err != nil {
		return err
	}
	return sns.Put([]byte(u.SN), nil)
}

// Usage implements store.Jobs.
func (d *DB) Usage(_ context.Context, orgID string, from, to time.Time) ([]store.UsageRecord, error) {
	out := []store.UsageRecord{}
	err := d.db.View(func(tx *bolt.Tx) error {
		prefix := []byte(orgID + "\x00")
		c := tx.Bucket(bktUsage).Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(slices.Clone(prefix), uint64(from.UnixNano()))); k != nil && len(k) > len(prefix)+8 && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
			if binary.BigEndian.Uint64(k[len(prefix):]) >= uint64(to.UnixNano()) {
				break
			}
			var u store.UsageRecord
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
			out = append(out, u)
		}
		return nil
	})
	return out, err
}

// jobManifests calls fn with the inputs and outputs manifests of an org's
// jobs: their chunks are live too.
func jobManifests(tx *bolt.Tx, org string, fn func([]byte) error) error {
	return tx.Bucket(bktJobs).ForEach(func(k, data []byte) error {
		var j struct {
			OrgID string `json:"orgId"`
		}
		if err := json.Unmarshal(data, &j); err != nil || j.OrgID != org {
			return err
		}
		for _, b := range [][]byte{bktJobInputs, bktJobOutputs} {
			if m := tx.Bucket(b).Get(k); m != nil {
				if err := fn(m); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
