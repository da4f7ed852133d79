//go:build windows

package sdk

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// waitPipes holds the write ends of the installers' wait pipes for the
// life of the process: never closed, never collected.
var waitPipes struct {
	sync.Mutex
	w []*os.File
}

// Process creation flags (winbase.h).
const (
	createNewProcessGroup  = 0x00000200
	createNoWindow         = 0x08000000
	createBreakawayFromJob = 0x01000000
)

// cmdQuote quotes an argument for a batch file: inside double quotes
// only % is special (and a quote cannot occur: release.Command removes
// them).
func cmdQuote(s string) string { return `"` + strings.ReplaceAll(s, "%", "%%") + `"` }

// startInstaller writes install.cmd beside the package and starts it with
// cmd.exe, detached (no window, its own process group, out of the host's
// job when the job allows): "set /p" reads the pipe until this process
// has exited, then the command runs and its exit code is written.
func startInstaller(argv []string, dir, logPath, resultPath string) error {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = cmdQuote(a)
	}
	script := strings.Join([]string{
		"@echo off",
		"set /p _=",
		strings.Join(quoted, " ") + " >>" + cmdQuote(logPath) + " 2>&1",
		"echo %ERRORLEVEL%>" + cmdQuote(resultPath+".tmp"),
		"move /y " + cmdQuote(resultPath+".tmp") + " " + cmdQuote(resultPath) + " >nul",
		"",
	}, "\r\n")
	path := filepath.Join(dir, "install.cmd")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		return err
	}
	shell := os.Getenv("ComSpec")
	if shell == "" {
		shell = `C:\Windows\System32\cmd.exe`
	}
	start := func(flags uint32) error {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		defer r.Close()
		cmd := exec.Command(shell)
		cmd.SysProcAttr = &syscall.SysProcAttr{CmdLine: `/d /q /c "` + path + `"`, CreationFlags: flags, HideWindow: true}
		cmd.Dir, cmd.Stdin = dir, r
		cmd.Env = append(os.Environ(), "ISCSDK_HOST_PID="+hostPID())
		if err := cmd.Start(); err != nil {
			w.Close()
			return err
		}
		waitPipes.Lock()
		waitPipes.w = append(waitPipes.w, w)
		waitPipes.Unlock()
		return cmd.Process.Release()
	}
	err := start(createNewProcessGroup | createNoWindow | createBreakawayFromJob)
	if errors.Is(err, syscall.ERROR_ACCESS_DENIED) {
		// The host's job does not allow breaking away: stay in it (a job
		// that kills its processes with the host then kills the installer).
		err = start(createNewProcessGroup | createNoWindow)
	}
	return err
}
