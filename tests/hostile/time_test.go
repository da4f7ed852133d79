package hostile_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// TestTrustedTimeDeletedOrCorrupted: a program has seen the service's
// clock an hour ahead of this machine's (as a user who set the clock back
// an hour sees it), so its licence checks answer clock_tampered. Deleting
// or corrupting either copy of the trusted-time mark, in a later run of the
// program, or both while it runs, must not turn that back into ok.
//
// The program is a child process (this test binary again): the mark a
// process has seen lives in its memory too, and a new process is what a
// user who deletes the file and restarts the program gets.
func TestTrustedTimeDeletedOrCorrupted(t *testing.T) {
	srv := servertest.Start(t)
	ahead := shiftingRelay(t, srv.Endpoint, time.Hour)
	dir := t.TempDir()
	ws, state := filepath.Join(dir, "workspace"), filepath.Join(dir, "state")
	var keys adminapi.PublicKeys
	if err := srv.Admin().Do(context.Background(), "GET", "/products/"+srv.Product+"/keys", nil, &keys); err != nil {
		t.Fatal(err)
	}
	child := func(step string) string {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestTrustedTimeChild$", "-test.v")
		cmd.Env = append(os.Environ(),
			"HOSTILE_TIME_STEP="+step, "HOSTILE_TIME_DIR="+dir,
			"HOSTILE_ENDPOINT="+srv.Endpoint, "HOSTILE_ENDPOINT_AHEAD="+ahead,
			"ISCSDK_TOKEN="+srv.APIToken, "ISCSDK_PRODUCT="+srv.Product,
			"HOSTILE_KEYS="+strings.Join(keys.Keys, ","),
			"ISCSDK_WORKSPACE="+ws, "XDG_STATE_HOME="+state, "APPDATA="+state)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", step, err, out)
		}
		return string(out)
	}
	child("seen") // asserts ok, then clock_tampered, then deletes in-process

	// The pair the program left, to spoil one way at a time.
	wsMark := filepath.Join(ws, "trusted-time")
	twins, _ := filepath.Glob(filepath.Join(state, "iscsdk", "trusted-time.d", "*"))
	if len(twins) != 1 {
		t.Fatalf("per-user copies of the mark: %v", twins)
	}
	twin := twins[0]
	pair := map[string][]byte{}
	for _, p := range []string{wsMark, twin} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("the program left no mark: %v", err)
		}
		pair[p] = b
	}
	corrupt := func(p string) {
		b := append([]byte(nil), pair[p]...)
		b[4] ^= 1 // a digit of the time: a mark moved back
		os.WriteFile(p, b, 0o600)
	}
	for _, tc := range []struct {
		name  string
		spoil func()
	}{
		{"untouched", func() {}},
		{"workspace mark deleted", func() { os.Remove(wsMark) }},
		{"workspace mark corrupted", func() { corrupt(wsMark) }},
		{"workspace mark emptied", func() { os.WriteFile(wsMark, nil, 0o600) }},
		{"workspace deleted", func() { os.RemoveAll(ws) }},
		{"per-user copy deleted", func() { os.Remove(twin) }},
		{"per-user copy corrupted", func() { corrupt(twin) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for p, b := range pair {
				os.MkdirAll(filepath.Dir(p), 0o700)
				os.WriteFile(p, b, 0o600)
			}
			tc.spoil()
			if out := child("verify"); !strings.Contains(out, "verdict: clock_tampered") {
				t.Fatalf("after %s the licence check is not clock_tampered:\n%s", tc.name, out)
			}
		})
	}
}

