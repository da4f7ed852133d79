package jobs_test

import (
	"os"
	"testing"

	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
)

// TestMain runs the queue rules' tests on PostgreSQL too (backendtest).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
