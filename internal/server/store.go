package server

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/boltstore"
	"github.com/iscsdk/iscsdk/internal/store/pgstore"
)

// openTimeout bounds connecting to (and migrating) a PostgreSQL store.
const openTimeout = time.Minute

// openStore opens the store cfg names: PostgreSQL when Database is set,
// else the embedded file under DataDir.
func openStore(cfg Config) (store.Store, error) {
	if cfg.Database == "" {
		return boltstore.Open(filepath.Join(cfg.DataDir, "iscd.db"), cfg.EventRetention)
	}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	db, err := pgstore.Open(ctx, cfg.Database, pgstore.Options{Retention: cfg.EventRetention, Password: cfg.DatabasePassword, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("iscd: %w", err)
	}
	cfg.Logger.Info("store", "postgres", pgstore.Redact(cfg.Database), "schema", pgstore.SchemaVersion())
	return db, nil
}

// watch has this replica act on what other replicas change, as they
// change it, until ctx ends: the sessions connected here send the events
// stored for them elsewhere (a job's result, a freeze, a lock broken), and
// the workers waiting here hear of jobs queued elsewhere. Only a shared
// store has other replicas.
func (s *Server) watch(ctx context.Context) {
	if db, ok := s.store.(*pgstore.DB); ok {
		s.gcDone.Go(func() { db.Watch(ctx, pgstore.Watcher{Events: s.hub.Wake, Jobs: s.jobs.Wake}) })
	}
}
