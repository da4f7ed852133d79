package run

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Windows: each run is a job object — every process the solver starts
// belongs to it, the whole job is killed when the run ends or is stopped
// (JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE), and its committed memory and
// number of processes are bounded — and the solver runs with a restricted
// token (no privileges beyond SeChangeNotify, a LUA token: what a limited
// user holds). Windows has no equivalent of a mount namespace here: the
// solver still reads what the worker's account can read; run the worker
// as a dedicated account with access to its directory only.
//
// Under Wine (capi/winetest) the job object runs and stops a command tree;
// Wine enforces neither the job's limits nor the token's restrictions, so
// those are reviewed, not tested.

type sandboxSys struct {
	limits Limits
}

func newSandboxSys(cfg SandboxConfig) (sandboxSys, error) {
	s := sandboxSys{limits: cfg.Limits}
	return s, s.check("", Command{})
}

func (s sandboxSys) describe() string {
	return fmt.Sprintf("job object and restricted token; limits %+v", s.limits)
}

func (s sandboxSys) home(dir string) string { return dir }

func (s sandboxSys) newJob() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, fmt.Errorf("job object: %w", err)
	}
	var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE |
		windows.JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION |
		windows.JOB_OBJECT_LIMIT_ACTIVE_PROCESS | windows.JOB_OBJECT_LIMIT_JOB_MEMORY
	info.BasicLimitInformation.ActiveProcessLimit = uint32(s.limits.Processes)
	info.JobMemoryLimit = uintptr(s.limits.AddressSpace)
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job)
		return 0, fmt.Errorf("job object limits: %w", err)
	}
	return job, nil
}

var (
	advapi32                  = windows.NewLazySystemDLL("advapi32.dll")
	procCreateRestrictedToken = advapi32.NewProc("CreateRestrictedToken")
)

// CreateRestrictedToken flags.
const (
	disableMaxPrivilege = 0x1
	luaToken            = 0x4
)

// restrictedToken is the worker's own token without its privileges.
func restrictedToken() (windows.Token, error) {
	var own windows.Token
	if err := windows.OpenProcessToken(windows.CurrentProcess(),
		windows.TOKEN_DUPLICATE|windows.TOKEN_ASSIGN_PRIMARY|windows.TOKEN_QUERY, &own); err != nil {
		return 0, fmt.Errorf("process token: %w", err)
	}
	defer own.Close()
	var tok windows.Token
	r, _, err := procCreateRestrictedToken.Call(uintptr(own), disableMaxPrivilege|luaToken, 0, 0, 0, 0, 0, 0, uintptr(unsafe.Pointer(&tok)))
	if r == 0 {
		return 0, fmt.Errorf("restricted token: %w", err)
	}
	return tok, nil
}

func (s sandboxSys) confine(cmd *exec.Cmd, _ string, _ Command) (jail, error) {
	tok, err := restrictedToken()
	if err != nil {
		return nil, err
	}
	job, err := s.newJob()
	if err != nil {
		tok.Close()
		return nil, err
	}
	cmd.SysProcAttr.Token = syscall.Token(tok)
	return &jobJail{job: job, tok: tok}, nil
}

// jobJail is one run's job object. The solver joins it just after it
// starts: a process it starts in that instant is outside the job (Go's
// os/exec cannot start a process suspended or in a job).
type jobJail struct {
	job windows.Handle
	tok windows.Token
}

func (j *jobJail) started(p *os.Process) error {
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(p.Pid))
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	return windows.AssignProcessToJobObject(j.job, h)
}

// stop ends every process of the job: Windows has no polite signal for a
// console program without a console.
func (j *jobJail) stop(p *os.Process, _ bool) {
	if windows.TerminateJobObject(j.job, 1) != nil {
		_ = p.Kill()
	}
}

func (j *jobJail) close() {
	if j.job != 0 {
		windows.CloseHandle(j.job) // KILL_ON_JOB_CLOSE: what is left dies
		j.job = 0
	}
	if j.tok != 0 {
		j.tok.Close()
		j.tok = 0
	}
}

func (s sandboxSys) asOtherUser() bool { return false }

// check makes a job object and a restricted token: nothing on Windows
// depends on the job directory's path.
func (s sandboxSys) check(string, Command) error {
	tok, err := restrictedToken()
	if err != nil {
		return err
	}
	tok.Close()
	job, err := s.newJob()
	if err != nil {
		return err
	}
	return windows.CloseHandle(job)
}

// hardOpenFiles: there is no limit of open files a solver inherits here.
func hardOpenFiles() (int, bool) { return 0, false }
