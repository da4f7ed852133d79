/*
** session.c: the C ABI against a live iscd. Run as `session SCENARIO` with
** iscd's dev.env in the environment. Scenarios that need the service to
** push notices print "READY <session-id>", then read "SENT <n>" from stdin
** once the driver has posted notices "1".."n" to that session.
**
**   calls      NULL out pointers, bad strings, not-implemented calls, double shut_out
**              (licences: tests/cabi/license.c)
**   callbacks  callback switch, order, one at a time, none after shut_out
**   reentrant  shut_out from inside the callback
**   poll       poll mode, timeouts, poll while a callback is registered
**   badtoken   a refused token
*/
#define _POSIX_C_SOURCE 200809L
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

/* ---- helpers ---- */

static int notice_number(const iscsdk_event* e)
{
    char text[32];
    json_value(e->json, "text", text, sizeof text);
    return atoi(text);
}

/* Print READY with the session id and return the n read back. */
static int ready(const char* session)
{
    char line[64];
    int n = 0;
    printf("READY %s\n", session);
    if (fgets(line, sizeof line, stdin) == NULL || sscanf(line, "SENT %d", &n) != 1) {
        CHECK(!"read SENT <n> from stdin");
    }
    return n;
}

static iscsdk_client* connect_client(void)
{
    iscsdk_client* c = NULL;
    CHECK_STATUS(iscsdk_init(NULL, &c), ISCSDK_OK);
    return c;
}

/* ---- calls ---- */

