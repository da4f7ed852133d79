package sdk_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// config returns a client configuration for srv, isolated from the
// machine's environment and credentials file.
func config(t *testing.T, srv *servertest.Server) sdk.Config {
	return sdk.Config{
		Endpoint: srv.Endpoint, Token: srv.APIToken, ProductID: srv.Product,
		AppVersion: "1.2.3", WorkspaceDir: t.TempDir(), ConnectTimeout: 5 * time.Second,
		CredentialsFile: filepath.Join(t.TempDir(), "none"),
	}
}

// signedOut is a client of srv with no API token, to be signed in
// (Config.SignIn), and its config (for another start on its workspace).
func signedOut(t *testing.T, srv *servertest.Server) (*sdk.Client, sdk.Config) {
	t.Helper()
	cfg := config(t, srv)
	cfg.Token, cfg.SignIn = "", true
	c, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Init signed out: %v", err)
	}
	return c, cfg
}

// notice pushes one Notice event with text to session id.
func notice(t *testing.T, srv *servertest.Server, id, text string) {
	t.Helper()
	var out adminapi.NoticeSent
	if err := srv.Admin().Do(context.Background(), "POST", "/notices", adminapi.Notice{SessionID: id, Title: "t", Text: text}, &out); err != nil {
		t.Fatalf("notice %s: %v", text, err)
	}
}

// startProxy puts a relay between the client and the service, whose links
// can be cut to play a network failure.
func startProxy(t *testing.T, target string) *servertest.Relay {
	return servertest.StartRelay(t, target)
}

// next polls the client for the next event accepted by keep.
func next(t *testing.T, c *sdk.Client, keep func(sdk.Event) bool) sdk.Event {
	t.Helper()
	return servertest.NextEvent(t, c, keep)
}

func isState(state string) func(sdk.Event) bool {
	return func(e sdk.Event) bool { return e.Type == sdk.EventConnectionState && e.Params["state"] == state }
}

func isNotice(e sdk.Event) bool { return e.Type == sdk.EventNotice }

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startSilentListener accepts TCP connections and never answers.
func startSilentListener(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}
