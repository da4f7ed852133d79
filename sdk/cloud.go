package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/iscsdk/iscsdk/internal/cloudpath"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// FileInfo describes a cloud file: its head version and check-out.
type FileInfo struct {
	Path       string
	Assembly   bool
	Version    int // the head version
	Size       int64
	Hash       string
	Updated    time.Time
	UpdatedBy  string // user id
	LockedBy   string // user id of the check-out; "" when checked in
	LockedByMe bool
}

// FileVersion is one version in a file's history.
type FileVersion struct {
	Number int
	Author string // user id
	Time   time.Time
	Size   int64
	Hash   string
	Files  int // 1, or an assembly's file count
}

// Listing is the content of a cloud folder.
type Listing struct {
	Dir     string
	Folders []string // full paths
	Files   []FileInfo
	Next    string // ListPage: the cursor of the next page; "" after the last
}

func fileInfo(w wire.FileInfo) FileInfo { return FileInfo(w) }

func checkCloudPath(p string) (string, error) {
	p, err := cloudpath.Check(p)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	return p, nil
}

// Stat returns a cloud file's head version and check-out.
func (c *Client) Stat(ctx context.Context, cloudPath string) (FileInfo, error) {
	return c.fileOp(ctx, wire.OpFilesStat, cloudPath)
}

// CheckOut takes the exclusive edit lock of a cloud file.
func (c *Client) CheckOut(ctx context.Context, cloudPath string) (FileInfo, error) {
	return c.fileOp(ctx, wire.OpFilesLock, cloudPath)
}

// CheckIn releases the caller's edit lock of a cloud file.
func (c *Client) CheckIn(ctx context.Context, cloudPath string) (FileInfo, error) {
	return c.fileOp(ctx, wire.OpFilesUnlock, cloudPath)
}

func (c *Client) fileOp(ctx context.Context, op, cloudPath string) (FileInfo, error) {
	p, err := checkCloudPath(cloudPath)
	if err != nil {
		return FileInfo{}, err
	}
	var fi wire.FileInfo
	if err := c.call(ctx, op, wire.FilesVersion{Path: p}, &fi); err != nil {
		return FileInfo{}, fmt.Errorf("%s %s: %w", op, p, err)
	}
	return fileInfo(fi), nil
}

// History returns a cloud file's versions, oldest first, reading every
// page of them.
func (c *Client) History(ctx context.Context, cloudPath string) ([]FileVersion, error) {
	var out []FileVersion
	for cursor := ""; ; {
		h, err := c.HistoryPage(ctx, cloudPath, cursor, wire.MaxPageLimit)
		if err != nil {
			return nil, err
		}
		out = append(out, h.Versions...)
		if cursor = h.Next; cursor == "" {
			return out, nil
		}
	}
}

// HistoryPage is one page of a file's history.
type HistoryPage struct {
	Versions []FileVersion
	Next     string // the cursor of the next page; "" after the last
}

// HistoryPage returns one page of a cloud file's versions, oldest first:
// those after cursor ("" for the first page; else the Next of the previous
// page), at most limit of them (0: 200; at most 1,000, and fewer when
// they would not fit in one answer).
func (c *Client) HistoryPage(ctx context.Context, cloudPath, cursor string, limit int) (HistoryPage, error) {
	p, err := checkCloudPath(cloudPath)
	if err != nil {
		return HistoryPage{}, err
	}
	pg, err := checkPage(cursor, limit)
	if err != nil {
		return HistoryPage{}, err
	}
	var h historyAnswer
	if err := c.call(ctx, wire.OpFilesHistory, wire.FilesHistory{Path: p, Page: pg}, &h); err != nil {
		return HistoryPage{}, fmt.Errorf("history %s: %w", p, err)
	}
	out := HistoryPage{Versions: make([]FileVersion, len(h.Versions)), Next: h.Next}
	for i, v := range h.Versions {
		out.Versions[i] = FileVersion(v)
	}
	return out, nil
}

