package upgrades

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/release"
	"github.com/iscsdk/iscsdk/internal/semver"
	"github.com/iscsdk/iscsdk/internal/server/admin"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// maxPublishBody bounds POST /admin/v1/releases: its manifest lists about
// 40 bytes per 64 KiB of package (base64 in JSON), so 64 MiB covers
// packages far larger than any installer.
const maxPublishBody = 64 << 20

// MountAdmin adds the release endpoints to the admin API (see
// adminapi.PublishRelease for the list).
func (s *Service) MountAdmin(a *admin.API) {
	p := adminapi.Prefix
	rel := adminapi.RoleReleases
	a.Handle(rel, "POST "+p+"/releases/{product}/chunks/have", s.adminHave)
	a.Handle(rel, "PUT "+p+"/releases/{product}/chunks/{id}", s.adminPut)
	a.HandleLarge(rel, "POST "+p+"/releases", maxPublishBody, s.adminPublish)
	a.Handle(adminapi.RoleReadOnly, "GET "+p+"/releases", s.adminList)
	a.Handle(rel, "DELETE "+p+"/releases/{product}/{platform}/{version}", s.adminWithdraw)
}

// product checks that the path's product exists.
func (s *Service) product(w http.ResponseWriter, r *http.Request, id string) bool {
	if _, err := s.st.Product(r.Context(), id); err != nil {
		admin.StoreFail(w, s.log, "product "+id, err)
		return false
	}
	return true
}

func (s *Service) adminHave(w http.ResponseWriter, r *http.Request) {
	product := r.PathValue("product")
	var req adminapi.ChunkIDs
	if !s.product(w, r, product) || !admin.Decode(w, r, &req) {
		return
	}
	if len(req.IDs) > wire.MaxHaveBatch {
		admin.Fail(w, http.StatusRequestEntityTooLarge, wire.CodeTooLarge, fmt.Sprintf("more than %d ids", wire.MaxHaveBatch))
		return
	}
	ids, err := chunkstore.ParseIDs(req.IDs)
	if err != nil {
		admin.Fail(w, http.StatusBadRequest, wire.CodeBadRequest, err.Error())
		return
	}
	missing, err := chunkstore.Missing(r.Context(), s.chunks, store.ReleaseChunks(product), ids)
	if err != nil {
		admin.StoreFail(w, s.log, "chunks", err)
		return
	}
	admin.Reply(w, http.StatusOK, adminapi.ChunkIDs{IDs: missing})
}

