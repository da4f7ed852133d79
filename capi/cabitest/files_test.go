package cabitest

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

func TestFilesRoundTrip(t *testing.T) { start(t, nil, "files", "roundtrip", t.TempDir()).finish() }
func TestFilesDelta(t *testing.T)     { start(t, nil, "files", "delta", t.TempDir()).finish() }

// The SaveResult event's filesRead: a re-save of an unchanged 3-part
// assembly reads no file, after one part is edited it reads that part
// (the stat cache, docs/data.md); the OpenFile event carries it too.
func TestFilesReadOnlyWhatChanged(t *testing.T) {
	p := start(t, nil, "files", "filesread", t.TempDir())
	for _, step := range [][2]string{
		{"cold save read ", "3 files"},
		{"unchanged re-save read ", "0 files"},
		{"re-save after one edit read ", "1 files"},
	} {
		if got := p.expect(step[0]); got != step[1] {
			t.Errorf("%s%s, want %s", step[0], got, step[1])
		}
	}
	p.finish()
}

// A 2 GiB file streams through a bounded amount of memory.
func TestFilesLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 2 GiB through the disk twice")
	}
	start(t, nil, "files", "large", t.TempDir()).finish()
}

// pagesFolder is a cloud folder of 1,100 files with long names (more than
// 1 MiB listed at once), filled once for the package's tests.
func pagesFolder(t *testing.T) string {
	pages.Do(func() {
		c := goClient(t)
		defer c.Close()
		servertest.FillFolder(t, c, "/pages", 1100)
	})
	return "/pages"
}

var pages sync.Once

// goClient is a Go client of the package's iscd, as the C programs are.
func goClient(t *testing.T) *sdk.Client {
	c, err := sdk.Init(context.Background(), sdk.Config{
		Endpoint: devEnv["ISCSDK_ENDPOINT"], Token: devEnv["ISCSDK_TOKEN"], ProductID: devEnv["ISCSDK_PRODUCT"],
		AppVersion: "1.0.0", WorkspaceDir: t.TempDir(), CredentialsFile: filepath.Join(t.TempDir(), "none"),
		NoBrowser: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The folder is listed page by page through the C ABI:
// iscsdk_list_cloud_folder, iscsdk_cloud_file_history and iscsdk_list_jobs
// (tests/cabi/files.c).
func TestFilesPages(t *testing.T) {
	pagesFolder(t)
	p := start(t, nil, "files", "pages", t.TempDir())
	if got := p.expect("listed "); got != "1100 files in 3 pages" {
		t.Errorf("listed %s", got)
	}
	p.finish()
}
