package chunkstore

import (
	"cmp"
	"context"

	"golang.org/x/sync/errgroup"
)

// HasConcurrency bounds the questions HasAll has in flight at once.
const HasConcurrency = 16

// HasAll asks st about each of ids for org and reports, in ids' order,
// which it holds. The questions go HasConcurrency at a time (an object
// store answers each in a round trip); the first failure cancels the rest
// and is returned.
func HasAll(ctx context.Context, st Store, org string, ids []ID) ([]bool, error) {
	have := make([]bool, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(HasConcurrency)
	for i, id := range ids {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			ok, err := st.Has(gctx, org, id)
			have[i] = ok
			return err
		})
	}
	if err := cmp.Or(g.Wait(), ctx.Err()); err != nil {
		return nil, err
	}
	return have, nil
}

// ParseIDs parses chunk ids in hexadecimal (ParseID): all of them, or an
// error naming the first that is not one.
func ParseIDs(hex []string) ([]ID, error) {
	ids := make([]ID, len(hex))
	for i, h := range hex {
		id, err := ParseID(h)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

// Missing returns, in hexadecimal and in their order, those of ids that st
// does not hold for org (HasAll): what a client is asked to send.
func Missing(ctx context.Context, st Store, org string, ids []ID) ([]string, error) {
	have, err := HasAll(ctx, st, org, ids)
	if err != nil {
		return nil, err
	}
	missing := []string{}
	for i, id := range ids {
		if !have[i] {
			missing = append(missing, id.String())
		}
	}
	return missing, nil
}
