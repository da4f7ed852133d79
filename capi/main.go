// Command capi is libiscsdk, the iscsdk C library: built with
// -buildmode=c-shared, it puts the sdk package behind the C ABI of
// include/iscsdk/iscsdk.h.
//
// The public C names are defined in iscsdk.c; they call the Go exports of
// this package, whose names (isc_go_*) the linker version script hides. This
// layer translates and nothing else: C values in, sdk calls, status codes and
// messages out. Every export starts with a deferred guard, so that a panic
// becomes ISCSDK_E_INTERNAL instead of taking the host down.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../include -DISCSDK_BUILDING
#include "capi.h"
*/
import "C"

func main() {} // required by -buildmode=c-shared, never called
