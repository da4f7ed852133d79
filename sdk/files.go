package sdk

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/cloudpath"
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
	haveBatchBytes = 8 << 20 // chunks held in one have/want round, at most: a round sends while the next fills (see linkMeter)
	saveAttempts   = 5       // a save or open survives this many dropped connections
	progressEvery  = 100 * time.Millisecond
	transferTimout = 30 * time.Minute
)

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
	for attempt := 1; ; attempt++ {
		res, err = c.saveOnce(ctx, localPath, cp, base, saveID, useCache, opt)
		sent, chunksSent = sent+res.BytesSent, chunksSent+res.ChunksSent
		var we *wire.Error
		if useCache && errors.As(err, &we) && we.Code == wire.CodeMissingChunks {
			// Chunks of files the stat cache vouched for are gone from
			// the service (their versions were deleted): read them all.
			c.stat.forget(localPath)
			useCache = false
			continue
		}
		if !errors.Is(err, ErrDisconnected) || attempt == saveAttempts || ctx.Err() != nil {
			break
		}
		c.log.Info("save interrupted, resuming", "path", cp, "attempt", attempt)
	}
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
	up := &uploader{c: c, ctx: ctx, res: &res, report: throttle(opt.Progress, cloudPath, total)}
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

// uploader sends the chunks of a save in have/want rounds. A round runs
// in the background while the next batch is chunked; its puts keep the
// link's window full (linkMeter), and a batch covers half a second of the
// link.
type uploader struct {
	c      *Client
	ctx    context.Context
	res    *SaveResult
	report func(done int64, final bool)
	done   int64

	batch      []manifest.Chunk // Data unused; Encoded copied
	batchBytes int

	round chan struct{} // closed when the round in the background ends; nil: none
	mu    sync.Mutex    // guards what rounds write: res.BytesSent, res.ChunksSent, failed
	fail  error         // of a round
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
		u.wait()
	}
	return entry, err
}

func (u *uploader) read(lf localFile) (manifest.File, error) {
	f, err := os.Open(lf.abs)
	if err != nil {
		return manifest.File{}, err
	}
	defer f.Close()
	entry, err := manifest.Build(u.ctx, f, func(ch manifest.Chunk) error {
		u.res.ChunksTotal++
		u.done += int64(len(ch.Data))
		u.report(u.done, false)
		u.batch = append(u.batch, manifest.Chunk{ID: ch.ID, Encoded: append([]byte(nil), ch.Encoded...)})
		u.batchBytes += len(ch.Encoded)
		if u.batchBytes >= u.c.up.batch() || len(u.batch) >= wire.MaxHaveBatch {
			return u.startRound()
		}
		return nil
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
func (u *uploader) flush() error {
	if err := u.startRound(); err != nil {
		return err
	}
	return u.wait()
}

// startRound starts the batch's have/want round in the background, once
// the previous round ended.
func (u *uploader) startRound() error {
	if err := u.wait(); err != nil || len(u.batch) == 0 {
		return err
	}
	batch := u.batch
	u.batch, u.batchBytes = nil, 0
	done := make(chan struct{})
	u.round = done
	go func() {
		defer close(done)
		if err := u.send(batch); err != nil {
			u.mu.Lock()
			u.fail = err
			u.mu.Unlock()
		}
	}()
	return nil
}

// wait waits for the round in the background and returns the first
// error of a round.
func (u *uploader) wait() error {
	if u.round != nil {
		<-u.round
		u.round = nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.fail
}

// send asks which chunks of batch are missing and sends those, as many in
// flight as the link's window holds.
func (u *uploader) send(batch []manifest.Chunk) error {
	ids := make([]string, 0, len(batch))
	for _, ch := range batch {
		ids = append(ids, ch.ID.String())
	}
	var have wire.FilesHave
	if err := u.c.call(u.ctx, wire.OpFilesHave, wire.FilesHave{IDs: ids}, &have); err != nil {
		return err
	}
	missing := map[string]bool{}
	for _, id := range have.IDs {
		missing[id] = true
	}
	var (
		wg    sync.WaitGroup
		first error
	)
	link := u.c.up
	for _, ch := range batch {
		if !missing[ch.ID.String()] {
			continue
		}
		delete(missing, ch.ID.String()) // the same chunk twice in a batch: once
		n := int64(len(ch.Encoded))
		if err := link.acquire(u.ctx, n); err != nil {
			u.mu.Lock()
			first = cmp.Or(first, err)
			u.mu.Unlock()
			break
		}
		u.mu.Lock()
		failed := first != nil
		u.mu.Unlock()
		if failed {
			link.release(n)
			break
		}
		wg.Add(1)
		go func(ch manifest.Chunk) {
			defer wg.Done()
			defer link.release(n)
			sent := link.mark()
			err := u.c.sendFrame(u.ctx, wire.Frame{Kind: wire.BinChunkPut, ChunkID: ch.ID, Payload: ch.Encoded}, nil)
			if err == nil {
				link.acked(sent, n)
			}
			u.mu.Lock()
			defer u.mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			if err == nil {
				u.res.BytesSent += n
				u.res.ChunksSent++
			}
		}(ch)
	}
	wg.Wait()
	u.mu.Lock()
	defer u.mu.Unlock()
	return first
}

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
