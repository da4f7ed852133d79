package main

/*
#include "capi.h"
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
	"unsafe"

	"github.com/iscsdk/iscsdk/sdk"
)

// maxString bounds every string a host passes in.
const maxString = 64 << 10

// args checks a call's arguments in order and keeps the first problem, so
// that an export reads as the list of what it takes.
type args struct {
	err error
}

func (a *args) fail(format string, v ...any) {
	if a.err == nil {
		a.err = fmt.Errorf("%w: "+format, append([]any{errInvalidArg}, v...)...)
	}
}

// client returns the usable client id; nil after a problem.
func (a *args) client(id C.uintptr_t) *sdk.Desk {
	if a.err != nil {
		return nil
	}
	c, err := clients.get(uintptr(id))
	a.err = err
	return c
}

// str copies the C string p; NULL is "" unless required.
func (a *args) str(name string, p *C.char, required bool) string {
	if a.err != nil {
		return ""
	}
	if p == nil {
		if required {
			a.fail("%s is NULL", name)
		}
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		if n == maxString {
			a.fail("%s is longer than %d KiB", name, maxString>>10)
			return ""
		}
		n++
	}
	s := C.GoStringN(p, C.int(n))
	if !utf8.ValidString(s) {
		a.fail("%s is not valid UTF-8", name)
		return ""
	}
	return s
}

// object copies p, which must be NULL or a JSON object.
func (a *args) object(name string, p *C.char) json.RawMessage {
	s := a.str(name, p, false)
	if a.err != nil || p == nil {
		return nil
	}
	b := []byte(s)
	if !json.Valid(b) || !bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{")) {
		a.fail("%s is not a JSON object", name)
		return nil
	}
	return b
}

// outID checks an out pointer for a request id and sets it to 0.
func (a *args) outID(name string, p *C.uint64_t) {
	if p == nil {
		a.fail("%s is NULL", name)
		return
	}
	*p = 0
}

// outString checks an out pointer for a string and sets it to NULL.
func (a *args) outString(name string, p **C.char) {
	if p == nil {
		a.fail("%s is NULL", name)
		return
	}
	*p = nil
}

// oneOf checks that v is one of the allowed values.
func (a *args) oneOf(name string, v int32, allowed ...int32) {
	for _, x := range allowed {
		if v == x {
			return
		}
	}
	a.fail("%s is %d; want one of %v", name, v, allowed)
}

// notImplemented is the outcome of a call whose arguments are fine but whose
// feature has not landed yet.
func (a *args) notImplemented(feature string) error {
	if a.err != nil {
		return a.err
	}
	return fmt.Errorf("%w (it comes with %s)", errNotImplemented, feature)
}

// named prefixes err with the C function it is about.
func named(fn string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", fn, err)
}
