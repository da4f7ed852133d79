/*
** solver_plugin.h: the C interface of a native solver plugin, a shared
** library (.so, .dylib, .dll) through which an iscsdk worker runs a vendor's
** solver in its own process instead of as a command.
**
** This header is the whole contract. A vendor includes it in one C or C++
** file, defines the three functions below with ISCSDK_SOLVER_EXPORT, and
** builds a shared library; the worker loads it, checks
** iscsdk_solver_abi_version(), and calls iscsdk_solver_solve() once per job.
** Nothing is linked against iscsdk: the plugin needs this header only.
**
** The worker is a pure-Go program (no cgo); it loads the library with
** dlopen()/LoadLibrary() and calls it through github.com/ebitengine/purego.
** That is why every type crossing this interface is an integer or a pointer
** (a limit of Go's callbacks on Windows): keep it that way in later versions.
**
** CONVENTIONS
**
** Threads. The worker calls iscsdk_solver_solve() on one thread and calls no
** other function of the plugin while it runs; the plugin calls the progress
** callback from that same thread only, never from a thread of its own, and
** never after iscsdk_solver_solve() has returned. The plugin may use threads
** of its own for the computation (OpenMP, a thread pool) as long as they have
** stopped when iscsdk_solver_solve() returns. A worker process runs at most
** one solve of a given plugin at a time, so a plugin need not be reentrant;
** a worker that runs several jobs at once uses several processes.
**
** Memory. Every string crosses the interface as NUL-terminated UTF-8 and
** stays owned by the side that passed it: the strings given to
** iscsdk_solver_solve() are valid until it returns, the log line given to
** the callback until the callback returns (the worker copies it). Neither
** side frees memory the other allocated. The plugin returns no data through
** memory: it writes its output files into workdir.
**
** Files. workdir is a fresh private directory holding the job's input files
** and nothing else; the worker sends back the output files the plugin leaves
** there. The plugin writes nowhere else, and does not change the process's
** current directory (other jobs share the process), its environment or its
** signal handlers.
**
** Failure. The plugin never exits, aborts or crashes the process on bad
** input: it returns a positive failure code, and reports the reason as a
** last log line through the callback. A crash in a plugin kills the worker
** process, and every job it was running is re-run elsewhere.
**
** Cancellation. The callback's return value is the only way a worker can ask
** a plugin to stop. A solver calls it often enough (at least every 100 ms of
** work, even with percent -1 and no log line) to stop promptly when asked.
*/
#ifndef ISCSDK_SOLVER_PLUGIN_H
#define ISCSDK_SOLVER_PLUGIN_H

#include <stdint.h>

/*
** ISCSDK_SOLVER_EXPORT marks the three functions the plugin defines, so that
** they are exported from the shared library even when it is built with
** -fvisibility=hidden. ISCSDK_SOLVER_CALL is their calling convention and
** that of the progress callback (cdecl; only 64-bit workers are supported).
*/
#if defined(_WIN32) || defined(__CYGWIN__)
#  define ISCSDK_SOLVER_CALL __cdecl
#  define ISCSDK_SOLVER_EXPORT __declspec(dllexport)
#else
#  define ISCSDK_SOLVER_CALL
#  if defined(__GNUC__) && __GNUC__ >= 4
#    define ISCSDK_SOLVER_EXPORT __attribute__((visibility("default")))
#  else
#    define ISCSDK_SOLVER_EXPORT
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
** VERSION
**
** The version of this interface. iscsdk_solver_abi_version() returns the
** version the plugin was built against; a worker loads a plugin only if it
** speaks that version, and otherwise refuses it with a clear error. The
** version changes only when a change would break existing plugins.
*/
#define ISCSDK_SOLVER_PLUGIN_ABI_VERSION 1

/*
** STATUS
**
** What iscsdk_solver_solve() returns. Positive codes are the solver's own
** failure codes (its "exit status"): the worker reports them as the job's
** exitCode, with status failed, along with the last log lines. Negative
** codes other than ISCSDK_SOLVER_CANCELED are reserved; a worker treats
** them as a failure of the plugin.
*/
#define ISCSDK_SOLVER_OK         0   /* solved; the output files are in workdir */
#define ISCSDK_SOLVER_CANCELED  -2   /* stopped because the callback returned non-zero */

/*
** PROGRESS
**
** The progress callback the worker passes to iscsdk_solver_solve().
**
** user_data is the pointer given to iscsdk_solver_solve(), passed back
** untouched. progress is how far the solve is, in hundredths of a percent
** (0 to 10000), or ISCSDK_SOLVER_PROGRESS_UNKNOWN (-1) when the solver cannot
** tell; it should not go down during a solve. log_line is NULL or one line
** of the solver's log, NUL-terminated UTF-8 without the line break, valid
** during the call only.
**
** Returns 0 to let the solve go on, non-zero to ask the solver to stop: the
** job was canceled, or ran out of time. A solver asked to stop returns
** ISCSDK_SOLVER_CANCELED as soon as it can, without calling the callback
** again. Output files it leaves in workdir are discarded.
**
** The callback is cheap (it copies the line and returns): call it as often
** as is useful, but send log lines at a human pace (a few per second), since
** every line travels to the engineer's program.
*/
#define ISCSDK_SOLVER_PROGRESS_UNKNOWN -1

typedef int32_t (ISCSDK_SOLVER_CALL *iscsdk_solver_progress_fn)(void* user_data, int32_t progress,
                                                               const char* log_line);

/*
** THE FUNCTIONS A PLUGIN EXPORTS
*/

/*
** Return ISCSDK_SOLVER_PLUGIN_ABI_VERSION, the version of this header the
** plugin was built with. Called first, on any thread, before anything else;
** it must not do any work.
*/
ISCSDK_SOLVER_EXPORT int32_t ISCSDK_SOLVER_CALL iscsdk_solver_abi_version(void);

/*
** Return the solver's name and version for logs, e.g. "heat 1.0": static
** NUL-terminated UTF-8, owned by the plugin, valid while it is loaded.
*/
ISCSDK_SOLVER_EXPORT const char* ISCSDK_SOLVER_CALL iscsdk_solver_name(void);

/*
** Solve the model whose files are in workdir, writing the output files into
** workdir. Blocks until the solve has finished, failed or been canceled.
**
** workdir is the absolute path of the job's directory, without a trailing
** separator. args_json is a JSON object, never NULL: the worker passes
** {"input": "<the model's file in workdir>", "cores": N, "args": [...]}
** ("args", the engineer's extra solver arguments as strings, only when
** there are some); ignore keys you do not know. progress
** is never NULL; user_data is passed back to it untouched. The strings are
** owned by the worker and valid until this function returns.
**
** Returns ISCSDK_SOLVER_OK (0) on success, a positive solver-specific code
** on failure (bad input, no convergence, ...), or ISCSDK_SOLVER_CANCELED
** when progress returned non-zero.
*/
ISCSDK_SOLVER_EXPORT int32_t ISCSDK_SOLVER_CALL iscsdk_solver_solve(const char* workdir, const char* args_json,
                                                                   iscsdk_solver_progress_fn progress,
                                                                   void* user_data);

#ifdef __cplusplus
}
#endif

#endif /* ISCSDK_SOLVER_PLUGIN_H */
