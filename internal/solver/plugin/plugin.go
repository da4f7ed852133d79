//go:build darwin || freebsd || linux || netbsd || windows

package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Plugin is a loaded solver plugin. Its methods may be called from any
// goroutine.
type Plugin struct {
	path   string
	name   string
	lib    *library
	solve  func(workdir, argsJSON string, progress, userData uintptr) int32
	closed atomic.Bool
}

// library is one loaded shared library, shared by the Plugins opened from
// it: the dynamic loader returns the same handle for the same file.
type library struct {
	handle  uintptr
	solving sync.Mutex // held during a solve: the ABI allows one at a time
	refs    int        // open Plugins; guarded by libraries.mu
}

var libraries struct {
	mu       sync.Mutex
	byHandle map[uintptr]*library
}

// Open loads the plugin in the shared library at path (a file path; a bare
// name is taken relative to the current directory, never searched for on
// the library path), checks its ABI version and reads its name. The library
// stays loaded until every Plugin opened from it is closed.
//
// Errors wrap ErrNotPlugin when the library lacks one of the ABI's functions
// or has an empty name, and ErrABIVersion when it was built for another
// version of the ABI; a file that cannot be loaded at all gives the dynamic
// loader's error.
func Open(path string) (*Plugin, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open solver plugin %s: %w", path, err)
	}
	handle, err := openLibrary(abs)
	if err != nil {
		return nil, fmt.Errorf("open solver plugin %s: %w", path, err)
	}
	p, err := bind(abs, handle)
	if err != nil {
		closeLibrary(handle)
		return nil, fmt.Errorf("solver plugin %s: %w", path, err)
	}

	libraries.mu.Lock()
	defer libraries.mu.Unlock()
	if libraries.byHandle == nil {
		libraries.byHandle = make(map[uintptr]*library)
	}
	lib := libraries.byHandle[handle]
	if lib == nil {
		lib = &library{handle: handle}
		libraries.byHandle[handle] = lib
	}
	lib.refs++
	p.lib = lib
	return p, nil
}

// bind finds the ABI's functions in the library and checks its version and name.
func bind(path string, handle uintptr) (*Plugin, error) {
	var syms [3]uintptr
	for i, name := range []string{"iscsdk_solver_abi_version", "iscsdk_solver_name", "iscsdk_solver_solve"} {
		sym, err := lookup(handle, name)
		if err != nil || sym == 0 {
			return nil, fmt.Errorf("%w: it does not export %s", ErrNotPlugin, name)
		}
		syms[i] = sym
	}
	var abiVersion func() int32
	purego.RegisterFunc(&abiVersion, syms[0])
	if v := abiVersion(); v != ABIVersion {
		return nil, fmt.Errorf("%w: it was built for ABI version %d, this worker speaks version %d",
			ErrABIVersion, v, ABIVersion)
	}
	var nameOf func() string
	purego.RegisterFunc(&nameOf, syms[1])
	name := nameOf()
	if name == "" {
		return nil, fmt.Errorf("%w: iscsdk_solver_name returned an empty name", ErrNotPlugin)
	}
	p := &Plugin{path: path, name: strings.ToValidUTF8(name, "\uFFFD")}
	purego.RegisterFunc(&p.solve, syms[2])
	return p, nil
}

// Name returns the name the plugin gives itself (iscsdk_solver_name), for logs.
func (p *Plugin) Name() string { return p.name }

// Path returns the absolute path of the library the plugin was loaded from.
func (p *Plugin) Path() string { return p.path }

// Close unloads the plugin once no other Plugin uses its library, after the
// running Solve, if any, has returned. A second Close returns ErrClosed.
func (p *Plugin) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	// Wait for a running solve: the library's code must stay mapped until it returns.
	p.lib.solving.Lock()
	defer p.lib.solving.Unlock()

	libraries.mu.Lock()
	p.lib.refs--
	if p.lib.refs == 0 {
		delete(libraries.byHandle, p.lib.handle)
	}
	libraries.mu.Unlock()
	if err := closeLibrary(p.lib.handle); err != nil {
		return fmt.Errorf("close solver plugin %s: %w", p.path, err)
	}
	return nil
}

