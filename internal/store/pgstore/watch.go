package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// eventsChannel is the LISTEN/NOTIFY channel on which AppendEvent names
// the session it appended to.
const eventsChannel = "iscd_events"

// notify tells the replicas watching that sessionID has a new event. It
// is a transaction of its own, after the event's, that does not wait for
// the disk: PostgreSQL orders notifying commits under one lock, and
// holding it through a disk flush would serialise every append. A lost
// notification delays an event (it is stored), it loses nothing: the
// session gets it when it next reconnects, or when the watcher resyncs.
func (d *DB) notify(ctx context.Context, sessionID string) {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue("SET LOCAL synchronous_commit TO off")
	b.Queue("SELECT pg_notify($1, $2)", eventsChannel, sessionID)
	b.Queue("COMMIT")
	if err := d.pool.SendBatch(ctx, b).Close(); err != nil {
		d.logger.Warn("event notification not sent; other replicas push it later", "session", sessionID, "err", err)
	}
}

// WatchEvents calls fn with the id of every session an event is appended
// to, by this or any other replica, until ctx ends. It holds a connection
// of its own (LISTEN); when that connection is lost it connects again,
// and each time it starts listening it calls fn("") first: events
// appended while it was not listening are not named, so every session is
// to look. It returns ctx's error.
func (d *DB) WatchEvents(ctx context.Context, fn func(sessionID string)) error {
	const first = 100 * time.Millisecond
	backoff := first
	for {
		listened, err := d.listen(ctx, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if listened {
			backoff = first
		}
		d.logger.Warn("event watch: connection lost; connecting again", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// listen runs one connection's LISTEN until it fails or ctx ends, and
// reports whether it got as far as listening.
func (d *DB) listen(ctx context.Context, fn func(string)) (bool, error) {
	conn, err := pgx.ConnectConfig(ctx, d.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+eventsChannel); err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	fn("")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		fn(n.Payload)
	}
}
