package sdk

import (
	"context"
	"fmt"
	"time"

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

// History returns a cloud file's versions, oldest first.
func (c *Client) History(ctx context.Context, cloudPath string) ([]FileVersion, error) {
	p, err := checkCloudPath(cloudPath)
	if err != nil {
		return nil, err
	}
	var vs []wire.FileVersion
	if err := c.call(ctx, wire.OpFilesHistory, wire.FilesVersion{Path: p}, &vs); err != nil {
		return nil, fmt.Errorf("history %s: %w", p, err)
	}
	out := make([]FileVersion, len(vs))
	for i, v := range vs {
		out[i] = FileVersion(v)
	}
	return out, nil
}

// List returns the files and folders directly in a cloud folder ("/" is
// the root).
func (c *Client) List(ctx context.Context, dir string) (Listing, error) {
	if dir != "/" {
		var err error
		if dir, err = checkCloudPath(dir); err != nil {
			return Listing{}, err
		}
	}
	var l wire.FilesListing
	if err := c.call(ctx, wire.OpFilesList, wire.FilesList{Dir: dir}, &l); err != nil {
		return Listing{}, fmt.Errorf("list %s: %w", dir, err)
	}
	out := Listing{Dir: l.Dir, Folders: l.Folders, Files: make([]FileInfo, len(l.Files))}
	for i, f := range l.Files {
		out.Files[i] = fileInfo(f)
	}
	return out, nil
}
