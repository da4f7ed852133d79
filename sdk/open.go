package sdk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/iscsdk/iscsdk/internal/chunker"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/cloudpath"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// OpenOptions tune an open.
type OpenOptions struct {
	// Checkout checks the cloud file out first: no one else can save it
	// until this program saves it back with SaveOptions.CheckIn (or
	// CheckIn). Without it the local copy is read only: Save refuses it.
	Checkout bool
	Progress func(Progress) // called at most ~10 times a second; nil: none
}

// OpenFile downloads the head version of cloudPath into the workspace
// (checking it out first with opt.Checkout) and returns where it is.
// Chunks the previous local copy already holds are not fetched; the file
// is written beside its final place, verified against its hash, and
// renamed into place, so a half-downloaded file is never seen.
func (c *Client) OpenFile(ctx context.Context, cloudPath string, opt OpenOptions) (OpenResult, error) {
	checkout, progress := opt.Checkout, opt.Progress
	if c.shut.Load() {
		return OpenResult{}, ErrShutOut
	}
	cp, err := cloudpath.Check(cloudPath)
	if err != nil {
		return OpenResult{}, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	var res OpenResult
	err = transferPolicy.Do(ctx, func(int) error {
		var err error
		res, err = c.openOnce(ctx, cp, checkout, progress)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("open %s: %w", cp, err)
	}
	if !res.Assembly || !isZipAssembly(cp) { // an unpacked zip did not come from the cloud as such
		c.files.set(res.MainFile, indexEntry{CloudPath: cp, Version: res.Version, Assembly: res.Assembly, CheckedOut: checkout, Hash: res.contentHash, Files: res.fileHashes})
	}
	return res, nil
}

func (c *Client) openOnce(ctx context.Context, cloudPath string, checkout bool, progress func(Progress)) (OpenResult, error) {
	res := OpenResult{CloudPath: cloudPath, CheckedOut: checkout}
	var fi wire.FileInfo
	if err := c.call(ctx, wire.OpFilesOpen, wire.FilesOpen{Path: cloudPath, Checkout: checkout}, &fi); err != nil {
		return res, err
	}
	f, err := c.fetch(ctx, wire.OpFilesManifest, wire.FilesVersion{Path: cloudPath, Version: fi.Version}, wire.BinManifest)
	if err != nil {
		return res, err
	}
	m, err := manifest.Decode(f.Payload)
	if err != nil {
		return res, fmt.Errorf("%w: manifest: %v", ErrProtocol, err)
	}
	res.Version, res.Assembly = fi.Version, fi.Assembly
	if !fi.Assembly && len(m.Files) == 1 {
		res.contentHash = m.Files[0].Hash.String()
	}
	res.MainFile = c.localPathFor(cloudPath)
	var total, done int64
	for _, file := range m.Files {
		total += file.Size
		res.ChunksTotal += len(file.Chunks)
	}
	report := throttle(progress, cloudPath, total)
	var known map[string]string // what the local assembly held when it last matched the cloud
	want := map[string]chunkstore.ID{}
	zipped := !fi.Assembly && isZipAssembly(cloudPath)
	local := &localCopy{c: c, root: res.MainFile, assembly: fi.Assembly, res: &res, snap: &statSnapshot{}, known: map[string]*manifest.File{}}
	if !zipped {
		local.snap = c.stat.load(res.MainFile)
	}
	if fi.Assembly {
		known = c.files.get(res.MainFile).Files
		res.fileHashes = map[string]string{}
		for _, f := range m.Files {
			want[f.Path], res.fileHashes[f.Path] = f.Hash, f.Hash.String()
		}
		// No part edited locally and never saved is overwritten.
		for rel, recorded := range known {
			if h, ok := local.hash(rel); ok && h.String() != recorded && h != want[rel] {
				return res, fmt.Errorf("%w: %s", ErrLocalChanges, local.path(rel))
			}
		}
	}
	var recorded []statEntry
	for _, file := range m.Files {
		rel := file.Path
		if !fi.Assembly {
			rel = filepath.Base(res.MainFile)
		}
		dst := local.path(rel)
		held, _ := local.entry(rel)
		if err := c.downloadOver(ctx, wire.OpFilesChunk, file, dst, held, &res, func(n int64) { done += n; report(done, false) }); err != nil {
			return res, err
		}
		file.Path = rel
		recorded = append(recorded, statEntry{file: file})
	}
	report(total, true)
	// Stamped once everything is written: a file written more than the
	// racy window before its stat is trusted at the next open or save.
	for i := range recorded {
		recorded[i].taken = c.stat.now()
		recorded[i].stamp, err = stampNow(local.path(recorded[i].file.Path))
		if err != nil {
			recorded[i].file.Path = "" // gone meanwhile: not recorded
		}
	}
	// Parts the new version no longer has go, unless edited locally; parts
	// the engineer added (never in the cloud) stay, to be saved.
	for rel, recorded := range known {
		if _, still := want[rel]; still {
			continue
		}
		if h, ok := local.hash(rel); ok && h.String() == recorded {
			os.Remove(local.path(rel))
		}
	}
	if !zipped {
		c.stat.store(res.MainFile, recorded)
	}
	if zipped {
		// A zipped assembly opens as its folder, read only: save it back
		// with SaveAs (it becomes a folder assembly).
		dir, err := unzipAssembly(res.MainFile)
		if err != nil {
			return res, err
		}
		res.MainFile, res.Assembly, res.CheckedOut = dir, true, false
	}
	return res, nil
}

// localPathFor is where a cloud file lives in the workspace.
func (c *Client) localPathFor(cloudPath string) string {
	return filepath.Join(c.cfg.WorkspaceDir, "files", filepath.FromSlash(strings.TrimPrefix(cloudPath, "/")))
}

// offsets maps the chunks of a file to where they are in it.
func offsets(f *manifest.File) map[chunkstore.ID][2]int64 {
	out := make(map[chunkstore.ID][2]int64, len(f.Chunks))
	var at int64
	for _, ch := range f.Chunks {
		out[ch.ID] = [2]int64{at, int64(ch.Size)}
		at += int64(ch.Size)
	}
	return out
}

// localCopy is the local copy an open writes over: what its files hold,
// from the stat cache where it vouches for them, read otherwise.
type localCopy struct {
	c        *Client
	root     string
	assembly bool
	res      *OpenResult
	snap     *statSnapshot
	known    map[string]*manifest.File // entry's answers, by rel
}

func (l *localCopy) path(rel string) string {
	if !l.assembly {
		return l.root
	}
	return filepath.Join(l.root, filepath.FromSlash(rel))
}

// entry returns the manifest entry of what the file rel holds, if the
// stat cache knows it (hashing the file when its stat was racy).
func (l *localCopy) entry(rel string) (*manifest.File, bool) {
	if f, asked := l.known[rel]; asked {
		return f, f != nil
	}
	f := l.vouched(rel)
	l.known[rel] = f
	return f, f != nil
}

func (l *localCopy) vouched(rel string) *manifest.File {
	p := l.path(rel)
	st, err := stampNow(p)
	if err != nil {
		return nil
	}
	f, racy, ok := l.snap.lookup(rel, st)
	if !ok {
		return nil
	}
	if racy {
		l.res.FilesRead++
		if h, ok := hashFile(p, st.Size); !ok || h != f.Hash {
			return nil
		}
	}
	return &f
}

// hash returns the hash of the content of the file rel, false if there is
// no such file.
func (l *localCopy) hash(rel string) (chunkstore.ID, bool) {
	if f, ok := l.entry(rel); ok {
		return f.Hash, true
	}
	h, err := fileHash(l.path(rel))
	if err != nil {
		return h, false
	}
	l.res.FilesRead++
	return h, true
}

// seed maps the chunks of an existing local copy to where they are in it.
// It also returns the whole copy's hash (zero when there is no copy).
func seed(path string) (map[chunkstore.ID][2]int64, *os.File, chunkstore.ID) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, chunkstore.ID{}
	}
	out := map[chunkstore.ID][2]int64{}
	h := sha256.New()
	ch := chunker.New(f)
	for {
		c, err := ch.Next()
		if err != nil {
			break
		}
		h.Write(c.Data)
		out[chunkstore.Sum(c.Data)] = [2]int64{c.Offset, int64(len(c.Data))}
	}
	return out, f, chunkstore.ID(h.Sum(nil))
}

