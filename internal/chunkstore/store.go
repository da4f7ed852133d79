package chunkstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A Store keeps the encoded chunks of each organisation. Chunks are
// immutable: a chunk is present or not, and its content is fixed by its id.
// Implementations are safe for concurrent use.
//
// Every chunk has a time: when it was last put, or last found by Has. GC
// deletes only chunks whose time is before its cut-off, which is what keeps
// the chunks of uploads in flight (see GC).
type Store interface {
	// Has reports whether the chunk is stored for org. A chunk that is found
	// has its time set to now: a client told it need not send a chunk can
	// count on the chunk being there when it commits (see GC).
	Has(ctx context.Context, org string, id ID) (bool, error)

	// Put stores an encoded chunk (see Encode) under id. It first decodes
	// and hashes it: content that does not hash to id is refused with a
	// *MismatchError, an invalid encoding with ErrEncoding or ErrTooLarge.
	// Putting a chunk that is already stored only sets its time to now.
	// On failure nothing of the chunk is visible; a full disk gives an error
	// that matches ErrNoSpace.
	Put(ctx context.Context, org string, id ID, encoded []byte) error

	// Get returns the encoded chunk, or an error matching ErrNotFound.
	Get(ctx context.Context, org string, id ID) ([]byte, error)

	// List calls fn for each chunk of org with its time, in no particular
	// order, until fn returns an error, which List returns. fn may call
	// Delete.
	List(ctx context.Context, org string, fn func(id ID, t time.Time) error) error

	// Delete removes the chunk if its time is before the given time and
	// reports whether it did. The check and the removal are one step with
	// respect to Has and Put on the same chunk. Deleting a chunk that is not
	// stored is not an error.
	Delete(ctx context.Context, org string, id ID, before time.Time) (bool, error)
}

// Errors of a Store.
var (
	ErrNotFound   = errors.New("chunkstore: chunk not found")
	ErrInvalidOrg = errors.New("chunkstore: invalid organisation name")
	ErrNoSpace    = errors.New("chunkstore: no space left")
)

// ErrMismatch is matched (by errors.Is) by every *MismatchError.
var ErrMismatch = errors.New("chunkstore: chunk content does not match its id")

// A MismatchError reports a chunk whose content does not hash to the id it was
// put under: a client's bug, a corruption in transit, or a lie.
type MismatchError struct {
	Org     string
	Claimed ID // the id the chunk was put under
	Actual  ID // the hash of its content
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("chunkstore: %s: chunk put as %s hashes to %s", e.Org, e.Claimed, e.Actual)
}

// Is makes errors.Is(err, ErrMismatch) true.
func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }

// Verify decodes an encoded chunk and checks that its content hashes to id.
// Put implementations call it before they store anything.
func Verify(org string, id ID, encoded []byte) error {
	buf := decodeBufs.Get().(*[]byte)
	defer decodeBufs.Put(buf)
	data, err := decode(*buf, encoded)
	if err != nil {
		return err
	}
	if sum := Sum(data); sum != id {
		return &MismatchError{Org: org, Claimed: id, Actual: sum}
	}
	return nil
}

// GCStats counts what GC saw and did.
type GCStats struct {
	Chunks  int // chunks listed
	Live    int // kept because live said so
	Recent  int // kept because their time was not before the cut-off
	Deleted int
}

// GC deletes the chunks of org that live reports dead and whose time is
// before olderThan.
//
// The rule that keeps uploads in flight safe: an upload's chunks are not yet
// referenced by any committed version, so live says they are dead, but each
// was put, or found by Has, during the upload, which set its time. So GC must
// be given a cut-off earlier than the start of every upload that may still
// commit, and live must reflect every version committed before GC started.
// In practice: uploads expire after a grace period (a client whose upload is
// older asks again what is missing, which sets the times again), and GC runs
// with olderThan = its start time minus that grace period, taking the set of
// live chunks after it starts.
//
// Between listing a chunk and deleting it, a Has or Put may set its time: the
// deletion then does not happen (see Store.Delete).
func GC(ctx context.Context, s Store, org string, live func(ID) bool, olderThan time.Time) (GCStats, error) {
	var st GCStats
	err := s.List(ctx, org, func(id ID, t time.Time) error {
		st.Chunks++
		switch {
		case !t.Before(olderThan):
			st.Recent++
		case live(id):
			st.Live++
		default:
			deleted, err := s.Delete(ctx, org, id, olderThan)
			if err != nil {
				return err
			}
			if deleted {
				st.Deleted++
			} else {
				st.Recent++
			}
		}
		return ctx.Err()
	})
	if err != nil {
		return st, fmt.Errorf("chunkstore: gc %s: %w", org, err)
	}
	return st, nil
}
