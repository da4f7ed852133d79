/*
** iscsdk.c: the public C names of the library. Each one checks what only C
** can check (struct sizes, out pointers it fills itself) and forwards to a Go
** export (isc_go_*, capi/*.go) that does the work and writes the outcome's
** message into the calling thread's last-error buffer.
**
** Compiled by gcc or mingw-w64 only (cgo), so _Thread_local is available.
** mingw-w64 implements it with libgcc's emulated TLS, which make windows
** links into iscsdk.dll statically (no libgcc DLL to ship).
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capi.h"
#include "_cgo_export.h"

/* The calling thread's last error: "" after a call that succeeded. A fixed
** buffer, so that nothing leaks when a host thread exits. */
static _Thread_local char last_error[ISC_ERRBUF_SIZE];

static iscsdk_status fail(iscsdk_status status, const char* format, ...)
{
    va_list ap;
    va_start(ap, format);
    vsnprintf(last_error, sizeof last_error, format, ap);
    va_end(ap);
    return status;
}

/* ---- events ---- */

iscsdk_event* isc_event_new(int32_t type, uint64_t request_id, const char* json, size_t json_len)
{
    iscsdk_event* e = (iscsdk_event*)malloc(sizeof *e + json_len + 1);
    char* text;
    if (e == NULL) {
        return NULL;
    }
    text = (char*)(e + 1);
    memcpy(text, json, json_len);
    text[json_len] = '\0';
    e->struct_size = (uint32_t)sizeof *e;
    e->type = type;
    e->request_id = request_id;
    e->json = text;
    e->json_len = json_len;
    return e;
}

void isc_invoke(iscsdk_event_fn fn, const iscsdk_event* event, uintptr_t user_data)
{
    fn(event, (void*)user_data);
}

/* ---- basics ---- */

/* A field of iscsdk_options counts only if struct_size covers all of it. */
#define COVERS(n, field) ((n) >= offsetof(iscsdk_options, field) + sizeof(((iscsdk_options*)0)->field))

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_init(const iscsdk_options* options, iscsdk_client** out_client)
{
    iscsdk_options o;
    uintptr_t id = 0;
    iscsdk_status st;
    size_t n;

    if (out_client == NULL) {
        return fail(ISCSDK_E_INVALID_ARG, "iscsdk_init: invalid argument: out_client is NULL");
    }
    *out_client = NULL;
    memset(&o, 0, sizeof o);
    if (options != NULL) {
        if (options->struct_size < sizeof(uint32_t)) {
            return fail(ISCSDK_E_INVALID_ARG,
                        "iscsdk_init: invalid argument: options->struct_size is %u; set it to sizeof(iscsdk_options)",
                        (unsigned)options->struct_size);
        }
        n = options->struct_size < sizeof o ? options->struct_size : sizeof o;
        memcpy(&o, options, n);
        o.struct_size = (uint32_t)sizeof o;
        if (!COVERS(n, endpoint)) o.endpoint = NULL;
        if (!COVERS(n, token)) o.token = NULL;
        if (!COVERS(n, product_id)) o.product_id = NULL;
        if (!COVERS(n, app_version)) o.app_version = NULL;
        if (!COVERS(n, workspace_dir)) o.workspace_dir = NULL;
        if (!COVERS(n, connect_timeout_ms)) o.connect_timeout_ms = 0;
        if (!COVERS(n, public_key)) o.public_key = NULL;
        if (!COVERS(n, no_auto_install)) o.no_auto_install = 0;
        if (!COVERS(n, release_key)) o.release_key = NULL;
        if (!COVERS(n, sign_in)) o.sign_in = 0;
        if (!COVERS(n, login_hint)) o.login_hint = NULL;
    }
    st = isc_go_init(options != NULL ? &o : NULL, &id, last_error);
    if (st == ISCSDK_OK) {
        *out_client = (iscsdk_client*)id;
    }
    return st;
}

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_register_event_recall(iscsdk_client* c, iscsdk_event_fn fn, void* user_data)
{
    return isc_go_register_event_recall(ISC_ID(c), fn, (uintptr_t)user_data, last_error);
}

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_shut_out(iscsdk_client* c)
{
    return isc_go_shut_out(ISC_ID(c), last_error);
}

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_poll_event(iscsdk_client* c, uint32_t timeout_ms, iscsdk_event** out_event)
{
    return isc_go_poll_event(ISC_ID(c), timeout_ms, out_event, last_error);
}

ISCSDK_API void ISCSDK_CALL iscsdk_event_free(iscsdk_event* event)
{
    free(event); /* the event and its json are one block */
}

/* ---- licences ---- */

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_device_info(char** out_dev_info)
{
    return isc_go_device_info(out_dev_info, last_error);
}

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_get_license_string_request(iscsdk_client* c, const char* dev_info, const char* come_back_json, uint64_t* out_request_id)
{
    return isc_go_get_license_string_request(ISC_ID(c), (char*)dev_info, (char*)come_back_json, out_request_id, last_error);
}

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_get_license_file_request(iscsdk_client* c, const char* file_name, const char* dev_info, const char* come_back_json, uint64_t* out_request_id)
{
    return isc_go_get_license_file_request(ISC_ID(c), (char*)file_name, (char*)dev_info, (char*)come_back_json, out_request_id, last_error);
}

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_license_verify(const char* license, const char* public_key, const char* dev_info, char** out_result_json)
{
    return isc_go_license_verify((char*)license, (char*)public_key, (char*)dev_info, out_result_json, last_error);
}

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_license_verify_notify(iscsdk_client* c, int verified, const char* error_msg)
{
    return isc_go_license_verify_notify(ISC_ID(c), verified, (char*)error_msg, last_error);
}

