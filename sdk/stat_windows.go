package sdk

import (
	"io/fs"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// fileBasicInfo is FILE_BASIC_INFO (times in 100 ns since 1601).
type fileBasicInfo struct {
	CreationTime, LastAccessTime, LastWriteTime, ChangeTime int64
	FileAttributes                                          uint32
	_                                                       uint32
}

// stampOf is info's stamp, with the change time, file index and volume
// serial number that Windows gives through a handle of the file: an edit
// whose modification time was set back still moves the change time, a
// file replaced by rename has another index. Without them (the file could
// not be opened) the stamp has size and modification time only.
func stampOf(path string, info fs.FileInfo) stamp {
	s := baseStamp(info)
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return s
	}
	h, err := windows.CreateFile(p, 0, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return s
	}
	defer windows.CloseHandle(h)
	var bi windows.ByHandleFileInformation
	var basic fileBasicInfo
	if windows.GetFileInformationByHandle(h, &bi) != nil ||
		windows.GetFileInformationByHandleEx(h, windows.FileBasicInfo, (*byte)(unsafe.Pointer(&basic)), uint32(unsafe.Sizeof(basic))) != nil {
		return s
	}
	s.Ctime = (basic.ChangeTime - 116444736000000000) * 100
	s.Ino = uint64(bi.FileIndexHigh)<<32 | uint64(bi.FileIndexLow)
	s.Dev = uint64(bi.VolumeSerialNumber)
	return s
}

// racyWindowOf is racyWindow here: the file systems' granularity is not
// looked up on this system.
func racyWindowOf(string) time.Duration { return racyWindow }