// Solve runs the plugin on the job in workdir (iscsdk_solver_solve) and
// blocks until it has finished, failed or been canceled.
//
// argsJSON is the solver's arguments, a JSON object ("" means {}). progress,
// which may be nil, receives the plugin's reports: percent from 0 to 100, or
// -1 when unknown, and a log line, or "" when there is none. It is called on
// the goroutine that called Solve, while the plugin waits; a panic in it is
// recovered, stops the solve, and is returned wrapped in ErrProgressPanic.
// It must not call runtime.Goexit (t.FailNow in a test), which would unwind
// through C.
//
// When ctx is done, the plugin is asked to stop at its next progress report;
// Solve then returns StatusCanceled and an error wrapping ErrCanceled and the
// context's cause. A plugin that finishes before it notices returns its
// status as usual.
//
// The exit code is the plugin's status. A nil error with a positive exit
// code means the solver ran and rejected or failed to solve the model: the
// job failed, and its last log lines say why. A non-nil error means the
// solve did not come to such an outcome: it was canceled, the arguments were
// invalid, the plugin returned a reserved status, or the progress function
// panicked.
func (p *Plugin) Solve(ctx context.Context, workdir, argsJSON string, progress func(percent float64, line string)) (exitCode int, err error) {
	dir, err := filepath.Abs(workdir)
	if err != nil {
		return 0, fmt.Errorf("solver plugin %s: workdir: %w", p.name, err)
	}
	if st, err := os.Stat(dir); err != nil {
		return 0, fmt.Errorf("solver plugin %s: workdir: %w", p.name, err)
	} else if !st.IsDir() {
		return 0, fmt.Errorf("solver plugin %s: workdir %s is not a directory", p.name, dir)
	}
	if strings.TrimSpace(argsJSON) == "" {
		argsJSON = "{}"
	}
	var args map[string]json.RawMessage
	if err := json.Unmarshal([]byte(argsJSON), &args); err != nil || args == nil {
		return 0, fmt.Errorf("solver plugin %s: arguments are not a JSON object: %s", p.name, argsJSON)
	}
	if strings.IndexByte(dir, 0) >= 0 || strings.IndexByte(argsJSON, 0) >= 0 || !utf8.ValidString(dir) {
		return 0, fmt.Errorf("solver plugin %s: workdir or arguments contain a NUL byte or invalid UTF-8", p.name)
	}
	if err := ctx.Err(); err != nil {
		return StatusCanceled, fmt.Errorf("solver plugin %s: %w: %w", p.name, ErrCanceled, context.Cause(ctx))
	}

	p.lib.solving.Lock()
	defer p.lib.solving.Unlock()
	if p.closed.Load() {
		return 0, ErrClosed
	}
	call := &solveCall{ctx: ctx, progress: progress}
	id := solves.lastID.Add(1)
	solves.byID.Store(id, call)
	defer solves.byID.Delete(id)

	callback := progressCallback()
	runtime.LockOSThread()
	status := p.solve(dir, argsJSON, callback, id)
	runtime.UnlockOSThread()

	call.mu.Lock()
	defer call.mu.Unlock()
	switch {
	case call.panicErr != nil:
		return int(status), fmt.Errorf("solver plugin %s: %w", p.name, call.panicErr)
	case status >= 0:
		return int(status), nil
	case status == StatusCanceled && ctx.Err() != nil:
		return StatusCanceled, fmt.Errorf("solver plugin %s: %w: %w", p.name, ErrCanceled, context.Cause(ctx))
	case status == StatusCanceled:
		return StatusCanceled, fmt.Errorf("solver plugin %s: returned canceled, but was not asked to stop", p.name)
	default:
		return int(status), fmt.Errorf("solver plugin %s: returned %d, a status the ABI reserves", p.name, status)
	}
}

// ---- the progress callback ------------------------------------------------

// solveCall is a running solve, as the progress callback sees it.
type solveCall struct {
	ctx      context.Context
	progress func(percent float64, line string)

	// mu guards the fields below. The ABI has the plugin call back on the
	// solving thread only, but a plugin that breaks the rule must not
	// corrupt them.
	mu       sync.Mutex
	panicErr error
}

// solves maps the user_data a plugin passes back to its solve.
var solves struct {
	lastID atomic.Uintptr
	byID   sync.Map // uintptr -> *solveCall
}

var (
	callbackOnce sync.Once
	callbackPtr  uintptr
)

// progressCallback returns the process's one C progress callback, created on
// first use (see the package documentation on why there is only one).
func progressCallback() uintptr {
	callbackOnce.Do(func() { callbackPtr = purego.NewCallback(onProgress) })
	return callbackPtr
}

// maxLogLine bounds the bytes copied from a log line; the rest is dropped.
const maxLogLine = 64 << 10

// onProgress is the C callback iscsdk_solver_progress_fn. Every argument and
// the result are word-sized, as Go's callbacks on Windows require: progress
// is the C int32_t, in the low 32 bits; the C side reads the low 32 bits of
// the result.
func onProgress(userData, progress uintptr, logLine *byte) uintptr {
	v, ok := solves.byID.Load(userData)
	if !ok {
		return 1 // not a running solve: a plugin calling back after it returned
	}
	if v.(*solveCall).report(int32(uint32(progress)), logLine) {
		return 1
	}
	return 0
}

// report passes a report on to the progress function and says whether the
// plugin should stop.
func (c *solveCall) report(progress int32, logLine *byte) (stop bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.panicErr != nil || c.ctx.Err() != nil {
		return true
	}
	if c.progress != nil {
		percent := -1.0
		if progress >= 0 {
			percent = min(float64(progress)/100, 100)
		}
		if err := c.call(percent, goString(logLine)); err != nil {
			c.panicErr = err
			return true
		}
	}
	return c.ctx.Err() != nil
}

// call runs the progress function, turning a panic into an error: a panic
// must not unwind through the plugin's C frames.
func (c *solveCall) call(percent float64, line string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrProgressPanic, r)
		}
	}()
	c.progress(percent, line)
	return nil
}

// goString copies the NUL-terminated C string at p (nil: ""), at most
// maxLogLine bytes of it, replacing invalid UTF-8.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for n < maxLogLine && *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return strings.ToValidUTF8(string(unsafe.Slice(p, n)), "\uFFFD")
}
