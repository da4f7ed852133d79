package sdk

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/atomicfile"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/manifest"
)

// statCacheFormat is the version of a stat cache's encoding; a cache of
// another format, or written by another SDK version, is not trusted.
const statCacheFormat = 1

// racyWindow is how close to the moment it was recorded a file may have
// been modified (or its inode changed) for its stat to still prove
// nothing: a write within the file system's timestamp granularity of the
// recording leaves the same stamp (git's "racily clean" entries). Two
// seconds covers FAT's and HFS+'s granularity, the kernel's coarse clock
// and a small skew between the clock and a network file system's. The
// local file systems Linux stamps from its coarse clock (a tick, 1–10 ms)
// get localRacyWindow instead (racyWindowOf).
const racyWindow = 2 * time.Second

// localRacyWindow is the racy window of a local Linux file system with
// nanosecond timestamps: ten ticks of the slowest kernel clock. A program
// that writes a file and saves it at once (the usual way) then has its
// next save trust the file's stat a tenth of a second later, not two.
const localRacyWindow = 100 * time.Millisecond

// The bounds of a stat cache: past either, the snapshots stored longest
// ago are removed (their roots' next saves read every file once). A
// snapshot costs about 250 bytes per file of one chunk (measured: 2,424
// bytes for 10 parts of 2 KB), so 64 MiB holds some 250,000 files.
const (
	statCacheRoots = 1000
	statCacheBytes = 64 << 20
)

// statPruneEvery is how often a client sweeps its stat cache: at its first
// save or open, then at most this often. A sweep reads the head of every
// snapshot and stats its root: 12 ms for 1,000 snapshots here, too much
// for every save.
const statPruneEvery = 10 * time.Minute

// stamp is what a file's stat says about its content: if none of it
// changed, the content did not either (outside the racy window).
// Ctime, Ino and Dev are zero where the system does not give them.
type stamp struct {
	Size  int64  `json:"s"`
	Mtime int64  `json:"m"` // ns since 1970
	Ctime int64  `json:"c,omitempty"`
	Ino   uint64 `json:"i,omitempty"`
	Dev   uint64 `json:"d,omitempty"`
}

// statRecord is one file's stat when its content was last known, and
// whether that stat was taken too soon after a change to prove anything.
type statRecord struct {
	Stamp stamp `json:"st"`
	Racy  bool  `json:"r,omitempty"`
}

// statSnapshot is what a stat cache holds for one saved or opened root (a
// file, or an assembly folder): each file's stamp, and the manifest
// entries its content had then, by the file's path in the manifest. The
// fields before Files are its head, encoded first: a sweep reads only
// that (readHead).
type statSnapshot struct {
	Format    int                   `json:"format"`
	SDK       string                `json:"sdk"`
	Workspace string                `json:"workspace"`
	Root      string                `json:"root"`
	Volume    uint64                `json:"volume"`  // the root's device: a cache of another volume is stale
	Written   int64                 `json:"written"` // ns since 1970: a clock now before it has jumped back
	Files     map[string]statRecord `json:"files"`
	Manifest  []byte                `json:"manifest"` // manifest.Encode of the files' entries

	entries map[string]manifest.File
}

// statCache keeps, per saved or opened root, what each of its files was
// when the SDK last read or wrote it, in WORKSPACE/stat: a re-save takes
// the manifest entry of a file whose stat is unchanged instead of reading
// it, and a re-open knows which local files already hold which chunks.
// Anything doubtful (another format, version, workspace or volume, a clock
// that went back, a stat too close to its change) means reading the file,
// never trusting it. A sweep after a store (prune) removes the snapshots
// of roots that are gone and keeps the cache within its bounds.
type statCache struct {
	dir       string
	workspace string
	now       func() time.Time
	window    time.Duration // 0: the file system's (racyWindowOf)
	maxRoots  int           // 0: statCacheRoots
	maxBytes  int64         // 0: statCacheBytes
	every     time.Duration // 0: statPruneEvery; < 0: at every store

	mu     sync.Mutex
	pruned time.Time // the last sweep
}

func (sc *statCache) file(root string) string {
	sum := sha256.Sum256([]byte(indexKey(root)))
	return filepath.Join(sc.dir, hex.EncodeToString(sum[:16]))
}

