package server_test

import (
	"os"
	"testing"

	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
)

// TestMain stops the tests' PostgreSQL, should they run on one
// ($ISCD_TEST_DATABASE=postgres, see servertest).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