// TestTrustedTimeChild is the program of TestTrustedTimeDeletedOrCorrupted.
func TestTrustedTimeChild(t *testing.T) {
	step := os.Getenv("HOSTILE_TIME_STEP")
	if step == "" {
		t.Skip("run by TestTrustedTimeDeletedOrCorrupted")
	}
	licFile := filepath.Join(os.Getenv("HOSTILE_TIME_DIR"), "licence")
	keys := os.Getenv("HOSTILE_KEYS")
	verify := func() sdk.LicenseResult {
		t.Helper()
		lic, err := os.ReadFile(licFile)
		if err != nil {
			t.Fatal(err)
		}
		res, err := sdk.VerifyLicense(string(lic), keys, "")
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	switch step {
	case "verify":
		t.Logf("verdict: %s (%s)", verify().Code, verify().Message)
	case "seen":
		// On time: a licence for this machine, valid.
		c := initAt(t, os.Getenv("HOSTILE_ENDPOINT"))
		id, err := sdk.NewDesk(c).GetLicenseStringRequest("", nil)
		if err != nil {
			t.Fatal(err)
		}
		e := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventLicenseVerify && e.RequestID == id })
		if err := os.WriteFile(licFile, []byte(e.Params["LicenseContent"]), 0o600); err != nil {
			t.Fatal(err)
		}
		if res := verify(); res.Code != "ok" {
			t.Fatalf("on time: %+v", res)
		}
		c.Close()
		// The service's clock an hour ahead: this machine's was set back.
		initAt(t, os.Getenv("HOSTILE_ENDPOINT_AHEAD")).Close()
		if res := verify(); res.Code != "clock_tampered" {
			t.Fatalf("clock set back: %+v", res)
		}
		// Deleting both copies while the program runs changes nothing:
		// the larger mark is the one in memory. The pair is put back for
		// the next runs.
		ws := filepath.Join(os.Getenv("ISCSDK_WORKSPACE"), "trusted-time")
		twins, _ := filepath.Glob(filepath.Join(os.Getenv("XDG_STATE_HOME"), "iscsdk", "trusted-time.d", "*"))
		saved := map[string][]byte{}
		for _, p := range append(twins, ws) {
			saved[p], _ = os.ReadFile(p)
			os.Remove(p)
		}
		if res := verify(); res.Code != "clock_tampered" {
			t.Fatalf("both copies deleted: %+v", res)
		}
		for p, b := range saved {
			os.WriteFile(p, b, 0o600)
		}
	}
}

func initAt(t *testing.T, endpoint string) *sdk.Client {
	t.Helper()
	c, err := sdk.Init(context.Background(), sdk.Config{
		Endpoint: endpoint, AppVersion: "1.0.0", ConnectTimeout: 10 * time.Second,
		WorkspaceDir: t.TempDir(), CredentialsFile: filepath.Join(t.TempDir(), "none"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// shiftingRelay relays WebSocket sessions to target and moves every time
// the service's clock says (welcome and heartbeat answers) by shift: the
// service as a machine whose clock is off by -shift sees it.
func shiftingRelay(t *testing.T, target string, shift time.Duration) string {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		server, _, err := websocket.DefaultDialer.Dial(target, http.Header{"Authorization": r.Header["Authorization"]})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer server.Close()
		client, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer client.Close()
		go relayFrames(server, client, nil)
		relayFrames(client, server, func(b []byte) []byte { return shiftServerTime(b, shift) })
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/session"
}

func relayFrames(dst, src *websocket.Conn, edit func([]byte) []byte) {
	defer dst.Close()
	defer src.Close()
	for {
		kind, b, err := src.ReadMessage()
		if err != nil {
			return
		}
		if kind == websocket.TextMessage && edit != nil {
			b = edit(b)
		}
		if dst.WriteMessage(kind, b) != nil {
			return
		}
	}
}

// shiftServerTime moves the serverTime of a welcome or of a result's body.
func shiftServerTime(msg []byte, shift time.Duration) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(msg, &m) != nil {
		return msg
	}
	for _, field := range []string{"welcome", "body"} {
		var inner map[string]json.RawMessage
		if json.Unmarshal(m[field], &inner) != nil || inner["serverTime"] == nil {
			continue
		}
		var st time.Time
		if json.Unmarshal(inner["serverTime"], &st) != nil {
			continue
		}
		inner["serverTime"], _ = json.Marshal(st.Add(shift))
		m[field], _ = json.Marshal(inner)
	}
	out, _ := json.Marshal(m)
	return out
}
