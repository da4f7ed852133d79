/*
** files.c: cloud files through the C ABI against a live iscd. Run as
** `files SCENARIO DIR` with iscd's dev.env in the environment; DIR is a
** scratch directory.
**
**   roundtrip  save-as and open: empty, 1 byte, a CJK and space name, 3 MiB,
**              an assembly with nested folders; contents compared byte for byte
**   delta      open with check-out, change a few bytes, save: little is sent
**   large      a 2 GiB sparse file saved and opened with bounded memory
*/
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static const char* dir;

/* Poll until the event answering request id arrives; NULL after 120 s. */
static iscsdk_event* wait_for(iscsdk_client* c, uint64_t id)
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
        if (ev->request_id == id && ev->type != ISCSDK_EVENT_TRANSFER_PROGRESS) {
            return ev;
        }
        iscsdk_event_free(ev);
    }
    CHECK(!"the answer came within 120 s");
    return NULL;
}

static void write_file(const char* path, const char* data, size_t n)
{
    FILE* f = fopen(path, "wb");
    if (CHECK(f != NULL)) {
        CHECK(fwrite(data, 1, n, f) == n);
        fclose(f);
    }
}

/* Whether the files at a and b have the same content. */
static int same_content(const char* a, const char* b)
{
    static char ba[1 << 20], bb[1 << 20];
    FILE* fa = fopen(a, "rb");
    FILE* fb = fopen(b, "rb");
    int same = fa != NULL && fb != NULL;
    while (same) {
        size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        same = na == nb && memcmp(ba, bb, na) == 0;
        if (na == 0) {
            break;
        }
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

/* save_as, then the value of key in the SaveResult (status by default). */
static void save_as(iscsdk_client* c, const char* local, const char* cloud, int assembly, char* value, size_t size, const char* key)
{
    uint64_t id = 0;
    iscsdk_event* ev;
    value[0] = '\0';
    if (!CHECK_STATUS(iscsdk_save_as(c, local, cloud, assembly, "{\"doc\":1}", &id), ISCSDK_OK)) {
        return;
    }
    if ((ev = wait_for(c, id)) != NULL) {
        CHECK(ev->type == ISCSDK_EVENT_SAVE_RESULT);
        CHECK(strstr(ev->json, "\"status\":\"success\"") != NULL);
        CHECK(strstr(ev->json, "\"comeBackParams\":{\"doc\":1}") != NULL);
        json_value(ev->json, key, value, size);
        iscsdk_event_free(ev);
    }
}

/* open_cloud_path; mainFile into main_file; returns the event (caller frees). */
static iscsdk_event* open_path(iscsdk_client* c, const char* cloud, int32_t type, char* main_file, size_t size)
{
    uint64_t id = 0;
    iscsdk_event* ev;
    main_file[0] = '\0';
    if (!CHECK_STATUS(iscsdk_open_cloud_path(c, cloud, type, NULL, &id), ISCSDK_OK)) {
        return NULL;
    }
    if ((ev = wait_for(c, id)) != NULL) {
        CHECK(ev->type == ISCSDK_EVENT_OPEN_CLOUD_FILE_RESULT);
        CHECK(strstr(ev->json, "\"status\":\"success\"") != NULL);
        json_value(ev->json, "mainFile", main_file, size);
    }
    return ev;
}

static void scenario_roundtrip(iscsdk_client* c)
{
    static const char* names[] = {"empty.prt", "one.prt", "\xe9\xbd\xbf\xe8\xbd\xae v2.prt", "big.prt"};
    static char big[3 << 20];
    char local[1024], cloud[1024], got[2048], value[64];
    size_t sizes[] = {0, 1, 5000, sizeof big};
    size_t i;
    iscsdk_event* ev;
    for (i = 0; i < sizeof big; i++) {
        big[i] = (char)(i * 2654435761u >> 13);
    }
    for (i = 0; i < 4; i++) {
        snprintf(local, sizeof local, "%s/%s", dir, names[i]);
        snprintf(cloud, sizeof cloud, "/c/%s", names[i]);
        write_file(local, big, sizes[i]);
        save_as(c, local, cloud, 0, value, sizeof value, "version");
        CHECK(strcmp(value, "1") == 0);
        if ((ev = open_path(c, cloud, ISCSDK_OPEN_ONLY, got, sizeof got)) != NULL) {
            CHECK(strstr(ev->json, "\"workState\":\"CHECKIN\"") != NULL);
            CHECK(strstr(ev->json, "\"openType\":\"OpenOnly\"") != NULL);
            iscsdk_event_free(ev);
        }
        CHECK(got[0] == '/' && strcmp(got, local) != 0);
        CHECK(same_content(local, got));
    }

    /* An assembly: a folder named like its main file, parts in subfolders. */
    snprintf(local, sizeof local, "%s/Gearbox", dir);
    mkdir(local, 0755);
    snprintf(got, sizeof got, "%s/Gearbox/parts", dir);
    mkdir(got, 0755);
    snprintf(got, sizeof got, "%s/Gearbox/parts/deep", dir);
    mkdir(got, 0755);
    snprintf(got, sizeof got, "%s/Gearbox/Gearbox.asm", dir);
    write_file(got, "assembly", 8);
    snprintf(got, sizeof got, "%s/Gearbox/parts/deep/\xe8\x9e\xba\xe6\xa0\x93 M8.prt", dir);
    write_file(got, big, 70000);
    save_as(c, local, "/c/Gearbox", 1, value, sizeof value, "version");
    CHECK(strcmp(value, "1") == 0);
    if ((ev = open_path(c, "/c/Gearbox", ISCSDK_OPEN_ONLY, cloud, sizeof cloud)) != NULL) {
        CHECK(strstr(ev->json, "\"assembly\":\"true\"") != NULL);
        iscsdk_event_free(ev);
    }
    snprintf(got, sizeof got, "%s/parts/deep/\xe8\x9e\xba\xe6\xa0\x93 M8.prt", cloud);
    snprintf(local, sizeof local, "%s/Gearbox/parts/deep/\xe8\x9e\xba\xe6\xa0\x93 M8.prt", dir);
    CHECK(same_content(local, got));
}

static void scenario_delta(iscsdk_client* c)
{
    static char data[8 << 20];
    char local[1024], main_file[1024], sent[64];
    uint64_t id = 0;
    iscsdk_event* ev;
    size_t i;
    FILE* f;
    for (i = 0; i < sizeof data; i++) {
        data[i] = (char)((i * 2654435761u) >> 11 ^ i >> 7);
    }
    snprintf(local, sizeof local, "%s/model.prt", dir);
    write_file(local, data, sizeof data);
    save_as(c, local, "/d/model.prt", 0, sent, sizeof sent, "bytesSent");
    CHECK(atol(sent) > 0);
    if ((ev = open_path(c, "/d/model.prt", ISCSDK_OPEN_AND_CHECKOUT, main_file, sizeof main_file)) != NULL) {
        CHECK(strstr(ev->json, "\"workState\":\"CHECKOUT\"") != NULL);
        iscsdk_event_free(ev);
    }
    /* The engineer changes a few bytes and saves. */
    f = fopen(main_file, "r+b");
    if (CHECK(f != NULL)) {
        fseek(f, 3 << 20, SEEK_SET);
        fputs("changed", f);
        fclose(f);
    }
    if (CHECK_STATUS(iscsdk_save(c, main_file, 0, NULL, &id), ISCSDK_OK) && (ev = wait_for(c, id)) != NULL) {
        CHECK(strstr(ev->json, "\"status\":\"success\"") != NULL);
        CHECK(strstr(ev->json, "\"version\":\"2\"") != NULL);
        json_value(ev->json, "bytesSent", sent, sizeof sent);
        printf("re-save sent %s bytes of %zu\n", sent, sizeof data);
        CHECK(atol(sent) > 0 && atol(sent) < (long)(sizeof data / 10));
        iscsdk_event_free(ev);
    }
    /* A file that did not come from the cloud cannot be saved back. */
    snprintf(local, sizeof local, "%s/never-saved.prt", dir);
    write_file(local, "x", 1);
    if (CHECK_STATUS(iscsdk_save(c, local, 0, NULL, &id), ISCSDK_OK) && (ev = wait_for(c, id)) != NULL) {
        CHECK(strstr(ev->json, "\"errorCode\":\"not_from_cloud\"") != NULL);
        iscsdk_event_free(ev);
    }
}

/* Peak resident memory of this process, in KiB. */
static long peak_rss_kib(void)
{
    char line[256];
    long kib = -1;
    FILE* f = fopen("/proc/self/status", "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kib = atol(line + 6);
        }
    }
    if (f) fclose(f);
    return kib;
}

static void scenario_large(iscsdk_client* c)
{
    const long long size = 2LL << 30;
    char local[1024], got[1024], value[64];
    iscsdk_event* ev;
    int fd;
    snprintf(local, sizeof local, "%s/large.stp", dir);
    /* Sparse: holes read as zeros, a few real blocks in between. */
    fd = open(local, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!CHECK(fd >= 0)) {
        return;
    }
    CHECK(pwrite(fd, "header", 6, 0) == 6);
    CHECK(pwrite(fd, "middle", 6, size / 2) == 6);
    CHECK(ftruncate(fd, size) == 0);
    close(fd);
    save_as(c, local, "/large/large.stp", 0, value, sizeof value, "bytesTotal");
    CHECK(atoll(value) == size);
    if ((ev = open_path(c, "/large/large.stp", ISCSDK_OPEN_ONLY, got, sizeof got)) != NULL) {
        iscsdk_event_free(ev);
    }
    CHECK(same_content(local, got));
    printf("peak RSS %ld KiB for a %lld-byte file\n", peak_rss_kib(), size);
    CHECK(peak_rss_kib() > 0 && peak_rss_kib() < 400 * 1024);
    unlink(got);
}

int main(int argc, char** argv)
{
    const char* s = argc > 2 ? argv[1] : "";
    iscsdk_client* c = NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    dir = argc > 2 ? argv[2] : "";
    if (!CHECK_STATUS(iscsdk_init(NULL, &c), ISCSDK_OK)) {
        return check_done();
    }
    if (strcmp(s, "roundtrip") == 0) {
        scenario_roundtrip(c);
    } else if (strcmp(s, "delta") == 0) {
        scenario_delta(c);
    } else if (strcmp(s, "large") == 0) {
        scenario_large(c);
    } else {
        CHECK(!"a known scenario and a directory: roundtrip, delta, large");
    }
    CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
    return check_done();
}
