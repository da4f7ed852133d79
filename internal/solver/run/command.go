package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"
)

// escapeWait is how long the output of processes that outlive the solver
// and escaped its group is still read.
const escapeWait = 2 * time.Second

// stopGrace is how long a command has between the polite stop signal and
// the kill (canceled, or over a limit).
const stopGrace = 300 * time.Millisecond

// jail is how one run of a command is confined, and stopped.
type jail interface {
	started(p *os.Process) error   // after the start (Windows assigns the job object)
	stop(p *os.Process, kill bool) // everything the solver started
	close()                        // after the end
}

// group is an unconfined run (no sandbox): the solver's process group.
type group struct{}

func (group) started(*os.Process) error     { return nil }
func (group) stop(p *os.Process, kill bool) { stopGroup(p, kill) }
func (group) close()                        {}

func runCommand(ctx context.Context, dir string, spec Spec, out *output) Result {
	argv, err := spec.Command.Expand(spec.Main, spec.Args, spec.Cores)
	if err != nil {
		code := CodeStart
		if errors.Is(err, ErrBadArgument) {
			code = CodeBadArgument
		}
		return Result{ErrorCode: code, Error: err.Error()}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	home := dir
	var j jail = group{}
	if spec.Sandbox != nil {
		home = spec.Sandbox.sys.home(dir)
	}
	cmd.Env = cleanEnv(home, spec)
	cmd.SysProcAttr = procAttr()
	if spec.Sandbox != nil {
		if j, err = spec.Sandbox.sys.confine(cmd, dir, spec.Command); err != nil {
			return Result{ErrorCode: CodeStart, Error: err.Error()}
		}
	}
	defer j.close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return Result{ErrorCode: CodeStart, Error: err.Error()}
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return Result{ErrorCode: CodeStart, Error: fmt.Sprintf("start %s: %v", argv[0], err)}
	}
	pw.Close()
	if err := j.started(cmd.Process); err != nil {
		j.stop(cmd.Process, true)
		cmd.Wait()
		pr.Close()
		return Result{ErrorCode: CodeStart, Error: fmt.Sprintf("sandbox %s: %v", argv[0], err)}
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		scanLines(pr, out)
	}()

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-waited:
	case <-ctx.Done():
		j.stop(cmd.Process, false)
		select {
		case werr = <-waited:
		case <-time.After(stopGrace):
			j.stop(cmd.Process, true)
			werr = <-waited
		}
	}
	// The pipe ends when every process holding it has ended: a child
	// the solver left behind in its group is killed. One that escaped the
	// group (a new session, a Windows child) would hold the pipe, and the
	// job, as long as it lives: after escapeWait its output is no longer
	// read.
	select {
	case <-scanned:
	case <-time.After(50 * time.Millisecond):
		j.stop(cmd.Process, true)
		select {
		case <-scanned:
		case <-time.After(escapeWait):
			pr.Close()
			<-scanned
		}
	}
	pr.Close()

	res := Result{ExitCode: cmd.ProcessState.ExitCode()}
	res.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		res.ErrorCode, res.Error = CodeSolverFailed, werr.Error()
	}
	if res.ExitCode < 0 && ctx.Err() == nil { // killed by a signal from elsewhere
		res.ErrorCode, res.Error = CodeSolverFailed, "the solver was killed: "+cmd.ProcessState.String()
	}
	return res
}

// cleanEnv is a command's whole environment: nothing of the worker's but
// a PATH, a home and a temporary directory inside the job's directory
// (home, as the solver sees it).
func cleanEnv(home string, spec Spec) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + home,
		"TMP=" + home,
		"TEMP=" + home,
		"LANG=C.UTF-8",
		"OMP_NUM_THREADS=" + strconv.Itoa(max(spec.Cores, 1)),
	}
	// What Windows programs need to start at all (the system's, not the
	// worker's), and their per-user folders inside the job's directory.
	for _, k := range []string{"SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT"} {
		if v := os.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	if runtime.GOOS == "windows" {
		env = append(env, "USERPROFILE="+home, "APPDATA="+home, "LOCALAPPDATA="+home)
	}
	return append(env, spec.Env...)
}
