/*
** paths.c: local paths in every form Windows accepts, through iscsdk.dll
** (run under Wine by capi/winetest) against a live iscd, with its dev.env
** in the environment:
**
**     paths.exe DIR
**
** DIR is a rooted path without a drive, as a user coming from Linux types
** it under Wine ("/tmp/xyz"): the current drive is Z:, so it is Z:\tmp\xyz.
** The program:
**   - connects with the workspace DIR/ws, given in that form;
**   - asks for a licence file at DIR/lic/dev.lic (the same form) and
**     finds it there;
**   - saves DIR/part.stp as /winpaths/part.stp and opens it back with
**     check-out;
**   - changes the opened file and saves it back under each form of its
**     path: as the open event gave it, "/..." and "\..." without a drive,
**     "Z:/..." and "z:\...", another letter case, "\\?\Z:\...", "\\.\Z:\...",
**     with "." and ".." names, and with a trailing dot; every save is a new
**     version of the same cloud file;
**   - saves a path naming a device (DIR\aux.stp opens AUX): refused at once.
** It prints "SAVED <n> versions" and last "N passed, M failed".
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include <iscsdk/iscsdk.h>

static volatile LONG passed, failed;

static int check_(int ok, int line, const char* expr)
{
    if (ok) {
        InterlockedIncrement(&passed);
    } else {
        InterlockedIncrement(&failed);
        printf("check failed at paths.c:%d: %s (last_error: %s)\n", line, expr, iscsdk_last_error());
        fflush(stdout);
    }
    return ok;
}

#define CHECK(cond) check_((cond) != 0, __LINE__, #cond)
#define CHECK_OK(call) CHECK((call) == ISCSDK_OK)

/* Copy the string value of "key" in json into out, JSON escapes of
** backslashes undone ("" if absent). */
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
    for (p += strlen(pattern); *p != '\0' && *p != '"' && n + 1 < size; p++) {
        if (p[0] == '\\' && p[1] == '\\') {
            p++;
        }
        out[n++] = *p;
    }
    out[n] = '\0';
}

/* Poll for the event of type answering request id; NULL after 60 s. */
static iscsdk_event* wait_for(iscsdk_client* c, int32_t type, uint64_t id)
{
    DWORD start = GetTickCount();
    while (GetTickCount() - start < 60000) {
        iscsdk_event* ev = NULL;
        iscsdk_status st = iscsdk_poll_event(c, 200, &ev);
        if (st == ISCSDK_E_TIMEOUT) {
            continue;
        }
        if (!CHECK_OK(st)) {
            return NULL;
        }
        if (ev->type == type && ev->request_id == id) {
            return ev;
        }
        iscsdk_event_free(ev);
    }
    CHECK(!"the event came within 60 s");
    return NULL;
}

static void write_file(const char* path, const char* text)
{
    FILE* f = fopen(path, "wb");
    if (CHECK(f != NULL)) {
        CHECK(fputs(text, f) >= 0);
        fclose(f);
    }
}

/* Save local as a new version of the file it was opened from; returns the
** version, or 0 after a failure. */
static int save(iscsdk_client* c, const char* local)
{
    char status[32], version[32], msg[512];
    uint64_t id = 0;
    iscsdk_event* ev;
    if (!CHECK_OK(iscsdk_save(c, local, 0, NULL, &id)) || (ev = wait_for(c, ISCSDK_EVENT_SAVE_RESULT, id)) == NULL) {
        return 0;
    }
    json_value(ev->json, "status", status, sizeof status);
    json_value(ev->json, "version", version, sizeof version);
    json_value(ev->json, "errorMsg", msg, sizeof msg);
    if (!CHECK(strcmp(status, "success") == 0)) {
        printf("save %s: %s\n", local, msg);
    }
    iscsdk_event_free(ev);
    return atoi(version);
}