// load returns the snapshot of root, or an empty one when there is none
// it can trust.
func (sc *statCache) load(root string) *statSnapshot {
	empty := &statSnapshot{entries: map[string]manifest.File{}}
	b, err := os.ReadFile(sc.file(root))
	if err != nil {
		return empty
	}
	var s statSnapshot
	if json.Unmarshal(b, &s) != nil || s.Format != statCacheFormat || s.SDK != Version ||
		s.Workspace != sc.workspace || indexKey(s.Root) != indexKey(root) {
		return empty
	}
	if s.Written > sc.now().UnixNano() { // the clock went back: stamps may repeat
		return empty
	}
	if st, err := os.Stat(root); err != nil || stampOf(root, st).Dev != s.Volume {
		return empty
	}
	m, err := manifest.Decode(s.Manifest)
	if err != nil {
		return empty
	}
	s.entries = make(map[string]manifest.File, len(m.Files))
	for _, f := range m.Files {
		s.entries[f.Path] = f
	}
	return &s
}

// lookup returns the manifest entry recorded for rel if the file's stamp
// now is the recorded one. racy says the stamp was taken too close to a
// change: the content must be hashed to be sure.
func (s *statSnapshot) lookup(rel string, now stamp) (f manifest.File, racy, ok bool) {
	r, found := s.Files[rel]
	f, known := s.entries[rel]
	if !found || !known || r.Stamp != now {
		return manifest.File{}, false, false
	}
	return f, r.Racy, true
}

// held returns the chunks of every file the snapshot records: they were
// in a version the service held when the snapshot was written. A file
// edited since is mostly made of them, and what the service holds needs
// no encoding; if some are gone since, the commit says so.
func (s *statSnapshot) held() map[chunkstore.ID]struct{} {
	n := 0
	for _, f := range s.entries {
		n += len(f.Chunks)
	}
	ids := make(map[chunkstore.ID]struct{}, n)
	for _, f := range s.entries {
		for _, c := range f.Chunks {
			ids[c.ID] = struct{}{}
		}
	}
	return ids
}

// statEntry is one file to record: its manifest entry, its stamp, and a
// moment no later than the stat that gave the stamp.
type statEntry struct {
	file  manifest.File
	stamp stamp
	taken time.Time
}

// store records root's files, replacing what was recorded. A file changed
// (mtime or ctime) within the racy window before its stat is recorded as
// racy: a write after the stat, in the same tick of the file system's
// clock, would leave the same stamp. Errors only cost a re-read.
func (sc *statCache) store(root string, files []statEntry) {
	st, err := os.Stat(root)
	if err != nil {
		return
	}
	s := statSnapshot{
		Format: statCacheFormat, SDK: Version, Workspace: sc.workspace, Root: root,
		Volume: stampOf(root, st).Dev, Written: sc.now().UnixNano(), Files: map[string]statRecord{},
	}
	window := sc.window
	if window == 0 {
		window = racyWindowOf(root)
	}
	var entries []manifest.File
	for _, f := range files {
		if _, dup := s.Files[f.file.Path]; dup || f.file.Path == "" {
			continue
		}
		limit := f.taken.Add(-window).UnixNano()
		racy := f.stamp.Mtime >= limit || f.stamp.Ctime >= limit
		s.Files[f.file.Path] = statRecord{Stamp: f.stamp, Racy: racy}
		entries = append(entries, f.file)
	}
	if s.Manifest, err = manifest.Encode(manifest.New(entries...)); err != nil {
		return
	}
	b, err := json.Marshal(s)
	if err != nil {
		return
	}
	if atomicfile.Write(sc.file(root), b, 0o600) == nil && sc.sweepDue() {
		sc.prune(sc.file(root))
	}
}

// sweepDue says whether it is time to prune, and if so marks it done.
func (sc *statCache) sweepDue() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	now := sc.now()
	if !sc.pruned.IsZero() && now.Sub(sc.pruned) < cmp.Or(sc.every, statPruneEvery) && !now.Before(sc.pruned) {
		return false
	}
	sc.pruned = now
	return true
}

