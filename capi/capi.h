/*
** capi.h: what the C layer (iscsdk.c) and the Go layer (capi/*.go) of the
** library share. Private: never installed.
*/
#ifndef ISCSDK_CAPI_H
#define ISCSDK_CAPI_H

#include "iscsdk/iscsdk.h"

/* Size of each thread's last-error buffer, NUL included. */
#define ISC_ERRBUF_SIZE 1024

/* A client handle is an id in the Go table, never a pointer to memory. */
#define ISC_ID(c) ((uintptr_t)(c))

/* Allocate an event and its json (copied, NUL added) in one malloc block,
** freed by iscsdk_event_free(). NULL when out of memory. */
iscsdk_event* isc_event_new(int32_t type, uint64_t request_id, const char* json, size_t json_len);

/* Call the host's callback: Go cannot call a C function pointer itself. */
void isc_invoke(iscsdk_event_fn fn, const iscsdk_event* event, uintptr_t user_data);

#endif /* ISCSDK_CAPI_H */
