package picker_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/picker"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// clock is a settable clock for link expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type env struct {
	t     *testing.T
	srv   *servertest.Server
	c     *sdk.Client
	clock *clock
	http  *http.Client
}

func setup(t *testing.T) *env {
	clk := &clock{t: time.Now()}
	srv := servertest.StartConfig(t, server.Config{Picker: picker.Config{Now: clk.now}})
	c, err := sdk.Init(context.Background(), sdk.Config{
		Endpoint: srv.Endpoint, Token: srv.APIToken, ProductID: srv.Product, WorkspaceDir: t.TempDir(),
		CredentialsFile: filepath.Join(t.TempDir(), "none"), NoBrowser: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &env{t: t, srv: srv, c: c, clock: clk, http: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
}

// event waits for the event of request id of type typ.
func (e *env) event(id uint64, typ sdk.EventType) sdk.Event {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		ev, err := e.c.PollEvent(ctx)
		if err != nil {
			e.t.Fatalf("waiting for %v of request %d: %v", typ, id, err)
		}
		if ev.RequestID == id && ev.Type == typ {
			return ev
		}
		if ev.Type == sdk.EventPicker && ev.Operate != "Picker" {
			e.t.Fatalf("the host saw the SDK's own event: %s", ev.JSON())
		}
	}
}

func (e *env) get(u string) (int, http.Header, string) {
	e.t.Helper()
	resp, err := e.http.Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func (e *env) post(u, origin string, form url.Values) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var nonceRE = regexp.MustCompile(`name="nonce" value="([^"]+)"`)

// page reads a picker page and returns its nonce and body.
func (e *env) page(u string) (string, string) {
	e.t.Helper()
	code, _, body := e.get(u)
	m := nonceRE.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		e.t.Fatalf("GET %s: %d\n%s", u, code, body)
	}
	return m[1], body
}

func (e *env) origin() string { return "http://" + e.srv.Addr }

func (e *env) save(local, cloud, content string) {
	e.t.Helper()
	if err := os.WriteFile(local, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.c.SaveTo(context.Background(), local, cloud, 0, sdk.SaveOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func TestOpenPicked(t *testing.T) {
	e := setup(t)
	e.save(filepath.Join(t.TempDir(), "bracket.prt"), "/parts/bracket.prt", "bracket v1")
	id, err := sdk.NewDesk(e.c).OpenCloudFile([]byte(`{"k":1}`))
	if err != nil {
		t.Fatal(err)
	}
	pe := e.event(id, sdk.EventPicker)
	u := pe.Params["url"]
	if !strings.HasPrefix(u, e.origin()+picker.Path) || pe.Params["mode"] != "open" || pe.Params["browser"] != "off" || string(pe.ComeBack) != `{"k":1}` {
		t.Fatalf("picker event %s", pe.JSON())
	}

	code, h, body := e.get(u)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d", u, code)
	}
	for k, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "same-origin", "Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"} {
		if h.Get(k) != want {
			t.Errorf("%s: %q, want %q", k, h.Get(k), want)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, ">parts/</a>") {
		t.Fatalf("root page:\n%s", body)
	}
	nonce, body := e.page(u + "?dir=/parts")
	for _, want := range []string{"bracket.prt", "v1", "10 B", "Checked in", `value="checkout"`} {
		if !strings.Contains(body, want) {
			t.Errorf("folder page lacks %q", want)
		}
	}

	// Forms from elsewhere, or without the page's nonce, are refused.
	pick := url.Values{"nonce": {nonce}, "action": {"checkout"}, "path": {"/parts/bracket.prt"}}
	if code, _ := e.post(u, "http://evil.example", pick); code != http.StatusForbidden {
		t.Errorf("cross-origin pick: %d", code)
	}
	bad := url.Values{"nonce": {"x" + nonce}, "action": {"checkout"}, "path": {"/parts/bracket.prt"}}
	if code, _ := e.post(u, e.origin(), bad); code != http.StatusForbidden {
		t.Errorf("pick with a wrong nonce: %d", code)
	}
	// A file that is not there is not picked.
	gone := url.Values{"nonce": {nonce}, "action": {"open"}, "path": {"/parts/none.prt"}}
	if code, _ := e.post(u, e.origin(), gone); code != http.StatusUnprocessableEntity {
		t.Errorf("pick of a missing file: %d", code)
	}

	if code, body := e.post(u, e.origin(), pick); code != http.StatusOK || !strings.Contains(body, "You can close this tab") {
		t.Fatalf("pick: %d\n%s", code, body)
	}
	ev := e.event(id, sdk.EventOpenCloudFile)
	p := ev.Params
	if p["status"] != "success" || p["workState"] != "CHECKOUT" || p["cloudPath"] != "/parts/bracket.prt" || string(ev.ComeBack) != `{"k":1}` {
		t.Fatalf("open event %s", ev.JSON())
	}
	if b, err := os.ReadFile(p["mainFile"]); err != nil || string(b) != "bracket v1" {
		t.Fatalf("opened file: %q, %v", b, err)
	}

	// The link is used up.
	if code, _, body := e.get(u); code != http.StatusGone || !strings.Contains(body, "already used") {
		t.Errorf("used link: %d\n%s", code, body)
	}
	if code, _ := e.post(u, e.origin(), pick); code != http.StatusGone {
		t.Errorf("second pick: %d", code)
	}
}

func TestSavePicked(t *testing.T) {
	e := setup(t)
	local := filepath.Join(t.TempDir(), "housing.prt")
	if err := os.WriteFile(local, []byte("housing"), 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := sdk.NewDesk(e.c).SelectSaveAsPath(local, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := e.event(id, sdk.EventPicker).Params["url"]
	nonce, body := e.page(u)
	if !strings.Contains(body, `value="housing.prt"`) || !strings.Contains(body, `<label for="name">`) {
		t.Fatalf("save page does not propose the local name:\n%s", body)
	}
	// A name that leaves its folder is refused; the page says why.
	if code, body := e.post(u, e.origin(), url.Values{"nonce": {nonce}, "action": {"save"}, "dir": {"/"}, "name": {"../x.prt"}}); code != http.StatusUnprocessableEntity || !strings.Contains(body, `role="alert"`) {
		t.Fatalf("bad name: %d\n%s", code, body)
	}
	// A name some computer could not open: the page names the rule.
	if code, body := e.post(u, e.origin(), url.Values{"nonce": {nonce}, "action": {"save"}, "dir": {"/"}, "name": {"aux.prt"}}); code != http.StatusUnprocessableEntity || !strings.Contains(body, "is a Windows device name") {
		t.Fatalf("device name: %d\n%s", code, body)
	}
	if code, _ := e.post(u, e.origin(), url.Values{"nonce": {nonce}, "action": {"save"}, "dir": {"/"}, "name": {"new folder/housing v2.prt"}}); code != http.StatusOK {
		t.Fatalf("save pick: %d", code)
	}
	ev := e.event(id, sdk.EventSaveResult)
	if ev.Params["status"] != "success" || ev.Params["cloudPath"] != "/new folder/housing v2.prt" || ev.Params["version"] != "1" {
		t.Fatalf("save event %s", ev.JSON())
	}
	if fi, err := e.c.Stat(context.Background(), "/new folder/housing v2.prt"); err != nil || fi.Size != 7 {
		t.Fatalf("stat: %+v, %v", fi, err)
	}
}

func TestCancelled(t *testing.T) {
	e := setup(t)
	local := filepath.Join(t.TempDir(), "a.prt")
	os.WriteFile(local, []byte("a"), 0o600)
	id, err := sdk.NewDesk(e.c).SelectSaveAsPath(local, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := e.event(id, sdk.EventPicker).Params["url"]
	nonce, _ := e.page(u)
	if code, body := e.post(u, e.origin(), url.Values{"nonce": {nonce}, "action": {"cancel"}}); code != http.StatusOK || !strings.Contains(body, "Cancelled") {
		t.Fatalf("cancel: %d\n%s", code, body)
	}
	ev := e.event(id, sdk.EventSaveResult)
	if ev.Params["status"] != "failed" || ev.Params["errorCode"] != "cancelled" {
		t.Fatalf("cancel event %s", ev.JSON())
	}
}

func TestMissingLocalFile(t *testing.T) {
	e := setup(t)
	id, err := sdk.NewDesk(e.c).SelectSaveAsPath(filepath.Join(t.TempDir(), "none.prt"), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev := e.event(id, sdk.EventSaveResult); ev.Params["errorCode"] != "missing_file" {
		t.Fatalf("event %s", ev.JSON())
	}
}

func TestLinkStates(t *testing.T) {
	e := setup(t)
	if code, _, body := e.get(e.origin() + picker.Path + "NOSUCHTOKEN"); code != http.StatusNotFound || !strings.Contains(body, "not known") {
		t.Errorf("unknown link: %d\n%s", code, body)
	}
	id, err := sdk.NewDesk(e.c).OpenCloudFile(nil)
	if err != nil {
		t.Fatal(err)
	}
	u := e.event(id, sdk.EventPicker).Params["url"]
	nonce, _ := e.page(u)
	e.clock.add(picker.DefaultTTL)
	if code, _, body := e.get(u); code != http.StatusGone || !strings.Contains(body, "expired") {
		t.Errorf("expired link: %d\n%s", code, body)
	}
	if code, _ := e.post(u, e.origin(), url.Values{"nonce": {nonce}, "action": {"cancel"}}); code != http.StatusGone {
		t.Errorf("pick on an expired link: %d", code)
	}
	// A token differing in one character is another (unknown) link.
	repl := "A"
	if strings.HasSuffix(u, "A") {
		repl = "B"
	}
	bad := u[:len(u)-1] + repl
	if code, _, _ := e.get(bad); code != http.StatusNotFound {
		t.Errorf("near token: %d", code)
	}

	// When the program shuts out, its live links say so.
	e.clock.add(-picker.DefaultTTL)
	id, err = sdk.NewDesk(e.c).OpenCloudFile(nil)
	if err != nil {
		t.Fatal(err)
	}
	u = e.event(id, sdk.EventPicker).Params["url"]
	e.c.Close()
	if code, _, body := e.get(u); code != http.StatusGone || !strings.Contains(body, "no longer connected") {
		t.Errorf("link of a closed session: %d\n%s", code, body)
	}
}
