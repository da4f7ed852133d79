package admin

import (
	"testing"

	"github.com/iscsdk/iscsdk/internal/adminapi/adminapitest"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/store"
)

// The admin API answers what it answered when its answers were the store's
// records, less their hashes: the same JSON, key for key, for records
// with every field set.
func TestRecordsAnswerAsTheStoreRecordsDid(t *testing.T) {
	o := adminapitest.Filled[store.Org]()
	adminapitest.SameJSON(t, o, Org(o))
	u := adminapitest.Filled[store.User]()
	adminapitest.SameJSON(t, u, User(u))
	// An API or worker token has no role (admin tokens have, and are
	// answered as adminapi.AdminToken).
	tk := adminapitest.Filled[store.Token]()
	adminapitest.SameJSON(t, tk, Token(tk), "hash", "role")
	p := adminapitest.Filled[store.Product]()
	adminapitest.SameJSON(t, p, Product(p))
	s := adminapitest.Filled[session.SessionInfo]()
	adminapitest.SameJSON(t, s, Session(s), "resumeHash")
}
