package link

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Backoff is the wait before the n-th attempt at something that failed:
// Base before the first, doubling to Max, with equal jitter (half the
// wait fixed, half random) so that clients cut off together do not come
// back together, and never zero.
type Backoff struct {
	Base, Max time.Duration
}

// Delay is the wait before attempt n (1, 2, …).
func (b Backoff) Delay(n int) time.Duration {
	d := b.Max
	if n < 1 {
		n = 1
	}
	if n < 32 && b.Base<<(n-1) > 0 {
		d = min(b.Base<<(n-1), b.Max)
	}
	return d/2 + rand.N(d/2+1)
}

// Wait sleeps b.Delay(n), or until ctx ends (its error).
func (b Backoff) Wait(ctx context.Context, n int) error {
	t := time.NewTimer(b.Delay(n))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Reconnect calls dial for attempt 1, 2, … each after b's wait, until
// it succeeds, ctx ends (ctx's error), or dial fails for good (an error
// marked with Permanent, returned unmarked). failed, if not nil, hears of
// each other failure.
func Reconnect[T any](ctx context.Context, b Backoff, dial func(ctx context.Context, attempt int) (T, error), failed func(attempt int, err error)) (T, error) {
	var zero T
	for attempt := 1; ; attempt++ {
		if err := b.Wait(ctx, attempt); err != nil {
			return zero, err
		}
		c, err := dial(ctx, attempt)
		var p permanent
		switch {
		case err == nil:
			return c, nil
		case ctx.Err() != nil:
			return zero, ctx.Err()
		case errors.As(err, &p):
			return zero, p.err
		}
		if failed != nil {
			failed(attempt, err)
		}
	}
}

// Permanent marks err as one that trying again cannot help (Reconnect
// stops on it).
func Permanent(err error) error { return permanent{err} }

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Policy is the one retry policy of a request or a transfer made of
// several: what failed because the connection dropped is done again (on
// the next connection: calls wait for it), up to Attempts times in all.
// A transfer built to resume (chunks the service has are not sent again,
// a commit or submit carries an id that makes it idempotent) loses
// nothing by being repeated.
type Policy struct {
	Attempts int // in all, the first included; < 1 is 1
	// Transient, if set, says which other failures pass (the service
	// failed inside, or is stopping) and are worth repeating too.
	Transient func(error) bool
	// Backoff is waited before each repeat; zero waits nothing (a call
	// waits for the connection by itself).
	Backoff Backoff
	// Retrying, if set, hears of each repeat before it is made.
	Retrying func(attempt int, err error)
}

// Do calls fn(1), fn(2), … until it succeeds, fails otherwise than
// Policy repeats, the attempts run out or ctx ends, and returns fn's last
// error.
func (p Policy) Do(ctx context.Context, fn func(attempt int) error) error {
	for attempt := 1; ; attempt++ {
		err := fn(attempt)
		if err == nil || attempt >= p.Attempts || ctx.Err() != nil || !p.retries(err) {
			return err
		}
		if p.Retrying != nil {
			p.Retrying(attempt, err)
		}
		if p.Backoff.Base > 0 {
			if p.Backoff.Wait(ctx, attempt) != nil {
				return err
			}
		}
	}
}

func (p Policy) retries(err error) bool {
	return errors.Is(err, ErrDisconnected) || p.Transient != nil && p.Transient(err)
}
