/*
** solve.c: cloud compute through the C ABI against a live iscd whose dev
** worker runs CalculiX. Run as `solve SCENARIO DIR [MODEL...]` with iscd's
** dev.env in the environment; DIR is a scratch directory.
**
**   models   solve each MODEL (a CalculiX deck) with results in DIR/<n>;
**            prints "result <n> <status> <resultDir>" for the Go side to
**            compare with a local ccx run, and checks the progress states
**   failures bad arguments get ISCSDK_E_INVALID_ARG (a model named -o, an
**            argument --evil among them); a deck ccx rejects
**            ends "failed" with errorCode solver_failed and the solver's
**            last lines; an unknown solver ends failed with unknown_solver
**   long     solve MODEL (one that does not end on its own); print
**            "RUNNING" once the worker runs it and "ENDED <status>
**            <errorCode>" when it ends: the driver cancels it in between
*/
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

static const char* dir;

/* Poll until the SolutionResult of request id; counts the progress states
** seen on the way into *states (bit 0 uploading, 1 queued, 2 running, 3
** downloading) and the highest percent into *pct. NULL after 120 s. */
static iscsdk_event* wait_result(iscsdk_client* c, uint64_t id, int* states, double* pct)
{
    int i;
    for (i = 0; i < 1200; i++) {
        iscsdk_event* ev = NULL;
        iscsdk_status st = iscsdk_poll_event(c, 100, &ev);
        if (st == ISCSDK_E_TIMEOUT) {
            continue;
        }
        if (!CHECK_STATUS(st, ISCSDK_OK)) {
            return NULL;
        }
        if (ev->request_id == id && ev->type == ISCSDK_EVENT_SOLUTION_RESULT) {
            return ev;
        }
        if (ev->request_id == id && ev->type == ISCSDK_EVENT_SOLUTION_PROGRESS) {
            char state[32], percent[32];
            json_value(ev->json, "state", state, sizeof state);
            json_value(ev->json, "percent", percent, sizeof percent);
            if (strcmp(state, "uploading") == 0) *states |= 1;
            if (strcmp(state, "queued") == 0) *states |= 2;
            if (strcmp(state, "running") == 0) *states |= 4;
            if (strcmp(state, "downloading") == 0) *states |= 8;
            if (percent[0] != '\0' && atof(percent) > *pct) {
                *pct = atof(percent);
            }
        }
        iscsdk_event_free(ev);
    }
    CHECK(!"the result came within 120 s");
    return NULL;
}

static iscsdk_client* open_client(void)
{
    iscsdk_client* c = NULL;
    if (!CHECK_STATUS(iscsdk_init(NULL, &c), ISCSDK_OK)) {
        return NULL;
    }
    return c;
}

static void models(int n, char** paths)
{
    iscsdk_client* c = open_client();
    int i;
    if (c == NULL) {
        return;
    }
    for (i = 0; i < n; i++) {
        char options[2048], status[32], result_dir[1024], exit_code[16], want_dir[900];
        uint64_t id = 0;
        int states = 0;
        double pct = -1;
        iscsdk_event* ev;
        snprintf(want_dir, sizeof want_dir, "%s/%d", dir, i);
        snprintf(options, sizeof options, "{\"solver\":\"calculix\",\"resultDir\":\"%s\"}", want_dir);
        if (!CHECK_STATUS(iscsdk_get_solution(c, paths[i], options, "{\"model\":1}", &id), ISCSDK_OK) || !CHECK(id != 0)) {
            continue;
        }
        ev = wait_result(c, id, &states, &pct);
        if (ev == NULL) {
            continue;
        }
        json_value(ev->json, "status", status, sizeof status);
        json_value(ev->json, "resultDir", result_dir, sizeof result_dir);
        json_value(ev->json, "exitCode", exit_code, sizeof exit_code);
        CHECK(strcmp(status, "success") == 0);
        CHECK(strcmp(result_dir, want_dir) == 0);
        CHECK(strcmp(exit_code, "0") == 0);
        CHECK(strstr(ev->json, "\"comeBackParams\":{\"model\":1}") != NULL);
        CHECK(states == 15); /* uploading, queued, running, downloading */
        CHECK(pct == 100);
        printf("result %d %s %s\n", i, status, result_dir);
        fflush(stdout);
        iscsdk_event_free(ev);
    }
    CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
}

