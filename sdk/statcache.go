package sdk

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
// and a small skew between the clock and a network file system's.
const racyWindow = 2 * time.Second

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
// entries its content had then, by the file's path in the manifest.
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
// never trusting it.
type statCache struct {
	dir       string
	workspace string
	now       func() time.Time
	window    time.Duration
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
	var entries []manifest.File
	for _, f := range files {
		if _, dup := s.Files[f.file.Path]; dup || f.file.Path == "" {
			continue
		}
		limit := f.taken.Add(-sc.window).UnixNano()
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
	_ = atomicfile.Write(sc.file(root), b, 0o600)
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
