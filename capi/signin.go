package main

/*
#include "capi.h"
*/
import "C"

import (
	"context"
	"time"

	"github.com/iscsdk/iscsdk/sdk"
)

// ---- sign-in ----

//export isc_go_sign_in
func isc_go_sign_in(id C.uintptr_t, flags C.uint32_t, org *C.char, timeoutMS C.uint32_t, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	c := a.client(id)
	o := a.str("org", org, false)
	switch {
	case flags&^(C.ISCSDK_SIGN_IN_BROWSER|C.ISCSDK_SIGN_IN_DEVICE) != 0:
		a.fail("flags %#x: 0 (the browser), ISCSDK_SIGN_IN_BROWSER (the same) or ISCSDK_SIGN_IN_DEVICE", uint32(flags))
	case flags == C.ISCSDK_SIGN_IN_BROWSER|C.ISCSDK_SIGN_IN_DEVICE:
		a.fail("flags %#x: ISCSDK_SIGN_IN_BROWSER and ISCSDK_SIGN_IN_DEVICE ask for both ways", uint32(flags))
	}
	if a.err != nil {
		return reply(errbuf, named("iscsdk_sign_in", a.err))
	}
	ctx := context.Background()
	if timeoutMS > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(timeoutMS)*time.Millisecond)
		defer cancel()
	}
	return reply(errbuf, named("iscsdk_sign_in", c.Client().SignIn(ctx, sdk.SignInOptions{Org: o, Device: flags&C.ISCSDK_SIGN_IN_DEVICE != 0})))
}

//export isc_go_sign_out
func isc_go_sign_out(id C.uintptr_t, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	c := a.client(id)
	if a.err != nil {
		return reply(errbuf, named("iscsdk_sign_out", a.err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return reply(errbuf, named("iscsdk_sign_out", c.Client().SignOut(ctx)))
}
