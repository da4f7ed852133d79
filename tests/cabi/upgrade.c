/*
** upgrade.c: the upgrade calls of the C ABI against a live iscd. Run as
** `upgrade SCENARIO` with iscd's dev.env in the environment (its
** ISCSDK_RELEASE_KEY verifies the packages) and ISCSDK_WORKSPACE
** and APP_VERSION set by the driver.
**
**   optional  check, print the notice, accept (upgrade_notify 1), print
**             the Update; shut out, print "SHUT OUT", and stay alive
**             until stdin closes: the installer must wait for that
**   forced    check: a forced notice and an Update arrive without asking;
**             declining is refused
**   refused   check, accept, print the failed Update (a bad key)
**   next      print the UpgradeResult event of the last upgrade
**
** Lines printed for the driver: "NOTICE available=.. version=..
** forced=..", "UPDATE fromForceWin=.. status=.. errorCode=..",
** "RESULT status=.. version=.. installer=.. exitCode=..".
*/
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

/* Poll until an event of type arrives; NULL after 60 s. */
static iscsdk_event* wait_event(iscsdk_client* c, int32_t type)
{
    int i;
    for (i = 0; i < 600; i++) {
        iscsdk_event* ev = NULL;
        iscsdk_status st = iscsdk_poll_event(c, 100, &ev);
        if (st == ISCSDK_E_TIMEOUT) {
            continue;
        }
        if (!CHECK_STATUS(st, ISCSDK_OK)) {
            return NULL;
        }
        if (ev->type == type) {
            return ev;
        }
        iscsdk_event_free(ev);
    }
    CHECK(!"the event came within 60 s");
    return NULL;
}

/* Print "label key=value ..." for the params named. */
static void print_params(const char* label, const iscsdk_event* ev, const char* const* keys)
{
    char v[512];
    printf("%s", label);
    for (; *keys != NULL; keys++) {
        json_value(ev->json, *keys, v, sizeof v);
        printf(" %s=%s", *keys, v);
    }
    printf("\n");
    fflush(stdout);
}

static const char* const notice_keys[] = {"available", "version", "forced", "errorCode", NULL};
static const char* const update_keys[] = {"fromForceWin", "status", "version", "errorCode", NULL};
static const char* const result_keys[] = {"status", "version", "installer", "exitCode", "errorCode", NULL};

static iscsdk_client* connect_client(const char* release_key)
{
    iscsdk_options o;
    iscsdk_client* c = NULL;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.app_version = getenv("APP_VERSION");
    o.release_key = release_key; /* NULL: $ISCSDK_RELEASE_KEY */
    CHECK_STATUS(iscsdk_init(&o, &c), ISCSDK_OK);
    return c;
}

/* Check for versions; return the notice's request id (0 on failure). */
static uint64_t check(iscsdk_client* c)
{
    uint64_t id = 0;
    iscsdk_event* ev;
    char v[16];
    if (!CHECK_STATUS(iscsdk_check_new_versions(c, &id), ISCSDK_OK)) {
        return 0;
    }
    CHECK(id != 0);
    ev = wait_event(c, ISCSDK_EVENT_UPGRADE_NOTICE);
    if (ev == NULL) {
        return 0;
    }
    CHECK(ev->request_id == id);
    json_value(ev->json, "operate", v, sizeof v);
    CHECK(strcmp(v, "UpgradeNotice") == 0);
    print_params("NOTICE", ev, notice_keys);
    iscsdk_event_free(ev);
    return id;
}

static void update(iscsdk_client* c, uint64_t id)
{
    iscsdk_event* ev = wait_event(c, ISCSDK_EVENT_UPDATE);
    if (ev != NULL) {
        CHECK(ev->request_id == id);
        print_params("UPDATE", ev, update_keys);
        iscsdk_event_free(ev);
    }
}

int main(int argc, char** argv)
{
    const char* scenario = argc > 1 ? argv[1] : "";
    iscsdk_client* c;
    uint64_t id;

    if (strcmp(scenario, "next") == 0) {
        iscsdk_event* ev;
        c = connect_client(NULL);
        ev = wait_event(c, ISCSDK_EVENT_UPGRADE_RESULT);
        if (ev != NULL) {
            CHECK(ev->request_id == 0);
            print_params("RESULT", ev, result_keys);
            iscsdk_event_free(ev);
        }
        CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
        return check_done();
    }
    c = connect_client(strcmp(scenario, "refused") == 0 ? "ISR1.0badc0de.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" : NULL);
    if (c == NULL) {
        return check_done();
    }
    /* No offer yet: nothing to answer. */
    CHECK_STATUS(iscsdk_upgrade_notify(c, 1), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("no upgrade was offered");
    CHECK_STATUS(iscsdk_check_new_versions(c, NULL), ISCSDK_E_INVALID_ARG);
    id = check(c);
    if (strcmp(scenario, "forced") == 0) {
        update(c, id); /* staged without being asked */
        CHECK_STATUS(iscsdk_upgrade_notify(c, 0), ISCSDK_E_INVALID_ARG);
        CHECK_ERROR_HAS("forced");
    } else {
        CHECK_STATUS(iscsdk_upgrade_notify(c, 1), ISCSDK_OK);
        update(c, id);
    }
    CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
    printf("SHUT OUT\n");
    fflush(stdout);
    if (strcmp(scenario, "optional") == 0) {
        /* The program runs on after shut-out: the installer waits. */
        while (getchar() != EOF) {
        }
    }
    return check_done();
}
