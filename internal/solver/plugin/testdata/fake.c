/*
** fake.c: a minimal solver plugin for the loader's tests, built several ways:
**   -DFAKE_VERSION=N   report ABI version N
**   -DFAKE_NO_SOLVE    export no iscsdk_solver_solve (not a plugin)
**   -DFAKE_STATUS=N    return N from a solve
** A solve reports 50 % with args_json as its log line, then returns.
*/
#include "iscsdk/solver_plugin.h"

#ifndef FAKE_VERSION
#define FAKE_VERSION ISCSDK_SOLVER_PLUGIN_ABI_VERSION
#endif
#ifndef FAKE_STATUS
#define FAKE_STATUS ISCSDK_SOLVER_OK
#endif

ISCSDK_SOLVER_EXPORT int32_t ISCSDK_SOLVER_CALL iscsdk_solver_abi_version(void)
{
    return FAKE_VERSION;
}

ISCSDK_SOLVER_EXPORT const char* ISCSDK_SOLVER_CALL iscsdk_solver_name(void)
{
    return "fake 0";
}

#ifndef FAKE_NO_SOLVE
ISCSDK_SOLVER_EXPORT int32_t ISCSDK_SOLVER_CALL iscsdk_solver_solve(const char* workdir, const char* args_json,
                                                                   iscsdk_solver_progress_fn progress,
                                                                   void* user_data)
{
    (void)workdir;
    if (progress(user_data, 5000, args_json) != 0) {
        return ISCSDK_SOLVER_CANCELED;
    }
    return FAKE_STATUS;
}
#endif
