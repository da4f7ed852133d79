/*
** iscsdk.h: the C interface of iscsdk, the library that connects a desktop
** CAD/CAE program to the iscd cloud service.
**
** This header is the whole contract. A program links libiscsdk (iscsdk.dll on
** Windows), calls iscsdk_init() once, registers an event callback with
** iscsdk_register_event_recall() or polls with iscsdk_poll_event(), makes
** requests, and calls iscsdk_shut_out() before it exits.
**
** CONVENTIONS
**
** Status. Every call that can fail returns an iscsdk_status: ISCSDK_OK (0) or
** a negative ISCSDK_E_* code. iscsdk_status_string() names a code;
** iscsdk_last_error() says what went wrong in the calling thread's latest call.
**
** Strings. Strings passed in are NUL-terminated UTF-8 (file paths too, also
** on Windows), at most 64 KiB, and are copied before the call returns: the
** caller may free them at once. A string that is not valid UTF-8 or is too
** long is refused with ISCSDK_E_INVALID_ARG. Strings the library returns are
** freed with iscsdk_free(), never with the host's free(): on Windows the DLL
** and the host may use different C runtimes.
**
** Structs. Every struct passed in or out starts with uint32_t struct_size,
** set by its creator to sizeof(the struct) as its header knew it, so that
** fields can be added at the end without breaking programs built against an
** older header.
**
** Requests. Calls that ask the service for something return at once with a
** request id (never 0). The answer arrives later as an event carrying the
** same id. come_back_json, where a call takes it, is NULL or any JSON object;
** it comes back unchanged as "comeBackParams" in that event.
**
** Threads. Every call may be made from any thread, concurrently. Events
** reach the callback on one thread owned by the library, one at a time, in
** the order they happened. No callback runs after iscsdk_shut_out() returns.
**
** Safety. No call crashes or exits the host because of bad input: NULL
** pointers, unknown handles, invalid UTF-8 and a second iscsdk_shut_out()
** return an error status. An internal failure (a bug) is contained and
** returns ISCSDK_E_INTERNAL; the client it happened on then refuses every
** call but iscsdk_shut_out(). The library never writes to stdout or stderr;
** it logs to a size-capped file in its workspace.
**
** Loading. The library contains the Go runtime. It is loaded once and never
** unloaded: do not dlclose()/FreeLibrary() it. It cannot share a process with
** another shared library built with Go (a limit of the Go runtime). On
** POSIX systems a host that installs signal handlers must install them with
** SA_ONSTACK, since a signal may arrive on one of the library's threads.
*/
#ifndef ISCSDK_H
#define ISCSDK_H

#include <stddef.h>
#include <stdint.h>

/*
** ISCSDK_API marks the library's functions: exported while building the
** library (ISCSDK_BUILDING defined), imported from the DLL on Windows.
** ISCSDK_CALL is their calling convention, and that of the event callback.
*/
#if defined(_WIN32) || defined(__CYGWIN__)
#  define ISCSDK_CALL __cdecl
#  if defined(ISCSDK_BUILDING)
#    define ISCSDK_API __declspec(dllexport)
#  else
#    define ISCSDK_API __declspec(dllimport)
#  endif
#else
#  define ISCSDK_CALL
#  if defined(__GNUC__) && __GNUC__ >= 4
#    define ISCSDK_API __attribute__((visibility("default")))
#  else
#    define ISCSDK_API
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
** VERSION
**
** The version of this header. iscsdk_version_number() returns the library's;
** a program that wants to detect a header/library mismatch compares the two.
** ISCSDK_VERSION_NUMBER is MAJOR*10000 + MINOR*100 + PATCH.
*/
#define ISCSDK_VERSION_MAJOR  0
#define ISCSDK_VERSION_MINOR  1
#define ISCSDK_VERSION_PATCH  0
#define ISCSDK_VERSION_NUMBER (ISCSDK_VERSION_MAJOR * 10000 + ISCSDK_VERSION_MINOR * 100 + ISCSDK_VERSION_PATCH)
#define ISCSDK_VERSION_STRING "0.1.0"

/*
** STATUS CODES
**
** ISCSDK_OK is 0; errors are negative. New codes may be added: treat an
** unknown negative code as a failure.
*/
typedef int32_t iscsdk_status;

#define ISCSDK_OK                      0
#define ISCSDK_E_INVALID_ARG          -1  /* NULL pointer, bad struct_size, invalid UTF-8, string too long, bad JSON */
#define ISCSDK_E_INVALID_HANDLE       -2  /* unknown client, or one already shut out */
#define ISCSDK_E_NOT_IMPLEMENTED      -3  /* not available in this version of the library */
#define ISCSDK_E_INTERNAL             -4  /* a bug in the library, contained; its client is now unusable */
#define ISCSDK_E_TIMEOUT              -5  /* iscsdk_poll_event(): no event within the timeout */
#define ISCSDK_E_UNREACHABLE          -6  /* the service could not be reached in time */
#define ISCSDK_E_UNAUTHORIZED         -7  /* the service refused the token */
#define ISCSDK_E_CONFIG               -8  /* no endpoint, token or product, or an invalid one */
#define ISCSDK_E_PROTOCOL             -9  /* the service answered something this library does not understand */
#define ISCSDK_E_CALLBACK_REGISTERED -10  /* iscsdk_poll_event() while a callback is registered */
#define ISCSDK_E_DISCONNECTED        -11  /* the connection dropped before the service answered */
#define ISCSDK_E_REFUSED             -12  /* the service refused the request: iscsdk_last_error() gives its errorCode */
#define ISCSDK_E_DENIED              -13  /* iscsdk_sign_in(): the user denied the sign-in on the page */
#define ISCSDK_E_EXPIRED             -14  /* iscsdk_sign_in(): nobody confirmed the code in time */

