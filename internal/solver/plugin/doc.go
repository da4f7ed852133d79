// Package plugin loads native solver plugins, shared libraries that
// implement include/iscsdk/solver_plugin.h, and runs their solves. It uses
// no cgo: libraries are loaded with dlopen (LoadLibrary on Windows) and
// called through github.com/ebitengine/purego, so a worker that uses it
// still builds with CGO_ENABLED=0, cross-compiles, and needs no C toolchain.
//
// # Callbacks
//
// purego can create only a fixed number of C callbacks in a process (2000),
// and never frees one. This package therefore creates exactly one, on the
// first solve, and shares it among every plugin and every solve: the
// user_data pointer the plugin passes back is not a pointer but the number
// of the solve, which the callback looks up in a table to find that solve's
// context and progress function. Loading and unloading plugins any number of
// times creates no further callbacks.
//
// # Threads and concurrency
//
// A solve runs on the calling goroutine, locked to its OS thread for the
// duration, so the plugin's calls of the progress callback arrive on the
// thread it was called on, as the ABI promises. The ABI lets a plugin be
// non-reentrant: Solve calls on the same library (even through two Plugins
// opened from the same file) run one at a time. A worker that solves several
// jobs with one plugin at once runs several processes.
//
// # Cancellation
//
// The progress callback is the only way to ask a plugin to stop: once the
// solve's context is done, the next call of the callback returns non-zero
// and the plugin is expected to return ISCSDK_SOLVER_CANCELED. A plugin that
// never calls back cannot be stopped; a worker that must bound a solve's
// time in all cases runs the plugin in a child process it can kill.
package plugin

import "errors"

// ABIVersion is the version of include/iscsdk/solver_plugin.h this package
// speaks (ISCSDK_SOLVER_PLUGIN_ABI_VERSION). Open refuses a plugin built for
// another.
const ABIVersion = 1

// StatusCanceled is the status a plugin returns when it stopped because it
// was asked to (ISCSDK_SOLVER_CANCELED); Solve returns it as the exit code
// of a canceled solve.
const StatusCanceled = -2

var (
	// ErrNotPlugin: the library does not export the functions of the ABI.
	ErrNotPlugin = errors.New("not an iscsdk solver plugin")
	// ErrABIVersion: the plugin was built for another version of the ABI.
	ErrABIVersion = errors.New("unsupported solver plugin ABI version")
	// ErrCanceled: the solve stopped because its context was done. The
	// error also wraps the context's cause.
	ErrCanceled = errors.New("solve canceled")
	// ErrProgressPanic: the progress function panicked; the plugin was
	// asked to stop and the panic did not cross into C.
	ErrProgressPanic = errors.New("progress function panicked")
	// ErrClosed: Solve or Close on a closed Plugin.
	ErrClosed = errors.New("solver plugin closed")
)
