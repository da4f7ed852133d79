package cabitest

import "testing"

func TestFilesRoundTrip(t *testing.T) { start(t, nil, "files", "roundtrip", t.TempDir()).finish() }
func TestFilesDelta(t *testing.T)     { start(t, nil, "files", "delta", t.TempDir()).finish() }

// A 2 GiB file streams through a bounded amount of memory.
func TestFilesLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 2 GiB through the disk twice")
	}
	start(t, nil, "files", "large", t.TempDir()).finish()
}
