// Package servertest runs a development-mode iscd on a loopback port for
// tests, as net/http/httptest runs an HTTP server.
package servertest

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server"
)

// Server is a running development-mode iscd. Its fields come from the
// DATA/dev.env file the service writes when it starts.
type Server struct {
	*server.Server
	DataDir    string
	Addr       string // host:port of the listener
	AdminURL   string // ISCD_ADMIN_URL, e.g. http://127.0.0.1:41234
	AdminToken string // ISCD_ADMIN_TOKEN, an isa_ token
	Endpoint   string // ISCSDK_ENDPOINT, ws://ADDR/v1/session
	APIToken   string // ISCSDK_TOKEN, the demo user's isk_ token
	Product    string // ISCSDK_PRODUCT, the demo product
}

// Start opens a development-mode iscd with its data in t.TempDir(), serves
// it on 127.0.0.1:0 and shuts it down when the test ends. It fails the
// test if the service cannot start or does not stop cleanly.
func Start(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	srv, err := server.Open(server.Config{DataDir: dir, Dev: true})
	if err != nil {
		t.Fatalf("open iscd: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	// Start has written dev.env when it returns.
	if err := srv.Start(ln); err != nil {
		ln.Close()
		srv.Shutdown(context.Background()) // closes the store
		t.Fatalf("start iscd: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shut down iscd: %v", err)
		}
		if err := srv.Wait(); err != nil {
			t.Errorf("iscd serve: %v", err)
		}
	})
	env, err := readEnv(filepath.Join(dir, "dev.env"))
	if err != nil {
		t.Fatalf("read dev.env: %v", err)
	}
	return &Server{
		Server:     srv,
		DataDir:    dir,
		Addr:       ln.Addr().String(),
		AdminURL:   env["ISCD_ADMIN_URL"],
		AdminToken: env["ISCD_ADMIN_TOKEN"],
		Endpoint:   env["ISCSDK_ENDPOINT"],
		APIToken:   env["ISCSDK_TOKEN"],
		Product:    env["ISCSDK_PRODUCT"],
	}
}

// readEnv parses KEY=VALUE lines.
func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env, sc.Err()
}
