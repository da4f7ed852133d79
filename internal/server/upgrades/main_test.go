package upgrades_test

import (
	"os"
	"testing"

	"github.com/iscsdk/iscsdk/internal/server/servertest"
)

// TestMain lets $ISCD_TEST_DATABASE=postgres run these tests on PostgreSQL.
func TestMain(m *testing.M) { os.Exit(servertest.Main(m)) }