/*
** EVENT TYPES
**
** The value of iscsdk_event.type. The event's JSON is
** {"operate": NAME, "params": {...}, "comeBackParams": {...}}; params values
** are strings. NAME and the params every program can rely on are listed
** here; more params, and more event types, may be added: ignore what you do
** not know.
*/
#define ISCSDK_EVENT_HEARTBEAT               1  /* "Heartbeat": rttMs, serverTime */
#define ISCSDK_EVENT_LICENSE_VERIFY          2  /* "LicenseVerify": Status, LicenseType, LicenseContent or LicenseFilePath; on failure errorCode, errorMsg */
#define ISCSDK_EVENT_UPGRADE_NOTICE          3  /* "UpgradeNotice": available */
#define ISCSDK_EVENT_UPDATE                  4  /* "Update": fromForceWin */
#define ISCSDK_EVENT_OPEN_CLOUD_FILE_RESULT  5  /* "OpenFile": mainFile, openType, workState, assembly, cloudPath, version, filesRead */
#define ISCSDK_EVENT_SAVE_RESULT             6  /* "SaveResult": status; on success cloudPath, version, filesRead; on failure errorCode, errorMsg */
#define ISCSDK_EVENT_SERVICE_CLOSED          7  /* "ServiceClosed": reason, message */
#define ISCSDK_EVENT_CONNECTION_STATE        8  /* "ConnectionState": state (connected, disconnected, reconnecting), ... */
#define ISCSDK_EVENT_TRANSFER_PROGRESS       9  /* "TransferProgress": bytesDone, bytesTotal, path */
#define ISCSDK_EVENT_SOLUTION_PROGRESS      10  /* "SolutionProgress": state (queued, uploading, running, downloading); percent, log when known */
#define ISCSDK_EVENT_SOLUTION_RESULT        11  /* "SolutionResult": status (success, failed, canceled), resultDir, exitCode; on failure errorCode, errorMsg */
#define ISCSDK_EVENT_LICENSE_STATE          12  /* "LicenseState": the licence changed in the cloud */
#define ISCSDK_EVENT_NOTICE                 13  /* "Notice": title, text: a message from the service's operator */
#define ISCSDK_EVENT_PICKER                 14  /* "Picker": url, pickerId, mode (open, save), expires, browser (opened, off, failed) */
#define ISCSDK_EVENT_UPGRADE_RESULT         15  /* "UpgradeResult": status (success, failed), version, installer (sdk, host); exitCode, log; on failure errorCode, errorMsg */
#define ISCSDK_EVENT_SIGN_IN_REQUIRED       16  /* "SignInRequired": reason (sign_in_required: the service ended the session because the user's access was revoked, or the user deleted or disabled; unauthorized: a reconnect was refused, as when that happened while offline), message. Every licence held was released first (ISCSDK_EVENT_LICENSE_STATE, state released); the seats are free. Raised once until a connection succeeds; the client keeps trying to reconnect, and the user's API token is refused until the access is given back */
#define ISCSDK_EVENT_SIGN_IN_PROMPT         17  /* "SignInPrompt": url (the device grant's page with the code filled in: open it, or show it; the browser sign-in's page, opened already), verificationUri, userCode (the device grant's: show it, the user checks it on the page; empty in the browser sign-in), expires (RFC 3339) */
#define ISCSDK_EVENT_SIGNED_IN              18  /* "SignedIn": userId, name, email, orgId, organisation, department, roles (comma-separated) */
#define ISCSDK_EVENT_SIGNED_OUT             19  /* "SignedOut": the sign-in was revoked and its refresh token forgotten; logoutUrl: iscd's page that also signs the browser out of the organisation's identity provider (the marketplace's unified login): open it in the browser the user signed in with */

/* open_type of iscsdk_open_cloud_path() */
#define ISCSDK_OPEN_ONLY          0  /* read only: workState CHECKIN, cannot be saved back */
#define ISCSDK_OPEN_AND_CHECKOUT  1  /* checked out for editing: workState CHECKOUT */

/*
** TYPES
*/

/* A connection to the service, made by iscsdk_init(). Opaque: it is an id
** in the library's table of clients, not a pointer to memory. */
typedef struct iscsdk_client iscsdk_client;

