/*
** files.c: cloud files through the C ABI against a live iscd. Run as
** `files SCENARIO DIR` with iscd's dev.env in the environment; DIR is a
** scratch directory.
**
**   roundtrip  save-as and open: empty, 1 byte, a CJK and space name, 3 MiB,
**              an assembly with nested folders; contents compared byte for byte
**   delta      open with check-out, change a few bytes, save: little is sent
**   large      a 2 GiB sparse file saved and opened with bounded memory
**   filesread  an assembly of 3 parts saved, re-saved unchanged (filesRead
**              0) and after editing one part (filesRead 1)
**   pages      /pages (1,100 files with long names, saved by the test
**              beforehand) listed page by page; a history and a jobs page;
**              refusals: a device name, a file that does not exist
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

/* Wait until the last change of path (its mtime and ctime) is more than
** seconds in the past: the library trusts the stat of a file only once
** its change is older than the file system's timestamp granularity. */
static void wait_older(const char* path, int seconds)
{
    struct stat st;
    struct timespec now, pause = {0, 20 * 1000 * 1000};
    if (!CHECK(stat(path, &st) == 0)) {
        return;
    }
    for (;;) {
        clock_gettime(CLOCK_REALTIME, &now);
        if (now.tv_sec > st.st_ctim.tv_sec + seconds && now.tv_sec > st.st_mtim.tv_sec + seconds) {
            return;
        }
        nanosleep(&pause, NULL);
    }
}

/* save (back where local came from); the SaveResult's version and filesRead. */
static void save_back(iscsdk_client* c, const char* local, char* version, char* files_read, size_t size)
{
    uint64_t id = 0;
    iscsdk_event* ev;
    version[0] = files_read[0] = '\0';
    if (CHECK_STATUS(iscsdk_save(c, local, 1, NULL, &id), ISCSDK_OK) && (ev = wait_for(c, id)) != NULL) {
        CHECK(ev->type == ISCSDK_EVENT_SAVE_RESULT);
        CHECK(strstr(ev->json, "\"status\":\"success\"") != NULL);
        json_value(ev->json, "version", version, size);
        json_value(ev->json, "filesRead", files_read, size);
        iscsdk_event_free(ev);
    }
}

