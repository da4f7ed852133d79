package sdk

import (
	"io/fs"
	"syscall"
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
