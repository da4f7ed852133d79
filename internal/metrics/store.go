package metrics

import (
	"context"
	"time"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/store"
)

// Store wraps st so that the calls on the service's hot paths are timed
// (iscd_store_duration_seconds{op}): authenticating a token, a session's
// record and its event log, and a job's submission, which also counts it.
// The transactions the services run their rules in (seats, the job
// queue) are timed by the services (StoreCall), which also tell the job
// metrics (JobLeased, JobFinished, JobRan) where a job's state changes.
// Every other method passes through untimed. With m nil, st is returned as it is.
//
// The wrapper hides st's concrete type: callers that look for a backend
// (the PostgreSQL relay) must be given st itself.
func (m *Service) Store(st store.Store) store.Store {
	if m == nil {
		return st
	}
	return &timedStore{Store: st, m: m}
}

type timedStore struct {
	store.Store
	m *Service
}

// since observes the time since start under op.
func (s *timedStore) since(op string, start time.Time) {
	s.m.storeSeconds.WithLabelValues(op).Observe(seconds(time.Since(start)))
}

func (s *timedStore) Token(ctx context.Context, id string) (store.Token, error) {
	defer s.since("token", time.Now())
	return s.Store.Token(ctx, id)
}

func (s *timedStore) Session(ctx context.Context, id string) (store.Session, error) {
	defer s.since("session", time.Now())
	return s.Store.Session(ctx, id)
}

func (s *timedStore) PutSession(ctx context.Context, x store.Session) error {
	defer s.since("put_session", time.Now())
	return s.Store.PutSession(ctx, x)
}

func (s *timedStore) AppendEvent(ctx context.Context, sessionID string, data []byte) (uint64, error) {
	defer s.since("append_event", time.Now())
	return s.Store.AppendEvent(ctx, sessionID, data)
}

func (s *timedStore) EventsAfter(ctx context.Context, sessionID string, after uint64, limit int) ([]store.Event, error) {
	defer s.since("events_after", time.Now())
	return s.Store.EventsAfter(ctx, sessionID, after, limit)
}

func (s *timedStore) AckEvents(ctx context.Context, sessionID string, upTo uint64) error {
	defer s.since("ack_events", time.Now())
	return s.Store.AckEvents(ctx, sessionID, upTo)
}

func (s *timedStore) CreateJob(ctx context.Context, j store.Job, inputs []byte) error {
	defer s.since("create_job", time.Now())
	err := s.Store.CreateJob(ctx, j, inputs)
	if err == nil {
		s.m.jobsSubmitted.Inc()
	}
	return err
}

// Chunks wraps cs so that its calls are timed
// (iscd_chunkstore_duration_seconds{op}) and the chunks it stores counted.
// With m nil, cs is returned as it is.
func (m *Service) Chunks(cs chunkstore.Store) chunkstore.Store {
	if m == nil {
		return cs
	}
	return &timedChunks{Store: cs, m: m}
}

type timedChunks struct {
	chunkstore.Store
	m *Service
}

func (c *timedChunks) since(op string, start time.Time) {
	c.m.chunkSeconds.WithLabelValues(op).Observe(seconds(time.Since(start)))
}

func (c *timedChunks) Has(ctx context.Context, org string, id chunkstore.ID) (bool, error) {
	defer c.since("has", time.Now())
	return c.Store.Has(ctx, org, id)
}

func (c *timedChunks) Put(ctx context.Context, org string, id chunkstore.ID, encoded []byte) error {
	defer c.since("put", time.Now())
	err := c.Store.Put(ctx, org, id, encoded)
	if err == nil {
		c.m.chunksStored.Inc()
		c.m.chunkBytesStored.Add(float64(len(encoded)))
	}
	return err
}

func (c *timedChunks) Get(ctx context.Context, org string, id chunkstore.ID) ([]byte, error) {
	defer c.since("get", time.Now())
	return c.Store.Get(ctx, org, id)
}

// Repack passes on to a store that packs chunks (chunkstore.Dir): the
// wrapper must not hide it from the collector of unreferenced chunks.
func (c *timedChunks) Repack(ctx context.Context, org string) (chunkstore.RepackStats, error) {
	if p, ok := c.Store.(interface {
		Repack(ctx context.Context, org string) (chunkstore.RepackStats, error)
	}); ok {
		return p.Repack(ctx, org)
	}
	return chunkstore.RepackStats{}, nil
}
