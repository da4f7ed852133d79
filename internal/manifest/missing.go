package manifest

import (
	"context"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
)

// Missing asks st which of m's chunks it does not hold for org, many at
// once (chunkstore.HasAll), and returns how many are missing and the
// first of them with its file's path.
func (m *Manifest) Missing(ctx context.Context, st chunkstore.Store, org string) (n int, path string, id chunkstore.ID, err error) {
	var ids []chunkstore.ID
	for _, f := range m.Files {
		for _, c := range f.Chunks {
			ids = append(ids, c.ID)
		}
	}
	have, err := chunkstore.HasAll(ctx, st, org, ids)
	if err != nil {
		return 0, "", id, err
	}
	i := 0
	for _, f := range m.Files {
		for _, c := range f.Chunks {
			if !have[i] {
				if n == 0 {
					path, id = f.Path, c.ID
				}
				n++
			}
			i++
		}
	}
	return n, path, id, nil
}
