package marketplace_test

import (
	"context"
	"testing"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/store"
)

// A product sold through the marketplace requires an active licence for
// compute and cloud files from its first sale, unless an owner decided its
// gates before.
func TestSaleTurnsLicenceGatesOn(t *testing.T) {
	m := start(t, server.Config{})
	ctx := context.Background()
	a := m.srv.Admin()
	none := &adminapi.LicenseGates{}
	for _, p := range []adminapi.CreateProduct{{ID: "sold-cad", Name: "Sold"}, {ID: "decided-cad", Name: "Decided", RequireLicense: none}} {
		if err := a.Do(ctx, "POST", "/products", p, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range []string{"sold-cad", "decided-cad"} {
		o := order("gates-" + id)
		o["productId"] = id
		m.ok(o)
		p, err := m.srv.Store().Product(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := store.LicenseGates{Compute: true, Files: true}
		if i == 1 {
			want = store.LicenseGates(*none)
		}
		if p.RequireLicense == nil || *p.RequireLicense != want {
			t.Errorf("%s after its first sale requires %+v, want %+v", id, p.RequireLicense, want)
		}
	}
}
