package licensing

import (
	"context"
	"fmt"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
)

// The rules of seats, written once above the store: each runs in one
// store.Licenses.UpdateSeats transaction (the licence locked), so no two
// sessions get the last seat, and a lapsed seat is renewed or taken, never
// both, on the embedded store and across replicas on PostgreSQL alike.

// SeatUpdater is the part of the store the seat rules need.
type SeatUpdater interface {
	UpdateSeats(ctx context.Context, licenseID string, fn func(tx store.SeatTx, l store.License) error) error
}

// AcquireSeat gives s.SessionID a floating seat of the licence until
// s.LeaseExpires: the seat it already holds, or the live seat of the same
// user on the same device (a program that came back in a new session
// takes its seat over), or a new one if the licence has room beside the
// seats that have not lapsed at s.Renewed (lapsed ones are dropped);
// else store.ErrNoSeat. store.ErrNotActive if the licence is frozen or
// released, store.ErrNotFound if there is none.
func AcquireSeat(ctx context.Context, st SeatUpdater, s store.Seat) (store.Seat, error) {
	out := s
	err := st.UpdateSeats(ctx, s.LicenseID, func(tx store.SeatTx, l store.License) error {
		if l.Status != store.StatusActive {
			return fmt.Errorf("licence %s is %s: %w", l.ID, l.Status, store.ErrNotActive)
		}
		seats, err := tx.Seats("")
		if err != nil {
			return err
		}
		var live []store.Seat
		var lapsed []string
		for _, old := range seats {
			mine := old.SessionID == s.SessionID && s.SessionID != ""
			comeback := s.Device != "" && old.UserID == s.UserID && old.Device == s.Device && !old.Lapsed(s.Renewed)
			if mine || comeback {
				old.SessionID = s.SessionID
				old.Renewed, old.LeaseExpires, old.Device = s.Renewed, s.LeaseExpires, s.Device
				out = old
				return tx.PutSeat(old)
			}
			if old.Lapsed(s.Renewed) {
				lapsed = append(lapsed, old.ID)
				continue
			}
			live = append(live, old)
		}
		if err := tx.DeleteSeats(lapsed...); err != nil {
			return err
		}
		if !room(l, live, s) {
			return store.ErrNoSeat
		}
		out = s
		out.ID = "seat_" + token.ID()
		return tx.PutSeat(out)
	})
	if err != nil {
		return s, err
	}
	return out, nil
}

// room reports whether the licence has a floating seat for s beside the
// live seats of others: fewer than Seats of them, or, for a named-user
// licence, fewer than Seats users holding them, or one held by s's user
// already.
func room(l store.License, others []store.Seat, s store.Seat) bool {
	if !l.NamedUsers {
		return len(others) < l.Seats
	}
	users := make(map[string]bool, len(others))
	for _, o := range others {
		users[o.UserID] = true
	}
	return users[s.UserID] || len(users) < l.Seats
}

// RenewSeat extends the seat a session holds on a licence to
// leaseExpires; store.ErrNotFound if it holds none (its seat lapsed and
// was taken).
func RenewSeat(ctx context.Context, st SeatUpdater, licenseID, sessionID string, leaseExpires, now time.Time) (store.Seat, error) {
	var out store.Seat
	err := st.UpdateSeats(ctx, licenseID, func(tx store.SeatTx, _ store.License) error {
		seats, err := tx.Seats(sessionID)
		if err != nil {
			return err
		}
		if len(seats) == 0 {
			return store.ErrNotFound
		}
		out = seats[0]
		out.Renewed, out.LeaseExpires = now, leaseExpires
		return tx.PutSeat(out)
	})
	if err != nil {
		return store.Seat{}, fmt.Errorf("seat of session %s on licence %s: %w", sessionID, licenseID, err)
	}
	return out, nil
}

// BindDevice binds a node-locked licence to s.Device, or finds the binding
// of the same device (by the drift rule, sameDevice) and gives it to s's
// session and user; store.ErrDeviceLimit when the licence has Seats
// devices bound already.
func BindDevice(ctx context.Context, st SeatUpdater, s store.Seat) (store.Seat, error) {
	out := s
	err := st.UpdateSeats(ctx, s.LicenseID, func(tx store.SeatTx, l store.License) error {
		seats, err := tx.Seats("")
		if err != nil {
			return err
		}
		for _, old := range seats {
			if sameDevice(old.Device, s.Device) {
				old.Renewed, old.SessionID, old.UserID = s.Renewed, s.SessionID, s.UserID
				out = old
				return tx.PutSeat(old)
			}
		}
		if len(seats) >= l.Seats {
			return store.ErrDeviceLimit
		}
		out = s
		out.ID = "seat_" + token.ID()
		return tx.PutSeat(out)
	})
	if err != nil {
		return s, err
	}
	return out, nil
}

// ReleaseSessionSeats frees every floating seat a session holds (a
// node-locked binding stays: it is the device's, not the session's).
func ReleaseSessionSeats(ctx context.Context, st store.Licenses, sessionID string) ([]store.Seat, error) {
	return st.DeleteSessionSeats(ctx, sessionID, floating)
}

// floating reports whether a seat is a lease (not a device binding).
func floating(s store.Seat) bool { return !s.LeaseExpires.IsZero() }
