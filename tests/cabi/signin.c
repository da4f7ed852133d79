/*
** signin.c: signing in through the C ABI against a live iscd. Run as
** `signin SCENARIO` with iscd's dev.env in the environment but no token
** (ISCSDK_TOKEN empty), ISCSDK_WORKSPACE set.
**
**   device [ORG]  iscsdk_sign_in(ISCSDK_SIGN_IN_DEVICE): prints
**           "PROMPT <userCode> <url>" when the prompt event comes (the
**           driver confirms the code on the page),
**           then "SIGNED_IN <userId>"; reads "SIGN OUT" or "STAY" from stdin
**           (signed out: "SIGNED_OUT <logoutUrl>")
**   resume  iscsdk_init with the kept refresh token: "SIGNED_IN <userId>"
**           with no prompt, then "SIGN OUT" or "STAY" as above
**   deny    iscsdk_sign_in while the driver denies: ISCSDK_E_DENIED, no
**           SIGNED_IN event (none even after iscsdk_shut_out); "DENIED"
**   expire  iscsdk_sign_in while nobody confirms (iscd's codes live a few
**           seconds): ISCSDK_E_EXPIRED, no SIGNED_IN event; prints
**           "EXPIRED <expires>", the prompt's expiry (RFC 3339)
**   args    bad flags, a client made without sign_in
**   browser ORG   iscsdk_sign_in(0: the default, the browser, ORG) with
**           $ISCSDK_BROWSER a program that opens nothing: prints
**           "PROMPT - <url>" (the driver's browser goes there), then
**           "SIGNED_IN <userId> <email> <orgId> <name>"; then as device
**   browser-denied ORG   the same with ISCSDK_SIGN_IN_BROWSER (kept: the
**           same as 0), while the service refuses the user: ISCSDK_E_DENIED
**   browser-hint EMAIL   as browser, with no organisation but
**           options.login_hint EMAIL
*/
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

static signal_t signed_in = SIGNAL_INIT, signed_out = SIGNAL_INIT;
static atomic_int prompts;
static char prompt_expires[64]; /* the prompt's expires, written before prompts is incremented */
static char logout_url[1024]; /* SIGNED_OUT's logoutUrl, written before signed_out is signalled */

static void ISCSDK_CALL on_event(const iscsdk_event* e, void* user_data)
{
    char a[256], b[1024], m[256], o[256], n[256];
    (void)user_data;
    switch (e->type) {
    case ISCSDK_EVENT_SIGN_IN_PROMPT:
        if (atomic_load(&prompts) == 0) {
            json_value(e->json, "expires", prompt_expires, sizeof prompt_expires);
        }
        atomic_fetch_add(&prompts, 1);
        json_value(e->json, "userCode", a, sizeof a);
        json_value(e->json, "url", b, sizeof b);
        printf("PROMPT %s %s\n", a[0] != '\0' ? a : "-", b);
        fflush(stdout);
        break;
    case ISCSDK_EVENT_SIGNED_IN:
        json_value(e->json, "userId", a, sizeof a);
        json_value(e->json, "email", m, sizeof m);
        json_value(e->json, "orgId", o, sizeof o);
        json_value(e->json, "name", n, sizeof n);
        printf("SIGNED_IN %s %s %s %s\n", a, m[0] != '\0' ? m : "-", o, n);
        fflush(stdout);
        signal_add(&signed_in);
        break;
    case ISCSDK_EVENT_SIGNED_OUT:
        json_value(e->json, "logoutUrl", logout_url, sizeof logout_url);
        signal_add(&signed_out);
        break;
    }
}

static iscsdk_client* make_hinted(int sign_in, const char* login_hint)
{
    iscsdk_options o;
    iscsdk_client* c = NULL;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.sign_in = sign_in;
    o.login_hint = login_hint;
    CHECK_STATUS(iscsdk_init(&o, &c), ISCSDK_OK);
    if (c != NULL) {
        CHECK_STATUS(iscsdk_register_event_recall(c, on_event, NULL), ISCSDK_OK);
    }
    return c;
}

static iscsdk_client* make(int sign_in) { return make_hinted(sign_in, NULL); }

/* Read SIGN OUT or STAY from the driver, and do it. */
static void finish(iscsdk_client* c)
{
    char line[64];
    if (fgets(line, sizeof line, stdin) != NULL && strncmp(line, "SIGN OUT", 8) == 0) {
        CHECK_STATUS(iscsdk_sign_out(c), ISCSDK_OK);
        CHECK(signal_wait(&signed_out, 1, 10));
        printf("SIGNED_OUT %s\n", logout_url[0] != '\0' ? logout_url : "-");
        fflush(stdout);
    }
    CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
}

