package boltstore_test

import (
	"testing"

	"github.com/iscsdk/iscsdk/internal/store/backendtest"
	"github.com/iscsdk/iscsdk/internal/store/storetest"
)

// TestSuite runs the behavioural suite every backend passes.
func TestSuite(t *testing.T) { storetest.Run(t, backendtest.Bolt) }
