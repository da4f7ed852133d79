/*
** flow.c: the C ABI of iscsdk.dll on Windows (run under Wine by
** capi/winetest) against a live iscd, with its dev.env in the environment:
**
**     flow.exe DIR
**
** DIR is a Windows path (ASCII) of an empty directory. The program:
**   - connects with a workspace under DIR whose name is CJK;
**   - takes the first events by polling, then by a callback;
**   - asks for a licence string, verifies it offline with
**     $ISCSDK_LICENSE_PUBLIC_KEY (also against another device), tells the
**     service (iscsdk_license_verify_notify);
**   - asks for a licence file at DIR\<CJK name>.lic and at a CJK name
**     relative to the workspace, and reads both back through the UTF-16 API;
**   - checks that the last error is per thread;
**   - prints "READY <session>", reads "SENT <n>" from stdin once the driver
**     has posted notices "1".."n", and checks they reach the callback in
**     order, one at a time, on one thread;
**   - shuts out: no callback after, a second shut-out refused.
** It prints "FILE <utf-8 path>" for each licence file, "DEVICE <info>",
** and last "N passed, M failed"; the exit code is 0 when nothing failed.
**   - saves DIR\<CJK name>.prt to the cloud (iscsdk_save_as), opens it back
**     (iscsdk_open_cloud_path) into the CJK workspace and compares the bytes;
**     prints "OPENED <utf-8 path>".
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include <iscsdk/iscsdk.h>

/* ---- checks: counted atomically, any thread ---- */

static volatile LONG passed, failed;

static int check_(int ok, int line, const char* expr)
{
    if (ok) {
        InterlockedIncrement(&passed);
    } else {
        InterlockedIncrement(&failed);
        printf("check failed at flow.c:%d: %s (last_error: %s)\n", line, expr, iscsdk_last_error());
        fflush(stdout);
    }
    return ok;
}

static int check_status_(iscsdk_status got, iscsdk_status want, int line, const char* expr)
{
    if (got == want) {
        InterlockedIncrement(&passed);
        return 1;
    }
    InterlockedIncrement(&failed);
    printf("check failed at flow.c:%d: %s = %d (%s), want %d; last_error: %s\n", line, expr, (int)got,
           iscsdk_status_string(got), (int)want, iscsdk_last_error());
    fflush(stdout);
    return 0;
}

#define CHECK(cond) check_((cond) != 0, __LINE__, #cond)
#define CHECK_STATUS(call, want) check_status_((call), (want), __LINE__, #call)

/* ---- helpers ---- */

/* Copy the string value of "key" in json into out ("" if absent). JSON
** escapes are kept: a Windows path has its backslashes doubled. */
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

/* Undo the JSON escaping of backslashes in place. */
static void unescape(char* s)
{
    char* w = s;
    for (; *s != '\0'; s++) {
        if (s[0] == '\\' && s[1] == '\\') {
            s++;
        }
        *w++ = *s;
    }
    *w = '\0';
}

/* Read the first line of the file at the UTF-8 path through _wfopen, as a
** Windows program does. */
static int read_first_line(const char* utf8_path, char* out, int size)
{
    wchar_t wpath[MAX_PATH * 2];
    FILE* f;
    int ok;
    if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8_path, -1, wpath, MAX_PATH * 2) == 0) {
        return 0;
    }
    if ((f = _wfopen(wpath, L"rb")) == NULL) {
        return 0;
    }
    ok = fgets(out, size, f) != NULL;
    fclose(f);
    return ok;
}

/* Write text to a file named by a UTF-8 path. */
static int write_text(const char* utf8_path, const char* text)
{
    wchar_t wpath[MAX_PATH * 2];
    FILE* f;
    int ok;
    if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8_path, -1, wpath, MAX_PATH * 2) == 0) {
        return 0;
    }
    if ((f = _wfopen(wpath, L"wb")) == NULL) {
        return 0;
    }
    ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

static void say(const char* format, const char* arg)
{
    printf(format, arg);
    fflush(stdout);
}

