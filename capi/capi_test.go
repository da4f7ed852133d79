package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/iscsdk/iscsdk/sdk"
)

func TestHandlesAreNeverReused(t *testing.T) {
	a := clients.add(nil)
	if _, first, err := clients.beginClose(a); err != nil || !first {
		t.Fatal(first, err)
	}
	if _, err := clients.get(a); !errors.Is(err, errInvalidHandle) {
		t.Errorf("get(closing) = %v; want errInvalidHandle", err)
	}
	if _, first, err := clients.beginClose(a); err != nil || first {
		t.Errorf("a second shut-out while the first runs: first %v, %v", first, err)
	}
	clients.endClose(a)
	b := clients.add(nil)
	defer clients.endClose(b)
	if b == a {
		t.Fatalf("id %d reused", a)
	}
	if _, err := clients.get(a); !errors.Is(err, errInvalidHandle) || statusOf(err) != -2 {
		t.Errorf("get(shut out) = %v, status %d; want ISCSDK_E_INVALID_HANDLE", err, statusOf(err))
	}
	if _, _, err := clients.beginClose(a); !errors.Is(err, errInvalidHandle) {
		t.Errorf("shut-out after the end = %v; want errInvalidHandle", err)
	}
	if _, err := clients.get(0); statusOf(err) != -1 {
		t.Errorf("get(NULL) = %v; want ISCSDK_E_INVALID_ARG", err)
	}
}

func TestPanicPoisonsTheClient(t *testing.T) {
	id := clients.add(nil)
	err := panicked("boom", id)
	if statusOf(err) != -4 || !strings.Contains(err.Error(), "boom") {
		t.Errorf("panicked = %v (status %d); want ISCSDK_E_INTERNAL mentioning the panic", err, statusOf(err))
	}
	if _, err := clients.get(id); statusOf(err) != -4 || !strings.Contains(err.Error(), "shut it out") {
		t.Errorf("get(poisoned) = %v; want ISCSDK_E_INTERNAL telling to shut out", err)
	}
	if _, _, err := clients.beginClose(id); err != nil {
		t.Errorf("a poisoned client cannot be shut out: %v", err)
	}
	clients.endClose(id)
}

func TestStatusOfWrappedSDKErrors(t *testing.T) {
	for err, want := range map[error]int32{
		nil:                       0,
		sdk.ErrConfig:             -8,
		sdk.ErrUnauthorized:       -7,
		sdk.ErrUnreachable:        -6,
		sdk.ErrProtocol:           -9,
		sdk.ErrShutOut:            -2,
		sdk.ErrTimeout:            -5,
		sdk.ErrCallbackRegistered: -10,
		sdk.ErrDisconnected:       -11,
		errNotImplemented:         -3,
		errors.New("surprise"):    -4,
	} {
		if err != nil {
			err = fmt.Errorf("iscsdk_x: %w", err)
		}
		if got := statusOf(err); got != want {
			t.Errorf("statusOf(%v) = %d, want %d", err, got, want)
		}
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	s := strings.Repeat("模型", 400) // 3 bytes a rune
	for max := 0; max < 20; max++ {
		got := truncate(s, max)
		if len(got) > max || !utf8.ValidString(got) {
			t.Errorf("truncate(_, %d) = %q", max, got)
		}
	}
	if got := truncate("short", 1023); got != "short" {
		t.Errorf("truncate(short) = %q", got)
	}
}
