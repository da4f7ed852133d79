//go:build linux

package cabitest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
		if problems := tab.eval(a11y); problems != "" {
			t.Errorf("%s: accessibility: %s", name, problems)
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

	// Sign in.
	tab.navigate(base + "/signin")
	shoot("signin")
	set("token", devEnv["ISCD_ADMIN_TOKEN"])
	tab.click(`document.getElementById("signin")`)
	if got := text("#role"); got != "owner" {
		t.Fatalf("signed in with role %q; page:\n%s", got, tab.eval(`document.body.innerText`))
	}

	// An organisation, made in the console; its engineer and API token
	// come from the admin API (iscctl user create, token create).
	name := fmt.Sprintf("Console customer %d", time.Now().UnixNano())
	tab.navigate(base + "/orgs")
	set("org-name", name)
	tab.click(`document.querySelector("#create-org button[type=submit]")`)
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

	// The audit log says who froze it.
	tab.navigate(base + "/audit?license=" + lic)
	audit := text("#audit")
	if !strings.Contains(audit, "frozen\tby an operator") || !strings.Contains(audit, "active\tby an operator") {
		t.Errorf("the audit log:\n%s", audit)
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
	if got := tab.eval(`[...document.querySelectorAll("nav a")].map(a => a.textContent).join(",")`); got != "My organisation,Licences,Seats in use,Jobs,Usage,Cloud storage" {
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

	// 中文.
	tab.navigate(base + "/licenses?lang=zh-Hans")
	if got := tab.eval(`document.querySelector("h1").textContent`); got != "许可证" {
		t.Errorf("the Chinese licences page: %q", got)
	}
	if err := os.WriteFile(filepath.Join(shots, "licenses-zh.png"), tab.screenshot(), 0o644); err != nil {
		t.Fatal(err)
	}
	tab.navigate(base + "/licenses?lang=en")
}
