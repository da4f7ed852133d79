package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/chunksync"
	"github.com/iscsdk/iscsdk/internal/cloudpath"
	"github.com/iscsdk/iscsdk/internal/link"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/token"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Errors of cloud file operations that the SDK finds itself; the service's
// refusals are *wire.Error values with the codes of docs/data.md.
var (
	// ErrNotFromCloud: Save of a local file that was not opened from (or
	// saved to) the cloud; use SaveAs.
	ErrNotFromCloud = errors.New("iscsdk: the file did not come from the cloud")
	// ErrCheckedIn: Save of a file opened without check-out.
	ErrCheckedIn = errors.New("iscsdk: the file was opened without check-out and cannot be saved back")
	// ErrLocalChanges: opening would overwrite a local copy with changes
	// that were never saved; save them, or move the file away, first.
	ErrLocalChanges = errors.New("iscsdk: the local copy has changes that were not saved")
	// ErrFileChanged: the file was written to while it was being saved.
	ErrFileChanged = errors.New("iscsdk: the file changed while it was being saved")
)

// Transfer tuning.
const (
	haveBatchBytes = 4 << 20 // chunks held in one have/want round, at most: a round sends while the next fills (see chunksync.Meter)
	saveAttempts   = 5       // a transfer survives this many dropped connections (transferPolicy)
	progressEvery  = 100 * time.Millisecond
	transferTimout = 30 * time.Minute
)

// transferPolicy repeats a transfer (a save, an open, a job's upload, its
// outputs' or an upgrade's download) whose connection dropped: it
// resumes, sending or fetching only what did not arrive.
var transferPolicy = link.Policy{Attempts: saveAttempts}

// Progress reports a transfer: bytes of the files read (saving) or
// written (opening) so far, of the total.
type Progress struct {
	Path       string
	BytesDone  int64
	BytesTotal int64
}

// SaveOptions tune a save.
type SaveOptions struct {
	Assembly bool           // localPath is an assembly folder
	CheckIn  bool           // release the check-out with this save
	Progress func(Progress) // called at most ~10 times a second; nil: none
}

// SaveResult says what a save did and what it cost.
type SaveResult struct {
	CloudPath   string
	Version     int
	Size        int64 // of the saved file(s)
	BytesSent   int64 // encoded chunk bytes sent: what the network carried
	ChunksTotal int
	ChunksSent  int
	// FilesRead counts the files whose content was read; the others were
	// unchanged since the SDK last saved or opened them (their stat says
	// so) and their manifest entries were taken from the stat cache.
	FilesRead int

	stats []statEntry // what to record in the stat cache

	contentHash string            // a single file's, for the local index
	fileHashes  map[string]string // an assembly's, by relative path
}

// OpenResult says what an open did.
type OpenResult struct {
	CloudPath    string
	Version      int
	MainFile     string // the local file, or an assembly's local folder
	Assembly     bool
	CheckedOut   bool
	BytesFetched int64 // encoded chunk bytes received
	ChunksTotal  int
	ChunksReused int // taken from the local copy instead of the network
	// FilesRead counts the local files read to learn what they hold; a
	// file the stat cache vouches for is not read.
	FilesRead int

	contentHash string            // a single file's, for the local index
	fileHashes  map[string]string // an assembly's, by relative path
}

// localFile is one file of a save: where it is and its manifest path.
type localFile struct {
	abs   string
	rel   string
	info  fs.FileInfo
	stamp stamp
}

// listLocal returns the files of a save: the file itself, or every regular
// file below an assembly folder (symbolic links are not followed).
func listLocal(path string, assembly bool) ([]localFile, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !assembly {
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%w: %s is not a regular file (an assembly folder is saved with assembly set)", ErrInvalidArgument, path)
		}
		return []localFile{{abs: path, rel: filepath.Base(path), info: st, stamp: stampOf(path, st)}}, nil
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%w: assembly %s is not a folder", ErrInvalidArgument, path)
	}
	var out []localFile
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(path, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if err := manifest.CheckPath(rel); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidArgument, err)
		}
		out = append(out, localFile{abs: p, rel: rel, info: info, stamp: stampOf(p, info)})
		return nil
	})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("%w: assembly %s holds no file", ErrInvalidArgument, path)
	}
	return out, err
}

