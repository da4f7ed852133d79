package licensing_test

import (
	"os"
	"testing"

	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
)

// TestMain runs the seat rules' tests on PostgreSQL too (backendtest).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
