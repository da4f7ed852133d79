package sdk_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// iscd killed with SIGKILL in the middle of a large save, and started again
// on the same data and port: the save completes, only what was missing is
// sent again, and no partial version was ever visible.
func TestSaveSurvivesIscdKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the iscd binary")
	}
	bin := filepath.Join(t.TempDir(), "iscd")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/iscd").CombinedOutput(); err != nil {
		t.Fatalf("build iscd: %v\n%s", err, out)
	}
	data := t.TempDir()
	iscd, err := servertest.StartBinary(bin, data)
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(iscd.Env["ISCD_ADMIN_URL"], "http://")
	t.Cleanup(func() { iscd.Stop() })
	cfg := sdk.Config{Endpoint: iscd.Env["ISCSDK_ENDPOINT"], Token: iscd.Env["ISCSDK_TOKEN"], ProductID: iscd.Env["ISCSDK_PRODUCT"],
		WorkspaceDir: t.TempDir(), LogLevel: "off", CredentialsFile: filepath.Join(t.TempDir(), "none")}
	c := connect(t, cfg)

	data40 := randomBytes(14, 40<<20)
	local := writeTemp(t, "big.prt", data40)
	killed := false
	res, err := c.SaveTo(context.Background(), local, "/kill/big.prt", 0, sdk.SaveOptions{Progress: func(p sdk.Progress) {
		if !killed && p.BytesDone > p.BytesTotal*7/10 {
			killed = true
			iscd.Kill() // no goodbye, nothing flushed on purpose
			restarted, err := servertest.StartBinary(bin, data, "--listen", addr)
			if err != nil {
				t.Errorf("restart: %v", err)
				return
			}
			iscd = restarted
		}
	}})
	if err != nil || !killed {
		t.Fatalf("save across a SIGKILL: %v (killed %v)", err, killed)
	}
	const inFlight = 8 * 256 << 10
	if res.BytesSent > int64(len(data40))+inFlight {
		t.Fatalf("sent %d bytes for %d", res.BytesSent, len(data40))
	}
	open, err := c.OpenFile(context.Background(), "/kill/big.prt", sdk.OpenOptions{})
	if err != nil || open.Version != 1 {
		t.Fatalf("open: %+v %v", open, err)
	}
	if got, _ := os.ReadFile(open.MainFile); !bytes.Equal(got, data40) {
		t.Fatal("content differs after the kill")
	}
}