static void scenario_calls(void)
{
    iscsdk_client* c = NULL;
    iscsdk_event* ev = NULL;
    uint64_t id = 7;
    iscsdk_options o;

    /* Empty options: everything from the environment, like NULL. */
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    if (!CHECK_STATUS(iscsdk_init(&o, &c), ISCSDK_OK)) {
        return;
    }
    CHECK(strcmp(iscsdk_last_error(), "") == 0);

    CHECK_STATUS(iscsdk_poll_event(c, 0, NULL), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("out_event is NULL");
    CHECK_STATUS(iscsdk_get_license_string_request(c, NULL, NULL, NULL), ISCSDK_E_INVALID_ARG);
    CHECK_STATUS(iscsdk_get_license_file_request(c, NULL, NULL, NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("file_name is NULL");
    CHECK_STATUS(iscsdk_check_new_versions(c, NULL), ISCSDK_E_INVALID_ARG);
    CHECK_STATUS(iscsdk_open_cloud_file(c, NULL, NULL), ISCSDK_E_INVALID_ARG);
    CHECK_STATUS(iscsdk_open_cloud_path(c, NULL, ISCSDK_OPEN_ONLY, NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_STATUS(iscsdk_open_cloud_path(c, "/a.prt", 5, NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("open_type");
    CHECK_STATUS(iscsdk_save(c, NULL, 0, NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_STATUS(iscsdk_save(c, "/tmp/a.prt", 0, NULL, NULL), ISCSDK_E_INVALID_ARG);
    CHECK_STATUS(iscsdk_save(c, "/tmp/\xe6\x96", 0, NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("local_path is not valid UTF-8");
    CHECK_STATUS(iscsdk_save(c, "/tmp/a.prt", 0, "[1, 2]", &id), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("come_back_json is not a JSON object");
    CHECK_STATUS(iscsdk_save(c, "/tmp/a.prt", 0, "{\"x\":", &id), ISCSDK_E_INVALID_ARG);
    CHECK_STATUS(iscsdk_select_save_as_path(c, NULL, 1, NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_STATUS(iscsdk_save_as(c, "/tmp/a.prt", NULL, 0, NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_STATUS(iscsdk_get_solution(c, NULL, NULL, NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_STATUS(iscsdk_get_solution(c, "/tmp/a.inp", "not json", NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("options_json");

    /* The pickers check their arguments before they ask for a picker. */
    id = 7;
    CHECK_STATUS(iscsdk_open_cloud_file(c, "[1]", &id), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("iscsdk_open_cloud_file: invalid argument: come_back_json is not a JSON object");
    CHECK(id == 0);
    CHECK_STATUS(iscsdk_select_save_as_path(c, "/tmp/asm", 1, NULL, NULL), ISCSDK_E_INVALID_ARG);
    CHECK_STATUS(iscsdk_select_save_as_path(c, "/tmp/\xe6\x96", 1, NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("local_path is not valid UTF-8");

    /* An upgrade answer needs an offer first (tests/cabi/upgrade.c). */
    CHECK_STATUS(iscsdk_upgrade_notify(c, 0), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("no upgrade was offered");
    /* Cloud paths that leave their root, or are not paths. */
    CHECK_STATUS(iscsdk_open_cloud_path(c, "/a/../../etc/passwd", ISCSDK_OPEN_AND_CHECKOUT, NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("invalid cloud path");
    CHECK_STATUS(iscsdk_save_as(c, "/tmp/a.prt", "relative.prt", 0, NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_STATUS(iscsdk_save_as(c, "/tmp/a.prt", "/a\\b.prt", 0, NULL, &id), ISCSDK_E_INVALID_ARG);
    /* A model that does not exist; a request id that names no solution. */
    CHECK_STATUS(iscsdk_get_solution(c, "/nonexistent/a.inp", "{}", NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("model");
    CHECK_STATUS(iscsdk_cancel(c, 424242), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("no solution in progress");

    /* The session is up: the first event says so. */
    if (CHECK_STATUS(iscsdk_poll_event(c, 10000, &ev), ISCSDK_OK)) {
        CHECK(ev->struct_size == sizeof(iscsdk_event));
        CHECK(ev->type == ISCSDK_EVENT_CONNECTION_STATE);
        CHECK(ev->request_id == 0);
        CHECK(ev->json_len == strlen(ev->json));
        CHECK(strstr(ev->json, "\"operate\":\"ConnectionState\"") != NULL);
        CHECK(strstr(ev->json, "\"state\":\"connected\"") != NULL);
        iscsdk_event_free(ev);
    }

    CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
    CHECK(strcmp(iscsdk_last_error(), "") == 0);
    CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_E_INVALID_HANDLE);
    CHECK_STATUS(iscsdk_register_event_recall(c, NULL, NULL), ISCSDK_E_INVALID_HANDLE);
    CHECK_STATUS(iscsdk_poll_event(c, 0, &ev), ISCSDK_E_INVALID_HANDLE);
    CHECK(ev == NULL);
}

/* ---- callbacks ---- */

typedef struct recorder {
    const char* name;
    atomic_int events, notices, last_notice, inside;
    signal_t connected, heartbeat, notice;
    char session[128];
} recorder;

static atomic_int a_retired;    /* set once register(B) has returned */
static atomic_int hold;         /* 1: the next callback waits for release */
static atomic_int release;
static atomic_int shut_done;    /* set once shut_out has returned */
static signal_t held = SIGNAL_INIT;

/* Yield for ms milliseconds: a window for a concurrent callback to show.
** Bounded by time, not by a number of yields: on a loaded machine each
** yield may hand the processor to every other runnable task in turn
** (5000 yields took 39 s at load 32, 0.7 s at load 2), and 100 a callback
** made the 50 notices outlast their 20 s wait. */
static void yield_for(double ms)
{
    double end = now_ms() + ms;
    do {
        sched_yield();
    } while (now_ms() < end);
}

static void ISCSDK_CALL record(const iscsdk_event* e, void* user_data)
{
    recorder* r = (recorder*)user_data;
    int i, n;

    CHECK(atomic_load(&shut_done) == 0);
    CHECK(atomic_fetch_add(&r->inside, 1) == 0); /* one at a time */
    atomic_fetch_add(&r->events, 1);
    switch (e->type) {
    case ISCSDK_EVENT_CONNECTION_STATE:
        json_value(e->json, "session", r->session, sizeof r->session);
        signal_add(&r->connected);
        break;
    case ISCSDK_EVENT_HEARTBEAT:
        signal_add(&r->heartbeat);
        break;
    case ISCSDK_EVENT_NOTICE:
        n = notice_number(e);
        if (!CHECK(n == atomic_load(&r->last_notice) + 1)) { /* in order, no duplicates */
            printf("  %s got notice %d after %d\n", r->name, n, atomic_load(&r->last_notice));
        }
        atomic_store(&r->last_notice, n);
        atomic_fetch_add(&r->notices, 1);
        signal_add(&r->notice);
        break;
    }
    yield_for(0.2); /* widen the window for a concurrent callback to show */
    if (atomic_load(&hold) && atomic_exchange(&hold, 0)) {
        signal_add(&held);
        for (i = 0; !atomic_load(&release) && i < 10000000; i++) {
            sched_yield();
        }
        yield_for(2); /* still running while shut_out is called */
    }
    atomic_fetch_sub(&r->inside, 1);
    CHECK(atomic_load(&shut_done) == 0);
}

static void ISCSDK_CALL record_a(const iscsdk_event* e, void* user_data)
{
    CHECK(atomic_load(&a_retired) == 0);
    record(e, user_data);
}

static recorder a = { "A", 0, 0, 0, 0, SIGNAL_INIT, SIGNAL_INIT, SIGNAL_INIT, "" };
static recorder b = { "B", 0, 0, 0, 0, SIGNAL_INIT, SIGNAL_INIT, SIGNAL_INIT, "" };

static void scenario_callbacks(void)
{
    iscsdk_client* c = connect_client();
    iscsdk_event* ev = NULL;
    int n;

    if (c == NULL) {
        return;
    }
    CHECK_STATUS(iscsdk_register_event_recall(c, record_a, &a), ISCSDK_OK);
    CHECK_STATUS(iscsdk_poll_event(c, 0, &ev), ISCSDK_E_CALLBACK_REGISTERED);
    CHECK(ev == NULL);
    CHECK(signal_wait(&a.connected, 1, 10));
    CHECK(signal_wait(&a.heartbeat, 1, 10));

    /* Switch to B: from now on A is never called. */
    CHECK_STATUS(iscsdk_register_event_recall(c, record, &b), ISCSDK_OK);
    atomic_store(&a_retired, 1);

    n = ready(a.session);
    CHECK(n > 0);
    CHECK(signal_wait(&b.notice, n, 20));
    CHECK(atomic_load(&b.notices) == n);
    CHECK(atomic_load(&b.last_notice) == n);
    CHECK(atomic_load(&a.notices) == 0);

    /* Shut out while a callback runs: it waits for that callback, and no
    ** callback starts after it returns. */
    atomic_store(&hold, 1);
    CHECK(signal_wait(&held, 1, 10));
    atomic_store(&release, 1);
    CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
    atomic_store(&shut_done, 1);
    CHECK(atomic_load(&b.inside) == 0);
}

/* ---- shut_out from inside the callback ---- */

static iscsdk_client* reentrant_client;
static atomic_int reentrant_calls;
static iscsdk_status reentrant_status = 1;
static signal_t reentrant_done = SIGNAL_INIT;

static void ISCSDK_CALL shut_out_inside(const iscsdk_event* e, void* user_data)
{
    (void)e;
    (void)user_data;
    if (atomic_fetch_add(&reentrant_calls, 1) == 0) {
        reentrant_status = iscsdk_shut_out(reentrant_client);
        signal_add(&reentrant_done);
    }
}

static void scenario_reentrant(void)
{
    reentrant_client = connect_client();
    if (reentrant_client == NULL) {
        return;
    }
    CHECK_STATUS(iscsdk_register_event_recall(reentrant_client, shut_out_inside, NULL), ISCSDK_OK);
    CHECK(signal_wait(&reentrant_done, 1, 15)); /* no deadlock */
    CHECK(reentrant_status == ISCSDK_OK);
    CHECK_STATUS(iscsdk_shut_out(reentrant_client), ISCSDK_E_INVALID_HANDLE);
    CHECK_STATUS(iscsdk_register_event_recall(reentrant_client, shut_out_inside, NULL), ISCSDK_E_INVALID_HANDLE);
    CHECK(atomic_load(&reentrant_calls) == 1);
}

/* ---- poll ---- */

static void ISCSDK_CALL ignore(const iscsdk_event* e, void* user_data)
{
    (void)e;
    (void)user_data;
}

static void scenario_poll(void)
{
    iscsdk_client* c = connect_client();
    iscsdk_event* ev = NULL;
    iscsdk_status st = ISCSDK_OK;
    char session[128] = "";
    int n, i, last = 0;

    if (c == NULL) {
        return;
    }
    CHECK_STATUS(iscsdk_register_event_recall(c, NULL, NULL), ISCSDK_OK);
    if (CHECK_STATUS(iscsdk_poll_event(c, 10000, &ev), ISCSDK_OK)) {
        CHECK(ev->type == ISCSDK_EVENT_CONNECTION_STATE);
        json_value(ev->json, "session", session, sizeof session);
        iscsdk_event_free(ev);
    }

    n = ready(session);
    while (last < n) {
        if (!CHECK_STATUS(iscsdk_poll_event(c, 10000, &ev), ISCSDK_OK)) {
            break;
        }
        if (ev->type == ISCSDK_EVENT_NOTICE) {
            CHECK(strstr(ev->json, "\"operate\":\"Notice\"") != NULL);
            if (!CHECK(notice_number(ev) == last + 1)) {
                printf("  got notice %d after %d\n", notice_number(ev), last);
            }
            last = notice_number(ev);
        }
        iscsdk_event_free(ev);
    }
    CHECK(last == n);

    /* Drained: a poll finds nothing (heartbeats may still trickle in). */
    for (i = 0; i < 1000; i++) {
        ev = (iscsdk_event*)&last;
        st = iscsdk_poll_event(c, 20, &ev);
        if (st != ISCSDK_OK) {
            break;
        }
        iscsdk_event_free(ev);
    }
    CHECK_STATUS(st, ISCSDK_E_TIMEOUT);
    CHECK(ev == NULL);
    CHECK_ERROR_HAS("no event within 20ms");

    CHECK_STATUS(iscsdk_register_event_recall(c, ignore, NULL), ISCSDK_OK);
    CHECK_STATUS(iscsdk_poll_event(c, 0, &ev), ISCSDK_E_CALLBACK_REGISTERED);
    CHECK_STATUS(iscsdk_register_event_recall(c, NULL, NULL), ISCSDK_OK);
    st = iscsdk_poll_event(c, 0, &ev);
    CHECK(st == ISCSDK_OK || st == ISCSDK_E_TIMEOUT);
    if (st == ISCSDK_OK) {
        iscsdk_event_free(ev);
    }
    CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
}

/* ---- a refused token ---- */

static void scenario_badtoken(void)
{
    iscsdk_client* c = (iscsdk_client*)&c;
    iscsdk_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.token = "isk_0000000000000000_notavalidsecret";
    CHECK_STATUS(iscsdk_init(&o, &c), ISCSDK_E_UNAUTHORIZED);
    CHECK(c == NULL);
    CHECK_ERROR_HAS("unauthorized");
    CHECK(strlen(iscsdk_last_error()) > strlen("iscsdk_init: iscsdk: unauthorized: "));
}

int main(int argc, char** argv)
{
    const char* s = argc > 1 ? argv[1] : "";
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(s, "calls") == 0) {
        scenario_calls();
    } else if (strcmp(s, "callbacks") == 0) {
        scenario_callbacks();
    } else if (strcmp(s, "reentrant") == 0) {
        scenario_reentrant();
    } else if (strcmp(s, "poll") == 0) {
        scenario_poll();
    } else if (strcmp(s, "badtoken") == 0) {
        scenario_badtoken();
    } else {
        printf("usage: session calls|callbacks|reentrant|poll|badtoken\n");
        return 2;
    }
    return check_done();
}
