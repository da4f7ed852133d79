package files

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/cloudpath"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/server/admin"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// MountAdmin adds the operator's file endpoint to the admin API:
//
//	POST /admin/v1/files/unlock  body adminapi.UnlockFile; reply wire.FileInfo
//	GET  /admin/v1/files/storage?org=ID  reply adminapi.Storage
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
	a.Handle(adminapi.RoleReadOnly, "GET "+adminapi.Prefix+"/files/storage", func(w http.ResponseWriter, r *http.Request) {
		org := r.URL.Query().Get("org")
		if !admin.CheckText(w, "org", org, true, 64) {
			return
		}
		out, err := Storage(r.Context(), st, org)
		if err != nil {
			admin.StoreFail(w, log, "storage of org "+org, err)
			return
		}
		admin.Reply(w, http.StatusOK, out)
	})
}

// Storage sums what org's versions hold: their bytes as saved, and the
// distinct chunks (the stored bytes, before compression) they share.
func Storage(ctx context.Context, st store.Files, org string) (adminapi.Storage, error) {
	out := adminapi.Storage{OrgID: org}
	seen := map[chunkstore.ID]bool{}
	err := st.Manifests(ctx, org, func(b []byte) error {
		m, err := manifest.Decode(b)
		if err != nil {
			return fmt.Errorf("a stored manifest of %s: %w", org, err)
		}
		out.Versions++
		for _, f := range m.Files {
			out.LogicalBytes += f.Size
			for _, c := range f.Chunks {
				if !seen[c.ID] {
					seen[c.ID] = true
					out.StoredChunks++
					out.StoredBytes += int64(c.Size)
				}
			}
		}
		return nil
	})
	return out, err
}
