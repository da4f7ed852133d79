/*
** cloud_files.c: save an engineering file and an assembly to the cloud,
** change the file a little and save it again, and open both back. Prints
** what each step sent over the network. With iscd's dev.env in the
** environment:
**
**     build/bin/cloud_files examples/data/beam.inp examples/data/Bracket
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iscsdk/iscsdk.h>

/* Copy the string value of "key" in an event's json into out ("" if absent). */
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

/* Wait for the event that answers request id (progress events aside). A
** program with a UI would take events in its callback instead. */
static iscsdk_event* wait_for(iscsdk_client* c, uint64_t id)
{
    for (;;) {
        iscsdk_event* ev = NULL;
        iscsdk_status st = iscsdk_poll_event(c, 60000, &ev);
        if (st != ISCSDK_OK) {
            fprintf(stderr, "poll: %s\n", iscsdk_last_error());
            return NULL;
        }
        if (ev->request_id == id && ev->type != ISCSDK_EVENT_TRANSFER_PROGRESS) {
            return ev;
        }
        iscsdk_event_free(ev);
    }
}

/* Report a SaveResult or OpenFile event; returns whether it succeeded. */
static int report(const char* what, iscsdk_event* ev, char* main_file, size_t size)
{
    char status[16], v[64], sent[32], total[32], err[512];
    if (ev == NULL) {
        return 0;
    }
    json_value(ev->json, "status", status, sizeof status);
    json_value(ev->json, "version", v, sizeof v);
    json_value(ev->json, "bytesSent", sent, sizeof sent);
    json_value(ev->json, "bytesTotal", total, sizeof total);
    json_value(ev->json, "errorMsg", err, sizeof err);
    if (main_file != NULL) {
        json_value(ev->json, "mainFile", main_file, size);
    }
    if (strcmp(status, "success") != 0) {
        printf("%-44s failed: %s\n", what, err);
    } else if (sent[0] != '\0') {
        printf("%-44s version %s: sent %s of %s bytes\n", what, v, sent, total);
    } else {
        printf("%-44s version %s -> %s\n", what, v, main_file != NULL ? main_file : "");
    }
    iscsdk_event_free(ev);
    return strcmp(status, "success") == 0;
}

/* Report the answer to a request that st says was started (its id in *id). */
static int run(iscsdk_client* c, const char* what, iscsdk_status st, const uint64_t* id, char* main_file, size_t size)
{
    if (st != ISCSDK_OK) {
        printf("%-44s failed: %s\n", what, iscsdk_last_error());
        return 0;
    }
    return report(what, wait_for(c, *id), main_file, size);
}

int main(int argc, char** argv)
{
    iscsdk_client* c = NULL;
    uint64_t id = 0;
    char main_file[4096];
    int failed = 0;
    FILE* f;
    if (argc != 3) {
        fprintf(stderr, "usage: %s PART ASSEMBLY-FOLDER\n", argv[0]);
        return 2;
    }
    if (iscsdk_init(NULL, &c) != ISCSDK_OK) {
        fprintf(stderr, "iscsdk_init: %s\n", iscsdk_last_error());
        return 1;
    }
    /* Events wait for iscsdk_poll_event: no callback is registered. */
    if (run(c, "save-as /demo/beam.inp (first save)", iscsdk_save_as(c, argv[1], "/demo/beam.inp", 0, NULL, &id), &id, NULL, 0) &&
        run(c, "open /demo/beam.inp with check-out", iscsdk_open_cloud_path(c, "/demo/beam.inp", ISCSDK_OPEN_AND_CHECKOUT, NULL, &id), &id,
            main_file, sizeof main_file)) {
        /* The engineer changes the load case: a few bytes in the file. */
        if ((f = fopen(main_file, "ab")) != NULL) {
            fputs("** load case 2: tip load doubled\n", f);
            fclose(f);
        }
        failed += !run(c, "save after a small change", iscsdk_save(c, main_file, 0, NULL, &id), &id, NULL, 0);
    } else {
        failed++;
    }
    failed += !run(c, "save-as the assembly /demo/Bracket", iscsdk_save_as(c, argv[2], "/demo/Bracket", 1, NULL, &id), &id, NULL, 0);
    failed += !run(c, "open the assembly", iscsdk_open_cloud_path(c, "/demo/Bracket", ISCSDK_OPEN_ONLY, NULL, &id), &id, main_file,
        sizeof main_file);
    /* A failed step is reported above; the exit status says so too. */
    return iscsdk_shut_out(c) == ISCSDK_OK && failed == 0 ? 0 : 1;
}
