//go:build !windows

package sdk

import (
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// waitPipes holds the write ends of the installers' wait pipes for the
// life of the process: never closed, never collected (a finalizer would
// close them).
var waitPipes struct {
	sync.Mutex
	w []*os.File
}

// installScript waits for end of file on stdin (the program's process
// has exited), runs the install command given as its arguments, and
// writes its exit code, atomically.
const installScript = `IFS= read -r _
"$@" >>"$ISCSDK_INSTALL_LOG" 2>&1
echo $? >"$ISCSDK_INSTALL_RESULT.tmp" && mv -f "$ISCSDK_INSTALL_RESULT.tmp" "$ISCSDK_INSTALL_RESULT"
`

// startInstaller starts argv detached (its own session, no terminal),
// to run once this process has exited.
func startInstaller(argv []string, dir, logPath, resultPath string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", append([]string{"-c", installScript, "iscsdk-install"}, argv...)...)
	cmd.Dir, cmd.Stdin = dir, r
	cmd.Env = append(os.Environ(), "ISCSDK_INSTALL_LOG="+logPath, "ISCSDK_INSTALL_RESULT="+resultPath, "ISCSDK_HOST_PID="+hostPID())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return err
	}
	waitPipes.Lock()
	waitPipes.w = append(waitPipes.w, w)
	waitPipes.Unlock()
	// It cannot end before this process does (it waits for the pipe):
	// init reaps it.
	return cmd.Process.Release()
}