// SaveTo saves a local file (or assembly folder) as a new version of
// cloudPath and waits for it. base is the version the local copy came from
// (0: a new cloud file); if someone saved since, the save is refused with
// a conflict and nothing changes. Only chunks the service lacks are sent;
// a dropped connection resumes without sending anything twice.
func (c *Client) SaveTo(ctx context.Context, localPath, cloudPath string, base int, opt SaveOptions) (SaveResult, error) {
	if c.shut.Load() {
		return SaveResult{}, ErrShutOut
	}
	cp, err := cloudpath.Check(cloudPath)
	if err != nil {
		return SaveResult{}, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	var res SaveResult
	var sent int64
	var chunksSent int
	// One id for every attempt: a commit whose answer was lost is
	// recognised when the retry sends it again.
	saveID := token.ID()
	useCache := true
	policy := transferPolicy
	// Chunks of files the stat cache vouched for are gone from the
	// service (their versions were deleted): read them all, once.
	policy.Transient = func(err error) bool {
		var we *wire.Error
		return useCache && errors.As(err, &we) && we.Code == wire.CodeMissingChunks
	}
	policy.Retrying = func(attempt int, err error) {
		if !errors.Is(err, ErrDisconnected) {
			c.stat.forget(localPath)
			useCache = false
			return
		}
		c.log.Info("save interrupted, resuming", "path", cp, "attempt", attempt)
	}
	err = policy.Do(ctx, func(int) error {
		var err error
		res, err = c.saveOnce(ctx, localPath, cp, base, saveID, useCache, opt)
		sent, chunksSent = sent+res.BytesSent, chunksSent+res.ChunksSent
		return err
	})
	res.BytesSent, res.ChunksSent = sent, chunksSent // over every attempt
	if cerr := ctx.Err(); err != nil && cerr != nil && !errors.Is(err, cerr) {
		// The caller canceled: that is why the save ended, whatever
		// failed while it stopped (a request that waited for the
		// connection, which says ErrDisconnected).
		err = fmt.Errorf("%w (%v)", cerr, err)
	}
	if err != nil {
		if errors.Is(err, ErrFileChanged) {
			c.stat.forget(localPath)
		}
		return res, fmt.Errorf("save %s: %w", cp, err)
	}
	c.stat.store(localPath, res.stats)
	// The saver may save this local file again (it is theirs, or they hold
	// the check-out), unless the save checked it in.
	c.files.set(localPath, indexEntry{CloudPath: cp, Version: res.Version, Assembly: opt.Assembly, CheckedOut: !opt.CheckIn, Hash: res.contentHash, Files: res.fileHashes})
	return res, nil
}

// saveOnce builds the manifest while sending the missing chunks, then commits.
func (c *Client) saveOnce(ctx context.Context, localPath, cloudPath string, base int, saveID string, useCache bool, opt SaveOptions) (SaveResult, error) {
	res := SaveResult{CloudPath: cloudPath}
	taken := c.stat.now() // before every stat of the save
	files, err := listLocal(localPath, opt.Assembly)
	if err != nil {
		return res, err
	}
	known := &statSnapshot{}
	if useCache {
		known = c.stat.load(localPath)
	}
	var total int64
	for _, f := range files {
		total += f.info.Size()
	}
	up := newUploader(ctx, c, &res, throttle(opt.Progress, cloudPath, total))
	up.known = known
	var entries []manifest.File
	for _, lf := range files {
		entry, ok, read := up.unchanged(lf, known)
		if read || !ok {
			res.FilesRead++
		}
		if !ok {
			if entry, err = up.file(lf); err != nil {
				return res, err
			}
		}
		entries = append(entries, entry)
		res.stats = append(res.stats, statEntry{file: entry, stamp: lf.stamp, taken: taken})
	}
	if err := up.flush(); err != nil {
		return res, err
	}
	up.report(total, true)
	m := manifest.New(entries...)
	enc, err := manifest.Encode(m)
	if err != nil {
		return res, err
	}
	hdr, _ := json.Marshal(wire.FilesCommit{Path: cloudPath, Base: base, Assembly: opt.Assembly, CheckIn: opt.CheckIn, ID: saveID})
	var fi wire.FileInfo
	if err := c.sendFrame(ctx, wire.Frame{Kind: wire.BinCommit, Header: hdr, Payload: enc}, &fi); err != nil {
		if errors.Is(err, wire.ErrTooLarge) {
			return res, fmt.Errorf("%w: the manifest (%d bytes) is larger than a frame: too many chunks", ErrInvalidArgument, len(enc))
		}
		return res, err
	}
	res.Version, res.Size = fi.Version, total
	if !opt.Assembly && len(entries) == 1 {
		res.contentHash = entries[0].Hash.String()
	}
	if opt.Assembly {
		res.fileHashes = map[string]string{}
		for _, e := range entries {
			res.fileHashes[e.Path] = e.Hash.String()
		}
	}
	return res, nil
}

// uploader sends the chunks of a save (or of a job's inputs) that the
// service lacks, as chunksync does: in have/want rounds, one in the
// background while the next batch is chunked, the puts keeping the link's
// window full, a batch covering half a second of the link.
type uploader struct {
	c      *Client
	ctx    context.Context
	res    *SaveResult
	report func(done int64, final bool)
	done   int64
	chunks *chunksync.Uploader
	known  *statSnapshot              // what the last save or open recorded; nil: nothing
	held   map[chunkstore.ID]struct{} // known's chunks, made at the first file read
}

func newUploader(ctx context.Context, c *Client, res *SaveResult, report func(done int64, final bool)) *uploader {
	return &uploader{c: c, ctx: ctx, res: res, report: report, chunks: chunksync.New(ctx, cloudChunks{c}, chunksync.Options{
		Meter: c.up, BatchBytes: haveBatchBytes,
		Sent: func(n int64) { res.BytesSent += n; res.ChunksSent++ },
	})}
}

// cloudChunks is the service's chunk store as the SDK reaches it:
// files.have, then each chunk in a frame of its own.
type cloudChunks struct{ c *Client }

func (r cloudChunks) Missing(ctx context.Context, ids []string) ([]string, error) {
	var have wire.FilesHave
	err := r.c.call(ctx, wire.OpFilesHave, wire.FilesHave{IDs: ids}, &have)
	return have.IDs, err
}

func (cloudChunks) Head(dst []byte, id chunkstore.ID, size int) ([]byte, error) {
	return wire.AppendFrameHead(dst, wire.Frame{Kind: wire.BinChunkPut, ChunkID: id}, size)
}

func (r cloudChunks) Put(ctx context.Context, ch *chunksync.Chunk) error {
	return r.c.link.SendEncoded(ctx, ch.Frame(), nil)
}

// unchanged returns the manifest entry the stat cache holds for lf if its
// stat proves it has not changed since, or (racy: the stat proves
// nothing) its hash says so; read says the file was read for the hash.
// Its chunks were in a version the service holds; the commit says if
// some are gone.
func (u *uploader) unchanged(lf localFile, known *statSnapshot) (entry manifest.File, ok, read bool) {
	entry, racy, ok := known.lookup(lf.rel, lf.stamp)
	if !ok {
		return entry, false, false
	}
	if racy {
		h, hashed := hashFile(lf.abs, lf.stamp.Size)
		if now, err := stampNow(lf.abs); !hashed || err != nil || now != lf.stamp || h != entry.Hash {
			return entry, false, true
		}
	}
	u.res.ChunksTotal += len(entry.Chunks)
	u.done += entry.Size
	u.report(u.done, false)
	entry.Path, entry.Mode, entry.ModTime = lf.rel, lf.info.Mode().Perm(), lf.info.ModTime()
	return entry, true, racy
}

// file chunks one local file, sending what the service lacks as it goes.
// When it fails, no round it started is left running.
func (u *uploader) file(lf localFile) (manifest.File, error) {
	entry, err := u.read(lf)
	if err != nil {
		u.chunks.Wait()
	}
	return entry, err
}

func (u *uploader) read(lf localFile) (manifest.File, error) {
	f, err := os.Open(lf.abs)
	if err != nil {
		return manifest.File{}, err
	}
	defer f.Close()
	if u.held == nil && u.known != nil {
		u.held = u.known.held()
	}
	held := func(id chunkstore.ID) bool { _, ok := u.held[id]; return ok }
	entry, err := manifest.BuildKnown(u.ctx, f, held, func(ch manifest.Chunk) error {
		u.res.ChunksTotal++
		u.done += int64(len(ch.Data))
		u.report(u.done, false)
		if ch.Encoded == nil {
			return nil // in a version the service holds: the commit says if it is gone
		}
		return u.chunks.Add(ch)
	})
	if err != nil {
		return entry, err
	}
	// A program that writes the file while it is saved must not get a
	// version that is half old, half new.
	after, err := f.Stat()
	if err != nil {
		return entry, err
	}
	if stampOf(lf.abs, after) != lf.stamp || entry.Size != lf.info.Size() {
		return entry, fmt.Errorf("%w: %s", ErrFileChanged, lf.abs)
	}
	entry.Path, entry.Mode, entry.ModTime = lf.rel, lf.info.Mode().Perm(), lf.info.ModTime()
	return entry, nil
}

// flush sends the batch and waits until every round ended.
func (u *uploader) flush() error { return u.chunks.Flush() }

// throttle turns a progress callback into one called at most every
// progressEvery (and once at the end).
func throttle(fn func(Progress), path string, total int64) func(done int64, final bool) {
	var last time.Time
	return func(done int64, final bool) {
		if fn == nil || (!final && time.Since(last) < progressEvery) {
			return
		}
		last = time.Now()
		fn(Progress{Path: path, BytesDone: done, BytesTotal: total})
	}
}
