// Package files is iscd's cloud file service: it receives chunks (checked
// against their ids), commits versions from manifests once every chunk is
// present, hands out manifests and chunks, and keeps check-outs.
package files

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/cloudpath"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/server/page"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Service is the cloud file service of one iscd.
type Service struct {
	st     store.Files
	chunks chunkstore.Store
	gate   Gate
	log    *slog.Logger
	now    func() time.Time
	dedup  func(n int) // OnDeduplicated
}

// OnDeduplicated has fn told, at each files.have, how many of the chunks
// offered were stored already (iscd's metrics). Call it before serving.
func (s *Service) OnDeduplicated(fn func(n int)) { s.dedup = fn }

// Gate says whether an organisation may use cloud files for a product:
// nil, or the error its client gets (licensing.Service: the licence gates).
type Gate interface {
	RequireForFiles(ctx context.Context, orgID, productID string) error
}

// New returns the service and registers its handlers on hub. Every
// operation on files (save, open, list, history, lock) passes gate first;
// moving chunks does not, as saves and solves share it and a chunk is
// nothing without a committed version that names it (unreferenced ones
// are collected).
func New(st store.Files, chunks chunkstore.Store, hub *session.Hub, gate Gate, log *slog.Logger) *Service {
	s := &Service{st: st, chunks: chunks, gate: gate, log: log, now: func() time.Time { return time.Now().UTC() }}
	session.Handle(hub, wire.OpFilesHave, s.have)
	session.Handle(hub, wire.OpFilesChunk, s.chunk)
	session.Handle(hub, wire.OpFilesOpen, gated(s, s.open))
	session.Handle(hub, wire.OpFilesManifest, gated(s, s.manifest))
	session.Handle(hub, wire.OpFilesStat, gated(s, s.stat))
	session.Handle(hub, wire.OpFilesList, gated(s, s.list))
	session.Handle(hub, wire.OpFilesHistory, gated(s, s.history))
	session.Handle(hub, wire.OpFilesLock, gated(s, s.lock))
	session.Handle(hub, wire.OpFilesUnlock, gated(s, s.unlock))
	session.HandleFrame(hub, wire.BinChunkPut, s.put)
	session.HandleFrame(hub, wire.BinCommit, func(ctx context.Context, c session.Caller, h wire.FilesCommit, f wire.Frame) (any, error) {
		if err := s.gate.RequireForFiles(ctx, c.OrgID, c.ProductID); err != nil {
			return nil, err
		}
		return s.commit(ctx, c, h, f)
	})
	return s
}

// gated runs h once the caller passes the licence gate.
func gated[Req, Resp any](s *Service, h func(context.Context, session.Caller, Req) (Resp, error)) func(context.Context, session.Caller, Req) (Resp, error) {
	return func(ctx context.Context, c session.Caller, req Req) (Resp, error) {
		if err := s.gate.RequireForFiles(ctx, c.OrgID, c.ProductID); err != nil {
			var none Resp
			return none, err
		}
		return h(ctx, c, req)
	}
}

// storeErr turns a store error into the error the client sees.
func storeErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return wire.Errorf(wire.CodeNotFound, "%v", trimStore(err))
	case errors.Is(err, store.ErrConflict):
		return wire.Errorf(wire.CodeConflict, "%v", trimStore(err))
	case errors.Is(err, store.ErrLocked):
		return wire.Errorf(wire.CodeLocked, "%v", trimStore(err))
	case errors.Is(err, chunkstore.ErrNoSpace):
		return wire.Errorf(wire.CodeStorageFull, "the service's storage is full; nothing was saved")
	}
	return err
}

// trimStore drops the package prefix of a store error: the client sees
// "file /a.prt: not found", not Go's error plumbing.
func trimStore(err error) string { return strings.ReplaceAll(err.Error(), "store: ", "") }

func checkPath(p string) (string, error) {
	p, err := cloudpath.Check(p)
	if err != nil {
		return "", wire.Errorf(wire.CodeBadPath, "%v", err)
	}
	return p, nil
}

