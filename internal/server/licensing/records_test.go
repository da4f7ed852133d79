package licensing

import (
	"testing"

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
