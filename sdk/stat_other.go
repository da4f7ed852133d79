//go:build !linux && !windows

package sdk

import (
	"io/fs"
	"time"
)

// stampOf is info's size and modification time: on these systems the
// stat cache does not see an edit whose modification time was set back.
func stampOf(_ string, info fs.FileInfo) stamp { return baseStamp(info) }

// racyWindowOf is racyWindow here: the file systems' granularity is not
// looked up on this system.
func racyWindowOf(string) time.Duration { return racyWindow }