func info(e store.FileEntry, userID string) wire.FileInfo {
	fi := wire.FileInfo{Path: e.Path, Assembly: e.Assembly, Version: e.Head, Size: e.Size, Hash: e.Hash, Updated: e.Updated, UpdatedBy: e.UpdatedBy}
	if e.Lock != nil {
		fi.LockedBy, fi.LockedByMe = e.Lock.UserID, e.Lock.UserID == userID
	}
	return fi
}

// have answers which of the given chunks the service lacks.
func (s *Service) have(ctx context.Context, c session.Caller, req wire.FilesHave) (any, error) {
	ids, err := chunkstore.ParseIDs(req.IDs)
	if err != nil {
		return nil, wire.Errorf(wire.CodeBadRequest, "%v", err)
	}
	missing, err := chunkstore.Missing(ctx, s.chunks, c.OrgID, ids)
	if err != nil {
		return nil, s.chunkStoreDown(ctx, c, err)
	}
	if s.dedup != nil {
		s.dedup(len(ids) - len(missing))
	}
	return wire.FilesHave{IDs: missing}, nil
}

// chunkStoreDown logs a failure of the chunk store (a disk error, an
// object store out of reach) and returns what the client sees: the storage
// is unavailable, nothing of the request was done, try again.
func (s *Service) chunkStoreDown(ctx context.Context, c session.Caller, err error) error {
	if ctx.Err() != nil {
		return err // the session ended: nobody to tell
	}
	s.log.Error("chunk store failed", "org", c.OrgID, "session", c.Session, "err", err)
	return wire.Errorf(wire.CodeUnavailable, "the service's file storage is unavailable (nothing was changed); try again later")
}

// put stores one uploaded chunk after checking it against its id.
func (s *Service) put(ctx context.Context, c session.Caller, _ struct{}, f wire.Frame) (any, error) {
	id := chunkstore.ID(f.ChunkID)
	if err := s.chunks.Put(ctx, c.OrgID, id, f.Payload); err != nil {
		if errors.Is(err, chunkstore.ErrNoSpace) {
			s.log.Error("chunk store full", "org", c.OrgID, "err", err)
			return nil, storeErr(err)
		}
		if errors.Is(err, chunkstore.ErrMismatch) || errors.Is(err, chunkstore.ErrEncoding) || errors.Is(err, chunkstore.ErrTooLarge) {
			s.log.Warn("chunk refused", "org", c.OrgID, "session", c.Session, "err", err)
			return nil, wire.Errorf(wire.CodeBadChunk, "chunk %s: %v", id, err)
		}
		return nil, s.chunkStoreDown(ctx, c, err)
	}
	return struct{}{}, nil
}

// commit makes a new version from a manifest whose chunks are all stored.
func (s *Service) commit(ctx context.Context, c session.Caller, h wire.FilesCommit, f wire.Frame) (any, error) {
	path, err := checkPath(h.Path)
	if err != nil {
		return nil, err
	}
	m, err := manifest.Decode(f.Payload)
	if err != nil {
		return nil, wire.Errorf(wire.CodeBadRequest, "manifest: %v", err)
	}
	if !h.Assembly && len(m.Files) != 1 {
		return nil, wire.Errorf(wire.CodeBadRequest, "a single file's manifest has %d files", len(m.Files))
	}
	var size int64
	for _, file := range m.Files {
		size += file.Size
	}
	missing, _, _, err := m.Missing(ctx, s.chunks, c.OrgID)
	if err != nil {
		return nil, s.chunkStoreDown(ctx, c, err)
	}
	if missing > 0 {
		return nil, wire.Errorf(wire.CodeMissingChunks, "%d chunks of the manifest are not stored: send them first", missing)
	}
	v := store.Version{OrgID: c.OrgID, Path: path, Author: c.UserID, Time: s.now(), Size: size, Hash: m.Hash(), Files: len(m.Files)}
	v, err = CommitVersion(ctx, s.st, v, f.Payload, Commit{Base: h.Base, UserID: c.UserID, SessionID: c.Session, Assembly: h.Assembly, CheckIn: h.CheckIn, ID: h.ID})
	if err != nil {
		return nil, storeErr(err)
	}
	s.log.Info("version saved", "org", c.OrgID, "path", path, "version", v.Number, "size", size, "user", c.UserID)
	e, err := s.st.File(ctx, c.OrgID, path)
	if err != nil {
		return nil, storeErr(err)
	}
	return info(e, c.UserID), nil
}