/*
** Settings for iscsdk_init(). Zero the struct, set struct_size to
** sizeof(iscsdk_options), then set what you need; NULL and 0 mean the
** default. Fields past struct_size are taken as NULL/0, and fields this
** library does not know (a newer header) are ignored.
*/
typedef struct iscsdk_options {
    uint32_t    struct_size;          /* sizeof(iscsdk_options) */
    const char* endpoint;             /* ws:// or wss:// URL; NULL: $ISCSDK_ENDPOINT */
    const char* token;                /* NULL: $ISCSDK_TOKEN, then the user's credentials file */
    const char* product_id;           /* NULL: $ISCSDK_PRODUCT */
    const char* app_version;          /* the host application's version, e.g. "2024.1.3" */
    const char* workspace_dir;        /* local cache/workspace; NULL: a per-user default */
    uint32_t    connect_timeout_ms;   /* 0: library default (10 s) */
    const char* public_key;           /* no longer used (upgrades are verified with release_key); checked as a
                                         string and otherwise ignored; kept so that the layout does not change */
    int32_t     no_auto_install;      /* non-zero: iscsdk_shut_out() does not start a staged upgrade's installer;
                                         the host runs it (see UPGRADES); 0: $ISCSDK_NO_AUTO_INSTALL=1 sets it */
    const char* release_key;          /* the vendor's release public key(s), "ISR1.<kid>.<key>", comma-separated,
                                         as `iscctl release key generate` prints them: an upgrade is downloaded and
                                         run only if one of them signed it; NULL: $ISCSDK_RELEASE_KEY; neither:
                                         every upgrade is refused (no_release_key). Compile it into the program. */
    int32_t     sign_in;              /* non-zero and no token: the user signs in (SIGN-IN). iscsdk_init() uses the
                                         refresh token kept from the last sign-in if the service still takes it (the
                                         session opens; ISCSDK_EVENT_SIGNED_IN), else returns a client that is signed
                                         out until iscsdk_sign_in() */
    const char* login_hint;           /* with sign_in: the user's email, when the program knows it (at most 256
                                         bytes): a browser sign-in goes straight to the identity provider of its
                                         organisation, or fills the email in; NULL: none */
} iscsdk_options;

/*
** An event from the library. json is NUL-terminated and json_len excludes
** the NUL. In a callback, the event and its json are valid only during the
** call: copy what you need. An event from iscsdk_poll_event() is the
** caller's, freed with iscsdk_event_free().
*/
typedef struct iscsdk_event {
    uint32_t    struct_size;          /* sizeof(iscsdk_event) of the library */
    int32_t     type;                 /* ISCSDK_EVENT_* */
    uint64_t    request_id;           /* 0 for events nobody asked for (heartbeat, service closed...) */
    const char* json;                 /* {"operate":...,"params":{...},"comeBackParams":{...}}, NUL-terminated */
    size_t      json_len;
} iscsdk_event;                       /* in a callback: valid only during the call */

/*
** The event callback. user_data is the pointer given to
** iscsdk_register_event_recall(), passed back untouched.
*/
typedef void (ISCSDK_CALL *iscsdk_event_fn)(const iscsdk_event* event, void* user_data);

/*
** BASICS
*/

/*
** Connect to the service and open a session. Blocks until the session is
** open or options->connect_timeout_ms has passed.
**
** options may be NULL (every default); it is read during the call only.
** On ISCSDK_OK *out_client is the new client, which the caller owns until
** it passes it to iscsdk_shut_out(); on failure *out_client is NULL.
** Until a callback is registered, events queue for iscsdk_poll_event().
**
** Errors: ISCSDK_E_INVALID_ARG (out_client NULL, struct_size smaller than 4,
** a bad string), ISCSDK_E_CONFIG (no endpoint, token or product anywhere, or
** an endpoint that is not ws:// or wss://), ISCSDK_E_UNREACHABLE (no answer
** in time; the message names the endpoint), ISCSDK_E_UNAUTHORIZED (the token
** was refused), ISCSDK_E_PROTOCOL.
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_init(const iscsdk_options* options, iscsdk_client** out_client);

/*
** Set the function that receives c's events: fn(event, user_data), on a
** library thread, one event at a time, in order. fn NULL stops callbacks:
** events queue (bounded: the oldest are dropped past 4096) for
** iscsdk_poll_event(). Events already queued go to the new function.
**
** When this returns, a callback in progress with the previous function has
** returned (unless this is called from inside that callback), so the
** previous user_data may be freed. Calling it from inside a callback is
** allowed: the next event goes to the new function.
**
** Errors: ISCSDK_E_INVALID_ARG (c NULL), ISCSDK_E_INVALID_HANDLE.
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_register_event_recall(iscsdk_client* c, iscsdk_event_fn fn, void* user_data);

/*
** End c's session and free everything it holds. After it returns c is
** invalid (calls with it return ISCSDK_E_INVALID_HANDLE) and no callback
** runs any more: the caller may free the callback's user_data.
**
** From inside a callback it also ends the session, but returns without
** waiting for that callback (it cannot); no callback follows the one in
** progress. It never deadlocks.
**
** Errors: ISCSDK_E_INVALID_ARG (c NULL), ISCSDK_E_INVALID_HANDLE (unknown, or
** already shut out: a second call is harmless).
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_shut_out(iscsdk_client* c);

/*
** For hosts that want events on their own (UI) thread instead of a
** callback: take the next queued event, waiting up to timeout_ms for one
** (0: do not wait). On ISCSDK_OK *out_event is an event the caller owns and
** frees with iscsdk_event_free(); otherwise it is NULL.
**
** Errors: ISCSDK_E_TIMEOUT (no event), ISCSDK_E_CALLBACK_REGISTERED (events
** go to the callback), ISCSDK_E_INVALID_ARG (c or out_event NULL),
** ISCSDK_E_INVALID_HANDLE (also when c is shut out during the wait).
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_poll_event(iscsdk_client* c, uint32_t timeout_ms, iscsdk_event** out_event);

/* Free an event returned by iscsdk_poll_event(). NULL is a no-op. */
ISCSDK_API void ISCSDK_CALL iscsdk_event_free(iscsdk_event* event);

