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

// eventWatcher is a store shared by replicas that tells of the events any
// of them stores (pgstore: LISTEN/NOTIFY).
type eventWatcher interface {
	WatchEvents(ctx context.Context, fn func(sessionID string)) error
}

// watchEvents has the sessions connected here send the events other
// replicas store for them (a job result, a freeze, a lock broken there),
// as they are stored, until ctx ends.
func (s *Server) watchEvents(ctx context.Context) {
	if w, ok := s.store.(eventWatcher); ok {
		s.gcDone.Go(func() { w.WatchEvents(ctx, s.hub.Wake) })
	}
}
