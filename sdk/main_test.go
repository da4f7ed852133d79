package sdk_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
)

// insideKeyring is set when the test binary runs again inside a session
// bus with a Secret Service (keyring_linux_test.go).
const insideKeyring = "ISCSDK_SDK_TEST_KEYRING"

// shareDir is shared with every test solver's sandbox.
var shareDir string

// TestMain keeps the tests' per-user state (the trusted-time mark) out of
// the real user's cache directory, runs the examples' iscd, and stops the
// tests' PostgreSQL.
func TestMain(m *testing.M) {
	if dir := os.Getenv(exampleServiceEnv); dir != "" {
		if err := serveExamples(dir); err != nil {
			fmt.Fprintln(os.Stderr, "example service:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "iscsdk-test-workspace-")
	if err != nil {
		panic(err)
	}
	os.Setenv("ISCSDK_WORKSPACE", dir)
	if os.Getenv(insideKeyring) == "" {
		// The tests read the refresh token's file: a Secret Service on the
		// desktop running them must not take it (TestSignInKeepsTheToken…
		// runs one of its own).
		os.Setenv("ISCSDK_SECRET_STORE", "file")
	}
	os.Setenv("XDG_STATE_HOME", dir) // the mark's per-user copy
	os.Setenv("APPDATA", dir)
	// Shared with the test solvers' sandboxes (their pid and release files).
	if shareDir, err = os.MkdirTemp("", "iscsdk-test-share-"); err != nil {
		panic(err)
	}
	os.Chmod(shareDir, 0o777)
	stopExamples := func() {}
	if runsExamples() {
		if stopExamples, err = startExampleService(filepath.Join(dir, "iscd")); err != nil {
			panic(err)
		}
	}
	code := pgtest.Main(m) // PostgreSQL, should a test ask for it
	stopExamples()
	os.RemoveAll(dir)
	os.RemoveAll(shareDir)
	os.Exit(code)
}
