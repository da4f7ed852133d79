package sdk_test

import (
	"os"
	"testing"
)

// TestMain keeps the tests' per-user state (the trusted-time mark) out of
// the real user's cache directory.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "iscsdk-test-workspace-")
	if err != nil {
		panic(err)
	}
	os.Setenv("ISCSDK_WORKSPACE", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
