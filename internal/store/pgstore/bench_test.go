package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/files"
	"github.com/iscsdk/iscsdk/internal/server/jobs"
	"github.com/iscsdk/iscsdk/internal/server/licensing"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/pgstore"
	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
)

// The sizing figures of docs/deploy.md: run with
//
//	PGTEST_DURABLE=1 go test -run '^$' -bench . ./internal/store/pgstore/
//
// Each benchmark runs with 1 and with 8 clients (goroutines, each on its
// own connection of the pool) against one server.

func clients(b *testing.B, op func(client, i int) error) {
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for c := range n {
				wg.Go(func() {
					for {
						i := int(next.Add(1))
						if i > b.N {
							return
						}
						if err := op(c, i); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

func benchDB(b *testing.B) *pgstore.DB {
	b.Helper()
	dsn := pgtest.DSN(b) + "&pool_max_conns=16" // a connection for each client
	db, err := openDB(dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkAcquireSeat: seat requests on one 100-seat licence by 100
// sessions in turn (all contend for the licence's row lock).
func BenchmarkAcquireSeat(b *testing.B) {
	db := benchDB(b)
	ctx := context.Background()
	if err := db.PutLicense(ctx, store.License{ID: "L", OrgID: "o", ProductID: "p", Kind: store.KindFloating, Seats: 100, Status: store.StatusActive}); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	clients(b, func(_, i int) error {
		s := fmt.Sprint("s", i%100)
		_, err := licensing.AcquireSeat(ctx, db, store.Seat{LicenseID: "L", SessionID: s, UserID: s, Device: s, Acquired: now, Renewed: now, LeaseExpires: now.Add(time.Hour)})
		return err
	})
}

// BenchmarkAcquireSeatManyLicences: the same, each client on its own
// licence (no lock shared between clients).
func BenchmarkAcquireSeatManyLicences(b *testing.B) {
	db := benchDB(b)
	ctx := context.Background()
	for c := range 8 {
		if err := db.PutLicense(ctx, store.License{ID: fmt.Sprint("L", c), OrgID: "o", ProductID: "p", Kind: store.KindFloating, Seats: 100, Status: store.StatusActive}); err != nil {
			b.Fatal(err)
		}
	}
	now := time.Now()
	clients(b, func(c, i int) error {
		s := fmt.Sprint("s", i%100)
		_, err := licensing.AcquireSeat(ctx, db, store.Seat{LicenseID: fmt.Sprint("L", c), SessionID: s, UserID: s, Device: s, Acquired: now, Renewed: now, LeaseExpires: now.Add(time.Hour)})
		return err
	})
}

// BenchmarkCommitVersion: saves (the file service's rule on this store),
// each client on its own file.
func BenchmarkCommitVersion(b *testing.B) {
	db := benchDB(b)
	ctx := context.Background()
	manifest := make([]byte, 2048)
	var heads [8]int
	clients(b, func(c, _ int) error {
		v := store.Version{OrgID: "o", Path: fmt.Sprintf("/bench/%d.prt", c), Author: "u", Time: time.Now(), Size: 1 << 20, Files: 1}
		got, err := files.CommitVersion(ctx, db, v, manifest, files.Commit{Base: heads[c], UserID: "u"})
		heads[c] = got.Number
		return err
	})
}

// BenchmarkAppendEvent: events appended, each client to its own session.
func BenchmarkAppendEvent(b *testing.B) {
	db := benchDB(b)
	ctx := context.Background()
	for c := range 8 {
		if err := db.PutSession(ctx, store.Session{ID: fmt.Sprint("s", c)}); err != nil {
			b.Fatal(err)
		}
	}
	ev := make([]byte, 200)
	clients(b, func(c, _ int) error {
		_, err := db.AppendEvent(ctx, fmt.Sprint("s", c), ev)
		return err
	})
}

// BenchmarkJobCycle: a job queued, then the oldest queued job leased and
// finished.
func BenchmarkJobCycle(b *testing.B) {
	db := benchDB(b)
	ctx := context.Background()
	var ids atomic.Int64
	clients(b, func(c, _ int) error {
		now := time.Now()
		j := store.Job{ID: fmt.Sprint("j", ids.Add(1)), OrgID: "o", Created: now, Solver: store.Solver{Name: "s"}}
		if err := db.CreateJob(ctx, j, []byte("in")); err != nil {
			return err
		}
		w := fmt.Sprint("w", c)
		got, err := jobs.LeaseJob(ctx, db, w, []string{"s"}, now, now.Add(time.Minute))
		if errors.Is(err, store.ErrNotFound) {
			return nil // the queued jobs are being leased by others (SKIP LOCKED)
		}
		if err != nil {
			return err
		}
		_, err = jobs.FinishJob(ctx, db, got.ID, w, got.Attempt(), store.JobSucceeded, store.JobResult{}, []byte("out"), nil, now)
		return err
	})
}

func openDB(dsn string) (*pgstore.DB, error) {
	return pgstore.Open(context.Background(), dsn, pgstore.Options{})
}