static void scenario_filesread(iscsdk_client* c)
{
    static const char* parts[] = {"Frame.asm", "bolt.prt", "plate.prt"};
    static char data[64 << 10];
    char asm_dir[1024], path[2048], version[64], files_read[64], main_file[1024], opened[2048];
    iscsdk_event* ev;
    size_t i;
    for (i = 0; i < sizeof data; i++) {
        data[i] = (char)((i * 2654435761u) >> 9);
    }
    snprintf(asm_dir, sizeof asm_dir, "%s/Frame", dir);
    mkdir(asm_dir, 0755);
    for (i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", asm_dir, parts[i]);
        write_file(path, data + i, sizeof data - i);
    }
    wait_older(path, 2);
    save_as(c, asm_dir, "/r/Frame", 1, files_read, sizeof files_read, "filesRead");
    printf("cold save read %s files\n", files_read);
    CHECK(strcmp(files_read, "3") == 0);
    /* Nothing changed: no file is read. */
    save_back(c, asm_dir, version, files_read, sizeof version);
    printf("unchanged re-save read %s files\n", files_read);
    CHECK(strcmp(version, "2") == 0);
    CHECK(strcmp(files_read, "0") == 0);
    /* One part edited: that part is read, and only it. */
    snprintf(path, sizeof path, "%s/bolt.prt", asm_dir);
    write_file(path, "M8x40", 5);
    save_back(c, asm_dir, version, files_read, sizeof version);
    printf("re-save after one edit read %s files\n", files_read);
    CHECK(strcmp(version, "3") == 0);
    CHECK(strcmp(files_read, "1") == 0);
    /* The OpenFile event counts too: a first open has no local copy to read. */
    if ((ev = open_path(c, "/r/Frame", ISCSDK_OPEN_ONLY, main_file, sizeof main_file)) != NULL) {
        json_value(ev->json, "filesRead", files_read, sizeof files_read);
        CHECK(strcmp(files_read, "0") == 0);
        iscsdk_event_free(ev);
    }
    /* ... and it holds the edit. */
    snprintf(opened, sizeof opened, "%s/bolt.prt", main_file);
    CHECK(same_content(path, opened));
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

/* Count the occurrences of needle in s. */
static int count_of(const char* s, const char* needle)
{
    int n = 0;
    for (s = strstr(s, needle); s != NULL; s = strstr(s + 1, needle)) {
        n++;
    }
    return n;
}

static void scenario_pages(iscsdk_client* c)
{
    char cursor[4096] = "", first[1024], last[1024] = "";
    int pages = 0, files = 0;
    char* page = NULL;
    /* Every entry once, in order, 500 at a time. */
    do {
        const char* p;
        int n;
        if (!CHECK_STATUS(iscsdk_list_cloud_folder(c, "/pages", cursor, 500, &page), ISCSDK_OK)) {
            return;
        }
        n = count_of(page, "\"path\":\"/pages/");
        CHECK(n > 0 && n <= 500);
        /* Sorted across pages: this page's first path comes after the
        ** previous page's last. */
        p = strstr(page, "\"path\":\"");
        json_value(p, "path", first, sizeof first);
        CHECK(strcmp(first, last) > 0);
        p = page;
        while ((p = strstr(p + 1, "\"path\":\"")) != NULL) {
            json_value(p, "path", last, sizeof last);
        }
        json_value(page, "next", cursor, sizeof cursor);
        files += n;
        pages++;
        iscsdk_free(page);
        page = NULL;
    } while (cursor[0] != '\0' && pages < 10);
    printf("listed %d files in %d pages\n", files, pages);
    CHECK(files == 1100);
    CHECK(pages == 3);

    /* The default page (limit 0) is 200 entries. */
    if (CHECK_STATUS(iscsdk_list_cloud_folder(c, "/pages", NULL, 0, &page), ISCSDK_OK)) {
        CHECK(count_of(page, "\"path\":\"/pages/") == 200);
        iscsdk_free(page);
    }
    /* A history page and a jobs page. */
    if (CHECK_STATUS(iscsdk_cloud_file_history(c, first, NULL, 10, &page), ISCSDK_OK)) {
        CHECK(strstr(page, "\"number\":1") != NULL);
        json_value(page, "next", cursor, sizeof cursor);
        CHECK(cursor[0] == '\0');
        iscsdk_free(page);
    }
    if (CHECK_STATUS(iscsdk_list_jobs(c, NULL, 5, &page), ISCSDK_OK)) {
        CHECK(strncmp(page, "{\"jobs\":[", 9) == 0);
        iscsdk_free(page);
    }
    /* Refusals: a path no client could create, by the library; a file that
    ** does not exist, by the service. */
    page = NULL;
    CHECK_STATUS(iscsdk_list_cloud_folder(c, "/pages/aux.prt", NULL, 0, &page), ISCSDK_E_INVALID_ARG);
    CHECK_ERROR_HAS("Windows device name");
    CHECK_STATUS(iscsdk_cloud_file_history(c, "/pages/none.prt", NULL, 0, &page), ISCSDK_E_REFUSED);
    CHECK_ERROR_HAS("(not_found)");
    CHECK_STATUS(iscsdk_list_jobs(c, NULL, 0, NULL), ISCSDK_E_INVALID_ARG);
    CHECK(page == NULL);
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
    } else if (strcmp(s, "filesread") == 0) {
        scenario_filesread(c);
    } else if (strcmp(s, "pages") == 0) {
        scenario_pages(c);
    } else {
        CHECK(!"a known scenario and a directory: roundtrip, delta, large, filesread, pages");
    }
    CHECK_STATUS(iscsdk_shut_out(c), ISCSDK_OK);
    return check_done();
}