// List returns the files and folders directly in a cloud folder ("/" is
// the root), reading every page of them.
func (c *Client) List(ctx context.Context, dir string) (Listing, error) {
	var out Listing
	for cursor := ""; ; {
		l, err := c.ListPage(ctx, dir, cursor, wire.MaxPageLimit)
		if err != nil {
			return Listing{}, err
		}
		out.Dir = l.Dir
		out.Folders = append(out.Folders, l.Folders...)
		out.Files = append(out.Files, l.Files...)
		if cursor = l.Next; cursor == "" {
			if out.Folders == nil {
				out.Folders = []string{}
			}
			if out.Files == nil {
				out.Files = []FileInfo{}
			}
			return out, nil
		}
	}
}

// ListPage returns one page of a cloud folder: its folders, then its
// files, each sorted by path; those after cursor ("" for the first page;
// else the Next of the previous page), at most limit entries (0: 200; at
// most 1,000, and fewer when they would not fit in one answer). Next is ""
// on the last page.
func (c *Client) ListPage(ctx context.Context, dir, cursor string, limit int) (Listing, error) {
	if dir != "/" {
		var err error
		if dir, err = checkCloudPath(dir); err != nil {
			return Listing{}, err
		}
	}
	pg, err := checkPage(cursor, limit)
	if err != nil {
		return Listing{}, err
	}
	var l wire.FilesListing
	if err := c.call(ctx, wire.OpFilesList, wire.FilesList{Dir: dir, Page: pg}, &l); err != nil {
		return Listing{}, fmt.Errorf("list %s: %w", dir, err)
	}
	out := Listing{Dir: l.Dir, Folders: l.Folders, Files: make([]FileInfo, len(l.Files)), Next: l.Next}
	for i, f := range l.Files {
		out.Files[i] = fileInfo(f)
	}
	return out, nil
}

// JobInfo describes a compute job of the caller's organisation.
type JobInfo struct {
	ID          string
	State       string // queued, running, succeeded, failed, canceled
	Solver      string
	Main        string // the model's file
	Attempt     int
	Worker      string
	Created     time.Time
	Finished    time.Time
	ExitCode    int
	ErrorCode   string
	Error       string
	LogTail     []string
	WallSeconds float64
	CPUSeconds  float64
	OutputSize  int64
	OutputFiles int
}

// JobsPage is one page of jobs.
type JobsPage struct {
	Jobs []JobInfo
	Next string // the cursor of the next page; "" after the last
}

// Jobs returns one page of the organisation's compute jobs, newest first:
// those after cursor ("" for the first page; else the Next of the previous
// page), at most limit of them (0: 200; at most 1,000).
func (c *Client) Jobs(ctx context.Context, cursor string, limit int) (JobsPage, error) {
	pg, err := checkPage(cursor, limit)
	if err != nil {
		return JobsPage{}, err
	}
	var p jobsAnswer
	if err := c.call(ctx, wire.OpJobsList, wire.JobsList{Page: pg}, &p); err != nil {
		return JobsPage{}, fmt.Errorf("jobs: %w", err)
	}
	out := JobsPage{Jobs: make([]JobInfo, len(p.Jobs)), Next: p.Next}
	for i, j := range p.Jobs {
		out.Jobs[i] = JobInfo(j)
	}
	return out, nil
}

// historyAnswer and jobsAnswer read a page, or the whole list (a bare
// JSON array, so no next page) that an iscd from before paging answers.
type (
	historyAnswer struct{ wire.FileHistoryPage }
	jobsAnswer    struct{ wire.JobsPage }
)

func (h *historyAnswer) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '[' {
		return json.Unmarshal(b, &h.Versions)
	}
	return json.Unmarshal(b, &h.FileHistoryPage)
}

func (j *jobsAnswer) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '[' {
		return json.Unmarshal(b, &j.Jobs)
	}
	return json.Unmarshal(b, &j.JobsPage)
}

func checkPage(cursor string, limit int) (*wire.Page, error) {
	switch {
	case limit < 0:
		return nil, fmt.Errorf("%w: negative page limit %d", ErrInvalidArgument, limit)
	case len(cursor) > wire.MaxCursorLen || !utf8.ValidString(cursor):
		return nil, fmt.Errorf("%w: cursor is not one the service gave", ErrInvalidArgument)
	}
	return &wire.Page{Cursor: cursor, Limit: limit}, nil
}
