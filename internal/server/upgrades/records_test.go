package upgrades_test

import (
	"testing"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/adminapi/adminapitest"
	"github.com/iscsdk/iscsdk/internal/store"
)

// A release answers as the store's record did.
func TestReleaseAnswersAsTheStoreRecordDid(t *testing.T) {
	r := adminapitest.Filled[store.Release]()
	adminapitest.SameJSON(t, r, adminapi.Release(r))
}
