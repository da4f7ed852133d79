/*
** console.c: connect to iscd, ask for a licence and check it offline, and
** print every event until Ctrl-C, or for --seconds N. With iscd's dev.env
** in the environment it needs no options:
**
**     set -a; . iscd-data/dev.env; set +a; build/bin/console_c --seconds 10
**
** --sign-in: with no API token (unset ISCSDK_TOKEN), the user signs in
** first, in the default browser (the device grant when none opens: an SSH
** session); ISCSDK_EVENT_SIGNED_IN says who. --device (implies --sign-in):
** the device grant only: the program shows a page and a code, the user
** confirms the code there, in any browser. The refresh token is kept, so
** the next start is signed in without a prompt.
*/
#if !defined(_WIN32)
#define _XOPEN_SOURCE 700 /* sigaction, SA_ONSTACK, nanosleep */
#endif
#include <ctype.h>
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
        "LicenseState", "Notice", "Picker", "UpgradeResult", "SignInRequired", "SignInPrompt", "SignedIn", "SignedOut",
    };
    return type > 0 && type < (int32_t)(sizeof names / sizeof names[0]) ? names[type] : "?";
}

/* Copy the string value of "key" in an event's json into out ("" if absent),
** undoing the escapes its strings may carry (\" \\ \/, and \u00XX: the
** library writes & < > so in URLs). Enough for these events; a real program
** uses its JSON parser. */
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
    while (*p != '\0' && *p != '"' && n + 1 < size) {
        char c = *p++;
        if (c == '\\' && p[0] == 'u' && p[1] == '0' && p[2] == '0' && isxdigit((unsigned char)p[3]) && isxdigit((unsigned char)p[4])) {
            char hex[3];
            hex[0] = p[3];
            hex[1] = p[4];
            hex[2] = '\0';
            c = (char)strtol(hex, NULL, 16);
            p += 5;
        } else if (c == '\\' && *p != '\0') {
            c = *p++;
        }
        out[n++] = c;
    }
    out[n] = '\0';
}

/* The licence arrived: check it offline with the product's public key (a
** real program compiles the key in), then tell the service the verdict. */
static void check_license(iscsdk_client* client, const iscsdk_event* e)
{
    static char license[64 * 1024];
    char status[16];
    char* result = NULL;
    const char* key = getenv("ISCSDK_LICENSE_PUBLIC_KEY");

    json_value(e->json, "Status", status, sizeof status);
    json_value(e->json, "LicenseContent", license, sizeof license);
    if (strcmp(status, "success") != 0 || key == NULL || key[0] == '\0') {
        return;
    }
    if (iscsdk_license_verify(license, key, NULL, &result) != ISCSDK_OK) {
        printf("licence check: %s\n", iscsdk_last_error());
        return;
    }
    printf("licence check: %s\n", result);
    iscsdk_license_verify_notify(client, strstr(result, "\"valid\":true") != NULL, NULL);
    iscsdk_free(result);
}

/* Runs on the library's event thread, one event at a time. user_data is
** the client (any pointer the program likes comes back unchanged). */
static void ISCSDK_CALL print_event(const iscsdk_event* e, void* user_data)
{
    printf("event %d %s request=%llu %s\n", (int)e->type, event_name(e->type),
           (unsigned long long)e->request_id, e->json);
    if (e->type == ISCSDK_EVENT_SIGN_IN_PROMPT) {
        char url[1024], code[32];
        json_value(e->json, "userCode", code, sizeof code);
        if (code[0] != '\0') { /* the device grant */
            json_value(e->json, "verificationUri", url, sizeof url);
            printf("sign in: open %s and confirm the code %s\n", url, code);
        } else { /* the browser, opened already */
            json_value(e->json, "url", url, sizeof url);
            printf("sign in: continue in your browser (%s)\n", url);
        }
    }
    if (e->type == ISCSDK_EVENT_SIGNED_IN) {
        char id[256], name[256], org[256];
        json_value(e->json, "userId", id, sizeof id);
        json_value(e->json, "name", name, sizeof name);
        json_value(e->json, "organisation", org, sizeof org);
        printf("signed in: %s (%s) of %s\n", name, id, org);
    }
    if (e->type == ISCSDK_EVENT_LICENSE_VERIFY && e->request_id != 0) {
        check_license((iscsdk_client*)user_data, e);
    }
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
    uint64_t request_id = 0;
    iscsdk_options opt;
    long seconds = -1, waited_ms = 0;
    int i, sign_in = 0;
    uint32_t sign_in_flags = 0; /* the browser, the device grant when none opens */

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atol(argv[++i]);
        } else if (strcmp(argv[i], "--sign-in") == 0) {
            sign_in = 1;
        } else if (strcmp(argv[i], "--device") == 0) {
            sign_in = 1;
            sign_in_flags = ISCSDK_SIGN_IN_DEVICE;
        } else {
            fprintf(stderr, "usage: %s [--sign-in] [--device] [--seconds N]\n", argv[0]);
            return 2;
        }
    }
    if (iscsdk_version_number() != ISCSDK_VERSION_NUMBER) {
        fprintf(stderr, "warning: built with iscsdk %s, running with %u\n", ISCSDK_VERSION_STRING, (unsigned)iscsdk_version_number());
    }
    catch_interrupt();

    memset(&opt, 0, sizeof opt);
    opt.struct_size = sizeof opt; /* every other option from the environment */
    opt.sign_in = sign_in;
    st = iscsdk_init(&opt, &client);
    if (st != ISCSDK_OK) {
        fprintf(stderr, "iscsdk_init: %s\n%s\n", iscsdk_status_string(st), iscsdk_last_error());
        return 1;
    }
    st = iscsdk_register_event_recall(client, print_event, client);
    if (st != ISCSDK_OK) {
        fprintf(stderr, "iscsdk_register_event_recall: %s\n", iscsdk_last_error());
        iscsdk_shut_out(client);
        return 1;
    }
    if (sign_in) {
        /* Blocks until the user signs in or refuses in the browser, or
        ** confirms or denies the code on the page (or it expires); a real
        ** program calls it from a thread of its own. ISCSDK_E_REFUSED:
        ** already signed in with the refresh token kept from the last time. */
        st = iscsdk_sign_in(client, sign_in_flags, NULL, 0);
        if (st != ISCSDK_OK && st != ISCSDK_E_REFUSED) {
            fprintf(stderr, "iscsdk_sign_in: %s\n%s\n", iscsdk_status_string(st), iscsdk_last_error());
            iscsdk_shut_out(client);
            return 1;
        }
    }
    /* A licence for this device; the answer is a LicenseVerify event. */
    st = iscsdk_get_license_string_request(client, NULL, "{\"from\":\"console.c\"}", &request_id);
    if (st != ISCSDK_OK) {
        fprintf(stderr, "iscsdk_get_license_string_request: %s\n", iscsdk_last_error());
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
