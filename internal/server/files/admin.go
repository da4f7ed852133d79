package files

import (
	"log/slog"
	"net/http"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/cloudpath"
	"github.com/iscsdk/iscsdk/internal/server/admin"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// MountAdmin adds the operator's file endpoint to the admin API:
//
//	POST /admin/v1/files/unlock  body adminapi.UnlockFile; reply wire.FileInfo
//
// It breaks a check-out whoever holds it (a holder who is away); the
// holder's next save follows the usual rules: a conflict if someone saved
// since. A file that is not checked out is answered as it is.
func MountAdmin(a *admin.API, st store.Files, log *slog.Logger) {
	a.Handle(adminapi.RoleLicenses, "POST "+adminapi.Prefix+"/files/unlock", func(w http.ResponseWriter, r *http.Request) {
		var req adminapi.UnlockFile
		if !admin.Decode(w, r, &req) || !admin.CheckText(w, "orgId", req.OrgID, true, 64) {
			return
		}
		p, err := cloudpath.Check(req.Path)
		if err != nil {
			admin.Fail(w, http.StatusBadRequest, wire.CodeBadPath, err.Error())
			return
		}
		e, err := Unlock(r.Context(), st, req.OrgID, p, "", true)
		if err != nil {
			admin.StoreFail(w, log, "file "+p+" of org "+req.OrgID, err)
			return
		}
		log.Info("check-out broken", "org", req.OrgID, "path", p)
		admin.Reply(w, http.StatusOK, info(e, ""))
	})
}
