package chunkstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// tempPrefix starts the names of files being written; List skips them.
const tempPrefix = ".tmp-"

// staleTemp is the age after which List removes a temporary file: one left by
// a crash in the middle of a Put.
const staleTemp = 24 * time.Hour

// Dir is a Store in a directory tree: the chunk id of organisation org is the
// file root/org/ii/id, where ii is the first two hex digits of the id and the
// file holds the encoded chunk. A chunk's time is its file's modification
// time.
//
// A chunk file is written whole or not at all: Put writes a temporary file in
// the same directory, syncs it, renames it into place and syncs the directory.
// So after a crash or a failed write (a full disk: ENOSPC or EDQUOT, reported
// as ErrNoSpace) no partial chunk is ever visible under its name.
//
// Organisation names are checked before they reach a path (see Put), so no
// path leaves root. The tree must be on a case-sensitive file system, or two
// organisations whose names differ only in case would share a directory.
//
// A Dir is safe for concurrent use by one process; two processes must not
// share a root.
type Dir struct {
	root  string
	now   func() time.Time
	locks [256]sync.Mutex // by the first byte of the id

	// Tests replace these to inject failures.
	write  func(f *os.File, b []byte) error
	rename func(from, to string) error
}

// NewDir returns a Dir rooted at root, creating the directory if needed.
func NewDir(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("chunkstore: %w", err)
	}
	return &Dir{
		root:   root,
		now:    time.Now,
		write:  writeSync,
		rename: os.Rename,
	}, nil
}

func writeSync(f *os.File, b []byte) error {
	if _, err := f.Write(b); err != nil {
		return err
	}
	return f.Sync()
}

// CheckOrg returns an error matching ErrInvalidOrg unless org is 1 to 128
// bytes of ASCII letters, digits, '-', '_' and '.', not starting with '.'. Such
// a name is one path element that is neither "." nor "..", on every system.
func CheckOrg(org string) error {
	ok := len(org) > 0 && len(org) <= 128 && org[0] != '.'
	for i := 0; ok && i < len(org); i++ {
		c := org[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
	}
	if !ok {
		return fmt.Errorf("%w: %q", ErrInvalidOrg, org)
	}
	return nil
}

func (d *Dir) dir(org string, id ID) string {
	s := id.String()
	return filepath.Join(d.root, org, s[:2])
}

func (d *Dir) path(org string, id ID) string {
	return filepath.Join(d.dir(org, id), id.String())
}

// Has implements Store.
func (d *Dir) Has(ctx context.Context, org string, id ID) (bool, error) {
	if err := check(ctx, org); err != nil {
		return false, fmt.Errorf("chunkstore: has %s: %w", id, err)
	}
	mu := &d.locks[id[0]]
	mu.Lock()
	defer mu.Unlock()
	ok, err := d.touch(d.path(org, id))
	if err != nil {
		return false, fmt.Errorf("chunkstore: has %s/%s: %w", org, id, err)
	}
	return ok, nil
}

// touch sets the time of the file at p to now, if there is one. The caller
// holds the id's lock.
func (d *Dir) touch(p string) (bool, error) {
	now := d.now()
	err := os.Chtimes(p, now, now)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Put implements Store. It returns an error matching ErrInvalidOrg for an
// organisation name CheckOrg refuses.
func (d *Dir) Put(ctx context.Context, org string, id ID, encoded []byte) error {
	if err := d.put(ctx, org, id, encoded); err != nil {
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			return fmt.Errorf("chunkstore: put %s/%s: %w: %w", org, id, ErrNoSpace, err)
		}
		return fmt.Errorf("chunkstore: put %s/%s: %w", org, id, err)
	}
	return nil
}

func (d *Dir) put(ctx context.Context, org string, id ID, encoded []byte) error {
	if err := check(ctx, org); err != nil {
		return err
	}
	if err := Verify(org, id, encoded); err != nil {
		return err
	}
	final := d.path(org, id)
	mu := &d.locks[id[0]]
	mu.Lock()
	ok, err := d.touch(final)
	mu.Unlock()
	if ok || err != nil {
		return err
	}

	// Write outside the lock: only the rename needs it.
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename, a no-op
	err = d.write(f, encoded)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	now := d.now()
	if err := os.Chtimes(tmp, now, now); err != nil {
		return err
	}

	mu.Lock()
	defer mu.Unlock()
	if ok, err := d.touch(final); ok || err != nil {
		return err // someone else put it meanwhile
	}
	if err := d.rename(tmp, final); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil // a system that cannot sync a directory
	}
	return err
}

// Get implements Store.
func (d *Dir) Get(ctx context.Context, org string, id ID) ([]byte, error) {
	if err := check(ctx, org); err != nil {
		return nil, fmt.Errorf("chunkstore: get %s: %w", id, err)
	}
	b, err := os.ReadFile(d.path(org, id))
	if errors.Is(err, fs.ErrNotExist) {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("chunkstore: get %s/%s: %w", org, id, err)
	}
	return b, nil
}

// List implements Store. It also removes the temporary files that a crash in
// the middle of a Put left more than a day ago.
func (d *Dir) List(ctx context.Context, org string, fn func(id ID, t time.Time) error) error {
	if err := check(ctx, org); err != nil {
		return fmt.Errorf("chunkstore: list: %w", err)
	}
	if err := d.list(ctx, org, fn); err != nil {
		return fmt.Errorf("chunkstore: list %s: %w", org, err)
	}
	return nil
}

func (d *Dir) list(ctx context.Context, org string, fn func(id ID, t time.Time) error) error {
	top := filepath.Join(d.root, org)
	subs, err := os.ReadDir(top)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, sub := range subs {
		if !sub.IsDir() || len(sub.Name()) != 2 {
			continue
		}
		dir := filepath.Join(top, sub.Name())
		// ReadDir reads the whole directory first, so fn may delete.
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			}
			if err != nil {
				return err
			}
			if strings.HasPrefix(e.Name(), tempPrefix) {
				if d.now().Sub(info.ModTime()) > staleTemp {
					os.Remove(filepath.Join(dir, e.Name()))
				}
				continue
			}
			id, err := ParseID(e.Name())
			if err != nil || !info.Mode().IsRegular() {
				continue // not ours
			}
			if err := fn(id, info.ModTime()); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete implements Store.
func (d *Dir) Delete(ctx context.Context, org string, id ID, before time.Time) (bool, error) {
	if err := check(ctx, org); err != nil {
		return false, fmt.Errorf("chunkstore: delete %s: %w", id, err)
	}
	p := d.path(org, id)
	mu := &d.locks[id[0]]
	mu.Lock()
	defer mu.Unlock()
	info, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err == nil && !info.ModTime().Before(before) {
		return false, nil
	}
	if err == nil {
		err = os.Remove(p)
	}
	if err != nil {
		return false, fmt.Errorf("chunkstore: delete %s/%s: %w", org, id, err)
	}
	return true, nil
}

func check(ctx context.Context, org string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return CheckOrg(org)
}
