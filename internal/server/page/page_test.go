package page

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/wire"
)

func walk(t *testing.T, entries []string, limit int) (pages [][]string) {
	t.Helper()
	cursor := ""
	for {
		got, next, err := Cut(entries, func(s string) string { return s }, wire.Page{Cursor: cursor, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, got)
		if next == "" {
			return pages
		}
		if len(pages) > len(entries)+1 {
			t.Fatal("the walk does not end")
		}
		cursor = next
	}
}

func TestCutWalksEveryEntryOnce(t *testing.T) {
	var entries []string
	for i := range 1100 {
		entries = append(entries, fmt.Sprintf("/f/%04d-%s", i, strings.Repeat("x", 200)))
	}
	for _, tc := range []struct{ limit, pages, first int }{
		{0, 6, wire.DefaultPageLimit}, // the default
		{500, 3, 500},                 // as asked
		{5000, 2, wire.MaxPageLimit},  // at most the maximum
		{1100, 2, wire.MaxPageLimit},  // the maximum again
		{1, 1100, 1},                  // one at a time
	} {
		pages := walk(t, entries, tc.limit)
		if len(pages) != tc.pages || len(pages[0]) != tc.first {
			t.Errorf("limit %d: %d pages, the first of %d; want %d and %d", tc.limit, len(pages), len(pages[0]), tc.pages, tc.first)
		}
		if all := slices.Concat(pages...); !slices.Equal(all, entries) {
			t.Errorf("limit %d: the pages hold %d entries, not the %d in order", tc.limit, len(all), len(entries))
		}
	}
}

func TestCutBoundsBytes(t *testing.T) {
	// Names that JSON escapes six-fold: 1,000 of them are ~6 MB.
	var entries []string
	for i := range 1000 {
		entries = append(entries, fmt.Sprintf("%04d%s", i, strings.Repeat("<", 1000)))
	}
	pages := walk(t, entries, wire.MaxPageLimit)
	if len(pages) < 7 {
		t.Fatalf("%d pages for ~6 MB of entries", len(pages))
	}
	if all := slices.Concat(pages...); !slices.Equal(all, entries) {
		t.Fatal("entries lost or repeated")
	}
}

func TestCutCursorBetweenEntries(t *testing.T) {
	entries := []string{"a", "c", "e"}
	// An entry removed between pages: the walk goes on after where it was.
	got, next, err := Cut(entries, func(s string) string { return s }, wire.Page{Cursor: "b", Limit: 1})
	if err != nil || !slices.Equal(got, []string{"c"}) || next != "c" {
		t.Fatalf("after b: %v %q %v", got, next, err)
	}
	if _, _, err := Cut(entries, func(s string) string { return s }, wire.Page{Cursor: strings.Repeat("x", wire.MaxCursorLen+1)}); err == nil {
		t.Fatal("a cursor too long was taken")
	}
	if _, _, err := Cut(entries, func(s string) string { return s }, wire.Page{Limit: -1}); err == nil {
		t.Fatal("a negative limit was taken")
	}
}
