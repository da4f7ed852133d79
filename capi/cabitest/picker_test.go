//go:build linux

package cabitest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// a11y is a smoke check of an English page's accessibility: the
// problems found, "" when none.
var a11y = a11yIn("en")

// a11yIn is a11y for a page in the language lang (its <html lang>).
func a11yIn(lang string) string {
	return `(() => {
  const p = [];
  if (document.documentElement.lang !== "` + lang + `") p.push("<html lang> is " + JSON.stringify(document.documentElement.lang) + ", not ` + lang + `");
  if (!document.title) p.push("no <title>");
  if (document.querySelectorAll("h1").length !== 1) p.push("not exactly one <h1>");
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea"))
    if (!(el.labels && el.labels.length) && !el.getAttribute("aria-label")) p.push("unlabelled input " + el.name);
  for (const b of document.querySelectorAll("button"))
    if (!(b.getAttribute("aria-label") || b.textContent.trim())) p.push("a button without a name");
  for (const a of document.querySelectorAll("a"))
    if (!a.textContent.trim()) p.push("a link without text");
  for (const t of document.querySelectorAll("table"))
    if (!t.querySelector("caption") || !t.querySelector("th[scope=col]")) p.push("a table without caption or column headers");
  if (document.querySelector("nav") && !document.querySelector("nav[aria-label]")) p.push("an unnamed <nav>");
  return p.join("; ");
})()`
}

// The pickers in a real browser: a C program asks for them through the
// header, headless Chromium clicks through the pages, and the C program
// gets the OpenFile and SaveResult events.
func TestPickerInChromium(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		t.Skip("chromium is not installed (Debian: apt-get install chromium); the picker pages are not tested in a browser")
	}
	tab := startChromium(t, bin)
	// A cloud folder of this run's own: iscd lives as long as the package's tests.
	folder := fmt.Sprintf("pick%d", time.Now().UnixNano())
	p := start(t, nil, "picker", t.TempDir(), folder)
	intoFolder := fmt.Sprintf(`[...document.querySelectorAll("tr.folder a")].find(a => a.textContent === "%s/")`, folder)

	// Open: into the folder, "Open and check out" on the file.
	u := p.expect("PICKER ")
	tab.navigate(u)
	if got := tab.eval(`document.querySelector("h1").textContent`); got != "Open a file from the cloud" {
		t.Fatalf("heading %q", got)
	}
	// The inline style applies: the Content-Security-Policy lets it through.
	if got := tab.eval(`getComputedStyle(document.querySelector("table")).borderCollapse`); got != "collapse" {
		t.Errorf("the page's style did not apply (CSP?): border-collapse %q", got)
	}
	tab.click(intoFolder)
	if problems := tab.eval(a11y); problems != "" {
		t.Errorf("open page: %s", problems)
	}
	if got := tab.eval(`document.querySelector('nav [aria-current="page"]').textContent`); got != folder {
		t.Errorf("breadcrumb %q", got)
	}
	row := `document.querySelector('tr.file[data-path="/` + folder + `/bracket.prt"]')`
	if got := tab.eval(row + `.innerText`); !strings.Contains(got, "v1") || !strings.Contains(got, "Checked in") {
		t.Errorf("file row %q", got)
	}
	if dir := os.Getenv("ISCSDK_TEST_SCREENSHOTS"); dir != "" { // to look at; never committed
		os.WriteFile(filepath.Join(dir, "picker-open.png"), tab.screenshot(), 0o644)
	}
	tab.click(row + `.querySelector('button[value="checkout"]')`)
	if got := tab.eval(`document.body.innerText`); !strings.Contains(got, "bracket.prt is opening in your program") || !strings.Contains(got, "close this tab") {
		t.Errorf("after the pick: %q", got)
	}
	p.expect("OPENED ")
	// The link served its pick.
	tab.navigate(u)
	if got := tab.eval(`document.querySelector("h1").textContent`); got != "Link already used" {
		t.Errorf("used link: %q", got)
	}

	// Save as: into the folder, type a name, "Save here".
	u = p.expect("PICKER ")
	tab.navigate(u)
	if got := tab.eval(`document.getElementById("name").value`); got != "housing.prt" {
		t.Errorf("proposed name %q", got)
	}
	tab.click(intoFolder)
	if problems := tab.eval(a11y); problems != "" {
		t.Errorf("save page: %s", problems)
	}
	// The file there is checked out by us now, and says so.
	if got := tab.eval(`document.querySelector('tr.file[data-path="/` + folder + `/bracket.prt"]').innerText`); !strings.Contains(got, "Checked out by you") {
		t.Errorf("file row %q", got)
	}
	if dir := os.Getenv("ISCSDK_TEST_SCREENSHOTS"); dir != "" {
		os.WriteFile(filepath.Join(dir, "picker-save.png"), tab.screenshot(), 0o644)
	}
	tab.eval(`document.getElementById("name").value = "housing v2.prt"`)
	tab.click(`document.querySelector('button[value="save"]')`)
	if got := tab.eval(`document.body.innerText`); !strings.Contains(got, "saving to /"+folder+"/housing v2.prt") {
		t.Errorf("after the save pick: %q", got)
	}
	if got := p.expect("SAVED "); got != "/"+folder+"/housing v2.prt" {
		t.Errorf("saved to %q", got)
	}

	// Cancel.
	u = p.expect("PICKER ")
	tab.navigate(u)
	tab.click(`document.querySelector('button[value="cancel"]')`)
	if got := tab.eval(`document.body.innerText`); !strings.Contains(got, "Cancelled") {
		t.Errorf("after cancel: %q", got)
	}
	p.expect("CANCELLED")
	p.finish()
}
