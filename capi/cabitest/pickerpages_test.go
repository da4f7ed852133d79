//go:build linux

package cabitest

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// A folder of 1,100 files is browsable in the picker, 200 entries a page,
// with a "Next" link that the keyboard reaches and follows (focus, Enter);
// every file shows once.
func TestPickerPagesInChromium(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		t.Skip("chromium is not installed (Debian: apt-get install chromium); the picker pages are not tested in a browser")
	}
	dir := pagesFolder(t)
	c := goClient(t)
	defer c.Close()
	if _, err := sdk.NewDesk(c).OpenCloudFile(nil); err != nil {
		t.Fatal(err)
	}
	e := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventPicker })
	tab := startChromium(t, bin)
	tab.navigate(e.Params["url"] + "?" + url.Values{"dir": {dir}}.Encode())

	seen := map[string]bool{}
	for n := 1; ; n++ {
		if problems := tab.eval(a11y); problems != "" {
			t.Errorf("page %d: %s", n, problems)
		}
		rows := tab.eval(`[...document.querySelectorAll("tr.file")].map(r => r.dataset.path).join("\n")`)
		for _, p := range strings.Split(rows, "\n") {
			if seen[p] {
				t.Fatalf("page %d shows %s again", n, p)
			}
			seen[p] = true
		}
		want := fmt.Sprintf("Entries %d to %d of 1100.", (n-1)*200+1, min(n*200, 1100))
		if got := tab.eval(`document.querySelector("nav.pages p").textContent`); got != want {
			t.Errorf("page %d says %q, want %q", n, got, want)
		}
		if tab.eval(`document.querySelector("a.more") !== null`) != "true" {
			if n != 6 {
				t.Errorf("%d pages, want 6", n)
			}
			break
		}
		// The keyboard: the link takes the focus, Enter follows it.
		if got := tab.eval(`(() => { const a = document.querySelector("a.more"); a.focus(); return document.activeElement === a ? a.textContent : "not focused"; })()`); !strings.HasPrefix(got, "Next ") {
			t.Fatalf("page %d: the Next link %q", n, got)
		}
		tab.pressEnter("Next")
	}
	if len(seen) != 1100 || !seen[dir+"/"+servertest.LongName(0)] || !seen[dir+"/"+servertest.LongName(1099)] {
		t.Errorf("the pages showed %d files, want the 1,100", len(seen))
	}
	// Back to the first page.
	tab.click(`document.querySelector("a.first")`)
	if got := tab.eval(`document.querySelector("nav.pages p").textContent`); got != "Entries 1 to 200 of 1100." {
		t.Errorf("first page: %q", got)
	}
}
