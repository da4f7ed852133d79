package admin

import (
	"net/http"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// MountIdentity adds what the marketplace's sync interfaces keep beside
// users: GET /admin/v1/departments?org=ID (read-only).
func (a *API) MountIdentity(id store.Identity) {
	a.Handle(adminapi.RoleReadOnly, "GET "+adminapi.Prefix+"/departments", func(w http.ResponseWriter, r *http.Request) {
		org := r.URL.Query().Get("org")
		if org == "" {
			Fail(w, http.StatusBadRequest, wire.CodeBadRequest, "departments: name the organisation (?org=ID)")
			return
		}
		if _, err := a.dir.Org(r.Context(), org); err != nil {
			a.storeFail(w, "org "+org, err)
			return
		}
		tree, err := id.Departments(r.Context(), org)
		if err != nil {
			a.storeFail(w, "departments", err)
			return
		}
		out := make([]adminapi.Department, len(tree))
		for i, d := range tree {
			out[i] = adminapi.Department{Code: d.Code, Name: d.Name, Parent: d.Parent}
		}
		Reply(w, http.StatusOK, out)
	})
}
