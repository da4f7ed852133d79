package sdk_test

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// On a local Linux file system (ext4 here) a file's stat is trusted a
// tenth of a second after it was written, not two: a program that writes
// its files and saves them at once has the next save read none of them.
// A file written just before a save is still hashed at the next one.
func TestStatCacheTrustsALocalFileSoonAfter(t *testing.T) {
	dir := t.TempDir()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil || fs.Type != 0xEF53 && fs.Type != 0x01021994 {
		t.Skipf("the test directory is not on ext4 or tmpfs (statfs type %#x, %v)", fs.Type, err)
	}
	window := sdk.RacyWindowOf(dir)
	if window != 100*time.Millisecond {
		t.Fatalf("the racy window on ext4 or tmpfs is %v, want 100ms", window)
	}
	srv := servertest.Start(t)
	c := connect(t, config(t, srv)) // the stat cache's own window, not the tests'
	for i := range 5 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("part%d.prt", i)), randomBytes(uint64(200+i), 20<<10), 0o644)
	}
	for written := time.Now(); time.Since(written) < window+50*time.Millisecond; {
		time.Sleep(5 * time.Millisecond) // the files age past the window
	}
	asm := sdk.SaveOptions{Assembly: true}
	if r := mustSave(t, c, dir, "/soon", 0, asm); r.FilesRead != 5 {
		t.Fatalf("cold save read %d files of 5", r.FilesRead)
	}
	if r := mustSave(t, c, dir, "/soon", 1, asm); r.FilesRead != 0 {
		t.Fatalf("re-save %v after the files were written read %d of them", window+50*time.Millisecond, r.FilesRead)
	}
	os.WriteFile(filepath.Join(dir, "part0.prt"), randomBytes(300, 20<<10), 0o644)
	mustSave(t, c, dir, "/soon", 2, asm)
	if r := mustSave(t, c, dir, "/soon", 3, asm); r.FilesRead != 1 {
		t.Fatalf("re-save right after a file was written and saved read %d files, want it hashed", r.FilesRead)
	}
}
