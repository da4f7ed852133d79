package licensing

import (
	"testing"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/adminapi/adminapitest"
	"github.com/iscsdk/iscsdk/internal/store"
)

// Licences, seats and audit entries answer as the store's records did
// (a licence's grace periods in whole seconds).
func TestRecordsAnswerAsTheStoreRecordsDid(t *testing.T) {
	l := adminapitest.Filled[store.License]()
	adminapitest.SameJSON(t, l, licenseOut(l))
	s := adminapitest.Filled[store.Seat]()
	adminapitest.SameJSON(t, s, seatOut(s))
	e := adminapitest.Filled[store.AuditEntry]()
	adminapitest.SameJSON(t, e, auditOut(e))
}

// iscctl checks --kind with adminapi's names of the licence kinds: they
// are the store's.
func TestKindNamesAreTheStores(t *testing.T) {
	if adminapi.KindFloating != store.KindFloating || adminapi.KindNodeLocked != store.KindNodeLocked {
		t.Errorf("adminapi's kinds %q, %q; the store's %q, %q", adminapi.KindFloating, adminapi.KindNodeLocked, store.KindFloating, store.KindNodeLocked)
	}
}
