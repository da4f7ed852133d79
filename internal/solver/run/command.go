package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// escapeWait is how long the output of processes that outlive the solver
// and escaped its group is still read.
const escapeWait = 2 * time.Second

// stopGrace is how long a command has between the polite stop signal and
// the kill (canceled, or over a limit).
const stopGrace = 300 * time.Millisecond

// Expand fills a command template for a job. {args} must stand alone in
// its element and expands to the job's arguments; a job with arguments for
// a template without {args} is refused.
func Expand(template []string, main string, args []string, cores int) ([]string, error) {
	if len(template) == 0 {
		return nil, errors.New("the solver has no command")
	}
	stem := strings.TrimSuffix(main, filepath.Ext(main))
	r := strings.NewReplacer("{stem}", stem, "{main}", main, "{cores}", strconv.Itoa(max(cores, 1)))
	var out []string
	tookArgs := false
	for _, t := range template {
		if t == "{args}" {
			out, tookArgs = append(out, args...), true
			continue
		}
		out = append(out, r.Replace(t))
	}
	if len(args) > 0 && !tookArgs {
		return nil, errors.New("the solver takes no arguments")
	}
	return out, nil
}

func runCommand(ctx context.Context, dir string, spec Spec, out *output) Result {
	argv, err := Expand(spec.Command, spec.Main, spec.Args, spec.Cores)
	if err != nil {
		return Result{ErrorCode: CodeStart, Error: err.Error()}
	}
	prog, err := exec.LookPath(argv[0])
	if err != nil {
		return Result{ErrorCode: CodeStart, Error: fmt.Sprintf("solver program %s: %v", argv[0], err)}
	}
	cmd := exec.Command(prog, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Dir = dir
	cmd.Env = cleanEnv(dir, spec)
	cmd.SysProcAttr = procAttr()
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
		stopGroup(cmd.Process, false)
		select {
		case werr = <-waited:
		case <-time.After(stopGrace):
			stopGroup(cmd.Process, true)
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
		stopGroup(cmd.Process, true)
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
// a PATH, a home and a temporary directory inside the job's directory.
func cleanEnv(dir string, spec Spec) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"TMPDIR=" + dir,
		"TMP=" + dir,
		"TEMP=" + dir,
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
		env = append(env, "USERPROFILE="+dir, "APPDATA="+dir, "LOCALAPPDATA="+dir)
	}
	return append(env, spec.Env...)
}