func (s *Service) file(ctx context.Context, c session.Caller, req wire.FilesVersion) (wire.FilesVersion, store.FileEntry, error) {
	p, err := checkPath(req.Path)
	if err != nil {
		return req, store.FileEntry{}, err
	}
	req.Path = p
	e, err := s.st.File(ctx, c.OrgID, p)
	if err != nil {
		return req, e, storeErr(err)
	}
	if req.Version == 0 {
		req.Version = e.Head
	}
	return req, e, nil
}

func (s *Service) stat(ctx context.Context, c session.Caller, req wire.FilesVersion) (wire.FileInfo, error) {
	_, e, err := s.file(ctx, c, req)
	if err != nil {
		return wire.FileInfo{}, err
	}
	return info(e, c.UserID), nil
}

// open returns a file's head, checking it out first if asked.
func (s *Service) open(ctx context.Context, c session.Caller, req wire.FilesOpen) (wire.FileInfo, error) {
	p, err := checkPath(req.Path)
	if err != nil {
		return wire.FileInfo{}, err
	}
	var e store.FileEntry
	if req.Checkout {
		e, err = Lock(ctx, s.st, c.OrgID, p, store.Lock{UserID: c.UserID, SessionID: c.Session, Since: s.now()})
	} else {
		e, err = s.st.File(ctx, c.OrgID, p)
	}
	if err != nil {
		return wire.FileInfo{}, storeErr(err)
	}
	return info(e, c.UserID), nil
}

func (s *Service) manifest(ctx context.Context, c session.Caller, req wire.FilesVersion) (any, error) {
	req, _, err := s.file(ctx, c, req)
	if err != nil {
		return nil, err
	}
	m, err := s.st.Manifest(ctx, c.OrgID, req.Path, req.Version)
	if err != nil {
		return nil, storeErr(err)
	}
	return session.Binary{Kind: wire.BinManifest, Data: m}, nil
}

func (s *Service) chunk(ctx context.Context, c session.Caller, req wire.FilesChunk) (any, error) {
	id, err := chunkstore.ParseID(req.ID)
	if err != nil {
		return nil, wire.Errorf(wire.CodeBadRequest, "chunk id %q: %v", req.ID, err)
	}
	enc, err := s.chunks.Get(ctx, c.OrgID, id)
	if errors.Is(err, chunkstore.ErrNotFound) {
		return nil, wire.Errorf(wire.CodeNotFound, "chunk %s not found", req.ID)
	}
	if err != nil {
		return nil, s.chunkStoreDown(ctx, c, err)
	}
	return session.Binary{Kind: wire.BinChunkData, ChunkID: id, Data: enc}, nil
}