/*
** LICENCES
*/

/*
** This device's fingerprint, "MAC|diskId|boardId|cpuId" (upper case; several
** MACs or disks comma-separated; a part that cannot be read left empty; at
** most 5 KB; docs/licensing.md lists the sources). *out_dev_info is the
** caller's, freed with iscsdk_free(). Needs no client; any thread.
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_device_info(char** out_dev_info);

/*
** Ask the service for a licence string for this product and device.
** dev_info (NULL or "": this device, as iscsdk_device_info()) is the
** fingerprint the licence is bound to; at most 5 KB of UTF-8.
** Returns at once with *out_request_id; the answer is an
** ISCSDK_EVENT_LICENSE_VERIFY event with that request id and
** come_back_json as comeBackParams:
**   success: Status "success", LicenseType "string", LicenseContent (the
**            signed licence string), licenseId, kind, expiresAt,
**            leaseExpiresAt (floating);
**   failure: Status "failed", errorCode, errorMsg. errorCode is one of
**            not_entitled, wrong_product, not_yet_valid, license_expired,
**            license_frozen, license_released, no_seat, device_limit,
**            device_required, bad_device, unreachable (no answer in 60 s).
** A floating licence takes a seat, held as a lease that the library renews
** in the background (ISCSDK_EVENT_LICENSE_STATE: renewed, offline-grace,
** expired, frozen, unfrozen, released) and returns at iscsdk_shut_out().
** Asking again, reconnecting, or coming back in a new session on the same
** device never takes a second seat (seats count users' machines).
** Errors: ISCSDK_E_INVALID_ARG (NULL out pointer, dev_info too long or not
** UTF-8, come_back_json not a JSON object), ISCSDK_E_INVALID_HANDLE.
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_get_license_string_request(iscsdk_client* c, const char* dev_info, const char* come_back_json, uint64_t* out_request_id);

/*
** The same as iscsdk_get_license_string_request(), the licence written
** (atomically) to the file file_name: an absolute path, or a name relative
** to the workspace's "licenses" directory that may not leave it ("..": an
** ISCSDK_E_INVALID_ARG). The event has LicenseType "file" and
** LicenseFilePath (absolute); errorCode file_error if it cannot be written.
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_get_license_file_request(iscsdk_client* c, const char* file_name, const char* dev_info, const char* come_back_json, uint64_t* out_request_id);

/*
** Verify a licence string offline: the signature against public_key (the
** product's key as `iscctl key export-public` prints it; several keys
** comma-separated during a key rotation), the product, the device dev_info
** (NULL or "": this device), the validity window and the local clock.
** *out_result_json is the caller's, freed with iscsdk_free():
**   {"valid":true|false,"code":"ok"|"too_large"|"malformed"|"unknown_key"|
**    "bad_signature"|"wrong_product"|"wrong_device"|"clock_tampered"|
**    "not_yet_valid"|"expired"|"lease_expired","message":"...",
**    "licenseId":...,"product":...,"edition":...,"features":[...],
**    "kind":...,"trial":...,"issuedAt":...,"expiresAt":...,
**    "leaseExpiresAt":...,"state":"valid"|"grace"|"offline-grace"}
** An invalid licence is ISCSDK_OK with "valid":false. "clock_tampered"
** means the local clock is behind the newest time the service's clock
** said (the trusted-time mark, kept in the workspace and in a per-user
** copy), or that a copy of that mark was deleted or edited after one was
** seen: it lasts until the program reaches the service again
** (docs/licensing.md, The clock). Errors:
** ISCSDK_E_INVALID_ARG (NULL license, public_key or out pointer; a string
** over 64 KiB or not UTF-8; public_key not a key). Needs no client; any
** thread.
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_license_verify(const char* license, const char* public_key, const char* dev_info, char** out_result_json);

/*
** Tell the service whether the program verified its licence (verified
** non-zero), or why not (error_msg, may be NULL; at most 4 KB). Returns at
** once; the report is sent (when connected) and kept in the licence's
** audit log (`iscctl license audit`).
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_license_verify_notify(iscsdk_client* c, int verified, const char* error_msg);

/*
** UPGRADES
**
** The vendor publishes releases per product and platform (`iscctl release
** publish`, docs/upgrades.md): a semantic version, notes, forced or
** optional, a minimum supported version, and a package signed offline
** with the vendor's release key (`iscctl release sign`; the service never
** holds that key). Versions compare by SemVer 2.0 precedence: app_version
** must be MAJOR.MINOR.PATCH[-pre][+build] ("2024.1.3").
**
** Before anything is downloaded, an offer must be for this program's
** product and platform, newer than app_version, and signed by one of
** options->release_key; an offer that is not is refused with an errorCode
** (wrong_product, wrong_platform, not_newer, no_release_key, unknown_key,
** bad_signature) and nothing is fetched. A package is downloaded in the
** background (resumable: chunks fetched before a dropped connection or an
** exit are not fetched again), checked against the signed SHA-256 (bytes),
** and only then staged in the workspace. A package that fails a check is
** refused, deleted and never run; the signature is checked again before
** the installer starts.
**
** After exit: when iscsdk_shut_out() is called with an upgrade staged, the
** library starts the installer (the release's silent-install command) as a
** detached process that waits until the program's process has ended, then
** installs; its environment has ISCSDK_HOST_PID. The next iscsdk_init()
** reports the outcome as an ISCSDK_EVENT_UPGRADE_RESULT event: status
** "success" or "failed", version, installer "sdk", exitCode, log (the
** installer's output); errorCode install_failed (non-zero exit),
** bad_package (the staged file changed), install_start. With
** options->no_auto_install the host runs the installer itself, from the
** ISCSDK_EVENT_UPDATE event's packagePath and installCommand, and the next
** iscsdk_init() at that version reports "success" with installer "host".
*/

