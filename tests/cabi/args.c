/*
** args.c: the C ABI refuses bad input with an error status and a message,
** and never crashes. Needs no service. Environment:
**   ISCSDK_TEST_BLACKHOLE  host:port of a listener that accepts and never answers
*/
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

static iscsdk_client* const bogus = (iscsdk_client*)(uintptr_t)0xdeadbeef;

static iscsdk_options options(const char* endpoint, uint32_t timeout_ms)
{
    iscsdk_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.endpoint = endpoint;
    o.token = "isk_test_token";
    o.product_id = "test-product";
    o.workspace_dir = getenv("ISCSDK_TEST_WORKSPACE");
    o.connect_timeout_ms = timeout_ms;
    return o;
}

static void test_versions_and_statuses(void)
{
    iscsdk_status st;
    CHECK(iscsdk_version_number() == ISCSDK_VERSION_NUMBER);
    CHECK(strcmp(iscsdk_status_string(ISCSDK_OK), "ISCSDK_OK: success") == 0);
    for (st = ISCSDK_E_INVALID_ARG; st >= ISCSDK_E_EXPIRED; st--) {
        CHECK(strncmp(iscsdk_status_string(st), "ISCSDK_E_", 9) == 0);
    }
    CHECK(strstr(iscsdk_status_string(ISCSDK_E_TIMEOUT), "TIMEOUT") != NULL);
    CHECK(strcmp(iscsdk_status_string(ISCSDK_E_EXPIRED - 1), "unknown status") == 0);
    CHECK(strcmp(iscsdk_status_string(1), "unknown status") == 0);
    CHECK(strcmp(iscsdk_status_string(INT32_MIN), "unknown status") == 0);
    iscsdk_free(NULL);
    iscsdk_event_free(NULL);
}

