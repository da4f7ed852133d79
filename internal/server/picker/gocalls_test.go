package picker_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/server/picker"
	"github.com/iscsdk/iscsdk/sdk"
)

// pickResult is what a pick that ran on its own goroutine returned.
type pickResult struct {
	p   sdk.Picked
	err error
}

// The Go calls: PickFile and PickSaveAs show the page through Shown, wait
// for the user's choice in it and return it; Cancel in the page is
// ErrPickerCancelled.
func TestPickGoCalls(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.save(filepath.Join(t.TempDir(), "bracket.prt"), "/parts/bracket.prt", "bracket v1")
	pages := make(chan sdk.PickerPage, 1)
	shown := sdk.PickOptions{Shown: func(p sdk.PickerPage) { pages <- p }}
	done := make(chan pickResult, 1)

	go func() { p, err := e.c.PickFile(ctx, shown); done <- pickResult{p, err} }()
	page := <-pages
	if page.Mode != "open" || page.Browser != "off" || page.ID == "" || !strings.HasPrefix(page.URL, e.origin()+picker.Path) || page.Expires.IsZero() {
		t.Fatalf("page %+v", page)
	}
	nonce, _ := e.page(page.URL + "?dir=/parts")
	if code, _ := e.post(page.URL, e.origin(), url.Values{"nonce": {nonce}, "action": {"checkout"}, "path": {"/parts/bracket.prt"}}); code != http.StatusOK {
		t.Fatalf("pick: %d", code)
	}
	if r := <-done; r.err != nil || r.p.CloudPath != "/parts/bracket.prt" || !r.p.Checkout {
		t.Fatalf("PickFile: %+v %v", r.p, r.err)
	}

	local := filepath.Join(t.TempDir(), "housing.prt")
	os.WriteFile(local, []byte("housing"), 0o600)
	go func() { p, err := e.c.PickSaveAs(ctx, local, shown); done <- pickResult{p, err} }()
	page = <-pages
	nonce, _ = e.page(page.URL)
	if code, _ := e.post(page.URL, e.origin(), url.Values{"nonce": {nonce}, "action": {"save"}, "dir": {"/"}, "name": {"new folder/housing v2.prt"}}); code != http.StatusOK {
		t.Fatalf("save pick: %d", code)
	}
	if r := <-done; r.err != nil || r.p.CloudPath != "/new folder/housing v2.prt" || page.Mode != "save" {
		t.Fatalf("PickSaveAs: %+v %v (page %+v)", r.p, r.err, page)
	}

	go func() { p, err := e.c.PickFile(ctx, shown); done <- pickResult{p, err} }()
	page = <-pages
	nonce, _ = e.page(page.URL)
	if code, _ := e.post(page.URL, e.origin(), url.Values{"nonce": {nonce}, "action": {"cancel"}}); code != http.StatusOK {
		t.Fatalf("cancel: %d", code)
	}
	if r := <-done; !errors.Is(r.err, sdk.ErrPickerCancelled) {
		t.Fatalf("cancelled PickFile: %+v %v", r.p, r.err)
	}

	// Nothing to save: refused before any page exists.
	if _, err := e.c.PickSaveAs(ctx, filepath.Join(t.TempDir(), "none.prt"), shown); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("PickSaveAs of a missing file: %v", err)
	}
}
