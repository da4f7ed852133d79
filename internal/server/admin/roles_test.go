package admin_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	adminhttp "github.com/iscsdk/iscsdk/internal/server/admin"
)

// A route cannot be registered without a role it can be checked against:
// an unknown role, a pattern without a method, or a route that changes
// something requiring only read-only panic at registration.
func TestHandleNeedsARole(t *testing.T) {
	a := adminhttp.New(nil, nil, slog.New(slog.DiscardHandler))
	h := func(http.ResponseWriter, *http.Request) {}
	for _, c := range []struct {
		role    adminapi.Role
		pattern string
		want    string
	}{
		{"", "GET /admin/v1/x", "known role"},
		{"admin", "GET /admin/v1/x", "known role"},
		{adminapi.RoleCompute, "/admin/v1/x", "a method"},
		{adminapi.RoleReadOnly, "POST /admin/v1/x", "changes something"},
		{adminapi.RoleReadOnly, "DELETE /admin/v1/x/{id}", "changes something"},
	} {
		func() {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), c.want) {
					t.Errorf("Handle(%q, %q): panic %v, want one about %q", c.role, c.pattern, r, c.want)
				}
			}()
			a.Handle(c.role, c.pattern, h)
		}()
	}
	a.Handle(adminapi.RoleReadOnly, "GET /admin/v1/fine", h) // does not panic
	a.Handle(adminapi.RoleCompute, "POST /admin/v1/fine", h)
}

func TestRoleAllows(t *testing.T) {
	for _, r := range adminapi.Roles {
		if !r.Allows(adminapi.RoleReadOnly) {
			t.Errorf("%s may not read", r)
		}
		if !adminapi.RoleOwner.Allows(r) {
			t.Errorf("owner may not do what %s does", r)
		}
		if r != adminapi.RoleOwner && r.Allows(adminapi.RoleOwner) {
			t.Errorf("%s may do what only owners do", r)
		}
	}
	if adminapi.RoleReleases.Allows(adminapi.RoleCompute) || adminapi.RoleCompute.Allows(adminapi.RoleLicenses) || adminapi.RoleReadOnly.Allows(adminapi.RoleReleases) {
		t.Error("a role may do another's work")
	}
}
