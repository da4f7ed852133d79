package run

import (
	"bytes"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Linux: bubblewrap (Debian's bubblewrap package) builds the namespaces
// and the file system view; prlimit (util-linux), run inside the sandbox,
// sets the resource limits and execs the solver, so the limits hold for
// everything it starts. docs/compute.md says why these and what they cost.

// jobMount is where a solver sees its job directory.
const jobMount = "/job"

// sandboxUID is the user a root worker's solvers run as: nobody, who owns
// nothing on the machine.
const sandboxUID = 65534

type sandboxSys struct {
	bwrap, prlimit string
	limits         Limits
	share          []string
	system         []string // bwrap's arguments for the system's read-only part
	asUser         bool     // the worker is root: solvers run as sandboxUID
}

func newSandboxSys(cfg SandboxConfig) (sandboxSys, error) {
	s := sandboxSys{limits: cfg.Limits, asUser: os.Geteuid() == 0}
	var err error
	if s.bwrap, err = exec.LookPath("bwrap"); err != nil {
		return s, fmt.Errorf("bubblewrap (bwrap) is not installed: %w", err)
	}
	if s.prlimit, err = exec.LookPath("prlimit"); err != nil {
		return s, fmt.Errorf("prlimit (util-linux) is not installed: %w", err)
	}
	if !strings.HasPrefix(s.prlimit, "/usr/") {
		s.prlimit = "/usr/bin/prlimit" // the sandbox shows /usr only
	}
	for _, d := range cfg.Share {
		abs, err := filepath.Abs(d)
		if err != nil {
			return s, err
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return s, fmt.Errorf("shared directory %s: not a directory (%v)", d, err)
		}
		s.share = append(s.share, abs)
	}
	s.system = systemBinds()
	return s, s.check("", Command{Program: "/usr/bin/true"})
}

// hardOpenFiles is the worker's hard limit of open files, which the
// solvers inherit and cannot raise.
func hardOpenFiles() (int, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Max > math.MaxInt32 {
		return 0, false
	}
	return int(rl.Max), true
}

// check builds a sandbox for c with a fresh job directory below parent
// ("": the system's temporary directory) and checks in it that c's
// program can be run and its directories entered by the sandbox's user:
// what fails here would fail every job.
func (s sandboxSys) check(parent string, c Command) error {
	dir, err := os.MkdirTemp(parent, "sandbox-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("/usr/bin/sh", append([]string{"-c",
		`for p; do [ -x "$p" ] || { echo "$p: the sandbox's user cannot run or enter it"; exit 1; }; done`, "check", c.Program},
		c.ReadOnly...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	j, err := s.confine(cmd, dir, c)
	if err != nil {
		return err
	}
	defer j.close()
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		hint := ""
		if s.asUser {
			hint = " (solvers run as uid " + strconv.Itoa(sandboxUID) + ": the job directory, the program's directory and shared directories must be reachable by it: chmod o+x their parents)"
		}
		return fmt.Errorf("%s cannot build a sandbox in %s: %v: %s%s", s.bwrap, parent, err, strings.TrimSpace(stderr.String()), hint)
	}
	return nil
}

func (s sandboxSys) describe() string {
	user := "the worker's user"
	if s.asUser {
		user = "uid " + strconv.Itoa(sandboxUID)
	}
	return fmt.Sprintf("bubblewrap (%s): user, mount, pid, ipc, uts, cgroup and network namespaces; %s; limits %+v", s.bwrap, user, s.limits)
}

// systemBinds shows the solver /usr and the top-level links into it
// (/bin, /lib64 ...), the dynamic loader's cache and Debian's alternatives
// (links to libraries such as BLAS), read-only. Nothing else of /etc.
func systemBinds() []string {
	args := []string{"--ro-bind", "/usr", "/usr"}
	for _, p := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		fi, err := os.Lstat(p)
		switch {
		case err != nil:
		case fi.Mode()&fs.ModeSymlink != 0:
			if target, err := os.Readlink(p); err == nil {
				args = append(args, "--symlink", target, p)
			}
		case fi.IsDir():
			args = append(args, "--ro-bind", p, p)
		}
	}
	for _, p := range []string{"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives"} {
		args = append(args, "--ro-bind-try", p, p)
	}
	return args
}