/*
** Ask whether a newer version of the program (options->app_version) exists
** for this platform. Returns at once with *out_request_id; an
** ISCSDK_EVENT_UPGRADE_NOTICE event with that id answers: available "true"
** or "false"; when true also version, notes, forced ("true"/"false"), size
** (bytes), current, fileName; with available "false", declined (a version
** the user declined) or on failure errorCode (bad_version: app_version is
** not a semantic version; unreachable; wrong_product, wrong_platform,
** not_newer: the service offered a release this program refuses) and
** errorMsg.
** A forced upgrade (a forced release, or app_version below a release's
** minimum supported version) is downloaded and staged at once, then an
** ISCSDK_EVENT_UPDATE event with the same id says fromForceWin "true": tell
** the user to save and exit. The service also pushes a forced release to
** running programs: the same two events arrive with request id 0.
** Errors: ISCSDK_E_INVALID_ARG (out_request_id NULL), ISCSDK_E_INVALID_HANDLE.
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_check_new_versions(iscsdk_client* c, uint64_t* out_request_id);

/*
** Answer the latest upgrade notice. upgrade non-zero: the package is
** downloaded and staged in the background (ISCSDK_EVENT_TRANSFER_PROGRESS
** events), then an ISCSDK_EVENT_UPDATE event, with the request id of the
** iscsdk_check_new_versions() that offered it, says fromForceWin "false",
** status "staged", version, packagePath, installCommand (a JSON array of
** strings), autoInstall, bytesFetched; or status "failed" with errorCode
** (bad_signature, unknown_key, no_release_key, bad_package, unreachable,
** ...) and errorMsg. It installs after the program exits. upgrade zero: the
** version is recorded as declined in the workspace and not offered again,
** unless it becomes forced.
** Errors: ISCSDK_E_INVALID_ARG (no upgrade was offered, or a forced one
** declined), ISCSDK_E_INVALID_HANDLE.
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_upgrade_notify(iscsdk_client* c, int upgrade);

/*
** CLOUD FILES
**
** iscsdk_open_cloud_file() and iscsdk_select_save_as_path() show a picker: a
** page of the service opened in the user's browser (its URL also arrives in
** an event, for hosts that show it in their own web view).
** iscsdk_open_cloud_path() and iscsdk_save_as() are the same operations
** without a picker. local_path names a file, or with is_assembly non-zero an
** assembly folder (named like its main file, holding every part it uses).
*/

