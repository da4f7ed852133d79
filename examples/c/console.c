/*
** console.c: connect to iscd and print every event until Ctrl-C, or for
** --seconds N. With iscd's dev.env in the environment it needs no options:
**
**     set -a; . iscd-data/dev.env; set +a; build/bin/console_c --seconds 10
*/
#if !defined(_WIN32)
#define _XOPEN_SOURCE 700 /* sigaction, SA_ONSTACK, nanosleep */
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(_WIN32)
#include <windows.h>
#endif

#include <iscsdk/iscsdk.h>

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static const char* event_name(int32_t type)
{
    static const char* const names[] = {
        "?", "Heartbeat", "LicenseVerify", "UpgradeNotice", "Update", "OpenFile", "SaveResult",
        "ServiceClosed", "ConnectionState", "TransferProgress", "SolutionProgress", "SolutionResult",
        "LicenseState", "Notice",
    };
    return type > 0 && type < (int32_t)(sizeof names / sizeof names[0]) ? names[type] : "?";
}

/* Runs on the library's event thread, one event at a time. */
static void ISCSDK_CALL print_event(const iscsdk_event* e, void* user_data)
{
    (void)user_data;
    printf("event %d %s request=%llu %s\n", (int)e->type, event_name(e->type),
           (unsigned long long)e->request_id, e->json);
    fflush(stdout);
}

static void sleep_ms(unsigned ms)
{
#if defined(_WIN32)
    Sleep(ms);
#else
    struct timespec t;
    t.tv_sec = ms / 1000;
    t.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&t, NULL);
#endif
}

static void catch_interrupt(void)
{
#if defined(_WIN32)
    signal(SIGINT, on_signal);
#else
    /* SA_ONSTACK: the signal may land on one of the library's Go threads. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
#endif
}

int main(int argc, char** argv)
{
    iscsdk_client* client = NULL;
    iscsdk_status st;
    long seconds = -1, waited_ms = 0;

    if (argc == 3 && strcmp(argv[1], "--seconds") == 0) {
        seconds = atol(argv[2]);
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--seconds N]\n", argv[0]);
        return 2;
    }
    if (iscsdk_version_number() != ISCSDK_VERSION_NUMBER) {
        fprintf(stderr, "warning: built with iscsdk %s, running with %u\n", ISCSDK_VERSION_STRING, (unsigned)iscsdk_version_number());
    }
    catch_interrupt();

    st = iscsdk_init(NULL, &client); /* every option from the environment */
    if (st != ISCSDK_OK) {
        fprintf(stderr, "iscsdk_init: %s\n%s\n", iscsdk_status_string(st), iscsdk_last_error());
        return 1;
    }
    st = iscsdk_register_event_recall(client, print_event, NULL);
    if (st != ISCSDK_OK) {
        fprintf(stderr, "iscsdk_register_event_recall: %s\n", iscsdk_last_error());
        iscsdk_shut_out(client);
        return 1;
    }
    while (!interrupted && (seconds < 0 || waited_ms < seconds * 1000)) {
        sleep_ms(100);
        waited_ms += 100;
    }
    st = iscsdk_shut_out(client); /* no event is printed after this */
    if (st != ISCSDK_OK) {
        fprintf(stderr, "iscsdk_shut_out: %s\n", iscsdk_last_error());
        return 1;
    }
    return 0;
}
