/*
** cloud_solve.c: solve a model in the cloud (GetSolution) and print the
** solver's progress as it runs, then where the results are. With iscd's
** dev.env in the environment (its dev worker runs CalculiX):
**
**     build/bin/cloud_solve examples/data/beam.inp
**     build/bin/cloud_solve model.inp '{"solver":"calculix","inputs":["mesh.msh"]}'
**
** A program with a UI would take the events in its callback and call
** iscsdk_cancel(c, id) from its Cancel button; this one polls and solves to
** the end.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iscsdk/iscsdk.h>

/* Copy the string value of "key" in an event's json into out ("" if absent).
** Escapes are kept as they are ("\n" stays two characters). */
static void json_value(const char* json, const char* key, char* out, size_t size)
{
    char pattern[64];
    const char* p;
    size_t n = 0;
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    out[0] = '\0';
    if ((p = strstr(json, pattern)) == NULL) {
        return;
    }
    p += strlen(pattern);
    while (p[n] != '\0' && !(p[n] == '"' && (n == 0 || p[n - 1] != '\\')) && n + 1 < size) {
        n++;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

/* Print solver output lines (a JSON string with "\n" escapes), indented. */
static void print_lines(const char* s)
{
    fputs("    | ", stdout);
    for (; *s != '\0'; s++) {
        if (s[0] == '\\' && s[1] == 'n') {
            fputs("\n    | ", stdout);
            s++;
        } else if (s[0] == '\\' && s[1] != '\0') {
            putchar(s[1]);
            s++;
        } else {
            putchar(*s);
        }
    }
    putchar('\n');
}

int main(int argc, char** argv)
{
    static char value[1 << 16];
    iscsdk_client* c = NULL;
    uint64_t id = 0;
    char last_state[32] = "";
    int ok = 0;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s MODEL [OPTIONS_JSON]\n", argv[0]);
        return 2;
    }
    if (iscsdk_init(NULL, &c) != ISCSDK_OK) {
        fprintf(stderr, "init: %s\n", iscsdk_last_error());
        return 1;
    }
    if (iscsdk_get_solution(c, argv[1], argc == 3 ? argv[2] : NULL, NULL, &id) != ISCSDK_OK) {
        fprintf(stderr, "get_solution: %s\n", iscsdk_last_error());
        iscsdk_shut_out(c);
        return 1;
    }
    printf("solving %s (request %llu)\n", argv[1], (unsigned long long)id);
    for (;;) {
        iscsdk_event* ev = NULL;
        if (iscsdk_poll_event(c, 600000, &ev) != ISCSDK_OK) {
            fprintf(stderr, "poll: %s\n", iscsdk_last_error());
            break;
        }
        if (ev->request_id != id) {
            iscsdk_event_free(ev);
            continue;
        }
        if (ev->type == ISCSDK_EVENT_SOLUTION_PROGRESS) {
            char state[32], percent[32];
            json_value(ev->json, "state", state, sizeof state);
            json_value(ev->json, "percent", percent, sizeof percent);
            if (strcmp(state, last_state) != 0) {
                printf("  %s\n", state);
                snprintf(last_state, sizeof last_state, "%s", state);
            }
            json_value(ev->json, "log", value, sizeof value);
            if (value[0] != '\0') {
                print_lines(value);
            }
            if (percent[0] != '\0') {
                printf("  %s %s %%\n", state, percent);
            }
        } else if (ev->type == ISCSDK_EVENT_SOLUTION_RESULT) {
            char status[16], code[16], wall[32], sent[32];
            json_value(ev->json, "status", status, sizeof status);
            json_value(ev->json, "exitCode", code, sizeof code);
            json_value(ev->json, "wallSeconds", wall, sizeof wall);
            json_value(ev->json, "bytesSent", sent, sizeof sent);
            printf("result: %s (exit code %s, solver time %s s, %s bytes uploaded)\n", status, code, wall, sent);
            json_value(ev->json, "resultDir", value, sizeof value);
            printf("results in: %s\n", value);
            if (strcmp(status, "success") != 0) {
                json_value(ev->json, "errorMsg", value, sizeof value);
                printf("why: %s\n", value);
            }
            ok = strcmp(status, "success") == 0;
            iscsdk_event_free(ev);
            break;
        }
        iscsdk_event_free(ev);
    }
    iscsdk_shut_out(c);
    return ok ? 0 : 1;
}
