package server

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/jobs"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/boltstore"
	"github.com/iscsdk/iscsdk/internal/store/pgstore"
	"github.com/iscsdk/iscsdk/internal/token"
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
// stored for them elsewhere (a job's result, a freeze, a lock broken), the
// workers waiting here hear of jobs queued elsewhere, and sessions ended
// elsewhere (by an operator, or with their revoked token) are ended here.
// Only a shared store has other replicas. The channel it returns is
// closed once this replica listens to the others: a session ended or a
// token revoked elsewhere before then is never heard here (PostgreSQL
// does not keep a notification for a listener that comes later). When the
// listening connection is lost and made again, the sessions and workers
// connected here are checked against the store (session.Hub.Recheck,
// jobs.Service.Recheck) for what was missed in between.
func (s *Server) watch(ctx context.Context) <-chan struct{} {
	listening := make(chan struct{})
	db, ok := s.store.(*pgstore.DB)
	if !ok {
		close(listening)
		return listening
	}
	// Ending a session, or a revoked token's sessions, reaches the
	// replicas holding their connections.
	self := token.ID()
	s.hub.Relay(func(k session.Kick) {
		if len(k.Reason) > 1000 {
			k.Reason = k.Reason[:1000]
		}
		data, _ := json.Marshal(kickMsg{From: self, Kick: k})
		if err := db.Broadcast(ctx, string(data)); err != nil {
			s.log.Warn("session end not passed on to the other replicas", "err", err)
		}
	})
	// So do a job's cancel and a worker token's revocation, to the
	// replica its workers are connected to.
	s.jobs.Relay(func(n jobs.Notice) {
		data, _ := json.Marshal(kickMsg{From: self, Jobs: &n})
		if err := db.Broadcast(ctx, string(data)); err != nil {
			s.log.Warn("compute notice not passed on to the other replicas", "err", err)
		}
	})
	kick := func(payload string) {
		var m kickMsg
		if err := json.Unmarshal([]byte(payload), &m); err != nil || m.From == self {
			return
		}
		if m.Jobs != nil {
			s.jobs.Heard(ctx, *m.Jobs)
			return
		}
		s.hub.Kick(ctx, m.Kick)
	}
	var first sync.Once
	heard := func() {
		again := true
		first.Do(func() { close(listening); again = false })
		if again {
			// Listening again after the connection was lost: a session
			// ended or a token revoked meanwhile was not heard.
			s.gcDone.Go(func() {
				if n := s.hub.Recheck(ctx); n > 0 {
					s.log.Info("sessions ended elsewhere while this replica did not listen", "ended", n)
				}
				s.jobs.Recheck(ctx)
			})
		}
	}
	s.gcDone.Go(func() {
		db.Watch(ctx, pgstore.Watcher{Events: s.hub.Wake, Jobs: s.jobs.Wake, Broadcast: kick, Listening: heard})
	})
	return listening
}

// kickMsg is a session.Kick, or a compute notice, between replicas, with
// its sender.
type kickMsg struct {
	From string `json:"from"`
	session.Kick
	Jobs *jobs.Notice `json:"jobs,omitempty"`
}
