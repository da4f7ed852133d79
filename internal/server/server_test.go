package server_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/envelope"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHealthAndReadiness(t *testing.T) {
	srv := servertest.Start(t)
	if code, body := get(t, srv.AdminURL+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	if code, body := get(t, srv.AdminURL+"/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("readyz: %d %q", code, body)
	}
}

// start runs a non-dev iscd on dir and returns its base URL and a stop func.
// Its KEK is kept in dir (test.kek), so that it opens its keys again after
// a restart.
func start(t *testing.T, dir string) (string, func()) {
	t.Helper()
	kekFile := filepath.Join(dir, "test.kek")
	if _, err := os.Stat(kekFile); err != nil {
		text, err := envelope.GenerateKEK()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(kekFile, []byte(text), 0o600)
	}
	kek, err := envelope.LoadKeyring(kekFile)
	if err != nil {
		t.Fatal(err)
	}
	_, addr, stop := servertest.Serve(t, server.Config{DataDir: dir, KEK: kek})
	return "http://" + addr, stop
}

func TestFirstStartWritesAnAdminTokenOnce(t *testing.T) {
	dir := t.TempDir()
	url, stop := start(t, dir)
	path := filepath.Join(dir, "admin.token")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token mode %v, want 0600", st.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	tok := strings.TrimSpace(string(b))
	admin := &adminapi.Client{BaseURL: url, Token: tok}
	if err := admin.Do(context.Background(), "POST", "/orgs", adminapi.CreateOrg{ID: "acme", Name: "ACME"}, nil); err != nil {
		t.Fatalf("bootstrap admin token refused: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "dev.env")); !os.IsNotExist(err) {
		t.Fatal("dev.env written outside dev mode")
	}
	stop()

	url, stop = start(t, dir)
	defer stop()
	b2, _ := os.ReadFile(path)
	if string(b2) != string(b) {
		t.Fatal("a second start replaced the admin token")
	}
	admin.BaseURL = url
	var orgs []map[string]any
	if err := admin.Do(context.Background(), "GET", "/orgs", nil, &orgs); err != nil || len(orgs) != 1 {
		t.Fatalf("after restart: %v %v", orgs, err)
	}
}

func TestOpenRefusesAnUnusableDataDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := server.Open(server.Config{DataDir: filepath.Join(file, "sub")}); err == nil || !strings.Contains(err.Error(), "data directory") {
		t.Fatalf("err = %v", err)
	}
	if _, err := server.Open(server.Config{}); err == nil {
		t.Fatal("no data directory accepted")
	}
}
