package wire

import "time"

// Cloud file operations (docs/data.md). Chunks travel in binary frames:
// BinChunkPut up, BinChunkData down; a save ends with a BinCommit frame.
const (
	OpFilesHave     = "files.have"     // body: FilesHave; result: FilesHave (the missing ids)
	OpFilesChunk    = "files.chunk"    // body: FilesChunk; answered by a BinChunkData frame
	OpFilesOpen     = "files.open"     // body: FilesOpen; result: FileInfo
	OpFilesManifest = "files.manifest" // body: FilesVersion; answered by a BinManifest frame
	OpFilesStat     = "files.stat"     // body: FilesVersion; result: FileInfo
	OpFilesList     = "files.list"     // body: FilesList; result: FilesListing (one page when paged: page.go)
	OpFilesHistory  = "files.history"  // body: FilesHistory; result: FileHistoryPage, or []FileVersion without a Page
	OpFilesLock     = "files.lock"     // body: FilesVersion; result: FileInfo
	OpFilesUnlock   = "files.unlock"   // body: FilesVersion; result: FileInfo
)

// Error codes of cloud file operations.
const (
	CodeConflict      = "conflict"       // someone saved since the version the save started from
	CodeLocked        = "locked"         // checked out by someone else
	CodeBadPath       = "bad_path"       // not a valid cloud path
	CodeBadChunk      = "bad_chunk"      // a chunk's content does not match its id
	CodeMissingChunks = "missing_chunks" // a commit names chunks the service does not have
	CodeStorageFull   = "storage_full"   // the service's disk is full: nothing was stored
)

// MaxHaveBatch bounds the chunk ids of one files.have request.
const MaxHaveBatch = 4096

// FilesHave asks which chunks the service lacks; the answer lists them.
type FilesHave struct {
	IDs []string `json:"ids"` // hex SHA-256
}

// FilesChunk asks for one chunk.
type FilesChunk struct {
	ID string `json:"id"`
}

// FilesOpen opens a cloud file, optionally checking it out.
type FilesOpen struct {
	Path     string `json:"path"`
	Checkout bool   `json:"checkout"`
}

// FilesVersion names a file and, where it matters, a version (0: the head).
type FilesVersion struct {
	Path    string `json:"path"`
	Version int    `json:"version,omitempty"`
}

// FilesList lists a folder: its folders, then its files, each sorted by
// path.
type FilesList struct {
	Dir  string `json:"dir"`
	Page *Page  `json:"page,omitempty"`
}

// FilesCommit is the JSON header of a BinCommit frame; the manifest follows.
type FilesCommit struct {
	Path     string `json:"path"`
	Base     int    `json:"base"` // the version the save started from; 0 for a new file
	Assembly bool   `json:"assembly"`
	CheckIn  bool   `json:"checkIn,omitempty"`
	// ID names this save; a retry repeats it, and the service answers a
	// repeat of the save that made the head with that version.
	ID string `json:"id,omitempty"`
}

// FileInfo describes a cloud file.
type FileInfo struct {
	Path       string    `json:"path"`
	Assembly   bool      `json:"assembly"`
	Version    int       `json:"version"` // the head
	Size       int64     `json:"size"`
	Hash       string    `json:"hash"`
	Updated    time.Time `json:"updated"`
	UpdatedBy  string    `json:"updatedBy"`
	LockedBy   string    `json:"lockedBy,omitempty"` // user id of the check-out
	LockedByMe bool      `json:"lockedByMe,omitempty"`
}

// FileVersion is one entry of a file's history.
type FileVersion struct {
	Number int       `json:"number"`
	Author string    `json:"author"`
	Time   time.Time `json:"time"`
	Size   int64     `json:"size"`
	Hash   string    `json:"hash"`
	Files  int       `json:"files"`
}

// FilesListing answers files.list; Next is where the next page starts
// ("" after the last).
type FilesListing struct {
	Dir     string     `json:"dir"`
	Folders []string   `json:"folders"`
	Files   []FileInfo `json:"files"`
	Next    string     `json:"next,omitempty"`
}
