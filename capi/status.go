package main

/*
#include "capi.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"
	"unsafe"

	"github.com/iscsdk/iscsdk/sdk"
)

// Errors of this layer; the sdk's own errors are mapped in statusOf.
var (
	errInvalidArg     = errors.New("invalid argument")
	errInvalidHandle  = errors.New("invalid client handle")
	errNotImplemented = errors.New("not implemented yet")
	errInternal       = errors.New("internal error")
)

// statusOf maps err to the status code the header documents for it.
func statusOf(err error) int32 {
	switch {
	case err == nil:
		return C.ISCSDK_OK
	case errors.Is(err, errInvalidArg), errors.Is(err, sdk.ErrInvalidArgument):
		return C.ISCSDK_E_INVALID_ARG
	case errors.Is(err, errInvalidHandle), errors.Is(err, sdk.ErrShutOut):
		return C.ISCSDK_E_INVALID_HANDLE
	case errors.Is(err, errNotImplemented):
		return C.ISCSDK_E_NOT_IMPLEMENTED
	case errors.Is(err, sdk.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return C.ISCSDK_E_TIMEOUT
	case errors.Is(err, sdk.ErrUnreachable):
		return C.ISCSDK_E_UNREACHABLE
	case errors.Is(err, sdk.ErrUnauthorized):
		return C.ISCSDK_E_UNAUTHORIZED
	case errors.Is(err, sdk.ErrConfig):
		return C.ISCSDK_E_CONFIG
	case errors.Is(err, sdk.ErrProtocol):
		return C.ISCSDK_E_PROTOCOL
	case errors.Is(err, sdk.ErrCallbackRegistered):
		return C.ISCSDK_E_CALLBACK_REGISTERED
	case errors.Is(err, sdk.ErrDisconnected):
		return C.ISCSDK_E_DISCONNECTED
	case errors.Is(err, errRefused), errors.Is(err, sdk.ErrSignedIn):
		return C.ISCSDK_E_REFUSED
	case errors.Is(err, sdk.ErrSignInDenied):
		return C.ISCSDK_E_DENIED
	case errors.Is(err, sdk.ErrSignInExpired):
		return C.ISCSDK_E_EXPIRED
	}
	return C.ISCSDK_E_INTERNAL
}

// reply records err's message as the calling thread's last error (errbuf
// is that thread's buffer, see iscsdk.c) and returns its status.
func reply(errbuf *C.char, err error) C.iscsdk_status {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if errbuf != nil {
		buf := unsafe.Slice((*byte)(unsafe.Pointer(errbuf)), C.ISC_ERRBUF_SIZE)
		msg = truncate(msg, len(buf)-1)
		buf[copy(buf, msg)] = 0
	}
	return C.iscsdk_status(statusOf(err))
}

// guard is deferred first in every export: it turns a panic into
// ISCSDK_E_INTERNAL and poisons the client the call was about.
func guard(st *C.iscsdk_status, errbuf *C.char, id C.uintptr_t) {
	if r := recover(); r != nil {
		*st = reply(errbuf, panicked(r, uintptr(id)))
	}
}

// panicked poisons client id (0: none) and describes the panic r.
func panicked(r any, id uintptr) error {
	if id != 0 {
		clients.poison(id, r)
	}
	return fmt.Errorf("%w: %v (please report this bug)", errInternal, r)
}

// truncate cuts s to at most max bytes without splitting a UTF-8 sequence.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ellipsis = "..."
	if max < len(ellipsis) {
		return ""
	}
	n := max - len(ellipsis)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + ellipsis
}