/* ---- upgrades ---- */

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_check_new_versions(iscsdk_client* c, uint64_t* out_request_id)
{
    return isc_go_check_new_versions(ISC_ID(c), out_request_id, last_error);
}

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_upgrade_notify(iscsdk_client* c, int upgrade)
{
    return isc_go_upgrade_notify(ISC_ID(c), upgrade, last_error);
}

/* ---- cloud files ---- */

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_open_cloud_file(iscsdk_client* c, const char* come_back_json, uint64_t* out_request_id)
{
    return isc_go_open_cloud_file(ISC_ID(c), (char*)come_back_json, out_request_id, last_error);
}

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_open_cloud_path(iscsdk_client* c, const char* cloud_path, int32_t open_type, const char* come_back_json, uint64_t* out_request_id)
{
    return isc_go_open_cloud_path(ISC_ID(c), (char*)cloud_path, open_type, (char*)come_back_json, out_request_id, last_error);
}

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_save(iscsdk_client* c, const char* local_path, int is_assembly, const char* come_back_json, uint64_t* out_request_id)
{
    return isc_go_save(ISC_ID(c), (char*)local_path, is_assembly, (char*)come_back_json, out_request_id, last_error);
}

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_select_save_as_path(iscsdk_client* c, const char* local_path, int is_assembly, const char* come_back_json, uint64_t* out_request_id)
{
    return isc_go_select_save_as_path(ISC_ID(c), (char*)local_path, is_assembly, (char*)come_back_json, out_request_id, last_error);
}

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_save_as(iscsdk_client* c, const char* local_path, const char* cloud_path, int is_assembly, const char* come_back_json, uint64_t* out_request_id)
{
    return isc_go_save_as(ISC_ID(c), (char*)local_path, (char*)cloud_path, is_assembly, (char*)come_back_json, out_request_id, last_error);
}

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_list_cloud_folder(iscsdk_client* c, const char* dir, const char* cursor, uint32_t limit, char** out_json)
{
    return isc_go_list_cloud_folder(ISC_ID(c), (char*)dir, (char*)cursor, limit, out_json, last_error);
}

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_cloud_file_history(iscsdk_client* c, const char* cloud_path, const char* cursor, uint32_t limit, char** out_json)
{
    return isc_go_cloud_file_history(ISC_ID(c), (char*)cloud_path, (char*)cursor, limit, out_json, last_error);
}

/* ---- cloud compute ---- */

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_get_solution(iscsdk_client* c, const char* file_path, const char* options_json, const char* come_back_json, uint64_t* out_request_id)
{
    return isc_go_get_solution(ISC_ID(c), (char*)file_path, (char*)options_json, (char*)come_back_json, out_request_id, last_error);
}

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_cancel(iscsdk_client* c, uint64_t request_id)
{
    return isc_go_cancel(ISC_ID(c), request_id, last_error);
}

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_list_jobs(iscsdk_client* c, const char* cursor, uint32_t limit, char** out_json)
{
    return isc_go_list_jobs(ISC_ID(c), (char*)cursor, limit, out_json, last_error);
}

/* ---- sign-in ---- */

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_sign_in(iscsdk_client* c, uint32_t flags, const char* org, uint32_t timeout_ms)
{
    return isc_go_sign_in(ISC_ID(c), flags, (char*)org, timeout_ms, last_error);
}

ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_sign_out(iscsdk_client* c)
{
    return isc_go_sign_out(ISC_ID(c), last_error);
}

/* ---- miscellaneous ---- */

ISCSDK_API uint32_t ISCSDK_CALL iscsdk_version_number(void)
{
    return ISCSDK_VERSION_NUMBER;
}

static const char* const status_text[] = {
    "ISCSDK_OK: success",
    "ISCSDK_E_INVALID_ARG: invalid argument",
    "ISCSDK_E_INVALID_HANDLE: unknown or shut-out client",
    "ISCSDK_E_NOT_IMPLEMENTED: not implemented",
    "ISCSDK_E_INTERNAL: internal error",
    "ISCSDK_E_TIMEOUT: timed out",
    "ISCSDK_E_UNREACHABLE: service unreachable",
    "ISCSDK_E_UNAUTHORIZED: unauthorized",
    "ISCSDK_E_CONFIG: invalid configuration",
    "ISCSDK_E_PROTOCOL: protocol error",
    "ISCSDK_E_CALLBACK_REGISTERED: events go to the registered callback",
    "ISCSDK_E_DISCONNECTED: disconnected",
    "ISCSDK_E_REFUSED: refused by the service",
    "ISCSDK_E_DENIED: the user denied the sign-in",
    "ISCSDK_E_EXPIRED: the sign-in code expired",
};

ISCSDK_API const char* ISCSDK_CALL iscsdk_status_string(iscsdk_status status)
{
    if (status > 0 || -(int64_t)status >= (int64_t)(sizeof status_text / sizeof status_text[0])) {
        return "unknown status";
    }
    return status_text[-status];
}

ISCSDK_API const char* ISCSDK_CALL iscsdk_last_error(void)
{
    return last_error;
}

ISCSDK_API void ISCSDK_CALL iscsdk_free(void* p)
{
    free(p);
}
