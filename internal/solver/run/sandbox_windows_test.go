package run_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/solver/run"
)

// On Windows (capi/winetest runs this under Wine): the sandbox builds (a
// job object, a restricted token), a command runs in it with the job as
// its profile, and a time limit ends the whole job, the solver's child
// included (its output pipe closes: the run returns at once).
func TestWindowsSandbox(t *testing.T) {
	sb, err := run.NewSandbox(run.SandboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(sb.Describe())
	dir, err := os.MkdirTemp("", "sandbox-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "m.inp"), nil, 0o600)
	cmd, err := run.ParseCommand(`cmd.exe /c "echo solving & echo %USERPROFILE%"`)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	res := run.Run(context.Background(), dir, run.Spec{Command: cmd, Main: "m.inp", Sandbox: sb}, func(p run.Progress) { lines = append(lines, p.Lines...) })
	if res.ErrorCode != "" || len(lines) != 2 || strings.TrimSpace(lines[0]) != "solving" || !strings.EqualFold(strings.TrimSpace(lines[1]), dir) {
		t.Fatalf("result %+v, lines %q", res, lines)
	}

	slow, err := run.ParseCommand(`cmd.exe /c "echo start & ping -n 60 127.0.0.1 > nul & echo end"`)
	if err != nil {
		t.Fatal(err)
	}
	res = run.Run(context.Background(), dir, run.Spec{Command: slow, Main: "m.inp", Sandbox: sb, TimeLimit: time.Second}, nil)
	if res.ErrorCode != run.CodeTimeLimit || res.Wall > 10*time.Second || strings.Contains(strings.Join(res.LogTail, "\n"), "end") {
		t.Fatalf("time limit: %+v", res)
	}
}
