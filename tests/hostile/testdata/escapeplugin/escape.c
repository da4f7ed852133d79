/*
** escape.c: a hostile solver plugin for the sandbox tests. It reads its
** model (args_json's "input", in workdir): one attempt a line, "read PATH"
** or "write PATH", and says for each "blocked ..." or "LEAKED ..." as a log
** line and in workdir/out.txt; it also says whether the worker's token is
** in its environment.
*/
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iscsdk/solver_plugin.h"

ISCSDK_SOLVER_EXPORT int32_t ISCSDK_SOLVER_CALL iscsdk_solver_abi_version(void)
{
    return ISCSDK_SOLVER_PLUGIN_ABI_VERSION;
}

ISCSDK_SOLVER_EXPORT const char* ISCSDK_SOLVER_CALL iscsdk_solver_name(void)
{
    return "escape 1";
}

static void say(FILE* out, iscsdk_solver_progress_fn progress, void* user_data, const char* line)
{
    fprintf(out, "%s\n", line);
    progress(user_data, ISCSDK_SOLVER_PROGRESS_UNKNOWN, line);
}

ISCSDK_SOLVER_EXPORT int32_t ISCSDK_SOLVER_CALL iscsdk_solver_solve(const char* workdir, const char* args_json,
                                                                   iscsdk_solver_progress_fn progress,
                                                                   void* user_data)
{
    char path[4096], line[4096], msg[8300];
    const char* in = strstr(args_json, "\"input\":\"");
    FILE *model, *out;
    size_t n;
    if (in == NULL) {
        return 6;
    }
    in += strlen("\"input\":\"");
    n = strcspn(in, "\"");
    snprintf(path, sizeof path, "%s/%.*s", workdir, (int)n, in);
    model = fopen(path, "r");
    snprintf(path, sizeof path, "%s/out.txt", workdir);
    out = fopen(path, "w");
    if (model == NULL || out == NULL) {
        return 1;
    }
    if (getenv("ISCD_WORKER_TOKEN") != NULL) {
        say(out, progress, user_data, "LEAKED env ISCD_WORKER_TOKEN");
    }
    while (fgets(line, sizeof line, model) != NULL) {
        char* target = line + 6;
        FILE* f;
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "read ", 5) == 0) {
            target = line + 5;
            f = fopen(target, "r");
            if (f == NULL) {
                snprintf(msg, sizeof msg, "blocked read %s", target);
            } else {
                char head[65] = {0};
                size_t got = fread(head, 1, 64, f);
                head[got] = '\0';
                fclose(f);
                snprintf(msg, sizeof msg, "LEAKED read %s: %s", target, head);
            }
        } else if (strncmp(line, "write ", 6) == 0) {
            f = fopen(target, "w");
            if (f == NULL) {
                snprintf(msg, sizeof msg, "blocked write %s", target);
            } else {
                fclose(f);
                snprintf(msg, sizeof msg, "LEAKED write %s", target);
            }
        } else {
            continue;
        }
        say(out, progress, user_data, msg);
    }
    fclose(model);
    fclose(out);
    return ISCSDK_SOLVER_OK;
}
