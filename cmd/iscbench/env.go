package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// env holds what the groups of a run share: the options and the iscd
// processes started, stopped at the end.
type env struct {
	opt   options
	log   io.Writer
	procs []*servertest.Binary
}

// iscd is a running `iscd serve --dev` on a data directory of its own.
type iscd struct {
	*servertest.Binary
	data string
}

// noConnCaps are the flags that lift iscd's connection caps per token and
// organisation, for the groups that connect thousands of sessions with one
// token.
var noConnCaps = []string{"--max-conns-per-token", "-1", "--max-conns-per-org", "-1"}

// startISCD starts BUILD/bin/iscd serve --dev with its data in the run's
// temporary directory (name tells runs apart) and extra flags.
func (e *env) startISCD(name string, args ...string) (*iscd, error) {
	data := filepath.Join(e.opt.tmp, name+"-iscd")
	b, err := servertest.StartBinary(filepath.Join(e.opt.build, "bin", "iscd"), data, args...)
	if err != nil {
		return nil, fmt.Errorf("start iscd: %w", err)
	}
	e.procs = append(e.procs, b)
	return &iscd{Binary: b, data: data}, nil
}

func (e *env) close() {
	for _, p := range e.procs {
		p.Stop()
	}
}

// client connects an SDK client to s with a workspace of its own.
func (e *env) client(ctx context.Context, s *iscd, name string) (*sdk.Client, error) {
	c, err := sdk.Init(ctx, sdk.Config{
		Endpoint:        s.Env["ISCSDK_ENDPOINT"],
		Token:           s.Env["ISCSDK_TOKEN"],
		ProductID:       s.Env["ISCSDK_PRODUCT"],
		AppVersion:      "iscbench",
		WorkspaceDir:    filepath.Join(e.opt.tmp, name+"-ws"),
		CredentialsFile: filepath.Join(e.opt.tmp, "no-credentials"),
		LogLevel:        "warn",
		NoBrowser:       true,
	})
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", name, err)
	}
	return c, nil
}

func (s *iscd) admin() *adminapi.Client {
	return &adminapi.Client{BaseURL: s.Env["ISCD_ADMIN_URL"], Token: s.Env["ISCD_ADMIN_TOKEN"]}
}

// ---- /proc -----------------------------------------------------------------

// rssKiB is a process's resident memory (VmRSS) in KiB.
func rssKiB(pid int) (int64, error) {
	v := procField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS")
	if v == "" {
		return 0, fmt.Errorf("no VmRSS for process %d", pid)
	}
	return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
}

// cpuTime is a process's user + system CPU time so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields count from after ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	const hz = 100 // USER_HZ: 100 on every Linux architecture Go supports
	return time.Duration(ut+st) * time.Second / hz, nil
}
