/*
** bench.c: the C ABI figures of iscbench (cmd/iscbench/cabi.go compiles it
** against build/lib/libiscsdk.so and runs it with iscd's dev.env in the
** environment). Run as `bench RTT_COUNT CALL_COUNT`. It prints one
** "name value" line per sample or figure on stdout:
**
**   crossing_ns N     iscsdk_poll_event(c, 0, ...) on an empty queue: C -> Go -> C
**   c_call_ns N       iscsdk_version_number(): a call into the library that stays in C
**   verify_ns N       iscsdk_license_verify of a real licence string
**   rtt_ns N          iscsdk_get_license_string_request -> its LicenseVerify
**                     event in the callback (RTT_COUNT samples)
**   ready 1           the callback is set: the driver may push notices
**   event_ns N        a Notice whose text is "t=<CLOCK_REALTIME ns at push>",
**                     in the callback: now - t (one per notice pushed)
**
** It ends when its standard input closes.
*/
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iscsdk/iscsdk.h"

static int64_t now_ns(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void die(const char* what)
{
    fprintf(stderr, "bench: %s: %s\n", what, iscsdk_last_error());
    exit(1);
}

/* The callback signals each LicenseVerify event through this. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static uint64_t answered; /* request id of the last LicenseVerify */

static void ISCSDK_CALL on_event(const iscsdk_event* ev, void* user_data)
{
    (void)user_data;
    if (ev->type == ISCSDK_EVENT_LICENSE_VERIFY) {
        pthread_mutex_lock(&mu);
        answered = ev->request_id;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&mu);
    } else if (ev->type == ISCSDK_EVENT_NOTICE) {
        int64_t now = now_ns(CLOCK_REALTIME);
        const char* t = strstr(ev->json, "\"t=");
        if (t != NULL) {
            printf("event_ns %lld\n", (long long)(now - strtoll(t + 3, NULL, 10)));
            fflush(stdout);
        }
    }
}

/* Poll for the LicenseVerify event (before the callback is set) and copy
** its LicenseContent into lic. */
static void first_licence(iscsdk_client* c, char* lic, size_t size)
{
    uint64_t id = 0;
    int i;
    if (iscsdk_get_license_string_request(c, NULL, NULL, &id) != ISCSDK_OK) {
        die("get_license_string_request");
    }
    for (i = 0; i < 300; i++) {
        iscsdk_event* ev = NULL;
        iscsdk_status st = iscsdk_poll_event(c, 100, &ev);
        if (st == ISCSDK_E_TIMEOUT) {
            continue;
        }
        if (st != ISCSDK_OK) {
            die("poll_event");
        }
        if (ev->type == ISCSDK_EVENT_LICENSE_VERIFY && ev->request_id == id) {
            const char* p = strstr(ev->json, "\"LicenseContent\":\"");
            size_t n = 0;
            if (p == NULL) {
                fprintf(stderr, "bench: no licence: %s\n", ev->json);
                exit(1);
            }
            p += strlen("\"LicenseContent\":\"");
            while (p[n] != '"' && p[n] != '\0' && n + 1 < size) {
                n++;
            }
            memcpy(lic, p, n);
            lic[n] = '\0';
            iscsdk_event_free(ev);
            return;
        }
        iscsdk_event_free(ev);
    }
    fprintf(stderr, "bench: no LicenseVerify event in 30 s\n");
    exit(1);
}

int main(int argc, char** argv)
{
    static char lic[64 << 10];
    iscsdk_options opt;
    iscsdk_client* c = NULL;
    const char* key = getenv("ISCSDK_LICENSE_PUBLIC_KEY");
    volatile uint32_t sink = 0;
    long rtts, calls, i;
    int64_t t0;
    char line[64];

    if (argc != 3 || key == NULL) {
        fprintf(stderr, "usage: bench RTT_COUNT CALL_COUNT (with ISCSDK_* of dev.env in the environment)\n");
        return 2;
    }
    rtts = atol(argv[1]);
    calls = atol(argv[2]);
    memset(&opt, 0, sizeof opt);
    opt.struct_size = sizeof opt;
    opt.app_version = "iscbench-c";
    if (iscsdk_init(&opt, &c) != ISCSDK_OK) {
        die("init");
    }
    first_licence(c, lic, sizeof lic);

    /* Calls that do not touch the network. */
    for (int round = 0; round < 3; round++) {
        t0 = now_ns(CLOCK_MONOTONIC);
        for (i = 0; i < calls; i++) {
            iscsdk_event* ev = NULL;
            if (iscsdk_poll_event(c, 0, &ev) == ISCSDK_OK) {
                iscsdk_event_free(ev); /* a heartbeat, now and then */
            }
        }
        printf("crossing_ns %.1f\n", (double)(now_ns(CLOCK_MONOTONIC) - t0) / (double)calls);
        t0 = now_ns(CLOCK_MONOTONIC);
        for (i = 0; i < calls * 100; i++) {
            sink += iscsdk_version_number();
        }
        printf("c_call_ns %.2f\n", (double)(now_ns(CLOCK_MONOTONIC) - t0) / (double)(calls * 100));
        t0 = now_ns(CLOCK_MONOTONIC);
        for (i = 0; i < calls / 1000; i++) {
            char* result = NULL;
            if (iscsdk_license_verify(lic, key, NULL, &result) != ISCSDK_OK || strstr(result, "\"valid\":true") == NULL) {
                die("license_verify");
            }
            iscsdk_free(result);
        }
        printf("verify_ns %.0f\n", (double)(now_ns(CLOCK_MONOTONIC) - t0) / (double)(calls / 1000));
    }
    (void)sink;

    /* Round trips through the service, answered in the callback. */
    if (iscsdk_register_event_recall(c, on_event, NULL) != ISCSDK_OK) {
        die("register_event_recall");
    }
    for (i = 0; i < rtts; i++) {
        uint64_t id = 0;
        t0 = now_ns(CLOCK_MONOTONIC);
        if (iscsdk_get_license_string_request(c, NULL, NULL, &id) != ISCSDK_OK) {
            die("get_license_string_request");
        }
        pthread_mutex_lock(&mu);
        while (answered != id) {
            struct timespec deadline;
            clock_gettime(CLOCK_REALTIME, &deadline);
            deadline.tv_sec += 30;
            if (pthread_cond_timedwait(&cond, &mu, &deadline) == ETIMEDOUT) {
                fprintf(stderr, "bench: no LicenseVerify event in 30 s\n");
                exit(1);
            }
        }
        pthread_mutex_unlock(&mu);
        printf("rtt_ns %lld\n", (long long)(now_ns(CLOCK_MONOTONIC) - t0));
    }

    /* Pushed events: the driver sends notices until it closes our stdin. */
    printf("ready 1\n");
    fflush(stdout);
    while (fgets(line, sizeof line, stdin) != NULL) {
    }
    if (iscsdk_shut_out(c) != ISCSDK_OK) {
        die("shut_out");
    }
    return 0;
}
