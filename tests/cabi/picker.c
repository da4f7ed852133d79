/*
** picker.c: the pickers through the C ABI against a live iscd. Run as
** `picker DIR FOLDER` with iscd's dev.env and ISCSDK_NO_BROWSER=1 in the
** environment; DIR is a scratch directory, FOLDER a new cloud folder's
** name. Someone else (the Go test, in headless Chromium) uses the pages
** whose URLs it prints:
**
**   PICKER <url>   open: pick /FOLDER/bracket.prt with "Open and check out"
**   OPENED <path>  the file was downloaded, checked out, and is the same
**   PICKER <url>   save: pick /FOLDER, name "housing v2.prt", "Save here"
**   SAVED <path>   saved there, and it opens with the same content
**   PICKER <url>   open again: "Cancel"
**   CANCELLED      the OpenFile event said errorCode "cancelled"
*/
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

/* Poll until the event of request id and type arrives; NULL after 120 s.
** Other events (progress, connection state) are skipped. */
static iscsdk_event* wait_for(iscsdk_client* c, uint64_t id, int32_t type)
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
        if (ev->request_id == id && ev->type == type) {
            return ev;
        }
        /* The service's PickerResult is the library's: never the host's. */
        CHECK(strstr(ev->json, "PickerResult") == NULL);
        iscsdk_event_free(ev);
    }
    CHECK(!"the event came within 120 s");
    return NULL;
}

static void write_file(const char* path, const char* data)
{
    FILE* f = fopen(path, "wb");
    if (CHECK(f != NULL)) {
        CHECK(fputs(data, f) >= 0);
        fclose(f);
    }
}

static int has_content(const char* path, const char* want)
{
    char buf[256];
    size_t n = 0;
    FILE* f = fopen(path, "rb");
    if (f == NULL) {
        return 0;
    }
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strcmp(buf, want) == 0;
}

/* The Picker event of request id: its url is printed for the browser. */
static void show_picker(iscsdk_client* c, uint64_t id, const char* mode)
{
    char url[1024], value[64];
    iscsdk_event* ev = wait_for(c, id, ISCSDK_EVENT_PICKER);
    if (ev == NULL) {
        return;
    }
    CHECK(strstr(ev->json, "\"operate\":\"Picker\"") != NULL);
    json_value(ev->json, "mode", value, sizeof value);
    CHECK(strcmp(value, mode) == 0);
    json_value(ev->json, "browser", value, sizeof value);
    CHECK(strcmp(value, "off") == 0); /* ISCSDK_NO_BROWSER=1 */
    json_value(ev->json, "url", url, sizeof url);
    CHECK(strncmp(url, "http://", 7) == 0);
    printf("PICKER %s\n", url);
    iscsdk_event_free(ev);
}

int main(int argc, char** argv)
{
    const char* dir = argc > 2 ? argv[1] : ".";
    const char* folder = argc > 2 ? argv[2] : "pick";
    char local[1024], got[1024], cloud[1024], want[1024];
    iscsdk_client* c = NULL;
    iscsdk_event* ev;
    uint64_t id = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!CHECK_STATUS(iscsdk_init(NULL, &c), ISCSDK_OK)) {
        return check_done();
    }

    /* A file in the cloud to pick. */
    snprintf(local, sizeof local, "%s/bracket.prt", dir);
    write_file(local, "bracket, revision A");
    snprintf(cloud, sizeof cloud, "/%s/bracket.prt", folder);
    if (CHECK_STATUS(iscsdk_save_as(c, local, cloud, 0, NULL, &id), ISCSDK_OK) &&
        (ev = wait_for(c, id, ISCSDK_EVENT_SAVE_RESULT)) != NULL) {
        CHECK(strstr(ev->json, "\"status\":\"success\"") != NULL);
        iscsdk_event_free(ev);
    }

    /* Open: the user picks it with "Open and check out". */
    if (CHECK_STATUS(iscsdk_open_cloud_file(c, "{\"doc\":2}", &id), ISCSDK_OK)) {
        CHECK(id != 0);
        show_picker(c, id, "open");
        if ((ev = wait_for(c, id, ISCSDK_EVENT_OPEN_CLOUD_FILE_RESULT)) != NULL) {
            CHECK(strstr(ev->json, "\"status\":\"success\"") != NULL);
            CHECK(strstr(ev->json, "\"workState\":\"CHECKOUT\"") != NULL);
            CHECK(strstr(ev->json, "\"openType\":\"OpenAndCheckout\"") != NULL);
            json_value(ev->json, "cloudPath", want, sizeof want);
            CHECK(strcmp(want, cloud) == 0);
            CHECK(strstr(ev->json, "\"comeBackParams\":{\"doc\":2}") != NULL);
            json_value(ev->json, "mainFile", got, sizeof got);
            CHECK(got[0] == '/' && strcmp(got, local) != 0);
            CHECK(has_content(got, "bracket, revision A"));
            printf("OPENED %s\n", got);
            iscsdk_event_free(ev);
        }
    }

    /* Save as: the user picks the folder and types a name. */
    snprintf(local, sizeof local, "%s/housing.prt", dir);
    write_file(local, "housing, revision B");
    if (CHECK_STATUS(iscsdk_select_save_as_path(c, local, 0, NULL, &id), ISCSDK_OK)) {
        show_picker(c, id, "save");
        cloud[0] = '\0';
        if ((ev = wait_for(c, id, ISCSDK_EVENT_SAVE_RESULT)) != NULL) {
            CHECK(strstr(ev->json, "\"status\":\"success\"") != NULL);
            CHECK(strstr(ev->json, "\"version\":\"1\"") != NULL);
            json_value(ev->json, "cloudPath", cloud, sizeof cloud);
            snprintf(want, sizeof want, "/%s/housing v2.prt", folder);
            CHECK(strcmp(cloud, want) == 0);
            printf("SAVED %s\n", cloud);
            iscsdk_event_free(ev);
        }
        /* It is in the cloud: it opens with the same content. */
        if (cloud[0] != '\0' && CHECK_STATUS(iscsdk_open_cloud_path(c, cloud, ISCSDK_OPEN_ONLY, NULL, &id), ISCSDK_OK) &&
            (ev = wait_for(c, id, ISCSDK_EVENT_OPEN_CLOUD_FILE_RESULT)) != NULL) {
            json_value(ev->json, "mainFile", got, sizeof got);
            CHECK(has_content(got, "housing, revision B"));
            iscsdk_event_free(ev);
        }
    }

    /* Cancel: the OpenFile event fails with errorCode "cancelled". */
    if (CHECK_STATUS(iscsdk_open_cloud_file(c, NULL, &id), ISCSDK_OK)) {
        show_picker(c, id, "open");
        if ((ev = wait_for(c, id, ISCSDK_EVENT_OPEN_CLOUD_FILE_RESULT)) != NULL) {
            CHECK(strstr(ev->json, "\"status\":\"failed\"") != NULL);
            CHECK(strstr(ev->json, "\"errorCode\":\"cancelled\"") != NULL);
            printf("CANCELLED\n");
            iscsdk_event_free(ev);
        }
    }

    CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
    return check_done();
}
