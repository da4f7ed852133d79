package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// iscd killed with SIGKILL in the middle of a save (its packs possibly
// torn) and started again on the same data: the save resumes and
// completes, the version reads back whole, and what was sent twice is at
// most the chunks that were in flight when it died.
func TestSaveResumesAfterKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the iscd binary")
	}
	bin := filepath.Join(t.TempDir(), "iscd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	data := t.TempDir()
	iscd, err := servertest.StartBinary(bin, data, "--listen", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { iscd.Stop() }()
	cfg := sdk.Config{Endpoint: iscd.Env["ISCSDK_ENDPOINT"], Token: iscd.Env["ISCSDK_TOKEN"], ProductID: iscd.Env["ISCSDK_PRODUCT"],
		WorkspaceDir: t.TempDir(), CredentialsFile: filepath.Join(t.TempDir(), "none"), ConnectTimeout: 5 * time.Second}
	c, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	content := make([]byte, 48<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range content {
		content[i] = byte(r.Uint32())
	}
	local := filepath.Join(t.TempDir(), "big.prt")
	os.WriteFile(local, content, 0o644)
	killed := false
	res, err := c.SaveTo(context.Background(), local, "/crash/big.prt", 0, sdk.SaveOptions{Progress: func(p sdk.Progress) {
		if killed || p.BytesDone < p.BytesTotal/2 {
			return
		}
		killed = true
		iscd.Kill()
		if iscd, err = servertest.StartBinary(bin, data, "--listen", addr); err != nil {
			t.Fatal(err)
		}
	}})
	if err != nil || !killed {
		t.Fatalf("save across a kill -9: %v (killed %v)", err, killed)
	}
	// The window of chunks in flight, each at most the largest chunk.
	const inFlight = 8 * 288 << 10
	t.Logf("sent %d bytes for %d (%d chunks of %d)", res.BytesSent, len(content), res.ChunksSent, res.ChunksTotal)
	if res.BytesSent > int64(len(content))+inFlight {
		t.Fatalf("sent %d bytes for %d: more than the chunks in flight twice", res.BytesSent, len(content))
	}
	cfg.WorkspaceDir = t.TempDir()
	o, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	open, err := o.OpenFile(context.Background(), "/crash/big.prt", sdk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(open.MainFile); !bytes.Equal(got, content) {
		t.Fatal("the version differs from the file after the kill")
	}
}
