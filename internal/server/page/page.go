// Package page cuts the service's list answers (files.list, files.history,
// jobs.list) into pages, as wire.Page describes: the entries after a
// cursor, at most a limit of them and at most wire.MaxPageBytes encoded.
package page

import (
	"encoding/json"
	"sort"

	"github.com/iscsdk/iscsdk/internal/wire"
)

// Limit checks p and returns how many entries its page may hold:
// wire.DefaultPageLimit for 0, at most wire.MaxPageLimit. A cursor that
// is too long or a negative limit is refused with wire.CodeBadRequest.
func Limit(p wire.Page) (int, error) {
	if err := p.Check(); err != nil {
		return 0, err
	}
	if p.Limit == 0 {
		return wire.DefaultPageLimit, nil
	}
	return min(p.Limit, wire.MaxPageLimit), nil
}

// Cut returns the page of entries that p asks for and the cursor of the
// next one ("" when this page ends the list). entries must be sorted by
// key, ascending and without repeats; the cursor is the key of the last
// entry of the page. An entry's bytes are those of its JSON encoding: it
// must encode as the answer carries it. A cursor that is too long is refused with
// wire.CodeBadRequest; one that names no entry starts after where that
// entry would be.
func Cut[T any](entries []T, key func(T) string, p wire.Page) ([]T, string, error) {
	limit, err := Limit(p)
	if err != nil {
		return nil, "", err
	}
	start := 0
	if p.Cursor != "" {
		start = sort.Search(len(entries), func(i int) bool { return key(entries[i]) > p.Cursor })
	}
	end, size := start, 0
	for end < len(entries) && end-start < limit {
		b, err := json.Marshal(entries[end])
		if err != nil {
			return nil, "", err
		}
		// Always one entry, so a walk ends; one entry is far below the
		// budget (a path is at most 1 KiB, 6 KiB escaped).
		if size += len(b) + 1; size > wire.MaxPageBytes && end > start {
			break
		}
		end++
	}
	next := ""
	if end < len(entries) {
		next = key(entries[end-1])
	}
	return entries[start:end], next, nil
}