/*
** Let the user pick a cloud file in a picker, then open it as
** iscsdk_open_cloud_path() does, with the open type the user chose there
** (Open only, or Open and check out). Returns at once with
** *out_request_id. An ISCSDK_EVENT_PICKER event with that id gives the
** picker's url: a one-time link to a page of the service, bound to this
** client's session, valid for 15 minutes and for one pick. The library
** opens it in the user's default browser (browser "opened"; "failed" if
** it could not), unless $ISCSDK_NO_BROWSER is "1" (browser "off"); a host
** may show the url in its own web view instead, as a top-level page (the
** page refuses to be framed). Then an ISCSDK_EVENT_OPEN_CLOUD_FILE_RESULT
** event with the same id reports as for iscsdk_open_cloud_path(); if the
** user pressed Cancel, status "failed" with errorCode "cancelled"; if
** nobody picked in time, errorCode "expired".
** Errors: ISCSDK_E_INVALID_ARG (out_request_id NULL, come_back_json not a
** JSON object), ISCSDK_E_INVALID_HANDLE.
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_open_cloud_file(iscsdk_client* c, const char* come_back_json, uint64_t* out_request_id);

/*
** Open the cloud file (or assembly) cloud_path ("/folder/part.prt": UTF-8,
** absolute, no "." or ".." names, and names every computer can create: no
** Windows device name in any case or with any extension ("aux.prt"), no
** ':', < > " | ? *, control or bidirectional characters, no trailing dot
** or space; docs/data.md, the element rule; the service refuses the same,
** errorCode bad_path) with open_type ISCSDK_OPEN_ONLY (read
** only: workState CHECKIN, cannot be saved back) or ISCSDK_OPEN_AND_CHECKOUT
** (an exclusive edit lock: workState CHECKOUT). Returns at once; the file is
** downloaded into the workspace — only the chunks the previous local copy
** lacks — verified, and moved into place, then an
** ISCSDK_EVENT_OPEN_CLOUD_FILE_RESULT event with *out_request_id gives
** status, mainFile (local absolute path: the file, or an assembly's
** folder), openType, workState, assembly, cloudPath, version,
** bytesFetched (compressed bytes received), chunksReused (taken from the
** previous local copy or the workspace's chunk cache), filesRead (local
** files of the previous copy read to learn what they hold: one its stat
** vouches for is not read); on failure
** errorCode (not_found, locked, bad_path, unreachable, license_required,
** license_frozen, ...) and errorMsg. license_required: the product needs
** an active licence for cloud files and the organisation has none;
** license_frozen: its licence is frozen. ISCSDK_EVENT_TRANSFER_PROGRESS
** events report progress.
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_open_cloud_path(iscsdk_client* c, const char* cloud_path, int32_t open_type, const char* come_back_json, uint64_t* out_request_id);

/*
** Save local_path (saved locally first by the program) back to where it was
** opened from, as a new version. Returns at once; only the chunks the
** service lacks are sent (compressed), a dropped connection resumes without
** sending anything twice, and an ISCSDK_EVENT_SAVE_RESULT event with
** *out_request_id gives status, cloudPath, version, bytesSent, bytesTotal,
** chunksSent, chunksTotal, filesRead (the files whose content was read: a
** file whose size, modification and change times and inode are what they
** were when the library last saved or opened it is not read, so a re-save
** after editing one part of an assembly reads that part); on failure
** errorCode and errorMsg: not_from_cloud (use iscsdk_save_as), checked_in
** (opened with ISCSDK_OPEN_ONLY), conflict (someone saved since: the local
** file is untouched), locked (checked out by someone else), file_changed
** (written to while it was saved), missing_file, unreadable, storage_full,
** unreachable, license_required, license_frozen (as for
** iscsdk_open_cloud_path(): nothing was saved).
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_save(iscsdk_client* c, const char* local_path, int is_assembly, const char* come_back_json, uint64_t* out_request_id);

/*
** Let the user pick a cloud folder and a name (proposed: local_path's
** name) for local_path in a picker, then save it there as
** iscsdk_save_as() does. Returns at once with *out_request_id; an
** ISCSDK_EVENT_PICKER event gives the picker's url, as for
** iscsdk_open_cloud_file(), and an ISCSDK_EVENT_SAVE_RESULT event with the
** same id the outcome: as for iscsdk_save_as(), or errorCode
** "cancelled", "expired", or missing_file (local_path does not exist:
** reported at once, without a picker).
** Errors: ISCSDK_E_INVALID_ARG (local_path or out_request_id NULL, a bad
** string, come_back_json not a JSON object), ISCSDK_E_INVALID_HANDLE.
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_select_save_as_path(iscsdk_client* c, const char* local_path, int is_assembly, const char* come_back_json, uint64_t* out_request_id);

/*
** Save local_path to cloud_path: a new cloud file, or a new version of an
** existing one; answered like iscsdk_save() by ISCSDK_EVENT_SAVE_RESULT.
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_save_as(iscsdk_client* c, const char* local_path, const char* cloud_path, int is_assembly, const char* come_back_json, uint64_t* out_request_id);

/*
** PAGES
**
** Lists come one page at a time, so that no folder, history or job list is
** too large to answer. A page holds the entries after cursor (NULL or ""
** for the first page; else the "next" of the previous page, an opaque
** string), at most limit entries (0: 200; more than 1,000: 1,000), and
** fewer when they would not fit in one answer of the service. Its "next"
** is "" on the last page. Entries added or removed between two pages move
** no other entry into or out of the walk.
**
** These calls block until the service answers (at most 60 s, including
** waiting for a reconnection). Any thread may call them, except from the
** event callback. On ISCSDK_OK *out_json is a NUL-terminated UTF-8 JSON
** object that the caller owns and frees with iscsdk_free(); on an error it
** is left unchanged.
** Errors: ISCSDK_E_INVALID_ARG (a required string or out_json NULL, a bad
** string, a cloud path the rules of iscsdk_open_cloud_path() refuse, a
** cursor over 2 KiB; a cursor the service did not give starts after where
** it would sort), ISCSDK_E_INVALID_HANDLE,
** ISCSDK_E_REFUSED (the service refused: iscsdk_last_error() reads
** "...: refused by the service (CODE): message", CODE e.g. not_found,
** bad_path, bad_request), ISCSDK_E_UNREACHABLE, ISCSDK_E_DISCONNECTED,
** ISCSDK_E_TIMEOUT.
*/

