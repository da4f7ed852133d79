// Package upgrades is iscd's release catalogue: operators publish signed
// upgrade packages of a product per platform (through the admin API), and
// programs ask whether a newer version exists and download its package
// over their session, chunk by chunk, as cloud files are opened.
//
// Packages are stored in the chunk store under the product's namespace
// store.ReleaseChunks(product), apart from every org's files. A release
// comes with the signature its vendor made offline with its release key
// (the statement of internal/release); iscd stores and serves it and signs
// nothing, so a program trusts a package because its vendor signed it,
// not because iscd offers it.
package upgrades

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/semver"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Service is the release catalogue of one iscd.
type Service struct {
	st     Store
	chunks chunkstore.Store
	hub    *session.Hub
	log    *slog.Logger
	now    func() time.Time
}

// Store is the part of iscd's store the upgrade service uses: the release
// catalogue, and the products it is kept for.
type Store interface {
	store.Releases
	Product(ctx context.Context, id string) (store.Product, error)
}

// New returns the service and registers its request handlers on hub.
func New(st Store, chunks chunkstore.Store, hub *session.Hub, log *slog.Logger) *Service {
	s := &Service{st: st, chunks: chunks, hub: hub, log: log, now: func() time.Time { return time.Now().UTC() }}
	session.Handle(hub, wire.OpUpgradesCheck, s.check)
	session.Handle(hub, wire.OpUpgradesManifest, s.manifest)
	session.Handle(hub, wire.OpUpgradesChunk, s.chunk)
	return s
}

// versioned is a release with its parsed version.
type versioned struct {
	store.Release
	v semver.Version
}

// catalogue returns the product's releases for platform, newest first.
func (s *Service) catalogue(ctx context.Context, product, platform string) ([]versioned, error) {
	rs, err := s.st.ListReleases(ctx, product, platform)
	if err != nil {
		return nil, err
	}
	out := make([]versioned, 0, len(rs))
	for _, r := range rs {
		v, err := semver.Parse(r.Version)
		if err != nil {
			s.log.Error("a stored release has a bad version", "product", product, "version", r.Version, "err", err)
			continue
		}
		out = append(out, versioned{r, v})
	}
	slices.SortFunc(out, func(a, b versioned) int { return b.v.Compare(a.v) })
	return out, nil
}

// Offer says what a program of product at version on platform should do.
// Pre-releases are offered only to programs that run a pre-release.
// The upgrade is forced when a release newer than the program is forced,
// or the program is older than the minimum supported version of any
// release.
func (s *Service) Offer(ctx context.Context, product, platform, version string) (wire.UpgradeOffer, error) {
	offer := wire.UpgradeOffer{Current: version}
	cur, err := semver.Parse(version)
	if err != nil {
		return offer, wire.Errorf(wire.CodeBadVersion, "the program's version: %v", err)
	}
	rs, err := s.catalogue(ctx, product, platform)
	if err != nil {
		return offer, err
	}
	var newest *versioned
	for i := range rs {
		r := &rs[i]
		if r.MinSupported != "" {
			if min, err := semver.Parse(r.MinSupported); err == nil && cur.Compare(min) < 0 && offer.ForcedBy == "" {
				offer.ForcedBy = "minimum"
			}
		}
		if r.v.Compare(cur) <= 0 || (r.v.Prerelease() && !cur.Prerelease()) {
			continue
		}
		if newest == nil {
			newest = r
		}
		if r.Forced {
			offer.ForcedBy = "release"
		}
	}
	if newest == nil {
		offer.ForcedBy = "" // nothing newer to move to
		return offer, nil
	}
	r := newest.Release
	offer.Available, offer.Forced = true, offer.ForcedBy != ""
	offer.Product, offer.Platform, offer.Version, offer.Notes = r.ProductID, r.Platform, r.Version, r.Notes
	offer.FileName, offer.Size, offer.SHA256, offer.InstallCommand = r.FileName, r.Size, r.SHA256, r.InstallCommand
	offer.KeyID, offer.Signature = r.KeyID, r.Signature
	return offer, nil
}

func checkPlatform(p string) error {
	if len(p) == 0 || len(p) > 33 || strings.Count(p, "-") != 1 {
		return wire.Errorf(wire.CodeBadRequest, "platform %q: want OS-ARCH, e.g. windows-amd64", p)
	}
	return nil
}

func (s *Service) check(ctx context.Context, c session.Caller, req wire.UpgradesCheck) (any, error) {
	if err := checkPlatform(req.Platform); err != nil {
		return nil, err
	}
	if c.AppVersion == "" {
		return nil, wire.Errorf(wire.CodeBadVersion, "the program gave no version at Init (app_version): nothing to compare")
	}
	return s.Offer(ctx, c.ProductID, req.Platform, c.AppVersion)
}

func (s *Service) manifest(ctx context.Context, c session.Caller, req wire.UpgradeRef) (any, error) {
	m, err := s.st.ReleaseManifest(ctx, c.ProductID, req.Platform, req.Version)
	if errors.Is(err, store.ErrNotFound) {
		return nil, wire.Errorf(wire.CodeNotFound, "no release %s for %s", req.Version, req.Platform)
	}
	if err != nil {
		return nil, err
	}
	return session.Binary{Kind: wire.BinManifest, Data: m}, nil
}

// chunk hands out a chunk of the session's product's packages: any
// program of the product may read them, and nothing else.
func (s *Service) chunk(ctx context.Context, c session.Caller, req wire.FilesChunk) (any, error) {
	id, err := chunkstore.ParseID(req.ID)
	if err != nil {
		return nil, wire.Errorf(wire.CodeBadRequest, "chunk id %q: %v", req.ID, err)
	}
	enc, err := s.chunks.Get(ctx, store.ReleaseChunks(c.ProductID), id)
	if errors.Is(err, chunkstore.ErrNotFound) {
		return nil, wire.Errorf(wire.CodeNotFound, "chunk %s not found", req.ID)
	}
	if err != nil {
		return nil, err
	}
	return session.Binary{Kind: wire.BinChunkData, ChunkID: id, Data: enc}, nil
}