int main(int argc, char** argv)
{
    char ws[MAX_PATH], lic[MAX_PATH], part[MAX_PATH], main_file[MAX_PATH], got[MAX_PATH], rest[MAX_PATH], form[MAX_PATH * 2];
    iscsdk_options opt;
    iscsdk_client* c = NULL;
    iscsdk_event* ev;
    uint64_t id = 0;
    int version = 0, saves = 0, i;
    const char* dir = argc > 1 ? argv[1] : "";
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!CHECK(dir[0] == '/')) {
        printf("usage: paths.exe /tmp/DIR\n");
        return 2;
    }
    snprintf(ws, sizeof ws, "%s/ws", dir);
    snprintf(lic, sizeof lic, "%s/lic/dev.lic", dir);
    snprintf(part, sizeof part, "%s/part.stp", dir);

    memset(&opt, 0, sizeof opt);
    opt.struct_size = sizeof opt;
    opt.app_version = "1.0.0";
    opt.workspace_dir = ws;
    if (!CHECK_OK(iscsdk_init(&opt, &c))) {
        printf("%ld passed, %ld failed\n", (long)passed, (long)failed);
        return 1;
    }

    /* A licence file at a rooted path without a drive. */
    if (CHECK_OK(iscsdk_get_license_file_request(c, lic, NULL, NULL, &id)) &&
        (ev = wait_for(c, ISCSDK_EVENT_LICENSE_VERIFY, id)) != NULL) {
        char status[32], path[MAX_PATH];
        json_value(ev->json, "Status", status, sizeof status);
        json_value(ev->json, "LicenseFilePath", path, sizeof path);
        CHECK(strcmp(status, "Success") == 0 || strcmp(status, "success") == 0);
        printf("LICFILE %s\n", path);
        CHECK(GetFileAttributesA(lic) != INVALID_FILE_ATTRIBUTES);
        iscsdk_event_free(ev);
    }

    /* Save, open back with check-out. */
    write_file(part, "solid bracket 0\n");
    if (CHECK_OK(iscsdk_save_as(c, part, "/winpaths/part.stp", 0, NULL, &id)) &&
        (ev = wait_for(c, ISCSDK_EVENT_SAVE_RESULT, id)) != NULL) {
        char status[32];
        json_value(ev->json, "status", status, sizeof status);
        CHECK(strcmp(status, "success") == 0);
        iscsdk_event_free(ev);
    }
    main_file[0] = '\0';
    if (CHECK_OK(iscsdk_open_cloud_path(c, "/winpaths/part.stp", ISCSDK_OPEN_AND_CHECKOUT, NULL, &id)) &&
        (ev = wait_for(c, ISCSDK_EVENT_OPEN_CLOUD_FILE_RESULT, id)) != NULL) {
        json_value(ev->json, "mainFile", main_file, sizeof main_file);
        json_value(ev->json, "version", got, sizeof got);
        version = atoi(got);
        printf("OPENED %s\n", main_file);
        iscsdk_event_free(ev);
    }
    if (!CHECK(main_file[0] != '\0' && version == 1)) {
        iscsdk_shut_out(c);
        printf("%ld passed, %ld failed\n", (long)passed, (long)failed);
        return 1;
    }

    /* The forms. rest is the path below the drive: \tmp\xyz\ws\files\... */
    snprintf(rest, sizeof rest, "%s/ws/files/winpaths/part.stp", dir);
    for (i = 0; rest[i] != '\0'; i++) {
        if (rest[i] == '/') {
            rest[i] = '\\';
        }
    }
    for (i = 0; i < 11; i++) {
        char text[64];
        size_t k;
        switch (i) {
        case 0: snprintf(form, sizeof form, "%s", main_file); break;
        case 1: snprintf(form, sizeof form, "%s/ws/files/winpaths/part.stp", dir); break;
        case 2: snprintf(form, sizeof form, "%s", rest); break;
        case 3: snprintf(form, sizeof form, "Z:%s", rest); break;
        case 4: snprintf(form, sizeof form, "z:%s", rest); break;
        case 5: snprintf(form, sizeof form, "Z:%s", rest);
            for (k = 0; form[k] != '\0'; k++) {
                if (form[k] == '\\') {
                    form[k] = '/';
                }
            }
            break;
        case 6: snprintf(form, sizeof form, "%s", rest);
            for (k = 0; form[k] != '\0'; k++) {
                if (form[k] >= 'a' && form[k] <= 'z') {
                    form[k] = (char)(form[k] - 'a' + 'A');
                }
            }
            break;
        case 7: snprintf(form, sizeof form, "\\\\?\\Z:%s", rest); break;
        case 8: snprintf(form, sizeof form, "\\\\.\\Z:%s", rest); break;
        case 9: snprintf(form, sizeof form, "%s/ws/./files/../files/winpaths/part.stp", dir); break;
        default: snprintf(form, sizeof form, "%s.", rest); break;
        }
        snprintf(text, sizeof text, "solid bracket %d\n", i + 1);
        write_file(main_file, text);
        printf("FORM %s\n", form);
        if (CHECK(save(c, form) == version + 1)) {
            version++;
            saves++;
        }
    }
    printf("SAVED %d versions\n", saves);

    /* A device is not a file. */
    snprintf(form, sizeof form, "%s\\aux.stp", dir);
    CHECK(iscsdk_save(c, form, 0, NULL, &id) == ISCSDK_E_INVALID_ARG);
    CHECK(strstr(iscsdk_last_error(), "device") != NULL);

    CHECK_OK(iscsdk_shut_out(c));
    printf("%ld passed, %ld failed\n", (long)passed, (long)failed);
    return failed == 0 ? 0 : 1;
}
