package wire

import (
	"fmt"
	"math"
	"time"
)

// Paging of list answers: files.list, files.history and jobs.list. A
// request that carries a Page is answered one page at a time: the entries
// after Page.Cursor (the Next of the previous page; "" for the first), at
// most Page.Limit of them (0: DefaultPageLimit; more than MaxPageLimit:
// MaxPageLimit) and at most MaxPageBytes of encoded entries, with Next
// naming where the following page starts ("" after the last). A cursor is
// opaque to clients: the key of the last entry sent, so entries added or
// removed between pages move no other entry into or out of the walk.
//
// A request without a Page (clients before paging) is answered whole, as
// before; an answer that does not fit MaxControlMessage is answered
// CodeTooLarge, never dropped.
const (
	DefaultPageLimit = 200
	MaxPageLimit     = 1000
	// MaxPageBytes bounds the encoded entries of one page, leaving room
	// for the envelope under MaxControlMessage.
	MaxPageBytes = 768 << 10
	// MaxCursorLen bounds a cursor: a cloud path (cloudpath.MaxLen) and a
	// few bytes of kind.
	MaxCursorLen = 2048
)

// JobKey is a job's key in a list of jobs, newest first: its creation
// time counted back from the end of time, then its id, so that keys rise
// along the list. jobs.list's cursors are keys; so are the admin API's
// (GET /admin/v1/jobs?cursor=).
func JobKey(created time.Time, id string) string {
	return fmt.Sprintf("%019d.%s", math.MaxInt64-created.UnixNano(), id)
}

// Page asks for one page of a list.
type Page struct {
	Cursor string `json:"cursor,omitempty"`
	Limit  int    `json:"limit,omitempty"`
}

// FilesHistory asks for a file's versions, oldest first.
type FilesHistory struct {
	Path string `json:"path"`
	Page *Page  `json:"page,omitempty"`
}

// FileHistoryPage answers a paged files.history.
type FileHistoryPage struct {
	Versions []FileVersion `json:"versions"`
	Next     string        `json:"next,omitempty"`
}

// JobsList asks for the caller's organisation's jobs, newest first.
type JobsList struct {
	Page *Page `json:"page,omitempty"`
}

// JobsPage answers a paged jobs.list.
type JobsPage struct {
	Jobs []JobInfo `json:"jobs"`
	Next string    `json:"next,omitempty"`
}
