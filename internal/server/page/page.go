// Package page cuts the service's list answers (files.list, files.history,
// jobs.list) into pages, as wire.Page describes: the entries after a
// cursor, at most a limit of them and at most wire.MaxPageBytes encoded.
package page

import (
	"encoding/json"
	"sort"

	"github.com/iscsdk/iscsdk/internal/wire"
)

// FolderKey and FileKey are the keys of a folder's entries in a listing:
// its folders, then its files, each sorted by path.
func FolderKey(path string) string { return "d" + path }

// FileKey: see FolderKey.
func FileKey(path string) string { return "f" + path }

// Cut returns the page of entries that p asks for and the cursor of the
// next one ("" when this page ends the list). entries must be sorted by
// key, ascending and without repeats; the cursor is the key of the last
// entry of the page. An entry's bytes are those of its JSON encoding: it
// must encode as the answer carries it. A cursor that is too long is refused with
// wire.CodeBadRequest; one that names no entry starts after where that
// entry would be.
func Cut[T any](entries []T, key func(T) string, p wire.Page) ([]T, string, error) {
	if len(p.Cursor) > wire.MaxCursorLen {
		return nil, "", wire.Errorf(wire.CodeBadRequest, "cursor longer than %d bytes", wire.MaxCursorLen)
	}
	if p.Limit < 0 {
		return nil, "", wire.Errorf(wire.CodeBadRequest, "negative page limit %d", p.Limit)
	}
	limit := p.Limit
	switch {
	case limit == 0:
		limit = wire.DefaultPageLimit
	case limit > wire.MaxPageLimit:
		limit = wire.MaxPageLimit
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
