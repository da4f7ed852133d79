package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The LISTEN/NOTIFY channels on which replicas tell each other what
// changed: the session an event was appended to, and that a job was
// queued.
const (
	eventsChannel    = "iscd_events"
	jobsChannel      = "iscd_jobs"
	broadcastChannel = "iscd_broadcast"
)

// MaxBroadcast bounds a Broadcast payload (PostgreSQL takes 8000 bytes).
const MaxBroadcast = 7900

// Watcher says what to call when another replica (or this one) changes
// what a replica's connections wait for. A nil func is not called.
type Watcher struct {
	// Events gets the id of each session an event was appended to; ""
	// means any session may have new events.
	Events func(sessionID string)
	// Jobs is called when a job was queued (new, or again after its
	// worker was lost), and when it may have been.
	Jobs func()
	// Broadcast gets each Broadcast payload, this replica's own included.
	Broadcast func(payload string)
	// Listening is called each time Watch starts listening, before
	// Events("") and Jobs(): from then on, until the connection is lost,
	// no change is missed (a Broadcast sent before is never heard).
	Listening func()
}

func (w Watcher) events(id string) {
	if w.Events != nil {
		w.Events(id)
	}
}

func (w Watcher) jobs() {
	if w.Jobs != nil {
		w.Jobs()
	}
}

// Broadcast passes payload to the Broadcast func of every replica
// watching (Watch), this one's included, as soon as it can; a replica
// that is not watching at that moment does not get it.
func (d *DB) Broadcast(ctx context.Context, payload string) error {
	if len(payload) > MaxBroadcast {
		return fmt.Errorf("broadcast: %d bytes, at most %d", len(payload), MaxBroadcast)
	}
	d.notify(ctx, broadcastChannel, payload)
	return nil
}

// notify tells the watching replicas about a change on channel. It is a
// transaction of its own, after the change's, that does not wait for the
// disk: PostgreSQL orders notifying commits under one lock, and holding it
// through a disk flush would serialise every append. A lost notification
// delays (the change is stored), it loses nothing: watchers call their
// funcs for everything when they (re)connect, and sessions read their log
// when they reconnect.
func (d *DB) notify(ctx context.Context, channel, payload string) {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue("SET LOCAL synchronous_commit TO off")
	b.Queue("SELECT pg_notify($1, $2)", channel, payload)
	b.Queue("COMMIT")
	if err := d.pool.SendBatch(ctx, b).Close(); err != nil {
		d.logger.Warn("notification not sent; other replicas learn of the change later", "channel", channel, "payload", payload, "err", err)
	}
}

// Watch calls w's funcs for the changes any replica makes, until ctx
// ends. It holds a connection of its own (LISTEN); when that connection is
// lost it connects again, and each time it starts listening it calls
// w.Listening, w.Events("") and w.Jobs() first, for what it may have missed. It
// returns ctx's error.
func (d *DB) Watch(ctx context.Context, w Watcher) error {
	const first = 100 * time.Millisecond
	backoff := first
	for {
		listened, err := d.listen(ctx, w)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if listened {
			backoff = first
		}
		d.logger.Warn("watch: connection lost; connecting again", "err", err, "in", backoff)
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
func (d *DB) listen(ctx context.Context, w Watcher) (bool, error) {
	conn, err := pgx.ConnectConfig(ctx, d.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, ch := range []string{eventsChannel, jobsChannel, broadcastChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			return false, fmt.Errorf("listen %s: %w", ch, err)
		}
	}
	if w.Listening != nil {
		w.Listening()
	}
	w.events("")
	w.jobs()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		switch n.Channel {
		case eventsChannel:
			w.events(n.Payload)
		case jobsChannel:
			w.jobs()
		case broadcastChannel:
			if w.Broadcast != nil {
				w.Broadcast(n.Payload)
			}
		}
	}
}
