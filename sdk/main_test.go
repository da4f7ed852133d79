package sdk_test

import (
	"os"
	"testing"

	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
)

// TestMain keeps the tests' per-user state (the trusted-time mark) out of
// the real user's cache directory, and stops the tests' PostgreSQL.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "iscsdk-test-workspace-")
	if err != nil {
		panic(err)
	}
	os.Setenv("ISCSDK_WORKSPACE", dir)
	os.Setenv("XDG_STATE_HOME", dir) // the mark's per-user copy
	os.Setenv("APPDATA", dir)
	code := pgtest.Main(m) // PostgreSQL, should a test ask for it
	os.RemoveAll(dir)
	os.Exit(code)
}
