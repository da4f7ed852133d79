package sdk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/atomicfile"
	"github.com/iscsdk/iscsdk/internal/chunker"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
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
	uploadWindow   = 8        // chunks in flight while saving
	downloadWindow = 8        // chunks in flight while opening
	haveBatchBytes = 16 << 20 // chunks held between two have/want rounds
	saveAttempts   = 5        // a save or open survives this many dropped connections
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

	contentHash string            // a single file's, for the local index
	fileHashes  map[string]string // an assembly's, by relative path
}

// localFile is one file of a save: where it is and its manifest path.
type localFile struct {
	abs  string
	rel  string
	info fs.FileInfo
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
		return []localFile{{abs: path, rel: filepath.Base(path), info: st}}, nil
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
		out = append(out, localFile{abs: p, rel: rel, info: info})
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
	for attempt := 1; ; attempt++ {
		res, err = c.saveOnce(ctx, localPath, cp, base, saveID, opt)
		sent, chunksSent = sent+res.BytesSent, chunksSent+res.ChunksSent
		if !errors.Is(err, ErrDisconnected) || attempt == saveAttempts || ctx.Err() != nil {
			break
		}
		c.log.Info("save interrupted, resuming", "path", cp, "attempt", attempt)
	}
	res.BytesSent, res.ChunksSent = sent, chunksSent // over every attempt
	if err != nil {
		return res, fmt.Errorf("save %s: %w", cp, err)
	}
	// The saver may save this local file again (it is theirs, or they hold
	// the check-out), unless the save checked it in.
	c.files.set(localPath, indexEntry{CloudPath: cp, Version: res.Version, Assembly: opt.Assembly, CheckedOut: !opt.CheckIn, Hash: res.contentHash, Files: res.fileHashes})
	return res, nil
}