/* Poll for the next event of type; NULL after 30 s. */
static iscsdk_event* wait_event(iscsdk_client* c, int32_t type)
{
    DWORD start = GetTickCount();
    while (GetTickCount() - start < 30000) {
        iscsdk_event* ev = NULL;
        iscsdk_status st = iscsdk_poll_event(c, 200, &ev);
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
    CHECK(!"the event came within 30 s");
    return NULL;
}

/* ---- the last error is per thread ---- */

static DWORD WINAPI fail_in_thread(LPVOID arg)
{
    (void)arg;
    CHECK_STATUS(iscsdk_init(NULL, NULL), ISCSDK_E_INVALID_ARG);
    CHECK(strstr(iscsdk_last_error(), "out_client is NULL") != NULL);
    return 0;
}

/* ---- events through the callback ---- */

static volatile LONG inside, notices, last_notice, after_shut_out;
static DWORD callback_thread;
static HANDLE all_notices;
static volatile LONG expected_notices;

static void ISCSDK_CALL on_event(const iscsdk_event* e, void* user_data)
{
    char text[32];
    int n;
    CHECK(strcmp((const char*)user_data, "user data") == 0);
    CHECK(InterlockedCompareExchange(&after_shut_out, 0, 0) == 0);
    CHECK(InterlockedIncrement(&inside) == 1); /* one at a time */
    if (callback_thread == 0) {
        callback_thread = GetCurrentThreadId();
    }
    CHECK(callback_thread == GetCurrentThreadId());
    if (e->type == ISCSDK_EVENT_NOTICE) {
        json_value(e->json, "text", text, sizeof text);
        n = atoi(text);
        CHECK(n == last_notice + 1); /* in order, no duplicates */
        last_notice = n;
        if (InterlockedIncrement(&notices) == InterlockedCompareExchange(&expected_notices, 0, 0)) {
            SetEvent(all_notices);
        }
    }
    InterlockedDecrement(&inside);
}

/* ---- the flow ---- */

int main(int argc, char** argv)
{
    /* 许可证-模型.lic, 工作区 (workspace), 模型 (model): UTF-8. */
    static const char lic_name[] = "\xe8\xae\xb8\xe5\x8f\xaf\xe8\xaf\x81-\xe6\xa8\xa1\xe5\x9e\x8b.lic";
    static const char ws_name[] = "\xe5\xb7\xa5\xe4\xbd\x9c\xe5\x8c\xba";
    static const char part_name[] = "\xe5\x9b\xbe\xe7\xba\xb8 1.prt"; /* 图纸 1.prt */
    static char lic[64 * 1024];
    char path[2048], value[2048], line[256], workspace[1024], session[128] = "";
    const char* key = getenv("ISCSDK_LICENSE_PUBLIC_KEY");
    iscsdk_options o;
    iscsdk_client* c = NULL;
    iscsdk_event* ev;
    char* dev = NULL;
    char* result = NULL;
    uint64_t id = 0;
    HANDLE thread;
    int n = 0;

    if (argc != 2 || key == NULL || key[0] == '\0') {
        fprintf(stderr, "usage: flow DIR, with iscd's dev.env in the environment\n");
        return 2;
    }
    CHECK(iscsdk_version_number() == ISCSDK_VERSION_NUMBER);

    /* Connect; every option but the (CJK) workspace from the environment. */
    snprintf(workspace, sizeof workspace, "%s\\%s", argv[1], ws_name);
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.workspace_dir = workspace;
    o.app_version = "winetest";
    if (!CHECK_STATUS(iscsdk_init(&o, &c), ISCSDK_OK)) {
        printf("%d passed, %d failed\n", (int)passed, (int)failed);
        return 1;
    }

    /* The device: four parts, and the system volume serial is there. */
    if (CHECK_STATUS(iscsdk_device_info(&dev), ISCSDK_OK)) {
        const char* p = strchr(dev, '|');
        CHECK(p != NULL && p[1] != '|' && strchr(p + 1, '|') != NULL);
        say("DEVICE %s\n", dev);
        iscsdk_free(dev);
    }

    /* Polled: the session is up. */
    if ((ev = wait_event(c, ISCSDK_EVENT_CONNECTION_STATE)) != NULL) {
        CHECK(strstr(ev->json, "\"state\":\"connected\"") != NULL);
        json_value(ev->json, "session", session, sizeof session);
        iscsdk_event_free(ev);
    }

    /* A licence string, verified offline, the verdict told to the service. */
    CHECK_STATUS(iscsdk_get_license_string_request(c, NULL, "{\"doc\":\"\xe6\xa8\xa1\xe5\x9e\x8b.prt\"}", &id), ISCSDK_OK);
    if ((ev = wait_event(c, ISCSDK_EVENT_LICENSE_VERIFY)) != NULL) {
        CHECK(ev->request_id == id);
        CHECK(strstr(ev->json, "\"comeBackParams\":{\"doc\":\"\xe6\xa8\xa1\xe5\x9e\x8b.prt\"}") != NULL);
        CHECK(strstr(ev->json, "\"Status\":\"success\"") != NULL);
        json_value(ev->json, "LicenseContent", lic, sizeof lic);
        iscsdk_event_free(ev);
    }
    if (CHECK_STATUS(iscsdk_license_verify(lic, key, NULL, &result), ISCSDK_OK)) {
        CHECK(strstr(result, "\"valid\":true") != NULL);
        iscsdk_free(result);
    }
    if (CHECK_STATUS(iscsdk_license_verify(lic, key, "AA:BB:CC:DD:EE:FF|OTHER-DISK|OTHER-BOARD|OTHER-CPU", &result), ISCSDK_OK)) {
        CHECK(strstr(result, "\"code\":\"wrong_device\"") != NULL);
        iscsdk_free(result);
    }
    CHECK_STATUS(iscsdk_license_verify_notify(c, 0, "winetest: the compiled key says no"), ISCSDK_OK);

    /* Licence files with CJK names: absolute, and relative to the CJK
    ** workspace; read back through the UTF-16 file API. */
    snprintf(path, sizeof path, "%s\\%s", argv[1], lic_name);
    CHECK_STATUS(iscsdk_get_license_file_request(c, path, NULL, NULL, &id), ISCSDK_OK);
    if ((ev = wait_event(c, ISCSDK_EVENT_LICENSE_VERIFY)) != NULL) {
        CHECK(ev->request_id == id);
        CHECK(strstr(ev->json, "\"LicenseType\":\"file\"") != NULL);
        json_value(ev->json, "LicenseFilePath", value, sizeof value);
        unescape(value);
        CHECK(strcmp(value, path) == 0);
        CHECK(read_first_line(value, line, sizeof line) && strncmp(line, "ISL1.", 5) == 0);
        say("FILE %s\n", value);
        iscsdk_event_free(ev);
    }
    CHECK_STATUS(iscsdk_get_license_file_request(c, lic_name, NULL, NULL, &id), ISCSDK_OK);
    if ((ev = wait_event(c, ISCSDK_EVENT_LICENSE_VERIFY)) != NULL) {
        json_value(ev->json, "LicenseFilePath", value, sizeof value);
        unescape(value);
        snprintf(path, sizeof path, "%s\\licenses\\%s", workspace, lic_name);
        CHECK(strcmp(value, path) == 0);
        CHECK(read_first_line(value, line, sizeof line) && strncmp(line, "ISL1.", 5) == 0);
        say("FILE %s\n", value);
        iscsdk_event_free(ev);
    }
    CHECK_STATUS(iscsdk_get_license_file_request(c, "..\\..\\escape.lic", NULL, NULL, &id), ISCSDK_E_INVALID_ARG);

    /* The last error belongs to the thread that made the call. */
    CHECK_STATUS(iscsdk_license_verify_notify(c, 1, "\xff"), ISCSDK_E_INVALID_ARG);
    strncpy(line, iscsdk_last_error(), sizeof line - 1);
    line[sizeof line - 1] = '\0';
    thread = CreateThread(NULL, 0, fail_in_thread, NULL, 0, NULL);
    if (CHECK(thread != NULL)) {
        WaitForSingleObject(thread, INFINITE);
        CloseHandle(thread);
    }
    CHECK(line[0] != '\0' && strcmp(iscsdk_last_error(), line) == 0);

    /* Cloud files: 图纸 1.prt saved from DIR, opened back into the workspace. */
    snprintf(path, sizeof path, "%s\\%s", argv[1], part_name);
    if (CHECK(write_text(path, "solid bracket\n"))) {
        CHECK_STATUS(iscsdk_save_as(c, path, "/win/\xe5\x9b\xbe\xe7\xba\xb8 1.prt", 0, NULL, &id), ISCSDK_OK);
        if ((ev = wait_event(c, ISCSDK_EVENT_SAVE_RESULT)) != NULL) {
            CHECK(strstr(ev->json, "\"status\":\"success\"") != NULL);
            CHECK(ev->request_id == id);
            iscsdk_event_free(ev);
        }
        CHECK_STATUS(iscsdk_open_cloud_path(c, "/win/\xe5\x9b\xbe\xe7\xba\xb8 1.prt", ISCSDK_OPEN_ONLY, NULL, &id), ISCSDK_OK);
        if ((ev = wait_event(c, ISCSDK_EVENT_OPEN_CLOUD_FILE_RESULT)) != NULL) {
            CHECK(strstr(ev->json, "\"status\":\"success\"") != NULL);
            json_value(ev->json, "mainFile", value, sizeof value);
            unescape(value);
            CHECK(strstr(value, ws_name) != NULL && strstr(value, part_name) != NULL);
            CHECK(read_first_line(value, line, sizeof line) && strcmp(line, "solid bracket\n") == 0);
            say("OPENED %s\n", value);
            iscsdk_event_free(ev);
        }
    }

    /* Pushed events through the callback. */
    all_notices = CreateEventW(NULL, TRUE, FALSE, NULL);
    CHECK_STATUS(iscsdk_register_event_recall(c, on_event, (void*)"user data"), ISCSDK_OK);
    say("READY %s\n", session);
    if (fgets(line, sizeof line, stdin) == NULL || sscanf(line, "SENT %d", &n) != 1) {
        CHECK(!"read SENT <n> from stdin");
    }
    /* The notices may all have come before SENT was read: the callback
    ** saw no count to reach then, so look once the count is set. */
    InterlockedExchange(&expected_notices, n);
    if (n > 0 && InterlockedCompareExchange(&notices, 0, 0) >= n) {
        SetEvent(all_notices);
    }
    if (n > 0) {
        CHECK(WaitForSingleObject(all_notices, 30000) == WAIT_OBJECT_0);
        CHECK(notices == n);
    }

    /* Shut out: no callback after it returns; a second one is refused. */
    CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
    InterlockedExchange(&after_shut_out, 1);
    CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_E_INVALID_HANDLE);
    CHECK_STATUS(iscsdk_license_verify_notify(c, 1, NULL), ISCSDK_E_INVALID_HANDLE);
    CloseHandle(all_notices);

    printf("%d passed, %d failed\n", (int)passed, (int)failed);
    return failed == 0 ? 0 : 1;
}
