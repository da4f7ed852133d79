/*
** license.c: the licence calls of the C ABI against a live iscd. Run as
** `license SCENARIO` with iscd's dev.env in the environment (and, for seat
** and freeze, ISCSDK_TOKEN of an organisation made by the driver).
**
**   flow    request string and file, verify offline, notify, bad input
**   seat    take a seat, print "LICENSED", then wait to be killed
**   freeze  take a seat, print "LICENSED"; print "FROZEN" and "UNFROZEN"
**           as the pushed LicenseState events arrive
**   revoked take a seat, print "LICENSED"; when the marketplace revokes the
**           user, print "RELEASED" (LicenseState released) and
**           "SIGN_IN_REQUIRED" (its event, with reason sign_in_required)
*/
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

/* Poll until an event of type (and, if state is not NULL, with that
** "state") arrives; NULL after 30 s. The caller frees it. */
static iscsdk_event* wait_event(iscsdk_client* c, int32_t type, const char* state)
{
    char got[64];
    int i;
    for (i = 0; i < 300; i++) {
        iscsdk_event* ev = NULL;
        iscsdk_status st = iscsdk_poll_event(c, 100, &ev);
        if (st == ISCSDK_E_TIMEOUT) {
            continue;
        }
        if (!CHECK_STATUS(st, ISCSDK_OK)) {
            return NULL;
        }
        json_value(ev->json, "state", got, sizeof got);
        if (ev->type == type && (state == NULL || strcmp(got, state) == 0)) {
            return ev;
        }
        iscsdk_event_free(ev);
    }
    CHECK(!"the event came within 30 s");
    return NULL;
}

static iscsdk_client* connect_client(void)
{
    iscsdk_client* c = NULL;
    CHECK_STATUS(iscsdk_init(NULL, &c), ISCSDK_OK);
    return c;
}

/* Request a licence string; return its LicenseVerify event (or NULL). */
static iscsdk_event* request(iscsdk_client* c, const char* dev_info)
{
    uint64_t id = 0;
    iscsdk_event* ev;
    if (!CHECK_STATUS(iscsdk_get_license_string_request(c, dev_info, "{\"doc\":\"\xe6\xa8\xa1\xe5\x9e\x8b.prt\"}", &id), ISCSDK_OK)) {
        return NULL;
    }
    CHECK(id != 0);
    ev = wait_event(c, ISCSDK_EVENT_LICENSE_VERIFY, NULL);
    if (ev != NULL) {
        CHECK(ev->request_id == id);
        CHECK(strstr(ev->json, "\"comeBackParams\":{\"doc\":\"\xe6\xa8\xa1\xe5\x9e\x8b.prt\"}") != NULL);
    }
    return ev;
}

