package marketpush_test

import (
	"os"
	"testing"

	"github.com/iscsdk/iscsdk/internal/server/servertest"
)

// TestMain starts PostgreSQL for the replica test when its binaries are
// installed (pgtest).
func TestMain(m *testing.M) { os.Exit(servertest.Main(m)) }
