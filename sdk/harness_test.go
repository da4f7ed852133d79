package sdk_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/sdk"
)

// service is a real iscd (in-process) on a loopback port, restartable on
// the same data directory and port.
type service struct {
	t    *testing.T
	dir  string
	addr string
	srv  *server.Server
	env  map[string]string
	opts server.Config
}

func startService(t *testing.T, opts server.Config) *service {
	t.Helper()
	s := &service{t: t, dir: t.TempDir(), addr: "127.0.0.1:0", opts: opts}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *service) start() {
	s.t.Helper()
	cfg := s.opts
	cfg.DataDir, cfg.Dev = s.dir, true
	srv, err := server.Open(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.addr = ln.Addr().String() // the same port on restart
	if err := srv.Start(ln); err != nil {
		s.t.Fatal(err)
	}
	s.srv = srv
	s.env = readEnv(s.t, filepath.Join(s.dir, "dev.env"))
}

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	return env
}

func (s *service) stop() {
	if s.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.t.Errorf("shutdown: %v", err)
	}
	if err := s.srv.Wait(); err != nil {
		s.t.Errorf("serve: %v", err)
	}
	s.srv = nil
}

func (s *service) restart() { s.stop(); s.start() }

func (s *service) config(t *testing.T) sdk.Config {
	return sdk.Config{
		Endpoint: s.env["ISCSDK_ENDPOINT"], Token: s.env["ISCSDK_TOKEN"], ProductID: s.env["ISCSDK_PRODUCT"],
		AppVersion: "1.2.3", WorkspaceDir: t.TempDir(), ConnectTimeout: 5 * time.Second,
		CredentialsFile: filepath.Join(t.TempDir(), "none"),
	}
}

func (s *service) admin() *adminapi.Client {
	// No keep-alive: the goroutine leak checks must see only the SDK's.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	return &adminapi.Client{BaseURL: s.env["ISCD_ADMIN_URL"], Token: s.env["ISCD_ADMIN_TOKEN"], HTTP: hc}
}

// notice pushes one Notice event with text to session id.
func (s *service) notice(id, text string) {
	s.t.Helper()
	var out adminapi.NoticeSent
	if err := s.admin().Do(context.Background(), "POST", "/notices", adminapi.Notice{SessionID: id, Title: "t", Text: text}, &out); err != nil {
		s.t.Fatalf("notice %s: %v", text, err)
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
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		e, err := c.PollEvent(ctx)
		if err != nil {
			t.Fatalf("waiting for an event: %v", err)
		}
		if keep(e) {
			return e
		}
	}
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
