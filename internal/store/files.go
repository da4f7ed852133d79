package store

import (
	"context"
	"errors"
	"time"
)

// Cloud file errors that callers branch on.
var (
	ErrConflict = errors.New("store: the file changed since the version it was based on")
	ErrLocked   = errors.New("store: the file is checked out by someone else")
)

// FileEntry is a cloud file (or assembly) of an org and where it stands.
type FileEntry struct {
	OrgID     string    `json:"orgId"`
	Path      string    `json:"path"`
	Assembly  bool      `json:"assembly,omitempty"`
	Head      int       `json:"head"` // the latest version's number
	Size      int64     `json:"size"` // of the head version
	Hash      string    `json:"hash"`
	Updated   time.Time `json:"updated"`
	UpdatedBy string    `json:"updatedBy"`
	Lock      *Lock     `json:"lock,omitempty"` // the check-out, if any
	// LastCommit is the client's id of the save that made Head: a save
	// retried because its answer was lost is recognised, not saved twice.
	LastCommit string `json:"lastCommit,omitempty"`
}

// Lock is a check-out: the exclusive right of one user to save.
type Lock struct {
	UserID    string    `json:"userId"`
	SessionID string    `json:"sessionId,omitempty"`
	Since     time.Time `json:"since"`
}

// Version is one immutable save of a file. Its manifest (the files and
// chunk lists) is kept beside it.
type Version struct {
	OrgID  string    `json:"orgId"`
	Path   string    `json:"path"`
	Number int       `json:"number"`
	Author string    `json:"author"`
	Time   time.Time `json:"time"`
	Size   int64     `json:"size"`
	Hash   string    `json:"hash"`  // of the manifest's content
	Files  int       `json:"files"` // 1, or an assembly's file count
}

// FileTx is what UpdateFile's function may do in its transaction.
type FileTx interface {
	// Version reads one of the file's versions.
	Version(number int) (Version, error)
	// PutVersion stores v (v.Number, which must be new) with its manifest.
	PutVersion(v Version, manifest []byte) error
	// PutFile stores the file's entry. The entry of a new file must not
	// overlap another: ErrConflict where its path is a folder (files
	// below it) or below a file.
	PutFile(e FileEntry) error
}

// Folder is a folder in a listing: folders exist while files are in them.
type Folder struct {
	Path string `json:"path"`
}

// FolderKey and FileKey name the entries of a listing in the order
// ListFilesPage (and files.list) gives them: folders ("d", the path and
// "/", the order of their files' paths: "/a/b-c/" before "/a/b/") before
// files ("f" and the path), each kind in bytewise order.
func FolderKey(path string) string { return "d" + path + "/" }

// FileKey: see FolderKey.
func FileKey(path string) string { return "f" + path }

// Files holds an org's cloud files, their versions and check-outs.
type Files interface {
	File(ctx context.Context, orgID, path string) (FileEntry, error)
	// ListFiles returns the files directly in dir and its subfolders.
	ListFiles(ctx context.Context, orgID, dir string) ([]FileEntry, []Folder, error)
	// ListFilesPage returns one page of dir: its subfolders, then its
	// files, in the order of FolderKey and FileKey, those after the key
	// after ("" for the first page; a key of no entry starts where it
	// would sort), at most limit (> 0) of them; more says whether entries
	// follow. It reads what the page holds, not the whole folder: a
	// subfolder's files are skipped, not read.
	ListFilesPage(ctx context.Context, orgID, dir, after string, limit int) (files []FileEntry, folders []Folder, more bool, err error)
	// UpdateFile runs fn in one transaction over the records of one file:
	// e is its entry (found false, e zero: no such file yet), and no other
	// transaction changes the file until fn returns (a row lock across
	// replicas; a new path also excludes the creation of any other new
	// path of the org). fn's error aborts the transaction and is returned;
	// nil commits what fn put. The rules of saves and check-outs are the
	// file service's (internal/server/files); the store only keeps records.
	UpdateFile(ctx context.Context, orgID, path string, fn func(tx FileTx, e FileEntry, found bool) error) error
	// Versions lists a file's versions, oldest first.
	Versions(ctx context.Context, orgID, path string) ([]Version, error)
	Manifest(ctx context.Context, orgID, path string, number int) ([]byte, error)
	// Manifests calls fn with every manifest of an org (for garbage
	// collection): its versions', and its jobs' inputs and outputs.
	Manifests(ctx context.Context, orgID string, fn func([]byte) error) error
}