func (s *Service) adminPut(w http.ResponseWriter, r *http.Request) {
	product := r.PathValue("product")
	if !s.product(w, r, product) {
		return
	}
	id, err := chunkstore.ParseID(r.PathValue("id"))
	if err != nil {
		admin.Fail(w, http.StatusBadRequest, wire.CodeBadRequest, "chunk id: "+err.Error())
		return
	}
	enc, err := io.ReadAll(r.Body)
	if err != nil {
		admin.Fail(w, http.StatusRequestEntityTooLarge, wire.CodeTooLarge, "chunk: "+err.Error())
		return
	}
	if err := s.chunks.Put(r.Context(), store.ReleaseChunks(product), id, enc); err != nil {
		switch {
		case errors.Is(err, chunkstore.ErrMismatch), errors.Is(err, chunkstore.ErrEncoding), errors.Is(err, chunkstore.ErrTooLarge):
			admin.Fail(w, http.StatusBadRequest, wire.CodeBadChunk, fmt.Sprintf("chunk %s: %v", id, err))
		case errors.Is(err, chunkstore.ErrNoSpace):
			admin.Fail(w, http.StatusInsufficientStorage, wire.CodeStorageFull, "the service's storage is full")
		default:
			admin.StoreFail(w, s.log, "chunk", err)
		}
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Publish checks a release against its stored chunks, stores it with the
// signature the vendor made offline (iscctl release sign) and, when it is
// forced, tells the product's sessions at once. by names who published it
// (for the record). iscd cannot verify the signature (it never holds the
// vendor's release key, public or private, and needs neither): the
// programs do, before they download the package.
func (s *Service) Publish(ctx context.Context, req adminapi.PublishRelease, by string) (adminapi.ReleasePublished, error) {
	var out adminapi.ReleasePublished
	badReq := func(format string, a ...any) error { return wire.Errorf(wire.CodeBadRequest, format, a...) }
	v, err := semver.Parse(req.Version)
	if err != nil {
		return out, badReq("version: %v", err)
	}
	if req.MinSupported != "" {
		min, err := semver.Parse(req.MinSupported)
		if err != nil {
			return out, badReq("minimum supported version: %v", err)
		}
		if min.Compare(v) > 0 {
			return out, badReq("minimum supported version %s is newer than the release %s", min, v)
		}
		req.MinSupported = min.String()
	}
	if len(req.Notes) > release.MaxNotes {
		return out, badReq("notes longer than %d bytes", release.MaxNotes)
	}
	m, err := manifest.Decode(req.Manifest)
	if err != nil {
		return out, badReq("manifest: %v", err)
	}
	if len(m.Files) != 1 {
		return out, badReq("a release's manifest has one file, not %d", len(m.Files))
	}
	f := m.Files[0]
	missing, _, _, err := m.Missing(ctx, s.chunks, store.ReleaseChunks(req.ProductID))
	if err != nil {
		return out, err
	}
	if missing > 0 {
		return out, wire.Errorf(wire.CodeMissingChunks, "%d chunks of the package are not stored: put them first", missing)
	}
	req.Version = v.String()
	st := adminapi.Statement(req, f.Size, f.Hash.String())
	if err := st.Check(); err != nil {
		return out, badReq("%v", err)
	}
	sig := release.Signature{KeyID: req.KeyID, Value: req.Signature}
	if req.KeyID == "" && req.Signature == "" {
		return out, badReq("the release is not signed: sign it with the vendor's release key (iscctl release sign) and publish it with its signature")
	}
	if err := release.CheckSignature(sig); err != nil {
		return out, badReq("%v", err)
	}
	rel := store.Release{ProductID: st.Product, Platform: st.Platform, Version: st.Version, Notes: req.Notes, Forced: req.Forced,
		MinSupported: req.MinSupported, FileName: st.FileName, Size: st.Size, SHA256: st.SHA256, InstallCommand: st.InstallCommand,
		KeyID: sig.KeyID, Signature: sig.Value, Published: s.now(), PublishedBy: by}
	if err := s.st.PutRelease(ctx, rel, req.Manifest); err != nil {
		return out, err
	}
	s.log.Info("release published", "product", rel.ProductID, "platform", rel.Platform, "version", rel.Version, "size", rel.Size, "forced", rel.Forced)
	out.Release = adminapi.Release(rel)
	if rel.Forced || rel.MinSupported != "" {
		// Running programs of the product learn of it now; each checks
		// whether it concerns its platform and version.
		n, err := s.hub.PublishAll(ctx, session.Filter{ProductID: rel.ProductID}, wire.Event{Kind: wire.KindUpgradeNotice, Operate: "UpgradeNotice",
			Params: map[string]string{"available": "true", "forced": strconv.FormatBool(rel.Forced), "pushed": "true", "platform": rel.Platform,
				"version": rel.Version, "minSupported": rel.MinSupported}})
		if err != nil {
			s.log.Error("push a forced release", "product", rel.ProductID, "version", rel.Version, "err", err)
		}
		out.Pushed = n
	}
	return out, nil
}

func (s *Service) adminPublish(w http.ResponseWriter, r *http.Request) {
	var req adminapi.PublishRelease
	if !admin.Decode(w, r, &req) || !s.product(w, r, req.ProductID) {
		return
	}
	out, err := s.Publish(r.Context(), req, "admin")
	var we *wire.Error
	switch {
	case errors.As(err, &we):
		admin.Fail(w, http.StatusBadRequest, we.Code, we.Message)
	case errors.Is(err, store.ErrExists):
		admin.Fail(w, http.StatusConflict, "conflict", fmt.Sprintf("%s already has a release %s for %s (a version is never published twice: use a new one)", req.ProductID, req.Version, req.Platform))
	case err != nil:
		admin.StoreFail(w, s.log, "release", err)
	default:
		admin.Reply(w, http.StatusCreated, out)
	}
}

func (s *Service) adminList(w http.ResponseWriter, r *http.Request) {
	product, platform := r.URL.Query().Get("product"), r.URL.Query().Get("platform")
	if product == "" {
		admin.Fail(w, http.StatusBadRequest, wire.CodeBadRequest, "product is required (?product=ID)")
		return
	}
	if !s.product(w, r, product) {
		return
	}
	rs, err := s.catalogue(r.Context(), product, platform)
	if err != nil {
		admin.StoreFail(w, s.log, "releases", err)
		return
	}
	out := make([]adminapi.Release, len(rs))
	for i, r := range rs {
		out[i] = adminapi.Release(r.Release)
	}
	admin.Reply(w, http.StatusOK, out)
}

func (s *Service) adminWithdraw(w http.ResponseWriter, r *http.Request) {
	product, platform, version := r.PathValue("product"), r.PathValue("platform"), r.PathValue("version")
	if v, err := semver.Parse(version); err == nil {
		version = v.String()
	}
	if err := s.st.WithdrawRelease(r.Context(), product, platform, version); err != nil {
		admin.StoreFail(w, s.log, "release "+version+" "+platform+" of "+product, err)
		return
	}
	s.log.Info("release withdrawn", "product", product, "platform", platform, "version", version)
	w.WriteHeader(http.StatusNoContent)
}
