package chunkstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iscsdk/iscsdk/internal/atomicfile"
)

// tempPrefix starts the names of files being written; List skips them.
const tempPrefix = ".tmp-"

// staleTemp is the age after which List removes a temporary file: one left by
// a crash in the middle of a Put.
const staleTemp = 24 * time.Hour

// FormatVersion is the layout of a Dir that this package writes, recorded
// in root/FORMAT. Version 1 (no FORMAT file) kept one file per chunk;
// version 2 appends chunks to packs and still reads version 1's files.
const FormatVersion = 2

// Dir is a Store in a directory tree. Chunks are appended to packs:
// root/org/packs/NNNNNNNN.pack, with NNNNNNNN.idx beside a pack once it
// is sealed (past 64 MiB). A record is the chunk's id, the length of its
// encoding, a CRC-32C and the encoding; an index lists each record's id,
// offset and length, under a CRC-32C of its own. A Get is one read at an
// offset.
//
// A Put appends its record and returns once an fsync covers it; the puts
// that arrive meanwhile share that fsync (group commit), so a batch of
// uploads costs about one sync, not two syscalls and two syncs per chunk.
// A chunk is found by Has only once it is durable. After a crash the last
// pack is read again: a record torn by the crash (short, or failing its
// CRC) and everything after it is cut off, so its chunk is missing and
// clients send it again. A failed write or fsync (a full disk: ENOSPC or
// EDQUOT, reported as ErrNoSpace) cuts the pack back the same way.
//
// Deleted chunks leave dead records; Repack rewrites the packs that are
// mostly dead. A chunk's time (for GC) is kept in memory: the time of its
// last Put or Has, or when the Dir first read its pack.
//
// Stores written before packs (one file per chunk, root/org/ii/id, the
// chunk's time its modification time) are read as they are: Has, Get, List
// and Delete find those files too, and new chunks go to packs.
//
// Organisation names are checked before they reach a path (see Put), so no
// path leaves root. The tree must be on a case-sensitive file system, or two
// organisations whose names differ only in case would share a directory.
// The index of every chunk is in memory (about 100 bytes a chunk).
//
// A Dir is safe for concurrent use by one process; two processes must not
// share a root.
type Dir struct {
	root  string
	now   func() time.Time
	locks [256]sync.Mutex // of the one-file-per-chunk layout, by the first byte of the id

	mu   sync.Mutex
	orgs map[string]*packs

	// Tests replace these to inject failures.
	append func(f *os.File, b []byte, off int64) error
	sync   func(f *os.File) error
}

// NewDir returns a Dir rooted at root, creating the directory if needed.
// It refuses a root written by a later format.
func NewDir(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("chunkstore: %w", err)
	}
	format := filepath.Join(root, "FORMAT")
	b, err := os.ReadFile(format)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = atomicfile.Write(format, []byte(strconv.Itoa(FormatVersion)+"\n"), 0o644)
	case err == nil:
		if v, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr != nil || v > FormatVersion {
			err = fmt.Errorf("%s is in format %q; this iscd reads up to %d", root, strings.TrimSpace(string(b)), FormatVersion)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("chunkstore: %w", err)
	}
	return &Dir{
		root:   root,
		now:    time.Now,
		orgs:   map[string]*packs{},
		append: writeAt,
		sync:   (*os.File).Sync,
	}, nil
}

// packs returns org's packs, reading their indexes the first time.
func (d *Dir) packs(org string) (*packs, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p, ok := d.orgs[org]; ok {
		return p, nil
	}
	p, err := openPacks(filepath.Join(d.root, org, "packs"), d.now())
	if err != nil {
		return nil, err
	}
	p.sync = func(f *os.File) error { return d.sync(f) } // tests change d.sync
	p.legacy = hasOldLayout(filepath.Join(d.root, org))
	d.orgs[org] = p
	return p, nil
}

// hasOldLayout reports whether dir holds chunks of the one-file-per-chunk
// layout (folders named by two hex digits): if not, a chunk missing from
// the packs is missing, without a system call to look for its file.
func hasOldLayout(dir string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if _, err := strconv.ParseUint(e.Name(), 16, 8); err == nil && len(e.Name()) == 2 && e.IsDir() {
			return true
		}
	}
	return false
}

