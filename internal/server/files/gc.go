package files

import (
	"context"
	"fmt"
	"time"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/manifest"
)

// UploadGrace is how long the chunks of an upload that has not committed
// are kept: a client whose save takes longer asks again what is missing
// (which refreshes them) before it commits.
const UploadGrace = 24 * time.Hour

// GC deletes the chunks of org that no version references and that nobody
// put or asked about for grace (uploads in flight keep theirs: see
// chunkstore.GC). Versions are never deleted, so today only the chunks of
// abandoned uploads go.
func (s *Service) GC(ctx context.Context, org string, grace time.Duration) (chunkstore.GCStats, error) {
	cutoff := s.now().Add(-grace) // before the live set is taken
	live := map[chunkstore.ID]bool{}
	err := s.st.Manifests(ctx, org, func(b []byte) error {
		m, err := manifest.Decode(b)
		if err != nil {
			return fmt.Errorf("a stored manifest of %s: %w", org, err)
		}
		for _, f := range m.Files {
			for _, c := range f.Chunks {
				live[c.ID] = true
			}
		}
		return nil
	})
	if err != nil {
		return chunkstore.GCStats{}, err
	}
	stats, err := chunkstore.GC(ctx, s.chunks, org, func(id chunkstore.ID) bool { return live[id] }, cutoff)
	if err == nil && stats.Deleted > 0 {
		s.log.Info("chunks collected", "org", org, "deleted", stats.Deleted, "live", stats.Live, "recent", stats.Recent)
		// A store that packs chunks gives the space back by rewriting
		// the packs that are mostly dead now.
		if p, ok := s.chunks.(repacker); ok {
			rs, rerr := p.Repack(ctx, org)
			if rerr != nil {
				return stats, rerr
			}
			if rs.Packs > 0 {
				s.log.Info("packs rewritten", "org", org, "packs", rs.Packs, "moved", rs.Moved, "freed", rs.BytesFreed)
			}
		}
	}
	return stats, err
}

// repacker is a chunk store whose deleted chunks take space until it
// rewrites their packs (chunkstore.Dir).
type repacker interface {
	Repack(ctx context.Context, org string) (chunkstore.RepackStats, error)
}