static void failures(void)
{
    iscsdk_client* c = open_client();
    char deck[1024], value[4096];
    uint64_t id = 0;
    int states = 0;
    double pct = -1;
    iscsdk_event* ev;
    FILE* f;
    if (c == NULL) {
        return;
    }
    snprintf(deck, sizeof deck, "%s/broken.inp", dir);
    f = fopen(deck, "w");
    if (!CHECK(f != NULL)) {
        return;
    }
    fputs("*NODE\n1, 0, 0, 0\n*STEP\n*STATIC\n*CLOAD\nNOSUCHSET, 3, -1.\n*END STEP\n", f);
    fclose(f);

    /* Arguments. */
    CHECK_STATUS(iscsdk_get_solution(c, NULL, NULL, NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_STATUS(iscsdk_get_solution(c, deck, NULL, NULL, NULL), ISCSDK_E_INVALID_ARG);
    CHECK_STATUS(iscsdk_get_solution(c, "/no/such/model.inp", NULL, NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK(id == 0);
    CHECK_STATUS(iscsdk_get_solution(c, deck, "[1]", NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_STATUS(iscsdk_get_solution(c, deck, "{\"solvr\":\"calculix\"}", NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("solvr");
    CHECK_STATUS(iscsdk_get_solution(c, "\xff\xfe.inp", NULL, NULL, &id), ISCSDK_E_INVALID_ARG);
    /* A model or an argument a solver would read as an option. */
    {
        char opt[1024];
        snprintf(opt, sizeof opt, "%s/-o", dir);
        f = fopen(opt, "w");
        if (CHECK(f != NULL)) {
            fputs("*HEADING\n", f);
            fclose(f);
            CHECK_STATUS(iscsdk_get_solution(c, opt, NULL, NULL, &id), ISCSDK_E_INVALID_ARG);
            CHECK_ERROR_HAS("bad_argument");
        }
        CHECK_STATUS(iscsdk_get_solution(c, deck, "{\"args\":[\"--evil\"]}", NULL, &id), ISCSDK_E_INVALID_ARG);
        CHECK_ERROR_HAS("begins with '-'");
    }
    CHECK_STATUS(iscsdk_cancel(c, 987654), ISCSDK_E_INVALID_ARG);
    CHECK_STATUS(iscsdk_cancel(NULL, 1), ISCSDK_E_INVALID_ARG);

    /* A deck CalculiX rejects. */
    if (CHECK_STATUS(iscsdk_get_solution(c, deck, "{\"solver\":\"calculix\"}", NULL, &id), ISCSDK_OK)) {
        ev = wait_result(c, id, &states, &pct);
        if (ev != NULL) {
            json_value(ev->json, "status", value, sizeof value);
            CHECK(strcmp(value, "failed") == 0);
            json_value(ev->json, "errorCode", value, sizeof value);
            CHECK(strcmp(value, "solver_failed") == 0);
            CHECK(strstr(ev->json, "ERROR") != NULL); /* the solver's own words */
            json_value(ev->json, "resultDir", value, sizeof value);
            CHECK(value[0] != '\0'); /* solver.log comes back */
            iscsdk_event_free(ev);
        }
    }
    /* An unknown solver. */
    if (CHECK_STATUS(iscsdk_get_solution(c, deck, "{\"solver\":\"abaqus\"}", NULL, &id), ISCSDK_OK)) {
        ev = wait_result(c, id, &states, &pct);
        if (ev != NULL) {
            json_value(ev->json, "errorCode", value, sizeof value);
            CHECK(strcmp(value, "unknown_solver") == 0);
            iscsdk_event_free(ev);
        }
    }
    CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
}

static void long_running(const char* model)
{
    iscsdk_client* c = open_client();
    uint64_t id = 0;
    int i, running = 0;
    if (c == NULL || !CHECK_STATUS(iscsdk_get_solution(c, model, "{\"solver\":\"calculix\"}", NULL, &id), ISCSDK_OK)) {
        return;
    }
    for (i = 0; i < 1800; i++) { /* three minutes */
        iscsdk_event* ev = NULL;
        char value[64], code[64];
        iscsdk_status st = iscsdk_poll_event(c, 100, &ev);
        if (st == ISCSDK_E_TIMEOUT) {
            continue;
        }
        if (!CHECK_STATUS(st, ISCSDK_OK)) {
            break;
        }
        if (ev->request_id == id && ev->type == ISCSDK_EVENT_SOLUTION_PROGRESS && !running) {
            json_value(ev->json, "state", value, sizeof value);
            if (strcmp(value, "running") == 0) {
                running = 1;
                printf("RUNNING\n");
                fflush(stdout);
            }
        }
        if (ev->request_id == id && ev->type == ISCSDK_EVENT_SOLUTION_RESULT) {
            json_value(ev->json, "status", value, sizeof value);
            json_value(ev->json, "errorCode", code, sizeof code);
            printf("ENDED %s %s\n", value, code);
            fflush(stdout);
            iscsdk_event_free(ev);
            break;
        }
        iscsdk_event_free(ev);
    }
    CHECK(running);
    CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
}

int main(int argc, char** argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: solve models|failures|long DIR [MODEL...]\n");
        return 2;
    }
    dir = argv[2];
    if (strcmp(argv[1], "models") == 0) {
        models(argc - 3, argv + 3);
    } else if (strcmp(argv[1], "failures") == 0) {
        failures();
    } else if (strcmp(argv[1], "long") == 0 && argc == 4) {
        long_running(argv[3]);
    } else {
        fprintf(stderr, "unknown scenario %s\n", argv[1]);
        return 2;
    }
    return check_done();
}
