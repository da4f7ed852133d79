package sdk

import (
	"io/fs"
	"syscall"
	"time"
)

// stampOf is info's stamp, with the change time, inode and device that
// Linux gives in every stat: an edit whose modification time was set back
// (utimes) still moves the change time, a file replaced by rename has
// another inode.
func stampOf(_ string, info fs.FileInfo) stamp {
	s := baseStamp(info)
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		s.Ctime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
		s.Ino, s.Dev = st.Ino, uint64(st.Dev)
	}
	return s
}

// racyWindowOf is the racy window of the file system path is on:
// localRacyWindow on the local ones whose timestamps Linux takes in
// nanoseconds from its coarse clock, racyWindow on any other (FAT, network
// and FUSE file systems) or when it cannot tell.
func racyWindowOf(path string) time.Duration {
	var st syscall.Statfs_t
	if syscall.Statfs(path, &st) != nil {
		return racyWindow
	}
	switch int64(st.Type) {
	case 0xEF53, // ext2/3/4
		0x58465342, // xfs
		0x9123683E, // btrfs
		0x01021994, // tmpfs
		0xF2F52010, // f2fs
		0x2FC12FC1, // zfs
		0x794C7630: // overlayfs (its upper layer's stamps)
		return localRacyWindow
	}
	return racyWindow
}