// prune runs after the snapshot at keep was stored. It removes the
// snapshots nothing will use again — of a root that no longer exists (a
// file or folder deleted or moved), written for another workspace (a
// copied workspace folder) or after now (the clock went back: load would
// not trust it), or not snapshots at all — and then, past the bounds, the
// snapshots stored longest ago. A snapshot already drops the files its
// root no longer holds and the versions it superseded (store replaces it
// whole), so this bounds the cache whatever is saved; at worst a root
// whose snapshot went reads its files once at its next save. Snapshots of
// another SDK version are left to the bounds: a program of that version
// may share the workspace and use them.
func (sc *statCache) prune(keep string) {
	entries, err := os.ReadDir(sc.dir)
	if err != nil {
		return
	}
	type kept struct {
		path    string
		size    int64
		written int64
	}
	var live []kept
	roots, bytes := 1, int64(0)
	for _, e := range entries {
		path := filepath.Join(sc.dir, e.Name())
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if path == keep {
			bytes += info.Size()
			continue
		}
		if e.Name()[0] == '.' { // another store's temporary file
			if sc.now().Sub(info.ModTime()) > time.Hour { // left by a crash
				os.Remove(path)
			}
			continue
		}
		written, ok := sc.used(path)
		if !ok {
			os.Remove(path)
			continue
		}
		live = append(live, kept{path, info.Size(), written})
		roots, bytes = roots+1, bytes+info.Size()
	}
	maxRoots, maxBytes := cmp.Or(sc.maxRoots, statCacheRoots), cmp.Or(sc.maxBytes, statCacheBytes)
	slices.SortFunc(live, func(a, b kept) int { return cmp.Compare(a.written, b.written) })
	for _, k := range live {
		if roots <= maxRoots && bytes <= maxBytes {
			break
		}
		os.Remove(k.path)
		roots, bytes = roots-1, bytes-k.size
	}
}

// snapshotHead is what a snapshot encodes before its files and manifest.
type snapshotHead struct {
	Workspace string
	Root      string
	Written   int64
}

// used says whether the snapshot at path may be used again — it is one
// (named for its root), of this workspace, written before now, and its
// root exists — and when it was written. Only its head is read.
func (sc *statCache) used(path string) (written int64, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, true // not this sweep's to judge
	}
	defer f.Close()
	h, err := readHead(json.NewDecoder(f))
	if err != nil || sc.file(h.Root) != path || h.Workspace != sc.workspace || h.Written > sc.now().UnixNano() {
		return 0, false
	}
	_, err = os.Lstat(h.Root)
	return h.Written, !errors.Is(err, fs.ErrNotExist)
}

// readHead reads a snapshot's head and stops there: encoding/json writes
// statSnapshot's fields in order, its files and manifest last.
func readHead(dec *json.Decoder) (snapshotHead, error) {
	var h snapshotHead
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return h, errors.New("not a snapshot")
	}
	for found := 0; found < 3 && dec.More(); {
		key, err := dec.Token()
		if err != nil {
			return h, err
		}
		var into any = new(json.RawMessage)
		switch key {
		case "workspace":
			into, found = &h.Workspace, found+1
		case "root":
			into, found = &h.Root, found+1
		case "written":
			into, found = &h.Written, found+1
		}
		if err := dec.Decode(into); err != nil {
			return h, err
		}
	}
	if h.Root == "" {
		return h, errors.New("a snapshot without a root")
	}
	return h, nil
}

// forget drops root's snapshot: its files are read at the next save.
func (sc *statCache) forget(root string) { os.Remove(sc.file(root)) }

// stampNow stats path again.
func stampNow(path string) (stamp, error) {
	info, err := os.Lstat(path)
	if err != nil {
		return stamp{}, err
	}
	return stampOf(path, info), nil
}

// hashFile is the SHA-256 of the content of path, which must have size
// bytes: a manifest entry's Hash.
func hashFile(path string, size int64) (chunkstore.ID, bool) {
	f, err := os.Open(path)
	if err != nil {
		return chunkstore.ID{}, false
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil || n != size {
		return chunkstore.ID{}, false
	}
	return chunkstore.ID(h.Sum(nil)), true
}

// baseStamp is the part of a stamp every system gives.
func baseStamp(info fs.FileInfo) stamp {
	return stamp{Size: info.Size(), Mtime: info.ModTime().UnixNano()}
}