static void test_init_arguments(void)
{
    iscsdk_client* c = bogus;
    iscsdk_options o = options("ws://127.0.0.1:1", 1000);
    char* big;

    CHECK_STATUS(iscsdk_init(&o, NULL), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("out_client");

    o.struct_size = 0;
    CHECK_STATUS(iscsdk_init(&o, &c), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("struct_size");
    CHECK(c == NULL);

    o = options("ws://127.0.0.1:1", 1000);
    o.token = "bad \xff\xfe token";
    CHECK_STATUS(iscsdk_init(&o, &c), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("options->token is not valid UTF-8");

    o = options("ws://127.0.0.1:1", 1000);
    o.workspace_dir = "\xc3"; /* a truncated two-byte sequence */
    CHECK_STATUS(iscsdk_init(&o, &c), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("options->workspace_dir");

    o = options("ws://127.0.0.1:1", 1000);
    o.release_key = "\xff";
    CHECK_STATUS(iscsdk_init(&o, &c), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("options->release_key is not valid UTF-8");

    big = (char*)malloc(64 * 1024 + 2);
    memset(big, 'a', 64 * 1024 + 1);
    big[64 * 1024 + 1] = '\0';
    o = options("ws://127.0.0.1:1", 1000);
    o.app_version = big;
    CHECK_STATUS(iscsdk_init(&o, &c), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("options->app_version is longer than 64 KiB");
    free(big);

    o = options("http://127.0.0.1:1", 1000);
    CHECK_STATUS(iscsdk_init(&o, &c), ISCSDK_E_CONFIG);
    CHECK_ERROR_HAS("ws://");

    /* A struct from an older header, which ends after endpoint: the fields
    ** past struct_size are not read, and the environment (set after the
    ** library was loaded) supplies them. */
    setenv("ISCSDK_TOKEN", "isk_from_env", 1);
    setenv("ISCSDK_PRODUCT", "product-from-env", 1);
    o = options("ws://127.0.0.1:1", 1000);
    o.token = "\xff";
    o.product_id = "\xff";
    o.struct_size = (uint32_t)(offsetof(iscsdk_options, endpoint) + sizeof o.endpoint);
    CHECK_STATUS(iscsdk_init(&o, &c), ISCSDK_E_UNREACHABLE);
    CHECK_ERROR_HAS("ws://127.0.0.1:1");
    CHECK(c == NULL);

    /* A struct from the header before release_key (it ends after
    ** no_auto_install): release_key is not read. */
    o = options("ws://127.0.0.1:1", 1000);
    o.release_key = "\xff";
    o.struct_size = (uint32_t)(offsetof(iscsdk_options, no_auto_install) + sizeof o.no_auto_install);
    CHECK_STATUS(iscsdk_init(&o, &c), ISCSDK_E_UNREACHABLE);
    CHECK(c == NULL);
}

static void test_unreachable(void)
{
    iscsdk_client* c = bogus;
    iscsdk_options o = options("ws://127.0.0.1:1", 2000);
    const char* hole = getenv("ISCSDK_TEST_BLACKHOLE");
    char url[128];
    double start, ms;

    start = now_ms();
    CHECK_STATUS(iscsdk_init(&o, &c), ISCSDK_E_UNREACHABLE);
    ms = now_ms() - start;
    CHECK_ERROR_HAS("ws://127.0.0.1:1");
    CHECK(c == NULL);
    CHECK(ms < 2000 + 3000);

    if (hole == NULL) {
        printf("skipped: init against a silent service (no ISCSDK_TEST_BLACKHOLE)\n");
        return;
    }
    /* A service that accepts and never answers: init gives up on time. */
    snprintf(url, sizeof url, "ws://%s", hole);
    o = options(url, 700);
    start = now_ms();
    CHECK_STATUS(iscsdk_init(&o, &c), ISCSDK_E_UNREACHABLE);
    ms = now_ms() - start;
    CHECK_ERROR_HAS(hole);
    CHECK(ms >= 600);
    CHECK(ms < 700 + 3000);
    CHECK(c == NULL);
}

/* Every call that takes a client refuses h with want. */
static void check_client_calls(iscsdk_client* h, iscsdk_status want)
{
    uint64_t id = 42;
    iscsdk_event* ev = (iscsdk_event*)&id;

    CHECK_STATUS(iscsdk_register_event_recall(h, NULL, NULL), want);
    CHECK_STATUS(iscsdk_shut_out(h), want);
    CHECK_STATUS(iscsdk_poll_event(h, 0, &ev), want);
    CHECK(ev == NULL);
    CHECK_STATUS(iscsdk_get_license_string_request(h, NULL, NULL, &id), want);
    CHECK(id == 0);
    CHECK_STATUS(iscsdk_get_license_file_request(h, "licence.lic", NULL, NULL, &id), want);
    CHECK_STATUS(iscsdk_license_verify_notify(h, 1, NULL), want);
    CHECK_STATUS(iscsdk_check_new_versions(h, &id), want);
    CHECK_STATUS(iscsdk_upgrade_notify(h, 1), want);
    CHECK_STATUS(iscsdk_open_cloud_file(h, NULL, &id), want);
    CHECK_STATUS(iscsdk_open_cloud_path(h, "/a.prt", ISCSDK_OPEN_ONLY, NULL, &id), want);
    CHECK_STATUS(iscsdk_save(h, "/tmp/a.prt", 0, NULL, &id), want);
    CHECK_STATUS(iscsdk_select_save_as_path(h, "/tmp/a.prt", 0, NULL, &id), want);
    CHECK_STATUS(iscsdk_save_as(h, "/tmp/a.prt", "/a.prt", 0, NULL, &id), want);
    CHECK_STATUS(iscsdk_get_solution(h, "/tmp/a.prt", NULL, NULL, &id), want);
    CHECK_STATUS(iscsdk_cancel(h, 1), want);
}

static void test_handles(void)
{
    check_client_calls(NULL, ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("client is NULL");
    check_client_calls(bogus, ISCSDK_E_INVALID_HANDLE);
    CHECK_ERROR_HAS("0xdeadbeef");
    check_client_calls((iscsdk_client*)(uintptr_t)1, ISCSDK_E_INVALID_HANDLE);
}

static void test_calls_without_client(void)
{
    char* s = (char*)"untouched";
    CHECK_STATUS(iscsdk_device_info(NULL), ISCSDK_E_INVALID_ARG);
    if (CHECK_STATUS(iscsdk_device_info(&s), ISCSDK_OK)) {
        CHECK(s != NULL && strchr(s, '|') != NULL && strlen(s) <= 5 * 1024);
        iscsdk_free(s);
    }
    CHECK_STATUS(iscsdk_license_verify("lic", "key", NULL, NULL), ISCSDK_E_INVALID_ARG);
    CHECK_STATUS(iscsdk_license_verify(NULL, "key", NULL, &s), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("license is NULL");
    CHECK_STATUS(iscsdk_license_verify("lic", "\xff", NULL, &s), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("public_key is not valid UTF-8");
    CHECK_STATUS(iscsdk_license_verify("lic", "key", NULL, &s), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("does not start with \"ISK1.\"");
    CHECK(s == NULL);
}

/* ---- the last error is per thread ---- */

static signal_t main_failed = SIGNAL_INIT, other_failed = SIGNAL_INIT;

static void* other_thread(void* arg)
{
    (void)arg;
    /* The main thread's error does not show here. */
    signal_wait(&main_failed, 1, 10);
    CHECK(strcmp(iscsdk_last_error(), "") == 0);
    CHECK_STATUS(iscsdk_cancel(NULL, 7), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("iscsdk_cancel");
    signal_add(&other_failed);
    return NULL;
}

static void test_last_error_per_thread(void)
{
    pthread_t t;
    pthread_create(&t, NULL, other_thread, NULL);
    CHECK_STATUS(iscsdk_shut_out(bogus), ISCSDK_E_INVALID_HANDLE);
    signal_add(&main_failed);
    CHECK(signal_wait(&other_failed, 1, 10));
    pthread_join(t, NULL);
    /* ... and the other thread's error does not show here. */
    CHECK_ERROR_HAS("iscsdk_shut_out");
    CHECK(strstr(iscsdk_last_error(), "iscsdk_cancel") == NULL);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_last_error_per_thread();
    test_versions_and_statuses();
    test_init_arguments();
    test_unreachable();
    test_handles();
    test_calls_without_client();
    return check_done();
}