// Close closes the pack files. The Dir must not be used after.
func (d *Dir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.orgs {
		p.close()
	}
	d.orgs = map[string]*packs{}
	return nil
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

// dir and path are where the one-file-per-chunk layout kept a chunk.
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
	ok, err := d.has(org, id)
	if err != nil {
		return false, fmt.Errorf("chunkstore: has %s/%s: %w", org, id, err)
	}
	return ok, nil
}

// has finds the chunk in a pack or as a file, and sets its time to now.
func (d *Dir) has(org string, id ID) (bool, error) {
	p, err := d.packs(org)
	if err != nil {
		return false, err
	}
	now := d.now()
	p.mu.Lock()
	l, ok := p.index[id]
	if ok {
		l.time = now.UnixNano()
		p.index[id] = l
	}
	p.mu.Unlock()
	if ok || !p.legacy {
		return ok, nil
	}
	mu := &d.locks[id[0]]
	mu.Lock()
	defer mu.Unlock()
	err = os.Chtimes(d.path(org, id), now, now)
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
	if ok, err := d.has(org, id); ok || err != nil {
		return err
	}
	p, err := d.packs(org)
	if err != nil {
		return err
	}
	return p.appendRecord(id, encoded, d.now().UnixNano(), nil, d.append)
}

// Get implements Store.
func (d *Dir) Get(ctx context.Context, org string, id ID) ([]byte, error) {
	if err := check(ctx, org); err != nil {
		return nil, fmt.Errorf("chunkstore: get %s: %w", id, err)
	}
	p, err := d.packs(org)
	var b []byte
	if err == nil {
		b, err = p.read(id)
	}
	if errors.Is(err, ErrNotFound) && p != nil && p.legacy {
		b, err = os.ReadFile(d.path(org, id))
		if errors.Is(err, fs.ErrNotExist) {
			err = ErrNotFound
		}
	}
	if err != nil {
		return nil, fmt.Errorf("chunkstore: get %s/%s: %w", org, id, err)
	}
	return b, nil
}

// List implements Store. It also removes the temporary files that a crash in
// the middle of a Put of the one-file-per-chunk layout left.
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
	p, err := d.packs(org)
	if err != nil {
		return err
	}
	type entry struct {
		id ID
		t  int64
	}
	p.mu.Lock()
	packed := make([]entry, 0, len(p.index))
	for id, l := range p.index {
		packed = append(packed, entry{id, l.time})
	}
	p.mu.Unlock()
	for _, e := range packed { // fn may call Delete: not under the lock
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(e.id, time.Unix(0, e.t)); err != nil {
			return err
		}
	}
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

// Delete implements Store. A packed chunk's record stays until Repack
// rewrites its pack.
func (d *Dir) Delete(ctx context.Context, org string, id ID, before time.Time) (bool, error) {
	if err := check(ctx, org); err != nil {
		return false, fmt.Errorf("chunkstore: delete %s: %w", id, err)
	}
	p, err := d.packs(org)
	if err != nil {
		return false, fmt.Errorf("chunkstore: delete %s/%s: %w", org, id, err)
	}
	p.mu.Lock()
	l, ok := p.index[id]
	if ok && l.time < before.UnixNano() {
		delete(p.index, id)
		p.dead[l.pack] += recordHeader + int64(l.size)
	}
	p.mu.Unlock()
	if ok || !p.legacy {
		return ok && l.time < before.UnixNano(), nil
	}
	path := d.path(org, id)
	mu := &d.locks[id[0]]
	mu.Lock()
	defer mu.Unlock()
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err == nil && !info.ModTime().Before(before) {
		return false, nil
	}
	if err == nil {
		err = os.Remove(path)
	}
	if err != nil {
		return false, fmt.Errorf("chunkstore: delete %s/%s: %w", org, id, err)
	}
	return true, nil
}

// Repack rewrites org's packs of which at least half is deleted chunks, so
// their space is given back; see Dir. Puts, Gets and Has go on meanwhile.
func (d *Dir) Repack(ctx context.Context, org string) (RepackStats, error) {
	if err := check(ctx, org); err != nil {
		return RepackStats{}, fmt.Errorf("chunkstore: repack: %w", err)
	}
	p, err := d.packs(org)
	if err != nil {
		return RepackStats{}, fmt.Errorf("chunkstore: repack %s: %w", org, err)
	}
	st, err := p.repack(d.append)
	if err != nil {
		return st, fmt.Errorf("chunkstore: repack %s: %w", org, err)
	}
	return st, nil
}

func check(ctx context.Context, org string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return CheckOrg(org)
}