/*
** One page of the cloud folder dir ("/" for the root): its folders, then
** its files, each sorted by path.
** {"dir":"/parts","folders":["/parts/old",...],"files":[{"path":
** "/parts/a.prt","assembly":false,"version":3,"size":1234,"hash":"...",
** "updated":"2026-11-27T09:00:00Z","updatedBy":"u_...","lockedBy":"u_...",
** "lockedByMe":true},...],"next":"..."}; lockedBy and lockedByMe only when
** checked out.
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_list_cloud_folder(iscsdk_client* c, const char* dir, const char* cursor, uint32_t limit, char** out_json);

/*
** One page of the versions of the cloud file cloud_path, oldest first:
** {"versions":[{"number":1,"author":"u_...","time":"...","size":1234,
** "hash":"...","files":1},...],"next":"..."}; "files" counts an assembly's
** files.
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_cloud_file_history(iscsdk_client* c, const char* cloud_path, const char* cursor, uint32_t limit, char** out_json);

/*
** CLOUD COMPUTE
*/

/*
** Solve the model file_path in the cloud: the library uploads the model
** (only the chunks the service lacks: the same model solved again sends
** nothing), a compute worker runs the product's solver on it, and the
** returned files are downloaded into a local folder. It returns at once with
** the request id in *out_request_id; the events of that request id follow:
**
**   ISCSDK_EVENT_SOLUTION_PROGRESS  "state": uploading, queued, running,
**       downloading; while running "percent" (0..100, when the solver's
**       output tells) and "log" (new solver output lines, '\n'-separated);
**       "jobId", "attempt" (a job whose worker died runs again elsewhere).
**   ISCSDK_EVENT_SOLUTION_RESULT    exactly one: "status" success, failed or
**       canceled; "resultDir" (absolute path of the folder holding the
**       returned files, solver.log among them, also after a failure),
**       "exitCode", "jobId", "files", "bytesSent", "wallSeconds"; on failure
**       "errorCode" (unknown_solver, no_solver, solver_failed, time_limit,
**       output_limit, worker_lost, canceled, quota, bad_argument,
**       invalid_argument, unreachable,
**       license_required, license_frozen, ...) , "errorMsg" and "logTail"
**       (the solver's last lines). license_required: the product needs an
**       active licence for compute and the organisation has none (status
**       failed); license_frozen: its licence is frozen — refused (failed),
**       or, frozen while the solve ran, the solve is stopped (canceled;
**       errorMsg names the licence).
**
** file_path is a model file (UTF-8), or a folder holding a model of several
** files (then options_json must name "main"). options_json (NULL or a JSON
** object) may hold: "solver" (the product's solver; omit when it has one),
** "args" (array of extra solver arguments, for a solver that takes them),
** "cores", "timeLimitSeconds" (shortens the solver's limit), "main",
** "inputs" (array of more files the model reads, relative to its folder:
** a deck's *INCLUDE files), "resultDir" (default: a new folder under the
** workspace, results/<model>-<job id>). Unknown keys are an error.
**
** A result that completes while the program is disconnected arrives when it
** reconnects. iscsdk_shut_out() cancels the solutions still in progress (a
** result would have no one to go to); no SOLUTION_RESULT follows it.
** Errors: ISCSDK_E_INVALID_ARG for a NULL or non-UTF-8 path, a model that
** does not exist, options that are not a JSON object or hold unknown keys,
** a model file name or an argument that begins with '-' (a solver would
** read it as an option; the service and the worker refuse it too, as
** errorCode bad_argument, and so does a worker whose solver takes no
** "args"). What program runs is the worker's configuration, never the
** program's: a solve names a solver, and the worker runs it in a sandbox
** that sees only the job's files.
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_get_solution(iscsdk_client* c, const char* file_path, const char* options_json, const char* come_back_json, uint64_t* out_request_id);

/*
** Cancel the solution request_id. The job's worker stops the solver (within
** a second: SIGTERM, then SIGKILL after 300 ms, to its whole process group)
** and the request's ISCSDK_EVENT_SOLUTION_RESULT arrives with status
** "canceled"; a request still uploading stops at once. Returns
** ISCSDK_E_INVALID_ARG if request_id names no solution in progress (never
** started, or already finished), ISCSDK_E_DISCONNECTED if the service could
** not be told (try again).
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_cancel(iscsdk_client* c, uint64_t request_id);

/*
** One page of the organisation's compute jobs, newest first, as PAGES (in
** CLOUD FILES) describes: {"jobs":[{"id":"...","state":"succeeded",
** "solver":"calculix","main":"beam.inp","attempt":1,"worker":"...",
** "created":"...","finished":"...","exitCode":0,"errorCode":"...",
** "error":"...","wallSeconds":1.5,"cpuSeconds":1.2},...],"next":"..."};
** worker, finished, errorCode, error and the seconds only when known.
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_list_jobs(iscsdk_client* c, const char* cursor, uint32_t limit, char** out_json);

/*
** SIGN-IN
**
** A program made with options->sign_in signs its user in (docs/identity.md)
** in one of two ways; the library shows nothing itself:
**
** - the browser (flags 0, the default): the library opens the service's
**   sign-in page in the user's default browser (xdg-open with a display,
**   open on macOS, rundll32 url.dll,FileProtocolHandler on Windows; the
**   program named by $ISCSDK_BROWSER instead when set) and raises
**   ISCSDK_EVENT_SIGN_IN_PROMPT with that URL (userCode empty: show the URL
**   in case the window is not seen). The user signs in there — through
**   their organisation's identity provider (OpenID Connect, or for a
**   marketplace tenant the marketplace's unified login: pass the tenant's
**   organisation as org), or with an API token — and the browser comes back to the library on a loopback port
**   of this machine (http://127.0.0.1:<ephemeral port>/callback, RFC 8252;
**   the authorization code with PKCE, state checked, one callback taken).
**   When no browser can be opened (no display: an SSH session, a cloud
**   desktop), or $ISCSDK_NO_BROWSER is "1" (the host opens none), the
**   device grant below is used instead, with its prompt.
** - the device grant (ISCSDK_SIGN_IN_DEVICE, RFC 8628): it raises
**   ISCSDK_EVENT_SIGN_IN_PROMPT with a page and a code, the user opens the
**   page in any browser (on this machine or their phone), signs in there
**   and confirms the code. For a program that knows the user is not at
**   this machine's screen.
**
** The refresh token is kept for the user only — sealed with DPAPI on
** Windows; on Linux in the Secret Service when one answers with its
** collection unlocked (the library never prompts), else in a 0600 file of
** the workspace ($ISCSDK_SECRET_STORE=file keeps it there) — so the next
** iscsdk_init() is signed in without asking; access tokens live in memory
** only and are renewed before each connection.
*/