func (s sandboxSys) asOtherUser() bool { return s.asUser }

// home is where the solver sees its job directory.
func (s sandboxSys) home(string) string { return jobMount }

// confine turns cmd, a solver's command line to run in dir, into
// bubblewrap's. The directories bound are passed as open descriptors:
// a root worker's job directory lies below folders nobody cannot enter.
func (s sandboxSys) confine(cmd *exec.Cmd, dir string, c Command) (jail, error) {
	j := &bwrapJail{}
	bindFD := func(flag, path, dest string) error {
		fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("sandbox: %s: %w", path, err)
		}
		f := os.NewFile(uintptr(fd), path)
		j.files = append(j.files, f)
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
		j.args = append(j.args, flag, strconv.Itoa(2+len(cmd.ExtraFiles)), dest)
		return nil
	}
	j.args = append(j.args, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--cap-drop", "ALL")
	if c.Network {
		j.args = append(j.args, "--share-net")
		for _, p := range []string{"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ssl"} {
			j.args = append(j.args, "--ro-bind-try", p, p)
		}
	}
	j.args = append(j.args, s.system...)
	j.args = append(j.args, "--proc", "/proc", "--dev", "/dev", "--size", strconv.FormatInt(64<<20, 10), "--tmpfs", "/tmp")
	if err := bindFD("--bind-fd", dir, jobMount); err != nil {
		j.close()
		return nil, err
	}
	pd := filepath.Dir(c.Program)
	if real, err := filepath.EvalSymlinks(pd); err == nil {
		pd = real // /bin is /usr/bin on Debian
	}
	if !strings.HasPrefix(pd+"/", "/usr/") {
		if err := bindFD("--ro-bind-fd", pd, pd); err != nil {
			j.close()
			return nil, err
		}
	}
	for _, d := range c.ReadOnly {
		if err := bindFD("--ro-bind-fd", d, d); err != nil {
			j.close()
			return nil, err
		}
	}
	for _, d := range s.share {
		if err := bindFD("--bind-fd", d, d); err != nil {
			j.close()
			return nil, err
		}
	}
	// The root bubblewrap builds is a tmpfs: read-only, so what a solver
	// writes goes to its job (counted, returned) or to /tmp (64 MiB).
	j.args = append(j.args, "--remount-ro", "/", "--chdir", jobMount, "--",
		s.prlimit, "--core=0",
		"--as="+strconv.FormatInt(s.limits.AddressSpace, 10),
		"--nproc="+strconv.Itoa(s.limits.Processes),
		"--fsize="+strconv.FormatInt(s.limits.FileSize, 10),
		"--nofile="+strconv.Itoa(s.limits.OpenFiles), "--")
	cmd.Dir = "/" // bwrap enters the job (nobody may not reach its path)
	cmd.Path, cmd.Args = s.bwrap, slices.Concat([]string{"bwrap"}, j.args, cmd.Args)
	// A session of its own: no controlling terminal to push input into,
	// and a group to signal. The kernel kills it if the worker dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if s.asUser {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: sandboxUID, Gid: sandboxUID, Groups: []uint32{}}
		if err := chownTree(dir, sandboxUID); err != nil {
			j.close()
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	return j, nil
}

// chownTree gives dir and what is in it to uid.
func chownTree(dir string, uid int) error {
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
}

// bwrapJail is one bubblewrap run: the descriptors it binds, closed once
// it has started.
type bwrapJail struct {
	args  []string
	files []*os.File
}

func (j *bwrapJail) started(*os.Process) error { j.close(); return nil }

// stop signals the group: bubblewrap, its init and the solver's processes
// share it; a process that left the group dies with the PID namespace
// when bubblewrap does.
func (j *bwrapJail) stop(p *os.Process, kill bool) { stopGroup(p, kill) }

func (j *bwrapJail) close() {
	for _, f := range j.files {
		f.Close()
	}
	j.files = nil
}