// download writes one file of a manifest to dst, fetching its chunks with
// chunkOp (files.chunk for cloud files, upgrades.chunk for packages).
func (c *Client) download(ctx context.Context, chunkOp string, file manifest.File, dst string, res *OpenResult, wrote func(int64)) error {
	return c.downloadOver(ctx, chunkOp, file, dst, nil, res, wrote)
}

// downloadOver is download where held, if not nil, is what dst is known
// to hold (the stat cache vouched for it): dst is not read to learn it,
// and not written at all if it already holds file.
// maxFetchesAhead bounds the chunks one download has asked for and not
// yet written.
const maxFetchesAhead = wire.MaxInflight / 2

func (c *Client) downloadOver(ctx context.Context, chunkOp string, file manifest.File, dst string, held *manifest.File, res *OpenResult, wrote func(int64)) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	var (
		old       map[chunkstore.ID][2]int64
		oldFile   *os.File
		localHash chunkstore.ID
	)
	switch {
	case held != nil && held.Hash == file.Hash:
		res.ChunksReused += len(file.Chunks)
		wrote(file.Size)
		return nil
	case held != nil:
		old, localHash = offsets(held), held.Hash
		if oldFile, _ = os.Open(dst); oldFile == nil {
			old = nil
		}
	default:
		old, oldFile, localHash = seed(dst)
		if oldFile != nil {
			res.FilesRead++
		}
	}
	// A local copy changed since it last matched the cloud (edited, never
	// saved) is not overwritten: the engineer's work comes first.
	if known := c.files.get(dst).Hash; oldFile != nil && known != "" && known != localHash.String() && localHash != file.Hash {
		oldFile.Close()
		return fmt.Errorf("%w: %s", ErrLocalChanges, dst)
	}
	defer func() {
		if oldFile != nil {
			oldFile.Close()
		}
	}()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.part")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing to remove
	defer tmp.Close()

	type fetched struct {
		data []byte
		err  error
	}
	// Chunks are fetched ahead (as the link's window holds) and written in order.
	futures := make([]chan fetched, len(file.Chunks))
	next := 0
	var fetchedMu sync.Mutex
	// A file that repeats a chunk (zeros, a pattern) fetches it once: the
	// last few chunks written are kept for reuse.
	recent := map[chunkstore.ID][]byte{}
	launch := func(i int) {
		ref := file.Chunks[i]
		ch := make(chan fetched, 1)
		futures[i] = ch
		if data, ok := recent[ref.ID]; ok {
			ch <- fetched{data: data}
			return
		}
		if data, ok := c.cache.get(ref.ID); ok {
			res.ChunksReused++
			ch <- fetched{data: data}
			return
		}
		if where, ok := old[ref.ID]; ok && oldFile != nil {
			data := make([]byte, where[1])
			if _, err := oldFile.ReadAt(data, where[0]); err == nil && chunkstore.Sum(data) == ref.ID {
				res.ChunksReused++
				ch <- fetched{data: data}
				return
			}
		}
		go func() {
			sent := c.down.Mark()
			f, err := c.fetch(ctx, chunkOp, wire.FilesChunk{ID: ref.ID.String()}, wire.BinChunkData)
			if err != nil {
				ch <- fetched{err: err}
				return
			}
			c.down.Acked(sent, int64(len(f.Payload)))
			if f.ChunkID != ref.ID {
				ch <- fetched{err: fmt.Errorf("%w: asked for chunk %s, got %s", ErrProtocol, ref.ID, chunkstore.ID(f.ChunkID))}
				return
			}
			data, err := chunkstore.Decode(f.Payload)
			if err == nil && chunkstore.Sum(data) != ref.ID {
				err = fmt.Errorf("%w: chunk %s does not match its id", ErrProtocol, ref.ID)
			}
			if err == nil {
				c.cache.put(ref.ID, f.Payload)
			}
			fetchedMu.Lock()
			res.BytesFetched += int64(len(f.Payload))
			fetchedMu.Unlock()
			ch <- fetched{data: data, err: err}
		}()
	}
	h := sha256.New()
	var ahead int64 // bytes of the chunks launched and not yet written
	for i := range file.Chunks {
		// As many chunks ahead as the link's window holds (see
		// chunksync.Meter), and no more requests than iscd handles at once
		// for a connection, with room for the program's other calls: past
		// that it refuses them, and an open of small chunks on a loaded
		// machine failed ("more than 32 requests in flight").
		for win := c.down.Window(); next < len(file.Chunks) && (next <= i || ahead < win && next-i < maxFetchesAhead); next++ {
			ahead += int64(file.Chunks[next].Size)
			launch(next)
		}
		r := <-futures[i]
		futures[i] = nil
		ahead -= int64(file.Chunks[i].Size)
		if r.err != nil {
			// Drain what is in flight so no goroutine outlives the call.
			for j := i + 1; j < next; j++ {
				<-futures[j]
			}
			return r.err
		}
		if _, err := tmp.Write(r.data); err != nil {
			for j := i + 1; j < next; j++ {
				<-futures[j]
			}
			return err
		}
		h.Write(r.data)
		wrote(int64(len(r.data)))
		if len(recent) >= 16 {
			clear(recent)
		}
		recent[file.Chunks[i].ID] = r.data
	}
	if got := chunkstore.ID(h.Sum(nil)); got != file.Hash {
		return fmt.Errorf("%w: %s downloaded with hash %s, want %s", ErrProtocol, dst, hex.EncodeToString(got[:]), file.Hash)
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if !file.ModTime.IsZero() {
		_ = os.Chtimes(tmp.Name(), file.ModTime, file.ModTime)
	}
	if file.Mode != 0 {
		_ = os.Chmod(tmp.Name(), file.Mode)
	}
	if oldFile != nil { // Windows cannot rename over an open file
		oldFile.Close()
		oldFile = nil
	}
	return os.Rename(tmp.Name(), dst)
}