int main(int argc, char** argv)
{
    const char* scenario = argc > 1 ? argv[1] : "";
    iscsdk_client* c;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(scenario, "device") == 0) {
        c = make(1);
        CHECK_STATUS(iscsdk_sign_in(c, ISCSDK_SIGN_IN_DEVICE, argc > 2 ? argv[2] : NULL, 0), ISCSDK_OK);
        CHECK(signal_wait(&signed_in, 1, 10));
        CHECK(atomic_load(&prompts) == 1);
        /* Signed in: a second sign-in is refused. */
        CHECK_STATUS(iscsdk_sign_in(c, ISCSDK_SIGN_IN_DEVICE, NULL, 0), ISCSDK_E_REFUSED);
        finish(c);
    } else if (strcmp(scenario, "resume") == 0) {
        c = make(1);
        CHECK(signal_wait(&signed_in, 1, 10));
        CHECK(atomic_load(&prompts) == 0);
        finish(c);
    } else if (strcmp(scenario, "deny") == 0) {
        c = make(1);
        CHECK_STATUS(iscsdk_sign_in(c, ISCSDK_SIGN_IN_DEVICE, NULL, 0), ISCSDK_E_DENIED);
        CHECK(strcmp(iscsdk_status_string(ISCSDK_E_DENIED), "ISCSDK_E_DENIED: the user denied the sign-in") == 0);
        CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
        /* No callback runs after iscsdk_shut_out: none said SIGNED_IN. */
        CHECK(!signal_wait(&signed_in, 1, 0));
        printf("DENIED\n");
    } else if (strcmp(scenario, "expire") == 0) {
        c = make(1);
        CHECK_STATUS(iscsdk_sign_in(c, ISCSDK_SIGN_IN_DEVICE, NULL, 0), ISCSDK_E_EXPIRED);
        CHECK_ERROR_HAS("expired");
        CHECK(atomic_load(&prompts) == 1);
        CHECK(strlen(prompt_expires) == 20 && prompt_expires[19] == 'Z'); /* 2006-01-02T15:04:05Z */
        CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
        CHECK(!signal_wait(&signed_in, 1, 0));
        printf("EXPIRED %s\n", prompt_expires[0] != '\0' ? prompt_expires : "-");
    } else if (strcmp(scenario, "browser") == 0 && argc > 2) {
        c = make(1);
        CHECK_STATUS(iscsdk_sign_in(c, 0, argv[2], 0), ISCSDK_OK);
        CHECK(signal_wait(&signed_in, 1, 10));
        CHECK(atomic_load(&prompts) == 1);
        CHECK_STATUS(iscsdk_sign_in(c, ISCSDK_SIGN_IN_BROWSER, argv[2], 0), ISCSDK_E_REFUSED);
        finish(c);
    } else if (strcmp(scenario, "browser-hint") == 0 && argc > 2) {
        c = make_hinted(1, argv[2]);
        CHECK_STATUS(iscsdk_sign_in(c, 0, NULL, 0), ISCSDK_OK);
        CHECK(signal_wait(&signed_in, 1, 10));
        finish(c);
    } else if (strcmp(scenario, "browser-denied") == 0 && argc > 2) {
        c = make(1);
        CHECK_STATUS(iscsdk_sign_in(c, ISCSDK_SIGN_IN_BROWSER, argv[2], 0), ISCSDK_E_DENIED);
        printf("DENIED\n");
        CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
    } else if (strcmp(scenario, "args") == 0) {
        c = make(1);
        CHECK_STATUS(iscsdk_sign_in(c, 0x80, NULL, 0), ISCSDK_E_INVALID_ARG);
        CHECK_ERROR_HAS("flags");
        CHECK_STATUS(iscsdk_sign_in(c, ISCSDK_SIGN_IN_BROWSER | ISCSDK_SIGN_IN_DEVICE, NULL, 0), ISCSDK_E_INVALID_ARG);
        CHECK_ERROR_HAS("both");
        CHECK_STATUS(iscsdk_sign_in(c, ISCSDK_SIGN_IN_DEVICE, NULL, 1), ISCSDK_E_TIMEOUT);
        CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
        CHECK_STATUS(iscsdk_sign_in(c, ISCSDK_SIGN_IN_DEVICE, NULL, 0), ISCSDK_E_INVALID_HANDLE);
        {
            char hint[300];
            iscsdk_client* none = NULL;
            iscsdk_options o;
            memset(hint, 'a', sizeof hint - 1);
            hint[sizeof hint - 1] = '\0';
            memset(&o, 0, sizeof o);
            o.struct_size = sizeof o;
            o.sign_in = 1;
            o.login_hint = hint;
            CHECK_STATUS(iscsdk_init(&o, &none), ISCSDK_E_INVALID_ARG);
            CHECK_ERROR_HAS("login_hint");
            CHECK(none == NULL);
        }
        CHECK_STATUS(iscsdk_sign_out(NULL), ISCSDK_E_INVALID_ARG);
    } else {
        printf("unknown scenario %s\n", scenario);
        return 2;
    }
    return check_done();
}