/* flags of iscsdk_sign_in(); 0: the browser, the device grant when none opens */
#define ISCSDK_SIGN_IN_BROWSER  0x1  /* the same as 0: kept, with its value, for programs written (or built) when
                                        the device grant was the default and the browser took this flag */
#define ISCSDK_SIGN_IN_DEVICE   0x2  /* the device grant only: no browser is opened */

/*
** Sign c's user in. Raises ISCSDK_EVENT_SIGN_IN_PROMPT, then blocks until
** the user signs in or refuses (in the browser, or by confirming or
** denying the code on the page), the sign-in expires (about 10 minutes),
** or timeout_ms passes (0: until it expires). Call it from a thread that
** may wait that long, not the UI thread; events keep coming meanwhile
** (the prompt among them). On ISCSDK_OK the session is open and
** ISCSDK_EVENT_SIGNED_IN has been raised.
**
** org is NULL or an organisation id: only its users may sign in (a code
** sent to someone else is worth nothing), and the browser goes straight
** to its identity provider. It is read during the call only.
**
** Errors: ISCSDK_E_INVALID_ARG (c NULL, unknown flags, both flags, a bad
** org), ISCSDK_E_INVALID_HANDLE, ISCSDK_E_CONFIG (c was not made with
** options->sign_in, or its product is unknown to the service),
** ISCSDK_E_DENIED (the user denied, or the service refused the user: a
** disabled account, an identity provider's answer that did not verify),
** ISCSDK_E_EXPIRED, ISCSDK_E_TIMEOUT, ISCSDK_E_UNREACHABLE,
** ISCSDK_E_REFUSED (c is signed in, or was: after iscsdk_sign_out() shut it
** out and make a new client).
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_sign_in(iscsdk_client* c, uint32_t flags, const char* org, uint32_t timeout_ms);

/*
** Sign c's user out: the sign-in is revoked on the service (the session
** ends), the refresh token kept in the workspace is deleted, and
** ISCSDK_EVENT_SIGNED_OUT is raised. Then shut c out. The refresh token is
** deleted even when the service cannot be reached (ISCSDK_E_UNREACHABLE).
** Any thread; blocks for at most 30 s.
**
** Errors: ISCSDK_E_INVALID_ARG (c NULL), ISCSDK_E_INVALID_HANDLE,
** ISCSDK_E_CONFIG (c was not made with options->sign_in),
** ISCSDK_E_UNREACHABLE.
*/
ISCSDK_API iscsdk_status ISCSDK_CALL iscsdk_sign_out(iscsdk_client* c);

/*
** MISCELLANEOUS
*/

/* The library's ISCSDK_VERSION_NUMBER. Any thread; cannot fail. */
ISCSDK_API uint32_t ISCSDK_CALL iscsdk_version_number(void);

/*
** The name of a status code, e.g. "ISCSDK_E_TIMEOUT: timed out". The text is
** static: never free it. Unknown codes give "unknown status". Any thread.
*/
ISCSDK_API const char* ISCSDK_CALL iscsdk_status_string(iscsdk_status status);

/*
** What happened in the calling thread's latest call that returned an
** iscsdk_status: "" after ISCSDK_OK, else a message saying what failed and
** why (at most 1023 bytes, UTF-8). Other threads' calls do not change it.
** The text belongs to the library and stays valid until the thread's next
** iscsdk call. Never NULL.
*/
ISCSDK_API const char* ISCSDK_CALL iscsdk_last_error(void);

/* Free a string the library returned. NULL is a no-op. */
ISCSDK_API void ISCSDK_CALL iscsdk_free(void* p);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ISCSDK_H */
