package sdk_test

import (
	"context"
	"io"
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

// notice pushes one Notice event with text to session id.
func notice(t *testing.T, srv *servertest.Server, id, text string) {
	t.Helper()
	var out adminapi.NoticeSent
	if err := srv.Admin().Do(context.Background(), "POST", "/notices", adminapi.Notice{SessionID: id, Title: "t", Text: text}, &out); err != nil {
		t.Fatalf("notice %s: %v", text, err)
	}
}

// proxy is a TCP relay between the client and the service whose links
// can be cut, and kept cut, to play a network failure.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() { ln.Close(); p.setCut(true); p.wg.Wait() })
	return p
}

func (p *proxy) endpoint() string { return "ws://" + p.ln.Addr().String() + "/v1/session" }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(up, c); up.Close() }()
		go func() { defer p.wg.Done(); io.Copy(c, up); c.Close() }()
	}
}

// setCut closes every relayed connection and, while cut, refuses new ones.
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
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
