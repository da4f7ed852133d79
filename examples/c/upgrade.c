/*
** upgrade.c: the upgrade calls as a program uses them. It starts as
** version VERSION (default 2024.1.3), prints how the upgrade installed
** after its last exit (if one did), asks for a newer version, accepts an
** optional one (a real program asks the user first), and waits until the
** package is downloaded, verified and staged. Then it exits: the library
** starts the silent installer, which waits for this process to end.
** With iscd's dev.env in the environment (ISCSDK_RELEASE_KEY, the dev
** release key's public half, verifies the package):
**
**     set -a; . iscd-data/dev.env; set +a; build/bin/upgrade 2024.1.3
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iscsdk/iscsdk.h>

/* Copy the string value of "key" in an event's json into out ("" if absent).
** A real program uses its JSON parser. */
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
    while (p[n] != '\0' && p[n] != '"' && n + 1 < size) {
        n++;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

/* Wait up to 60 s for the next event of type; print it. The caller frees it. */
static iscsdk_event* wait_for(iscsdk_client* c, int32_t type, uint32_t timeout_ms)
{
    uint32_t waited;
    for (waited = 0; waited < timeout_ms; waited += 200) {
        iscsdk_event* e = NULL;
        if (iscsdk_poll_event(c, 200, &e) != ISCSDK_OK) {
            continue;
        }
        if (e->type == type) {
            printf("event %d request=%llu %s\n", (int)e->type, (unsigned long long)e->request_id, e->json);
            fflush(stdout);
            return e;
        }
        iscsdk_event_free(e);
    }
    return NULL;
}

int main(int argc, char** argv)
{
    iscsdk_options opt;
    iscsdk_client* c = NULL;
    iscsdk_event* e;
    uint64_t id = 0;
    char available[8], forced[8], status[16];

    memset(&opt, 0, sizeof opt);
    opt.struct_size = sizeof opt;
    opt.app_version = argc > 1 ? argv[1] : "2024.1.3";
    /* opt.release_key: NULL takes $ISCSDK_RELEASE_KEY; a real program compiles its vendor's key in. */
    if (iscsdk_init(&opt, &c) != ISCSDK_OK) {
        fprintf(stderr, "iscsdk_init: %s\n", iscsdk_last_error());
        return 1;
    }
    printf("running version %s\n", opt.app_version);
    /* The outcome of the upgrade installed after the last exit, if any, is queued first. */
    if ((e = wait_for(c, ISCSDK_EVENT_UPGRADE_RESULT, 400)) != NULL) {
        iscsdk_event_free(e);
    }
    if (iscsdk_check_new_versions(c, &id) != ISCSDK_OK || (e = wait_for(c, ISCSDK_EVENT_UPGRADE_NOTICE, 60000)) == NULL) {
        fprintf(stderr, "check for new versions: %s\n", iscsdk_last_error());
        iscsdk_shut_out(c);
        return 1;
    }
    json_value(e->json, "available", available, sizeof available);
    json_value(e->json, "forced", forced, sizeof forced);
    iscsdk_event_free(e);
    if (strcmp(available, "true") == 0) {
        if (strcmp(forced, "true") != 0) {
            iscsdk_upgrade_notify(c, 1); /* the user said yes */
        }
        /* Update: staged (installs after exit) or failed (the event says why). */
        if ((e = wait_for(c, ISCSDK_EVENT_UPDATE, 600000)) != NULL) {
            json_value(e->json, "status", status, sizeof status);
            printf(strcmp(status, "staged") == 0 ? "the upgrade installs when this program exits\n" : "the upgrade was not staged\n");
            iscsdk_event_free(e);
        }
    }
    return iscsdk_shut_out(c) == ISCSDK_OK ? 0 : 1;
}
