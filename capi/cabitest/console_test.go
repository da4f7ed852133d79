//go:build linux

package cabitest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/solver/calculixtest"
)

// The console as an operator uses it, in a real (headless) Chromium
// against the iscd the C programs use: sign in with the admin token, make
// an organisation and issue it a licence, watch the seat appear when a C
// program takes it and vanish when it shuts out (the seats page is live:
// it is never reloaded), freeze the licence and see the running program
// get LicenseState frozen, read the audit entry, cancel a running
// CalculiX job. Every page is checked for accessibility and shot to
// build/console-shots/ for review.
func TestConsoleInChromium(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		t.Skip("chromium is not installed (Debian: apt-get install chromium); the console is not tested in a browser")
	}
	shots := filepath.Join(root, "build", "console-shots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(devEnv["ISCD_CONSOLE_URL"], "/")
	if base == "" {
		t.Fatal("dev.env has no ISCD_CONSOLE_URL")
	}
	tab := startChromium(t, bin)
	tab.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 860, "deviceScaleFactor": 1, "mobile": false}, nil)
	// Whatever the CSP blocks on a page is recorded (a page that needs
	// something its policy forbids is broken in browsers).
	tab.call("Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": `window.cspViolations = [];
document.addEventListener("securitypolicyviolation", e => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));`}, nil)
	shoot := func(name string) {
		t.Helper()
		lang := "en"
		if strings.HasSuffix(name, "-zh") {
			lang = "zh-Hans"
		}
		if problems := tab.eval(a11yIn(lang)); problems != "" {
			t.Errorf("%s: accessibility: %s", name, problems)
		}
		if low := tab.eval(contrast); low != "" {
			t.Errorf("%s: text below WCAG AA contrast: %s", name, low)
		}
		if v := tab.eval(`(window.cspViolations || ["no recorder"]).join("; ")`); v != "" {
			t.Errorf("%s: blocked by its CSP: %s", name, v)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), tab.screenshot(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	str := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	set := func(id, value string) {
		t.Helper()
		if got := tab.eval(fmt.Sprintf(`(() => { const el = document.getElementById(%s); if (!el) return "missing"; el.value = %s; return el.value; })()`, str(id), str(value))); got != value {
			t.Fatalf("set %s to %q: %q", id, value, got)
		}
	}
	text := func(sel string) string {
		return tab.eval(fmt.Sprintf(`(document.querySelector(%s) || {innerText: ""}).innerText`, str(sel)))
	}
	// key presses a key as a keyboard does; tabTo presses Tab until the
	// element of id has the focus (at most 40 times), type types into it.
	key := func(name, code string, vk int, text string) {
		for _, kind := range []string{"keyDown", "keyUp"} {
			ev := map[string]any{"type": kind, "key": name, "code": code, "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk}
			if kind == "keyDown" && text != "" {
				ev["text"] = text
			}
			tab.call("Input.dispatchKeyEvent", ev, nil)
		}
	}
	tabTo := func(id string) {
		t.Helper()
		for range 40 {
			if tab.eval(`document.activeElement ? document.activeElement.id : ""`) == id {
				return
			}
			key("Tab", "Tab", 9, "")
		}
		t.Fatalf("Tab never reached #%s; the focus is on %s", id, tab.eval(`document.activeElement.outerHTML.slice(0, 120)`))
	}
	typeText := func(s string) { tab.call("Input.insertText", map[string]any{"text": s}, nil) }
	enter := func(what string) {
		t.Helper()
		tab.loaded(what, func() { key("Enter", "Enter", 13, "\r") })
	}

	// until waits for a condition the page comes to by itself (a live
	// part): a promise in the page that a MutationObserver resolves.
	until := func(what, cond string) {
		t.Helper()
		var r struct {
			Result struct{ Value string } `json:"result"`
		}
		tab.call("Runtime.evaluate", map[string]any{"awaitPromise": true, "returnByValue": true, "expression": `new Promise(resolve => {
  const ok = () => { try { return (` + cond + `) === true; } catch (e) { return false; } };
  if (ok()) return resolve("yes");
  const mo = new MutationObserver(() => { if (ok()) { mo.disconnect(); resolve("yes"); } });
  mo.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
  setTimeout(() => { mo.disconnect(); resolve(ok() ? "yes" : "no"); }, 25000);
})`}, &r)
		if r.Result.Value != "yes" {
			t.Fatalf("%s: not within 25 s; the page:\n%s", what, tab.eval(`document.body.innerText`))
		}
	}

	// Sign in, with the keyboard alone: Tab to the token's field (from
	// the page's start: the field's autofocus is not relied on), type it,
	// Enter.
	tab.navigate(base + "/signin")
	shoot("signin")
	// The contrast check finds what it is for: grey on white, 2.85:1.
	if got := tab.eval(`(() => { const p = document.createElement("p"); p.id = "faint"; p.textContent = "faint"; p.style.color = "#999"; document.querySelector("main").append(p); return "ok"; })()`); got != "ok" {
		t.Fatal(got)
	}
	if got := tab.eval(contrast); !strings.Contains(got, `p#faint "faint" 2.85:1 < 4.5:1`) {
		t.Errorf("the contrast check of #999 on white: %q", got)
	}
	tab.eval(`document.getElementById("faint").remove(), "ok"`)
	tab.eval(`document.activeElement && document.activeElement.blur(), "ok"`)
	tabTo("token")
	typeText(devEnv["ISCD_ADMIN_TOKEN"])
	enter("Enter in the sign-in form")
	if got := text("#role"); got != "owner" {
		t.Fatalf("signed in with role %q; page:\n%s", got, tab.eval(`document.body.innerText`))
	}

	// An organisation, made in the console; its engineer and API token
	// come from the admin API (iscctl user create, token create).
	name := fmt.Sprintf("Console customer %d", time.Now().UnixNano())
	// With the keyboard too: Tab through the page to the name, type, Enter.
	tab.navigate(base + "/orgs")
	tabTo("org-name")
	typeText(name)
	enter("Enter in the new organisation's form")
	if !strings.Contains(text("#orgs"), name) {
		t.Fatalf("the new organisation is not listed:\n%s", text("#orgs"))
	}
	shoot("orgs")
	ctx, api := context.Background(), admin()
	var orgs []adminapi.Org
	if err := api.Do(ctx, "GET", "/orgs", nil, &orgs); err != nil {
		t.Fatal(err)
	}
	org := ""
	for _, o := range orgs {
		if o.Name == name {
			org = o.ID
		}
	}
	var user adminapi.User
	var tok adminapi.NewToken
	if err := api.Do(ctx, "POST", "/users", adminapi.CreateUser{OrgID: org, Name: "engineer"}, &user); err != nil {
		t.Fatal(err)
	}
	if err := api.Do(ctx, "POST", "/tokens", adminapi.CreateToken{UserID: user.ID}, &tok); err != nil {
		t.Fatal(err)
	}

	// Issue it a licence of one seat.
	tab.navigate(base + "/licenses")
	set("issue-org", org)
	set("issue-product", devEnv["ISCSDK_PRODUCT"])
	set("issue-seats", "1")
	set("issue-edition", "console")
	tab.click(`document.querySelector("#issue button[type=submit]")`)
	if text("#notice") == "" {
		t.Fatalf("no notice after issuing:\n%s", tab.eval(`document.body.innerText`))
	}
	var ls []adminapi.License
	if err := api.Do(ctx, "GET", "/licenses?org="+org, nil, &ls); err != nil || len(ls) != 1 {
		t.Fatalf("the org's licences: %+v %v", ls, err)
	}
	lic := ls[0].ID
	if !strings.Contains(text("#licenses"), lic) {
		t.Fatalf("the issued licence is not listed:\n%s", text("#licenses"))
	}
	shoot("licenses")

	// The seats page, open while a C program takes the seat: its row
	// appears without a reload.
	tab.navigate(base + "/seats")
	seatRow := fmt.Sprintf(`[...document.querySelectorAll("#seats tbody tr")].some(r => r.innerText.includes(%s))`, str(user.ID))
	if tab.eval(seatRow) == "true" {
		t.Fatal("a seat before the program asked for one")
	}
	p := start(t, []string{"ISCSDK_TOKEN=" + tok.Secret}, "license", "freeze")
	p.expect("LICENSED")
	until("the seat appears", seatRow)
	if row := tab.eval(fmt.Sprintf(`[...document.querySelectorAll("#seats tbody tr")].find(r => r.innerText.includes(%s)).innerText`, str(user.ID))); !strings.Contains(row, lic) || !strings.Contains(row, "engineer ("+user.ID+")") {
		t.Errorf("the seat's row: %q", row)
	}
	shoot("seats")

	// Freeze it from the licence's page, with the keyboard (the button
	// takes the focus, Enter presses it): the running program hears it.
	tab.navigate(base + "/licenses/" + lic)
	if got := tab.eval(`(() => { const b = document.querySelector("form[action$='/freeze'] button"); b.focus(); return document.activeElement === b ? b.getAttribute("aria-label") : "not focused"; })()`); got != "Freeze "+lic {
		t.Fatalf("the Freeze button: %q", got)
	}
	tab.pressEnter("Freeze")
	p.expect("FROZEN")
	if got := text("#license tbody"); !strings.Contains(got, "FROZEN") {
		t.Errorf("the licence's page after freezing: %q", got)
	}
	shoot("license")

	// Back on the seats page, unfreeze from the same browser (the page
	// stays open): the program hears it and shuts out, and its row goes.
	tab.navigate(base + "/seats")
	until("the seat is shown", seatRow)
	tab.eval(fmt.Sprintf(`fetch(%s, {method: "POST", body: new URLSearchParams({csrf: document.querySelector("input[name=csrf]").value}), redirect: "manual"}).then(r => r.status)`,
		str(base+"/licenses/"+lic+"/unfreeze")))
	p.expect("UNFROZEN")
	until("the seat vanishes", "!"+seatRow)
	p.finish()

	// The audit log says who froze it: the licence's entries, and the
	// log across licences, newest first, has them on top.
	tab.navigate(base + "/audit?license=" + lic)
	audit := text("#audit")
	byOperator := regexp.MustCompile(`(frozen|active)\tby admin token [0-9a-f]+ through the console`)
	if got := byOperator.FindAllString(audit, -1); len(got) < 2 {
		t.Errorf("the licence's audit log:\n%s", audit)
	}
	tab.navigate(base + "/audit")
	if first := text("#audit tbody tr"); !strings.Contains(first, lic) || !strings.Contains(first, org) {
		t.Errorf("the newest entry of the audit log is not the licence's: %q", first)
	}
	shoot("audit")

	// Cancel a running CalculiX job.
	if _, err := exec.LookPath("ccx"); err != nil {
		t.Log("ccx is not installed (Debian: calculix-ccx): the job is not canceled from the console")
	} else {
		dir := t.TempDir()
		deck := filepath.Join(dir, "long.inp")
		if err := os.WriteFile(deck, []byte(calculixtest.EndlessDeck), 0o600); err != nil {
			t.Fatal(err)
		}
		j := start(t, nil, "solve", "long", dir, deck)
		j.expect("RUNNING")
		tab.navigate(base + "/jobs")
		cancel := `[...document.querySelectorAll("#jobs tbody tr")].find(r => r.innerText.includes("running") && r.innerText.includes("long.inp"))`
		jobID := tab.eval(cancel + `.dataset.key`)
		shoot("jobs")
		tab.navigate(base + "/jobs/" + jobID)
		until("the solver's output", `document.getElementById("log").innerText.includes("increment")`)
		until("the job's progress", `document.querySelector("#jobs tbody tr").cells[5].innerText.endsWith("%")`)
		shoot("job")
		tab.click(`document.querySelector("form[action$='/cancel'] button")`)
		if got := j.expect("ENDED "); !strings.HasPrefix(got, "canceled canceled") {
			t.Errorf("the program's result after the console's cancel: %q", got)
		}
		j.finish()
		tab.navigate(base + "/jobs/" + jobID)
		if got := text("#jobs tbody"); !strings.Contains(got, "canceled") {
			t.Errorf("the job's page after cancel: %q", got)
		}
	}

	// The other pages, each shot.
	for _, pg := range []string{"products", "sessions", "workers", "solvers", "releases", "usage?org=" + server.DevOrg, "storage?org=" + server.DevOrg, "marketplace", "org?org=" + org} {
		tab.navigate(base + "/" + pg)
		name, _, _ := strings.Cut(pg, "?")
		shoot(name)
	}
	// The organisation's admin signs in with their API token and sees
	// their organisation alone.
	tab.click(`document.querySelector("form[action='/console/signout'] button")`)
	var it adminapi.User
	var itTok adminapi.NewToken
	if err := api.Do(ctx, "POST", "/users", adminapi.CreateUser{OrgID: org, Name: "Customer IT", Role: adminapi.UserRoleAdmin}, &it); err != nil {
		t.Fatal(err)
	}
	if err := api.Do(ctx, "POST", "/tokens", adminapi.CreateToken{UserID: it.ID}, &itTok); err != nil {
		t.Fatal(err)
	}
	set("token", itTok.Secret)
	tab.click(`document.getElementById("signin")`)
	if got := tab.eval(`[...document.querySelectorAll("nav a")].map(a => a.textContent).join(",")`); got != "My organisation,Licences,Seats in use,Jobs,Usage,Cloud storage,Audit log" {
		t.Errorf("the organisation admin's menu: %q", got)
	}
	if users := text("#users"); !strings.Contains(users, "Customer IT") || !strings.Contains(users, "engineer") {
		t.Errorf("the organisation admin's users:\n%s", users)
	}
	shoot("customer-org")
	tab.navigate(base + "/licenses")
	if got := text("#licenses tbody"); !strings.Contains(got, lic) || strings.Contains(got, "demo-floating") {
		t.Errorf("the organisation admin's licences: %q", got)
	}
	shoot("customer-licenses")
	tab.navigate(base + "/audit")
	if got := text("#audit tbody"); !strings.Contains(got, lic) || strings.Contains(got, "demo-floating") {
		t.Errorf("the organisation admin's audit log: %q", got)
	}
	shoot("customer-audit")

	// 中文: the same checks (the page's language is zh-Hans).
	for _, pg := range []struct{ path, h1 string }{{"licenses", "许可证"}, {"seats", "在用席位"}, {"audit", "审计日志"}, {"usage", "用量"}, {"org", "我的组织"}} {
		tab.navigate(base + "/" + pg.path + "?lang=zh-Hans")
		if got := tab.eval(`document.querySelector("h1").textContent`); got != pg.h1 {
			t.Errorf("the Chinese %s page: %q", pg.path, got)
		}
		shoot(pg.path + "-zh")
	}
	// The dark scheme's colours keep their contrast too.
	tab.call("Emulation.setEmulatedMedia", map[string]any{"features": []map[string]string{{"name": "prefers-color-scheme", "value": "dark"}}}, nil)
	for _, pg := range []string{"licenses", "licenses/" + lic, "seats", "jobs", "usage", "storage", "audit", "org"} {
		tab.navigate(base + "/" + pg + "?lang=en")
		if dark := tab.eval(`getComputedStyle(document.body).backgroundColor`); dark != "rgb(22, 24, 29)" {
			t.Fatalf("%s in the dark scheme: the body's background is %s", pg, dark)
		}
		if low := tab.eval(contrast); low != "" {
			t.Errorf("%s, dark: text below WCAG AA contrast: %s", pg, low)
		}
	}
	tab.call("Emulation.setEmulatedMedia", map[string]any{"features": []map[string]string{}}, nil)
	tab.navigate(base + "/licenses?lang=en")
}

// contrast finds the text of a page whose colour against its background
// (the first one not transparent, up from its element) is below WCAG
// 2.x AA: 4.5:1, or 3:1 for large text (24 px, or 18.66 px bold). SVG
// text is painted with its fill. "" when all of it passes.
const contrast = `(() => {
  const rgba = c => { const m = /rgba?\(([^)]+)\)/.exec(c || ""); if (!m) return null;
    const v = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number); return {r: v[0], g: v[1], b: v[2], a: v.length > 3 ? v[3] : 1}; };
  const lum = c => { const f = x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const background = el => {
    for (let e = el; e; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor); if (c && c.a > 0) return c; }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.getAttribute("class") ? "." + el.getAttribute("class").split(" ").join(".") : "");
  const low = [], seen = new Set();
  const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (w.nextNode()) {
    const el = w.currentNode.parentElement;
    if (!w.currentNode.textContent.trim() || seen.has(el)) continue;
    seen.add(el);
    const s = getComputedStyle(el);
    if (s.display === "none" || s.visibility === "hidden" || el.getClientRects().length === 0 || el.closest("title")) continue;
    const bg = background(el);
    const fg = rgba(el instanceof SVGElement ? s.fill : s.color);
    if (!fg) continue;
    const c = {r: fg.r * fg.a + bg.r * (1 - fg.a), g: fg.g * fg.a + bg.g * (1 - fg.a), b: fg.b * fg.a + bg.b * (1 - fg.a)};
    const l1 = lum(c), l2 = lum(bg), ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const px = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
    const need = px >= 24 || (bold && px >= 18.66) ? 3 : 4.5;
    if (ratio < need) low.push(name(el) + " " + JSON.stringify(w.currentNode.textContent.trim().slice(0, 30)) + " " + ratio.toFixed(2) + ":1 < " + need + ":1");
  }
  return low.join("; ");
})()`
