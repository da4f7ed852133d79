package run

import (
	"errors"
	"fmt"
)

// Limits are the resource limits of a sandboxed solver, for the solver and
// every process it starts. A zero field takes DefaultLimits' value.
type Limits struct {
	AddressSpace int64 // bytes of virtual memory per process (Windows: committed memory of the whole job)
	Processes    int   // processes at once (Linux: of the sandbox's user)
	FileSize     int64 // bytes one file may reach (Linux; the job's output limit bounds it further)
	OpenFiles    int   // open files per process (Linux)
}

// DefaultLimits leave a solver room for a large model (threads reserve
// address space generously) while a fork bomb or a runaway file stops
// early.
var DefaultLimits = Limits{AddressSpace: 32 << 30, Processes: 512, FileSize: 64 << 30, OpenFiles: 4096}

func (l Limits) orDefault() Limits {
	if l.AddressSpace <= 0 {
		l.AddressSpace = DefaultLimits.AddressSpace
	}
	if l.Processes <= 0 {
		l.Processes = DefaultLimits.Processes
	}
	if l.FileSize <= 0 {
		l.FileSize = DefaultLimits.FileSize
	}
	if l.OpenFiles <= 0 {
		l.OpenFiles = DefaultLimits.OpenFiles
	}
	return l
}

// SandboxConfig configures a Sandbox.
type SandboxConfig struct {
	Limits Limits
	// Share are directories every solver may read and write besides its
	// job's (a licence file's folder, a scratch disk). None by default.
	Share []string
}

// ErrNoSandbox is returned by NewSandbox where this system cannot confine
// a solver.
var ErrNoSandbox = errors.New("no sandbox")

// A Sandbox confines command solvers. On Linux each run gets new user,
// mount, PID, IPC, UTS, cgroup and network namespaces (bubblewrap), sees
// only its job directory (read-write, as /job), its program's directory
// and the system's /usr (read-only), runs under Limits, and as an
// unprivileged user (nobody) when the worker is root. On Windows each run
// is a job object (killed whole when the run ends, memory and process
// limits) with a restricted token. It is safe for concurrent use.
type Sandbox struct {
	cfg SandboxConfig
	sys sandboxSys // the platform's part
}

// NewSandbox checks that this machine can build the sandbox by running a
// program in one, and returns it; it fails (wrapping ErrNoSandbox) when it
// cannot, so a worker refuses to run jobs rather than run them unconfined.
//
// The default open-files limit is lowered to the worker's own hard limit
// when that is lower (a container's, often 1,024): no process can raise
// it. A limit asked for above it is an error.
func NewSandbox(cfg SandboxConfig) (*Sandbox, error) {
	asked := cfg.Limits.OpenFiles > 0
	cfg.Limits = cfg.Limits.orDefault()
	if hard, ok := hardOpenFiles(); ok && cfg.Limits.OpenFiles > hard {
		if asked {
			return nil, fmt.Errorf("%w: a solver's open files (%d) cannot exceed the worker's hard limit (%d, ulimit -Hn)", ErrNoSandbox, cfg.Limits.OpenFiles, hard)
		}
		cfg.Limits.OpenFiles = hard
	}
	sys, err := newSandboxSys(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoSandbox, err)
	}
	return &Sandbox{cfg: cfg, sys: sys}, nil
}

// Check runs a program in the sandbox that c would get, with a job
// directory below parent, so that a worker finds at its start what would
// fail every job (a directory the sandbox's user cannot reach, a shared
// directory gone).
func (s *Sandbox) Check(parent string, c Command) error { return s.sys.check(parent, c) }

// AsOtherUser says whether solvers run as another user than the worker
// (Linux, a root worker: nobody), who must be able to reach the job
// directories' path.
func (s *Sandbox) AsOtherUser() bool { return s.sys.asOtherUser() }

// Describe says what the sandbox is, for a worker's log.
func (s *Sandbox) Describe() string { return s.sys.describe() }