static void scenario_flow(void)
{
    static char lic[64 << 10];
    char value[4096];
    char* dev = NULL;
    char* result = NULL;
    char* big;
    uint64_t id = 0;
    const char* key = getenv("ISCSDK_LICENSE_PUBLIC_KEY");
    iscsdk_client* c = connect_client();
    iscsdk_event* ev;
    FILE* f;

    if (c == NULL || !CHECK(key != NULL && key[0] != '\0')) {
        return;
    }
    /* This device's fingerprint: four parts. */
    if (CHECK_STATUS(iscsdk_device_info(&dev), ISCSDK_OK)) {
        const char* p = dev;
        int bars = 0;
        for (; *p != '\0'; p++) {
            bars += *p == '|';
        }
        CHECK(bars == 3);
        CHECK(strlen(dev) <= 5 * 1024);
        iscsdk_free(dev);
    }

    /* A licence string for this device, verified offline. */
    ev = request(c, NULL);
    if (ev == NULL) {
        return;
    }
    json_value(ev->json, "Status", value, sizeof value);
    CHECK(strcmp(value, "success") == 0);
    json_value(ev->json, "LicenseType", value, sizeof value);
    CHECK(strcmp(value, "string") == 0);
    json_value(ev->json, "LicenseContent", lic, sizeof lic);
    CHECK(strncmp(lic, "ISL1.", 5) == 0);
    iscsdk_event_free(ev);

    if (CHECK_STATUS(iscsdk_license_verify(lic, key, NULL, &result), ISCSDK_OK)) {
        CHECK(strstr(result, "\"valid\":true") != NULL);
        CHECK(strstr(result, "\"code\":\"ok\"") != NULL);
        CHECK(strstr(result, "\"features\":[\"export\",\"mesh\",\"solve\"]") != NULL);
        iscsdk_free(result);
    }
    if (CHECK_STATUS(iscsdk_license_verify(lic, key, "AA:BB:CC:DD:EE:FF|OTHER-DISK|OTHER-BOARD|OTHER-CPU", &result), ISCSDK_OK)) {
        CHECK(strstr(result, "\"valid\":false") != NULL);
        CHECK(strstr(result, "\"code\":\"wrong_device\"") != NULL);
        iscsdk_free(result);
    }
    lic[strlen(lic) - 3] ^= 1; /* one bit of the signature */
    if (CHECK_STATUS(iscsdk_license_verify(lic, key, NULL, &result), ISCSDK_OK)) {
        CHECK(strstr(result, "\"valid\":false") != NULL);
        iscsdk_free(result);
    }

    /* The same as a file in the workspace. */
    if (CHECK_STATUS(iscsdk_get_license_file_request(c, "cabi.lic", "", NULL, &id), ISCSDK_OK)) {
        ev = wait_event(c, ISCSDK_EVENT_LICENSE_VERIFY, NULL);
        if (ev != NULL) {
            CHECK(ev->request_id == id);
            json_value(ev->json, "LicenseType", value, sizeof value);
            CHECK(strcmp(value, "file") == 0);
            json_value(ev->json, "LicenseFilePath", value, sizeof value);
            CHECK(strstr(value, "cabi.lic") != NULL);
            f = fopen(value, "r");
            if (CHECK(f != NULL)) {
                CHECK(fgets(lic, sizeof lic, f) != NULL && strncmp(lic, "ISL1.", 5) == 0);
                fclose(f);
            }
            iscsdk_event_free(ev);
        }
    }
    CHECK_STATUS(iscsdk_license_verify_notify(c, 0, "cabi: the compiled key says no"), ISCSDK_OK);

    /* Bad input: clear errors, nothing sent. */
    big = (char*)malloc(10u << 20);
    if (CHECK(big != NULL)) {
        memset(big, 'A', (10u << 20) - 1);
        big[(10u << 20) - 1] = '\0';
        CHECK_STATUS(iscsdk_license_verify(big, key, NULL, &result), ISCSDK_E_INVALID_ARG);
        CHECK_ERROR_HAS("license is longer than");
        big[5 * 1024 + 1] = '\0';
        CHECK_STATUS(iscsdk_get_license_string_request(c, big, NULL, &id), ISCSDK_E_INVALID_ARG);
        CHECK_ERROR_HAS("dev_info longer than 5120 bytes");
        free(big);
    }
    CHECK_STATUS(iscsdk_get_license_string_request(c, "\xc3\x28|||", NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("dev_info is not valid UTF-8");
    CHECK_STATUS(iscsdk_get_license_file_request(c, "../../escape.lic", NULL, NULL, &id), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("leaves the workspace");
    CHECK_STATUS(iscsdk_license_verify("ISL1.x", "not a key", NULL, &result), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("public_key");
    CHECK_STATUS(iscsdk_license_verify_notify(c, 1, "\xff"), ISCSDK_E_INVALID_ARG);

    CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
}

static void scenario_seat(void)
{
    iscsdk_client* c = connect_client();
    iscsdk_event* ev;
    char status[32];
    if (c == NULL || (ev = request(c, NULL)) == NULL) {
        return;
    }
    json_value(ev->json, "Status", status, sizeof status);
    iscsdk_event_free(ev);
    if (CHECK(strcmp(status, "success") == 0)) {
        printf("LICENSED\n");
        pause(); /* until the driver kills us: no shut_out, no renewal */
    }
}

static void scenario_freeze(void)
{
    iscsdk_client* c = connect_client();
    iscsdk_event* ev;
    char status[32];
    if (c == NULL || (ev = request(c, NULL)) == NULL) {
        return;
    }
    json_value(ev->json, "Status", status, sizeof status);
    iscsdk_event_free(ev);
    if (!CHECK(strcmp(status, "success") == 0)) {
        return;
    }
    printf("LICENSED\n");
    if ((ev = wait_event(c, ISCSDK_EVENT_LICENSE_STATE, "frozen")) != NULL) {
        printf("FROZEN\n");
        iscsdk_event_free(ev);
        /* ...and the licence it held now fails. */
        if ((ev = wait_event(c, ISCSDK_EVENT_LICENSE_VERIFY, NULL)) != NULL) {
            CHECK(strstr(ev->json, "\"errorCode\":\"license_frozen\"") != NULL);
            iscsdk_event_free(ev);
        }
    }
    if ((ev = wait_event(c, ISCSDK_EVENT_LICENSE_STATE, "unfrozen")) != NULL) {
        printf("UNFROZEN\n");
        iscsdk_event_free(ev);
    }
    CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
}

static void scenario_revoked(void)
{
    iscsdk_client* c = connect_client();
    iscsdk_event* ev;
    char value[64];
    if (c == NULL || (ev = request(c, NULL)) == NULL) {
        return;
    }
    json_value(ev->json, "Status", value, sizeof value);
    iscsdk_event_free(ev);
    if (!CHECK(strcmp(value, "success") == 0)) {
        return;
    }
    printf("LICENSED\n");
    if ((ev = wait_event(c, ISCSDK_EVENT_LICENSE_STATE, "released")) != NULL) {
        printf("RELEASED\n");
        iscsdk_event_free(ev);
    }
    if ((ev = wait_event(c, ISCSDK_EVENT_SIGN_IN_REQUIRED, NULL)) != NULL) {
        json_value(ev->json, "reason", value, sizeof value);
        CHECK(strcmp(value, "sign_in_required") == 0);
        CHECK(strstr(ev->json, "\"operate\":\"SignInRequired\"") != NULL);
        printf("SIGN_IN_REQUIRED\n");
        iscsdk_event_free(ev);
    }
    CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
}

int main(int argc, char** argv)
{
    const char* s = argc > 1 ? argv[1] : "";
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(s, "flow") == 0) {
        scenario_flow();
    } else if (strcmp(s, "seat") == 0) {
        scenario_seat();
    } else if (strcmp(s, "freeze") == 0) {
        scenario_freeze();
    } else if (strcmp(s, "revoked") == 0) {
        scenario_revoked();
    } else {
        CHECK(!"a known scenario: flow, seat, freeze, revoked");
    }
    return check_done();
}
