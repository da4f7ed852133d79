/*
** check.h: the assertions of the C ABI tests. A failed check prints one
** "check failed at file:line: ..." line; check_done() prints "N passed, M failed" and
** returns the exit code. Checks may run on any thread.
*/
#ifndef CHECK_H
#define CHECK_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "iscsdk/iscsdk.h"

static atomic_int check_passed, check_failed;

static inline int check_(int ok, const char* file, int line, const char* expr)
{
    if (ok) {
        atomic_fetch_add(&check_passed, 1);
    } else {
        atomic_fetch_add(&check_failed, 1);
        printf("check failed at %s:%d: %s (last_error: %s)\n", file, line, expr, iscsdk_last_error());
    }
    return ok;
}

static inline int check_status_(iscsdk_status got, iscsdk_status want, const char* file, int line, const char* expr)
{
    if (got == want) {
        atomic_fetch_add(&check_passed, 1);
        return 1;
    }
    atomic_fetch_add(&check_failed, 1);
    printf("check failed at %s:%d: %s = %d (%s), want %d (%s); last_error: %s\n", file, line, expr,
           (int)got, iscsdk_status_string(got), (int)want, iscsdk_status_string(want), iscsdk_last_error());
    return 0;
}

/* CHECK(cond) and CHECK_STATUS(call, want) evaluate to whether they held. */
#define CHECK(cond) check_((cond) != 0, __FILE__, __LINE__, #cond)
#define CHECK_STATUS(call, want) check_status_((call), (want), __FILE__, __LINE__, #call)
/* The calling thread's last error mentions text. */
#define CHECK_ERROR_HAS(text) check_(strstr(iscsdk_last_error(), (text)) != NULL, __FILE__, __LINE__, "last_error mentions " #text)

static inline int check_done(void)
{
    int failed = atomic_load(&check_failed);
    printf("%d passed, %d failed\n", atomic_load(&check_passed), failed);
    return failed == 0 ? 0 : 1;
}

/* ---- reading events ---- */

/* Copy the string value of "key" in json into out (empty if absent),
** its escapes undone for ASCII (\u0026 for '&' is how Go writes one). */
static inline void json_value(const char* json, const char* key, char* out, size_t size)
{
    char pattern[64];
    const char* p;
    size_t n = 0;
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    out[0] = '\0';
    p = strstr(json, pattern);
    if (p == NULL) {
        return;
    }
    p += strlen(pattern);
    while (*p != '\0' && *p != '"' && n + 1 < size) {
        unsigned code;
        if (p[0] == '\\' && p[1] == 'u' && sscanf(p + 2, "%4x", &code) == 1 && code < 0x80) {
            out[n++] = (char)code;
            p += 6;
        } else if (p[0] == '\\' && p[1] != '\0') {
            out[n++] = p[1];
            p += 2;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
}

/* ---- waiting without sleeping: a flag guarded by a condition variable ---- */

typedef struct signal_t {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int count;
} signal_t;

#define SIGNAL_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 }

static inline void signal_add(signal_t* s)
{
    pthread_mutex_lock(&s->mu);
    s->count++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

/* Wait until s has been added to at least n times, or seconds have passed;
** returns whether it was. */
static inline int signal_wait(signal_t* s, int n, int seconds)
{
    struct timespec deadline;
    int ok;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += seconds;
    pthread_mutex_lock(&s->mu);
    while (s->count < n) {
        if (pthread_cond_timedwait(&s->cond, &s->mu, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    ok = s->count >= n;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static inline double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

#endif /* CHECK_H */
