//go:build linux

package cabitest

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// A headless Chromium driven over the DevTools protocol: enough of it to
// load pages, click, read the DOM and take screenshots. No library: the
// protocol is JSON over a WebSocket, and these few commands are all the
// picker tests need.

// chromiumPath finds Debian's chromium (or another Chromium-based browser).
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// cdpMsg is a DevTools protocol message: a command's answer (ID set) or
// an event (Method set).
type cdpMsg struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// tab is one page of a headless Chromium that the test started.
type tab struct {
	t       *testing.T
	conn    *websocket.Conn
	session string // the page's DevTools session (flattened)

	mu      sync.Mutex
	next    int
	pending map[int]chan cdpMsg
	loads   chan struct{} // one per Page.loadEventFired
	wmu     sync.Mutex
}

const cdpTimeout = 30 * time.Second

// startChromium starts a headless Chromium with its own profile and opens
// a tab. The browser is killed when the test ends.
func startChromium(t *testing.T, bin string) *tab {
	t.Helper()
	profile := t.TempDir()
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
		"--user-data-dir="+profile, "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--no-first-run", "--disable-quic", "--window-size=1000,700", "about:blank")
	cmd.Env = append(os.Environ(), "HOME="+profile)
	// Its own process group: the renderers and helpers go with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	// Runs after the tab's cleanup (which asks the browser to close) and
	// before the profile directory is removed.
	t.Cleanup(func() {
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "DevTools listening on "); ok && !sent {
				found <- strings.TrimSpace(u)
				sent = true
			}
		}
		if !sent {
			close(found)
		}
		io.Copy(io.Discard, stderr)
	}()
	var wsURL string
	select {
	case u, ok := <-found:
		if !ok {
			t.Fatal("chromium exited without a DevTools URL")
		}
		wsURL = u
	case <-time.After(cdpTimeout):
		t.Fatalf("chromium printed no DevTools URL within %v", cdpTimeout)
	}
	conn, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	tb := &tab{t: t, conn: conn, pending: map[int]chan cdpMsg{}, loads: make(chan struct{}, 64)}
	go tb.read()
	t.Cleanup(func() {
		// Browser.close ends every process of the browser cleanly; its
		// answer may not come before the connection drops.
		b, _ := json.Marshal(map[string]any{})
		tb.wmu.Lock()
		conn.WriteJSON(cdpMsg{ID: 1 << 30, Method: "Browser.close", Params: b})
		tb.wmu.Unlock()
		conn.Close()
	})

	var target struct{ TargetID string }
	tb.browserCall("Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct{ SessionID string }
	tb.browserCall("Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	tb.session = attached.SessionID
	tb.call("Page.enable", nil, nil)
	return tb
}

func (tb *tab) read() {
	for {
		var m cdpMsg
		if err := tb.conn.ReadJSON(&m); err != nil {
			tb.mu.Lock()
			for id, ch := range tb.pending {
				close(ch)
				delete(tb.pending, id)
			}
			tb.mu.Unlock()
			return
		}
		if m.ID != 0 {
			tb.mu.Lock()
			ch := tb.pending[m.ID]
			delete(tb.pending, m.ID)
			tb.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		if m.Method == "Page.loadEventFired" && m.SessionID == tb.session {
			select {
			case tb.loads <- struct{}{}:
			default:
			}
		}
	}
}

func (tb *tab) browserCall(method string, params, out any) { tb.send("", method, params, out) }
func (tb *tab) call(method string, params, out any)        { tb.send(tb.session, method, params, out) }

func (tb *tab) send(session, method string, params, out any) {
	tb.t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	tb.mu.Lock()
	tb.next++
	id := tb.next
	ch := make(chan cdpMsg, 1)
	tb.pending[id] = ch
	tb.mu.Unlock()
	b, _ := json.Marshal(params)
	tb.wmu.Lock()
	err := tb.conn.WriteJSON(cdpMsg{ID: id, Method: method, Params: b, SessionID: session})
	tb.wmu.Unlock()
	if err != nil {
		tb.t.Fatalf("%s: %v", method, err)
	}
	select {
	case m, ok := <-ch:
		switch {
		case !ok:
			tb.t.Fatalf("%s: the browser connection closed", method)
		case m.Error != nil:
			tb.t.Fatalf("%s: %s", method, m.Error.Message)
		case out != nil:
			if err := json.Unmarshal(m.Result, out); err != nil {
				tb.t.Fatalf("%s: %v", method, err)
			}
		}
	case <-time.After(cdpTimeout):
		tb.t.Fatalf("%s: no answer within %v", method, cdpTimeout)
	}
}

// loaded runs action, which makes the page navigate, and waits until the
// new page has loaded.
func (tb *tab) loaded(what string, action func()) {
	tb.t.Helper()
	for len(tb.loads) > 0 { // loads of earlier pages
		<-tb.loads
	}
	action()
	select {
	case <-tb.loads:
	case <-time.After(cdpTimeout):
		tb.t.Fatalf("%s: no page loaded within %v", what, cdpTimeout)
	}
}

// navigate loads u.
func (tb *tab) navigate(u string) {
	tb.t.Helper()
	tb.loaded("navigate to "+u, func() {
		var r struct{ ErrorText string }
		tb.call("Page.navigate", map[string]any{"url": u}, &r)
		if r.ErrorText != "" {
			tb.t.Fatalf("navigate to %s: %s", u, r.ErrorText)
		}
	})
}

// eval evaluates a JavaScript expression in the page and returns its
// value as a string (JSON for what is not a string).
func (tb *tab) eval(expr string) string {
	tb.t.Helper()
	var r struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	tb.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r)
	if e := r.ExceptionDetails; e != nil {
		tb.t.Fatalf("evaluate %s: %s %s", expr, e.Text, e.Exception.Description)
	}
	var s string
	if json.Unmarshal(r.Result.Value, &s) == nil {
		return s
	}
	return string(r.Result.Value)
}

// click clicks the element that the JavaScript expression sel yields and
// waits for the page it leads to.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	if got := tb.eval(fmt.Sprintf(`(() => { const el = %s; if (!el) return "missing"; if (el.disabled) return "disabled"; return "ok"; })()`, sel)); got != "ok" {
		tb.t.Fatalf("click %s: %s\npage: %s", sel, got, tb.eval(`document.body.innerText`))
	}
	tb.loaded("click "+sel, func() { tb.eval(fmt.Sprintf(`(%s).click()`, sel)) })
}

// pressEnter presses Enter on the element that has the focus (a button
// submits its form, a link is followed), as a keyboard user does, and
// waits for the page it leads to.
func (tb *tab) pressEnter(what string) {
	tb.t.Helper()
	tb.loaded("Enter on "+what, func() {
		for _, kind := range []string{"keyDown", "keyUp"} {
			tb.call("Input.dispatchKeyEvent", map[string]any{"type": kind, "key": "Enter", "code": "Enter",
				"windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13, "text": "\r"}, nil)
		}
	})
}

// screenshot returns a PNG of the page.
func (tb *tab) screenshot() []byte {
	tb.t.Helper()
	var r struct{ Data string }
	tb.call("Page.captureScreenshot", map[string]any{"format": "png"}, &r)
	b, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		tb.t.Fatal(err)
	}
	return b
}
