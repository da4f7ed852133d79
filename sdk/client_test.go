package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

func TestInitConnectsAndHeartbeats(t *testing.T) {
	svc := servertest.StartConfig(t, server.Config{Heartbeat: 50 * time.Millisecond})
	c, err := sdk.Init(context.Background(), config(t, svc))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := next(t, c, isState(sdk.StateConnected))
	if e.Params["session"] != c.SessionID() || e.Params["resumed"] != "false" {
		t.Fatalf("connected event %v, session %s", e.Params, c.SessionID())
	}
	hb := next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventHeartbeat })
	if rtt, err := strconv.ParseFloat(hb.Params["rttMs"], 64); err != nil || rtt <= 0 {
		t.Fatalf("heartbeat rttMs = %q", hb.Params["rttMs"])
	}
	if !strings.Contains(string(hb.JSON()), `"operate":"Heartbeat"`) {
		t.Fatalf("heartbeat JSON %s", hb.JSON())
	}
}

func TestInitErrors(t *testing.T) {
	svc := servertest.Start(t)
	good := config(t, svc)
	for _, tc := range []struct {
		name string
		edit func(*sdk.Config)
		want error
		msg  string
	}{
		{"bad token", func(c *sdk.Config) { c.Token = "isk_0000000000000000_nope" }, sdk.ErrUnauthorized, "invalid or revoked API token"},
		{"malformed token", func(c *sdk.Config) { c.Token = "hello" }, sdk.ErrUnauthorized, "invalid or revoked"},
		{"no token", func(c *sdk.Config) { c.Token = "" }, sdk.ErrConfig, "no token"},
		{"no endpoint", func(c *sdk.Config) { c.Endpoint = "" }, sdk.ErrConfig, "no endpoint"},
		{"http endpoint", func(c *sdk.Config) { c.Endpoint = "http://127.0.0.1:1" }, sdk.ErrConfig, "not a ws://"},
		{"cleartext to another host", func(c *sdk.Config) { c.Endpoint = "ws://iscd.example.com/v1/session" }, sdk.ErrConfig, "in clear"},
		{"unknown product", func(c *sdk.Config) { c.ProductID = "nosuch" }, sdk.ErrConfig, `unknown product "nosuch"`},
		{"dead endpoint", func(c *sdk.Config) { c.Endpoint = "ws://127.0.0.1:1/v1/session" }, sdk.ErrUnreachable, "127.0.0.1:1"},
		{"missing CA file", func(c *sdk.Config) { c.CAFile = "/nonexistent/ca.pem" }, sdk.ErrConfig, "CA file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(sdk.EnvEndpoint, "")
			t.Setenv(sdk.EnvToken, "")
			t.Setenv(sdk.EnvProduct, "")
			cfg := good
			tc.edit(&cfg)
			c, err := sdk.Init(context.Background(), cfg)
			if err == nil {
				c.Close()
				t.Fatal("Init succeeded")
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v; want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestInitTimeoutOnSilentService(t *testing.T) {
	// A TCP listener that accepts and never answers the WebSocket handshake.
	silent := startSilentListener(t)
	cfg := sdk.Config{Endpoint: "ws://" + silent + "/v1/session", Token: "isk_x_y", ProductID: "p", WorkspaceDir: t.TempDir(), ConnectTimeout: 300 * time.Millisecond}
	start := time.Now()
	_, err := sdk.Init(context.Background(), cfg)
	if !errors.Is(err, sdk.ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Init took %v with a 300ms connect timeout", d)
	}
}

func TestConfigFromEnvironmentAndCredentialsFile(t *testing.T) {
	svc := servertest.Start(t)
	cfg := config(t, svc)
	creds := t.TempDir() + "/credentials"
	writeFile(t, creds, fmt.Sprintf("# iscsdk credentials\nISCSDK_TOKEN=%s\nISCSDK_PRODUCT=%s\n", cfg.Token, cfg.ProductID))
	t.Setenv(sdk.EnvEndpoint, cfg.Endpoint)
	t.Setenv(sdk.EnvToken, "")
	t.Setenv(sdk.EnvProduct, "")
	c, err := sdk.Init(context.Background(), sdk.Config{WorkspaceDir: t.TempDir(), CredentialsFile: creds})
	if err != nil {
		t.Fatalf("Init from env + credentials file: %v", err)
	}
	c.Close()

	// The struct wins over the environment.
	t.Setenv(sdk.EnvToken, "isk_0000000000000000_wrong")
	cfg.CredentialsFile = creds
	if c, err = sdk.Init(context.Background(), cfg); err != nil {
		t.Fatalf("struct token should win over the environment: %v", err)
	}
	c.Close()
}

func TestEventsArriveInOrder(t *testing.T) {
	svc := servertest.Start(t)
	c, err := sdk.Init(context.Background(), config(t, svc))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 1; i <= 50; i++ {
		notice(t, svc, c.SessionID(), strconv.Itoa(i))
	}
	for i := 1; i <= 50; i++ {
		e := next(t, c, isNotice)
		if e.Params["text"] != strconv.Itoa(i) || e.Operate != "Notice" || e.Seq != uint64(i) {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
}

// expectNotices reads Notice events and checks they are from..to, each once, in order.
func expectNotices(t *testing.T, c *sdk.Client, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		e := next(t, c, isNotice)
		if e.Params["text"] != strconv.Itoa(i) {
			t.Fatalf("got notice %q, want %d", e.Params["text"], i)
		}
	}
}

func TestReconnectReplaysMissedEventsAfterDroppedConnection(t *testing.T) {
	svc := servertest.Start(t)
	p := startProxy(t, svc.Addr)
	cfg := config(t, svc)
	cfg.Endpoint = p.Endpoint()
	c, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := c.SessionID()
	next(t, c, isState(sdk.StateConnected))
	for i := 1; i <= 3; i++ {
		notice(t, svc, id, strconv.Itoa(i))
	}
	expectNotices(t, c, 1, 3)

	p.Cut(true) // the network fails
	next(t, c, isState(sdk.StateDisconnected))
	for i := 4; i <= 10; i++ { // events published while the client is away
		notice(t, svc, id, strconv.Itoa(i))
	}
	p.Cut(false)
	e := next(t, c, isState(sdk.StateConnected))
	if e.Params["resumed"] != "true" || e.Params["session"] != id || e.Params["eventsLost"] != "" {
		t.Fatalf("reconnect: %v", e.Params)
	}
	notice(t, svc, id, "11")
	expectNotices(t, c, 4, 11)
}

func TestReconnectAfterServerDropsConnection(t *testing.T) {
	svc := servertest.Start(t)
	c, err := sdk.Init(context.Background(), config(t, svc))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := c.SessionID()
	next(t, c, isState(sdk.StateConnected))
	notice(t, svc, id, "1")
	expectNotices(t, c, 1, 1)
	if err := svc.Admin().Do(context.Background(), "POST", "/sessions/"+id+"/disconnect", nil, nil); err != nil {
		t.Fatal(err)
	}
	next(t, c, isState(sdk.StateDisconnected))
	e := next(t, c, isState(sdk.StateConnected))
	if e.Params["resumed"] != "true" {
		t.Fatalf("not resumed: %v", e.Params)
	}
	notice(t, svc, id, "2")
	expectNotices(t, c, 2, 2)
}

func TestResumeAcrossServiceRestart(t *testing.T) {
	svc := servertest.Start(t)
	p := startProxy(t, svc.Addr)
	cfg := config(t, svc)
	cfg.Endpoint = p.Endpoint()
	c, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := c.SessionID()
	next(t, c, isState(sdk.StateConnected))
	notice(t, svc, id, "1")
	expectNotices(t, c, 1, 1)

	p.Cut(true)
	next(t, c, isState(sdk.StateDisconnected))
	for i := 2; i <= 5; i++ {
		notice(t, svc, id, strconv.Itoa(i)) // stored, not delivered
	}
	svc.Restart() // same data directory, same port
	p.Cut(false)
	e := next(t, c, isState(sdk.StateConnected))
	if e.Params["resumed"] != "true" || e.Params["session"] != id {
		t.Fatalf("after restart: %v", e.Params)
	}
	notice(t, svc, id, "6")
	expectNotices(t, c, 2, 6)
}

func TestGracefulShutdownTellsTheHost(t *testing.T) {
	svc := servertest.Start(t)
	c, err := sdk.Init(context.Background(), config(t, svc))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	svc.Stop()
	e := next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventServiceClosed })
	if e.Params["reason"] != "shutdown" || e.Params["message"] == "" {
		t.Fatalf("service closed event: %v", e.Params)
	}
	next(t, c, isState(sdk.StateDisconnected))
	svc.Restart()
	if e := next(t, c, isState(sdk.StateConnected)); e.Params["resumed"] != "true" {
		t.Fatalf("after restart: %v", e.Params)
	}
}

func TestRetentionGapIsReported(t *testing.T) {
	svc := servertest.StartConfig(t, server.Config{EventRetention: 3})
	p := startProxy(t, svc.Addr)
	cfg := config(t, svc)
	cfg.Endpoint = p.Endpoint()
	c, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	next(t, c, isState(sdk.StateConnected))
	p.Cut(true)
	next(t, c, isState(sdk.StateDisconnected))
	for i := 1; i <= 5; i++ {
		notice(t, svc, c.SessionID(), strconv.Itoa(i))
	}
	p.Cut(false)
	e := next(t, c, isState(sdk.StateConnected))
	if e.Params["eventsLost"] != "2" {
		t.Fatalf("eventsLost = %q, want 2 (%v)", e.Params["eventsLost"], e.Params)
	}
	expectNotices(t, c, 3, 5)
}

func TestCallbackOrderReregisterAndPollMode(t *testing.T) {
	svc := servertest.Start(t)
	c, err := sdk.Init(context.Background(), config(t, svc))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := c.SessionID()

	var inside atomic.Int32
	gotA := make(chan string, 100)
	c.OnEvent(func(e sdk.Event) {
		if inside.Add(1) != 1 {
			t.Error("two callbacks at once")
		}
		defer inside.Add(-1)
		if e.Type == sdk.EventNotice {
			gotA <- e.Params["text"]
		}
	})
	if _, err := c.PollEvent(context.Background()); !errors.Is(err, sdk.ErrCallbackRegistered) {
		t.Fatalf("PollEvent with a callback: %v", err)
	}
	for i := 1; i <= 20; i++ {
		notice(t, svc, id, strconv.Itoa(i))
	}
	for i := 1; i <= 20; i++ {
		if got := <-gotA; got != strconv.Itoa(i) {
			t.Fatalf("callback A got %s, want %d", got, i)
		}
	}
	gotB := make(chan string, 100)
	c.OnEvent(func(e sdk.Event) {
		if e.Type == sdk.EventNotice {
			gotB <- e.Params["text"]
		}
	})
	notice(t, svc, id, "21")
	if got := <-gotB; got != "21" {
		t.Fatalf("callback B got %s", got)
	}
	if len(gotA) != 0 {
		t.Fatal("old callback still called after re-registering")
	}
	c.OnEvent(nil) // back to polling
	notice(t, svc, id, "22")
	expectNotices(t, c, 22, 22)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	for {
		e, err := c.PollEvent(ctx)
		if errors.Is(err, sdk.ErrTimeout) {
			break
		}
		if err != nil || e.Type == sdk.EventNotice {
			t.Fatalf("unexpected %v %v", e, err)
		}
	}
}

func TestShutOutFromCallbackAndNoCallbackAfterShutOut(t *testing.T) {
	svc := servertest.StartConfig(t, server.Config{NoDevWorker: true}) // the dev worker's goroutines are not the client's
	before := goleak.IgnoreCurrent()

	c, err := sdk.Init(context.Background(), config(t, svc))
	if err != nil {
		t.Fatal(err)
	}
	shut := make(chan error, 1)
	c.OnEvent(func(e sdk.Event) {
		if e.Type == sdk.EventConnectionState {
			shut <- c.Close() // must not deadlock
		}
	})
	if err := <-shut; err != nil {
		t.Fatalf("ShutOut in callback: %v", err)
	}
	if err := c.Close(); !errors.Is(err, sdk.ErrShutOut) {
		t.Fatalf("second ShutOut: %v", err)
	}
	goleak.VerifyNone(t, before)

	c2, err := sdk.Init(context.Background(), config(t, svc))
	if err != nil {
		t.Fatal(err)
	}
	var after atomic.Bool
	c2.OnEvent(func(sdk.Event) {
		if after.Load() {
			t.Error("callback after ShutOut returned")
		}
	})
	for i := 0; i < 20; i++ {
		notice(t, svc, c2.SessionID(), "x")
	}
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	after.Store(true)
	if err := c2.OnEvent(nil); !errors.Is(err, sdk.ErrShutOut) {
		t.Fatalf("OnEvent after Close: %v", err)
	}
	goleak.VerifyNone(t, before)
}

func TestShutOutEndsTheSession(t *testing.T) {
	svc := servertest.Start(t)
	c, err := sdk.Init(context.Background(), config(t, svc))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	var sessions []map[string]any
	if err := svc.Admin().Do(context.Background(), "GET", "/sessions", nil, &sessions); err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 0 {
		t.Fatalf("sessions after ShutOut: %v", sessions)
	}
}

func TestNoGoroutineLeakAcrossReconnects(t *testing.T) {
	svc := servertest.StartConfig(t, server.Config{Heartbeat: 20 * time.Millisecond, NoDevWorker: true})
	p := startProxy(t, svc.Addr)
	before := goleak.IgnoreCurrent()
	cfg := config(t, svc)
	cfg.Endpoint = p.Endpoint()
	c, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		p.Cut(true)
		next(t, c, isState(sdk.StateDisconnected))
		p.Cut(false)
		next(t, c, isState(sdk.StateConnected))
	}
	p.Cut(true) // shut out while disconnected, in the middle of backoff
	next(t, c, isState(sdk.StateDisconnected))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, before)
}

// Two threads shut out at once: both return only when the client is gone,
// so neither sees a callback after its call returns.
func TestConcurrentShutOuts(t *testing.T) {
	svc := servertest.StartConfig(t, server.Config{NoDevWorker: true}) // the dev worker's goroutines are not the client's
	before := goleak.IgnoreCurrent()
	c, err := sdk.Init(context.Background(), config(t, svc))
	if err != nil {
		t.Fatal(err)
	}
	var after atomic.Int32
	c.OnEvent(func(sdk.Event) {
		if after.Load() > 0 {
			t.Error("callback after a ShutOut returned")
		}
	})
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			err := c.Close()
			after.Add(1)
			errs <- err
		}()
	}
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) || !(errors.Is(e1, sdk.ErrShutOut) || errors.Is(e2, sdk.ErrShutOut)) {
		t.Fatalf("results %v and %v: want one nil and one ErrShutOut", e1, e2)
	}
	goleak.VerifyNone(t, before)
}

// Revoking a token ends the sessions connected with it, at once.
func TestRevokedTokenEndsItsSessions(t *testing.T) {
	svc := servertest.Start(t)
	c, err := sdk.Init(context.Background(), config(t, svc))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	next(t, c, isState(sdk.StateConnected))
	id, _, _ := strings.Cut(strings.TrimPrefix(svc.APIToken, "isk_"), "_")
	if err := svc.Admin().Do(context.Background(), "DELETE", "/tokens/"+id, nil, nil); err != nil {
		t.Fatal(err)
	}
	e := next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventServiceClosed })
	if e.Params["reason"] != "kicked" || !strings.Contains(e.Params["message"], "revoked") {
		t.Fatalf("service closed: %v", e.Params)
	}
	e = next(t, c, func(e sdk.Event) bool {
		return e.Type == sdk.EventConnectionState && strings.Contains(e.Params["error"], "unauthorized")
	})
	if e.Params["state"] != sdk.StateDisconnected {
		t.Fatalf("reconnect with the revoked token: %v", e.Params)
	}
}
