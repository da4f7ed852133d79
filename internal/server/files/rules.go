package files

import (
	"context"
	"fmt"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
)

// The rules of saves and check-outs, written once above the store: each
// runs in one store.Files.UpdateFile transaction, so it holds on the
// embedded store and across replicas on PostgreSQL alike.

// FileUpdater is the part of the store the rules need.
type FileUpdater interface {
	UpdateFile(ctx context.Context, orgID, path string, fn func(tx store.FileTx, e store.FileEntry, found bool) error) error
}

// Commit says on what terms a version is saved.
type Commit struct {
	Base      int    // the head version the save started from (0: a new file)
	UserID    string // the saver
	SessionID string
	Assembly  bool
	CheckIn   bool   // release the saver's check-out with this save
	ID        string // the client's id of this save (retries repeat it); "" for none
}

// CommitVersion stores v with its manifest as the next version of its
// file, atomically, and returns it numbered. A repeat of the save that
// made the head (the same c.ID by the same user: its answer was lost)
// returns that version and stores nothing. store.ErrLocked if another
// user has the file checked out; store.ErrConflict if the head moved past
// c.Base and the saver does not hold the check-out, if the kind (file or
// assembly) differs, or if a new path is a folder or lies below a file.
func CommitVersion(ctx context.Context, st FileUpdater, v store.Version, manifest []byte, c Commit) (store.Version, error) {
	out := v
	err := st.UpdateFile(ctx, v.OrgID, v.Path, func(tx store.FileTx, e store.FileEntry, found bool) error {
		if found && c.ID != "" && e.LastCommit == c.ID && e.UpdatedBy == c.UserID {
			var err error
			out, err = tx.Version(e.Head)
			return err
		}
		holds := e.Lock != nil && e.Lock.UserID == c.UserID
		switch {
		case e.Lock != nil && !holds:
			return fmt.Errorf("%s: %w (since %s)", v.Path, store.ErrLocked, e.Lock.Since.Format(time.RFC3339))
		case found && e.Assembly != c.Assembly:
			return fmt.Errorf("%s: %w: one is an assembly, the other a single file", v.Path, store.ErrConflict)
		case e.Head != c.Base && !holds:
			return fmt.Errorf("%s: %w: version %d is the latest, the save started from %d", v.Path, store.ErrConflict, e.Head, c.Base)
		}
		out = v
		out.Number = e.Head + 1
		if err := tx.PutVersion(out, manifest); err != nil {
			return err
		}
		e.Assembly = c.Assembly
		e.Head, e.Size, e.Hash, e.Updated, e.UpdatedBy, e.LastCommit = out.Number, out.Size, out.Hash, out.Time, out.Author, c.ID
		if c.CheckIn && holds {
			e.Lock = nil
		}
		return tx.PutFile(e)
	})
	if err != nil {
		return v, err
	}
	return out, nil
}

// Lock checks a file out to l.UserID (again, if it holds it already);
// store.ErrLocked if someone else has it, store.ErrNotFound if there is
// no such file.
func Lock(ctx context.Context, st FileUpdater, orgID, path string, l store.Lock) (store.FileEntry, error) {
	var out store.FileEntry
	err := st.UpdateFile(ctx, orgID, path, func(tx store.FileTx, e store.FileEntry, found bool) error {
		if !found {
			return fmt.Errorf("file %s: %w", path, store.ErrNotFound)
		}
		if e.Lock != nil && e.Lock.UserID != l.UserID {
			return fmt.Errorf("%s: %w", path, store.ErrLocked)
		}
		e.Lock = &l
		out = e
		return tx.PutFile(e)
	})
	return out, err
}

// Unlock checks a file in. Only its holder may, unless force (an
// operator): store.ErrLocked otherwise. A file not checked out is
// answered as it is.
func Unlock(ctx context.Context, st FileUpdater, orgID, path, userID string, force bool) (store.FileEntry, error) {
	var out store.FileEntry
	err := st.UpdateFile(ctx, orgID, path, func(tx store.FileTx, e store.FileEntry, found bool) error {
		if !found {
			return fmt.Errorf("file %s: %w", path, store.ErrNotFound)
		}
		out = e
		if e.Lock == nil {
			return nil
		}
		if e.Lock.UserID != userID && !force {
			return fmt.Errorf("%s: %w", path, store.ErrLocked)
		}
		e.Lock = nil
		out = e
		return tx.PutFile(e)
	})
	return out, err
}