func (s *Service) list(ctx context.Context, c session.Caller, req wire.FilesList) (any, error) {
	if req.Dir != "/" {
		if _, err := checkPath(req.Dir); err != nil {
			return nil, err
		}
	}
	out := wire.FilesListing{Dir: req.Dir, Folders: []string{}, Files: []wire.FileInfo{}}
	var entries []listEntry
	if req.Page == nil {
		// A client before paging: the whole folder, in the order of pages.
		files, folders, err := s.st.ListFiles(ctx, c.OrgID, req.Dir)
		if err != nil {
			return nil, err
		}
		entries = s.entries(c, files, folders)
		slices.SortFunc(entries, func(a, b listEntry) int { return strings.Compare(a.key(), b.key()) })
	} else {
		// The store reads one page; page.Cut keeps what fits in an answer.
		limit, err := page.Limit(*req.Page)
		if err != nil {
			return nil, err
		}
		files, folders, more, err := s.st.ListFilesPage(ctx, c.OrgID, req.Dir, req.Page.Cursor, limit)
		if err != nil {
			return nil, err
		}
		entries = s.entries(c, files, folders)
		if entries, out.Next, err = page.Cut(entries, listEntry.key, wire.Page{Limit: len(entries)}); err != nil {
			return nil, err
		}
		if out.Next == "" && more {
			out.Next = entries[len(entries)-1].key()
		}
	}
	for _, e := range entries {
		if e.file != nil {
			out.Files = append(out.Files, *e.file)
		} else {
			out.Folders = append(out.Folders, e.folder)
		}
	}
	return out, nil
}

// entries are a listing's folders, then its files.
func (s *Service) entries(c session.Caller, files []store.FileEntry, folders []store.Folder) []listEntry {
	entries := make([]listEntry, 0, len(folders)+len(files))
	for _, f := range folders {
		entries = append(entries, listEntry{folder: f.Path})
	}
	for _, e := range files {
		fi := info(e, c.UserID)
		entries = append(entries, listEntry{file: &fi})
	}
	return entries
}

// listEntry is a folder or a file of a listing.
type listEntry struct {
	folder string
	file   *wire.FileInfo
}

func (e listEntry) key() string {
	if e.file != nil {
		return store.FileKey(e.file.Path)
	}
	return store.FolderKey(e.folder)
}

// MarshalJSON is the entry as the answer carries it, so that a page's
// bytes are counted.
func (e listEntry) MarshalJSON() ([]byte, error) {
	if e.file != nil {
		return json.Marshal(e.file)
	}
	return json.Marshal(e.folder)
}

func (s *Service) history(ctx context.Context, c session.Caller, req wire.FilesHistory) (any, error) {
	file, _, err := s.file(ctx, c, wire.FilesVersion{Path: req.Path})
	if err != nil {
		return nil, err
	}
	vs, err := s.st.Versions(ctx, c.OrgID, file.Path)
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]wire.FileVersion, len(vs))
	for i, v := range vs {
		out[i] = wire.FileVersion{Number: v.Number, Author: v.Author, Time: v.Time, Size: v.Size, Hash: v.Hash, Files: v.Files}
	}
	if req.Page == nil {
		return out, nil // a client before paging: the whole history
	}
	slices.SortFunc(out, func(a, b wire.FileVersion) int { return a.Number - b.Number })
	// The key of a version: its number, zero-padded so that keys sort as
	// numbers do.
	pg := wire.FileHistoryPage{}
	pg.Versions, pg.Next, err = page.Cut(out, func(v wire.FileVersion) string { return fmt.Sprintf("%010d", v.Number) }, *req.Page)
	return pg, err
}

func (s *Service) lock(ctx context.Context, c session.Caller, req wire.FilesVersion) (wire.FileInfo, error) {
	req, _, err := s.file(ctx, c, req)
	if err != nil {
		return wire.FileInfo{}, err
	}
	e, err := Lock(ctx, s.st, c.OrgID, req.Path, store.Lock{UserID: c.UserID, SessionID: c.Session, Since: s.now()})
	if err != nil {
		return wire.FileInfo{}, storeErr(err)
	}
	return info(e, c.UserID), nil
}

func (s *Service) unlock(ctx context.Context, c session.Caller, req wire.FilesVersion) (wire.FileInfo, error) {
	req, _, err := s.file(ctx, c, req)
	if err != nil {
		return wire.FileInfo{}, err
	}
	e, err := Unlock(ctx, s.st, c.OrgID, req.Path, c.UserID, false)
	if err != nil {
		return wire.FileInfo{}, storeErr(err)
	}
	return info(e, c.UserID), nil
}
