package sdk

import (
	"context"
	"errors"
	"fmt"

	"github.com/iscsdk/iscsdk/internal/cloudpath"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Save saves a local file (or assembly folder: opt.Assembly) back to the
// cloud file it was opened from or last saved as, as a new version, and
// waits for it. A local file that came from no cloud file is refused with
// ErrNotFromCloud (use SaveAs), one opened without a check-out with
// ErrCheckedIn; one whose cloud file was saved by someone else since it
// was opened conflicts (a *wire.Error with code conflict) and nothing
// changes.
func (c *Client) Save(ctx context.Context, localPath string, opt SaveOptions) (SaveResult, error) {
	if c.shut.Load() {
		return SaveResult{}, ErrShutOut
	}
	abs, err := localArg(localPath)
	if err != nil {
		return SaveResult{}, err
	}
	e := c.files.get(abs)
	switch {
	case e.CloudPath == "":
		return SaveResult{}, fmt.Errorf("%w: %s (use save-as)", ErrNotFromCloud, abs)
	case !e.CheckedOut:
		return SaveResult{}, fmt.Errorf("%w: %s", ErrCheckedIn, abs)
	}
	return c.SaveTo(ctx, abs, e.CloudPath, e.Version, opt)
}

// SaveAs saves a local file (or assembly folder: opt.Assembly) as
// cloudPath and waits for it: a new cloud file, or a new version of an
// existing one. Saved again as the cloud file it came from, a local copy
// of an old version conflicts, as with Save.
func (c *Client) SaveAs(ctx context.Context, localPath, cloudPath string, opt SaveOptions) (SaveResult, error) {
	if c.shut.Load() {
		return SaveResult{}, ErrShutOut
	}
	abs, err := localArg(localPath)
	if err != nil {
		return SaveResult{}, err
	}
	cp, err := cloudpath.Check(cloudPath)
	if err != nil {
		return SaveResult{}, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	e := c.files.get(abs)
	base := e.Version
	if e.CloudPath != cp {
		// Save-as onto an existing cloud file makes a new version of it.
		// Part of the save: a dropped connection repeats it, as it
		// repeats the rest (a replica restarting must lose no save).
		var fi wire.FileInfo
		err := transferPolicy.Do(ctx, func(int) error {
			return c.call(ctx, wire.OpFilesStat, wire.FilesVersion{Path: cp}, &fi)
		})
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
	return c.SaveTo(ctx, abs, cp, base, opt)
}

// localArg checks a local path a caller passed and makes it absolute.
func localArg(localPath string) (string, error) {
	if localPath == "" {
		return "", fmt.Errorf("%w: no local path", ErrInvalidArgument)
	}
	if err := checkText("local path", localPath, maxPathLen); err != nil {
		return "", err
	}
	return localAbs(localPath)
}