// saveOnce builds the manifest while sending the missing chunks, then commits.
func (c *Client) saveOnce(ctx context.Context, localPath, cloudPath string, base int, saveID string, opt SaveOptions) (SaveResult, error) {
	res := SaveResult{CloudPath: cloudPath}
	files, err := listLocal(localPath, opt.Assembly)
	if err != nil {
		return res, err
	}
	var total int64
	for _, f := range files {
		total += f.info.Size()
	}
	up := &uploader{c: c, ctx: ctx, res: &res, report: throttle(opt.Progress, cloudPath, total)}
	var entries []manifest.File
	for _, lf := range files {
		entry, err := up.file(lf)
		if err != nil {
			return res, err
		}
		entries = append(entries, entry)
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

// uploader sends the chunks of a save in have/want rounds.
type uploader struct {
	c      *Client
	ctx    context.Context
	res    *SaveResult
	report func(done int64, final bool)
	done   int64

	batch      []manifest.Chunk // Data unused; Encoded copied
	batchBytes int
}

// file chunks one local file, sending what the service lacks as it goes.
func (u *uploader) file(lf localFile) (manifest.File, error) {
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
		if u.batchBytes >= haveBatchBytes || len(u.batch) >= wire.MaxHaveBatch {
			return u.flush()
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
	if after.Size() != lf.info.Size() || !after.ModTime().Equal(lf.info.ModTime()) || entry.Size != lf.info.Size() {
		return entry, fmt.Errorf("%w: %s", ErrFileChanged, lf.abs)
	}
	entry.Path, entry.Mode, entry.ModTime = lf.rel, lf.info.Mode().Perm(), lf.info.ModTime()
	return entry, nil
}

// flush asks which chunks of the batch are missing and sends those.
func (u *uploader) flush() error {
	if len(u.batch) == 0 {
		return nil
	}
	ids := make([]string, 0, len(u.batch))
	for _, ch := range u.batch {
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
		mu    sync.Mutex
		first error
		slots = make(chan struct{}, uploadWindow)
	)
	for _, ch := range u.batch {
		if !missing[ch.ID.String()] {
			continue
		}
		delete(missing, ch.ID.String()) // the same chunk twice in a batch: once
		slots <- struct{}{}
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			<-slots
			break
		}
		wg.Add(1)
		go func(ch manifest.Chunk) {
			defer func() { <-slots; wg.Done() }()
			err := u.c.sendFrame(u.ctx, wire.Frame{Kind: wire.BinChunkPut, ChunkID: ch.ID, Payload: ch.Encoded}, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			if err == nil {
				u.res.BytesSent += int64(len(ch.Encoded))
				u.res.ChunksSent++
			}
		}(ch)
	}
	wg.Wait()
	u.batch, u.batchBytes = u.batch[:0], 0
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

// OpenFile downloads the head version of cloudPath into the workspace
// (checking it out first if checkout) and returns where it is. Chunks
// the previous local copy already holds are not fetched; the file is
// written beside its final place, verified against its hash, and renamed
// into place, so a half-downloaded file is never seen.
func (c *Client) OpenFile(ctx context.Context, cloudPath string, checkout bool, progress func(Progress)) (OpenResult, error) {
	if c.shut.Load() {
		return OpenResult{}, ErrShutOut
	}
	cp, err := cloudpath.Check(cloudPath)
	if err != nil {
		return OpenResult{}, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	var res OpenResult
	for attempt := 1; ; attempt++ {
		res, err = c.openOnce(ctx, cp, checkout, progress)
		if !errors.Is(err, ErrDisconnected) || attempt == saveAttempts || ctx.Err() != nil {
			break
		}
	}
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
	if fi.Assembly {
		known = c.files.get(res.MainFile).Files
		res.fileHashes = map[string]string{}
		for _, f := range m.Files {
			want[f.Path], res.fileHashes[f.Path] = f.Hash, f.Hash.String()
		}
		// No part edited locally and never saved is overwritten.
		for rel, recorded := range known {
			p := filepath.Join(res.MainFile, filepath.FromSlash(rel))
			if h, err := fileHash(p); err == nil && h.String() != recorded && h != want[rel] {
				return res, fmt.Errorf("%w: %s", ErrLocalChanges, p)
			}
		}
	}
	for _, file := range m.Files {
		dst := res.MainFile
		if fi.Assembly {
			dst = filepath.Join(res.MainFile, filepath.FromSlash(file.Path))
		}
		if err := c.download(ctx, file, dst, &res, func(n int64) { done += n; report(done, false) }); err != nil {
			return res, err
		}
	}
	report(total, true)
	// Parts the new version no longer has go, unless edited locally; parts
	// the engineer added (never in the cloud) stay, to be saved.
	for rel, recorded := range known {
		if _, still := want[rel]; still {
			continue
		}
		p := filepath.Join(res.MainFile, filepath.FromSlash(rel))
		if h, err := fileHash(p); err == nil && h.String() == recorded {
			os.Remove(p)
		}
	}
	if !fi.Assembly && isZipAssembly(cloudPath) {
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

// download writes one file of a manifest to dst.
func (c *Client) download(ctx context.Context, file manifest.File, dst string, res *OpenResult, wrote func(int64)) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	old, oldFile, localHash := seed(dst)
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
	// Chunks are fetched up to downloadWindow ahead and written in order.
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
			f, err := c.fetch(ctx, wire.OpFilesChunk, wire.FilesChunk{ID: ref.ID.String()}, wire.BinChunkData)
			if err != nil {
				ch <- fetched{err: err}
				return
			}
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
	for i := range file.Chunks {
		for ; next < len(file.Chunks) && next <= i+downloadWindow; next++ {
			launch(next)
		}
		r := <-futures[i]
		futures[i] = nil
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

// ---- the compatible calls ----

// Save saves a local file (or assembly folder) back to where it came from
// in the cloud. It returns at once; a SaveResult event with the returned
// request id reports the outcome (status, cloudPath, version; errorCode and
// errorMsg on failure). TransferProgress events report progress.
func (c *Client) Save(localPath string, assembly bool, comeBack json.RawMessage) (uint64, error) {
	abs, cb, err := c.checkLocal(localPath, comeBack)
	if err != nil {
		return 0, err
	}
	return c.startSave(abs, "", assembly, cb), nil
}

// SaveAs saves a local file (or assembly folder) as cloudPath: a new cloud
// file, or a new version of an existing one. Like Save, it reports with a
// SaveResult event.
func (c *Client) SaveAs(localPath, cloudPath string, assembly bool, comeBack json.RawMessage) (uint64, error) {
	abs, cb, err := c.checkLocal(localPath, comeBack)
	if err != nil {
		return 0, err
	}
	cp, err := cloudpath.Check(cloudPath)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	return c.startSave(abs, cp, assembly, cb), nil
}

func (c *Client) checkLocal(localPath string, comeBack json.RawMessage) (string, json.RawMessage, error) {
	if c.shut.Load() {
		return "", nil, ErrShutOut
	}
	if localPath == "" {
		return "", nil, fmt.Errorf("%w: no local path", ErrInvalidArgument)
	}
	if err := checkText("local path", localPath, maxPathLen); err != nil {
		return "", nil, err
	}
	cb, err := checkComeBack(comeBack)
	if err != nil {
		return "", nil, err
	}
	abs, err := filepath.Abs(localPath)
	return abs, cb, err
}

func (c *Client) startSave(localPath, cloudPath string, assembly bool, cb json.RawMessage) uint64 {
	id := c.nextRequest.Add(1)
	c.goAsync(func(ctx context.Context) { c.reportSave(ctx, id, localPath, cloudPath, assembly, cb) })
	return id
}

// reportSave saves and reports the outcome as the SaveResult event of
// request id (Save, SaveAs, SelectSaveAsPath).
func (c *Client) reportSave(ctx context.Context, id uint64, localPath, cloudPath string, assembly bool, cb json.RawMessage) {
	ctx, cancel := context.WithTimeout(ctx, transferTimout)
	defer cancel()
	res, err := c.compatSave(ctx, id, localPath, cloudPath, assembly)
	p := map[string]string{"status": "success", "cloudPath": res.CloudPath, "localPath": localPath}
	if err != nil {
		code, msg := errorCode(err)
		p = map[string]string{"status": "failed", "errorCode": code, "errorMsg": msg, "localPath": localPath}
		if cloudPath != "" {
			p["cloudPath"] = cloudPath
		}
	} else {
		p["version"] = strconv.Itoa(res.Version)
		p["bytesTotal"] = strconv.FormatInt(res.Size, 10)
		p["bytesSent"] = strconv.FormatInt(res.BytesSent, 10)
		p["chunksTotal"] = strconv.Itoa(res.ChunksTotal)
		p["chunksSent"] = strconv.Itoa(res.ChunksSent)
	}
	c.emit(Event{Type: EventSaveResult, RequestID: id, Operate: EventSaveResult.String(), Params: p, ComeBack: cb})
}

func (c *Client) compatSave(ctx context.Context, id uint64, localPath, cloudPath string, assembly bool) (SaveResult, error) {
	e := c.files.get(localPath)
	base := e.Version
	if cloudPath == "" { // Save: back to where it came from
		switch {
		case e.CloudPath == "":
			return SaveResult{}, fmt.Errorf("%w: %s (use save-as)", ErrNotFromCloud, localPath)
		case !e.CheckedOut:
			return SaveResult{}, fmt.Errorf("%w: %s", ErrCheckedIn, localPath)
		}
		cloudPath = e.CloudPath
	} else if e.CloudPath != cloudPath {
		// Save-as onto an existing cloud file makes a new version of it.
		var fi wire.FileInfo
		err := c.call(ctx, wire.OpFilesStat, wire.FilesVersion{Path: cloudPath}, &fi)
		var we *wire.Error
		switch {
		case err == nil:
			base = fi.Version
		case errors.As(err, &we) && we.Code == wire.CodeNotFound:
			base = 0
		default:
			return SaveResult{}, err
		}
	}
	return c.SaveTo(ctx, localPath, cloudPath, base, SaveOptions{Assembly: assembly, Progress: c.progressEvents(id)})
}

// progressEvents reports a transfer as TransferProgress events.
func (c *Client) progressEvents(id uint64) func(Progress) {
	return func(p Progress) {
		c.emit(Event{Type: EventTransferProgress, RequestID: id, Operate: EventTransferProgress.String(), Params: map[string]string{
			"path": p.Path, "bytesDone": strconv.FormatInt(p.BytesDone, 10), "bytesTotal": strconv.FormatInt(p.BytesTotal, 10)}})
	}
}

// Open types of OpenCloudPath, as the C ABI numbers them.
const (
	OpenOnly        = 0 // workState CHECKIN: read only, cannot be saved back
	OpenAndCheckout = 1 // workState CHECKOUT: exclusive edit lock
)

// OpenCloudPath downloads a cloud file into the workspace; an OpenFile
// event with the returned request id reports mainFile (the local path),
// openType, workState, assembly, cloudPath and version, or errorCode and
// errorMsg.
func (c *Client) OpenCloudPath(cloudPath string, openType int, comeBack json.RawMessage) (uint64, error) {
	if c.shut.Load() {
		return 0, ErrShutOut
	}
	cp, err := cloudpath.Check(cloudPath)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	if openType != OpenOnly && openType != OpenAndCheckout {
		return 0, fmt.Errorf("%w: open type %d", ErrInvalidArgument, openType)
	}
	cb, err := checkComeBack(comeBack)
	if err != nil {
		return 0, err
	}
	id := c.nextRequest.Add(1)
	c.goAsync(func(ctx context.Context) { c.reportOpen(ctx, id, cp, openType, cb) })
	return id, nil
}

// reportOpen opens and reports the outcome as the OpenFile event of
// request id (OpenCloudPath, OpenCloudFile).
func (c *Client) reportOpen(ctx context.Context, id uint64, cp string, openType int, cb json.RawMessage) {
	ctx, cancel := context.WithTimeout(ctx, transferTimout)
	defer cancel()
	res, err := c.OpenFile(ctx, cp, openType == OpenAndCheckout, c.progressEvents(id))
	p := map[string]string{"cloudPath": cp}
	if err != nil {
		code, msg := errorCode(err)
		p["status"], p["errorCode"], p["errorMsg"] = "failed", code, msg
	} else {
		p["status"] = "success"
		p["mainFile"], p["version"], p["assembly"] = res.MainFile, strconv.Itoa(res.Version), strconv.FormatBool(res.Assembly)
		p["openType"], p["workState"] = "OpenOnly", "CHECKIN"
		if res.CheckedOut {
			p["openType"], p["workState"] = "OpenAndCheckout", "CHECKOUT"
		}
		p["bytesFetched"], p["chunksReused"] = strconv.FormatInt(res.BytesFetched, 10), strconv.Itoa(res.ChunksReused)
	}
	c.emit(Event{Type: EventOpenCloudFile, RequestID: id, Operate: EventOpenCloudFile.String(), Params: p, ComeBack: cb})
}

// errorCode names an error for an event's errorCode.
func errorCode(err error) (string, string) {
	var we *wire.Error
	switch {
	case errors.As(err, &we):
		return we.Code, we.Message
	case errors.Is(err, ErrNotFromCloud):
		return "not_from_cloud", err.Error()
	case errors.Is(err, ErrCheckedIn):
		return "checked_in", err.Error()
	case errors.Is(err, ErrFileChanged):
		return "file_changed", err.Error()
	case errors.Is(err, ErrLocalChanges):
		return "local_changes", err.Error()
	case errors.Is(err, ErrBadArchive):
		return "bad_archive", err.Error()
	case errors.Is(err, ErrInvalidArgument):
		return "invalid_argument", err.Error()
	case errors.Is(err, fs.ErrNotExist):
		return "missing_file", err.Error()
	case errors.Is(err, fs.ErrPermission):
		return "unreadable", err.Error()
	case errors.Is(err, ErrDisconnected), errors.Is(err, context.DeadlineExceeded):
		return "unreachable", err.Error()
	}
	return "internal", err.Error()
}

// ---- where local files came from ----

// indexEntry records where a local file came from.
type indexEntry struct {
	CloudPath  string            `json:"cloudPath"`
	Version    int               `json:"version"`
	Assembly   bool              `json:"assembly,omitempty"`
	CheckedOut bool              `json:"checkedOut,omitempty"`
	Hash       string            `json:"hash,omitempty"`  // of a single file's content when it last matched the cloud
	Files      map[string]string `json:"files,omitempty"` // an assembly's parts' hashes then, by relative path
}

// fileHash is the SHA-256 of a file's content.
func fileHash(path string) (chunkstore.ID, error) {
	f, err := os.Open(path)
	if err != nil {
		return chunkstore.ID{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return chunkstore.ID{}, err
	}
	return chunkstore.ID(h.Sum(nil)), nil
}

// fileIndex maps local absolute paths to their cloud files; it is kept in
// the workspace so that Save works across program runs.
type fileIndex struct {
	mu   sync.Mutex
	path string
	m    map[string]indexEntry
}

func (x *fileIndex) load() {
	if x.m != nil {
		return
	}
	x.m = map[string]indexEntry{}
	if b, err := os.ReadFile(x.path); err == nil {
		_ = json.Unmarshal(b, &x.m)
	}
}

func (x *fileIndex) get(local string) indexEntry {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.load()
	return x.m[indexKey(local)]
}

// indexKey is how a local path is looked up: cleaned, and on Windows,
// whose file names ignore case, lower-cased.
func indexKey(local string) string {
	local = filepath.Clean(local)
	if runtime.GOOS == "windows" {
		local = strings.ToLower(local)
	}
	return local
}

// set records e and writes the index, merged with what other programs
// sharing the workspace wrote since it was read.
func (x *fileIndex) set(local string, e indexEntry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.m = nil
	x.load()
	x.m[indexKey(local)] = e
	b, _ := json.MarshalIndent(x.m, "", " ") // map keys are sorted
	_ = atomicfile.Write(x.path, b, 0o600)
}
