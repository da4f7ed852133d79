package keyring

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

const fileKind = InDPAPI

// entropy is DPAPI's "optional entropy": another program of the same user
// calling CryptUnprotectData on the file without it gets nothing.
var entropy = []byte("iscsdk keyring v1")

const cryptprotectUIForbidden = 0x1 // never show a dialog

// seal encrypts secret with DPAPI for the current user (CryptProtectData,
// no CRYPTPROTECT_LOCAL_MACHINE): only this user, on this machine, with
// their logon credentials, can unseal it.
func seal(secret string) ([]byte, error) {
	if secret == "" {
		return nil, nil
	}
	in := blob([]byte(secret))
	ent := blob(entropy)
	var out windows.DataBlob
	if err := windows.CryptProtectData(&in, nil, &ent, 0, nil, cryptprotectUIForbidden, &out); err != nil {
		return nil, fmt.Errorf("CryptProtectData: %w", err)
	}
	return take(out), nil
}

func unseal(b []byte) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	in := blob(b)
	ent := blob(entropy)
	var out windows.DataBlob
	if err := windows.CryptUnprotectData(&in, nil, &ent, 0, nil, cryptprotectUIForbidden, &out); err != nil {
		return "", fmt.Errorf("CryptUnprotectData (another user's, another machine's, or damaged): %w", err)
	}
	return string(take(out)), nil
}

func blob(b []byte) windows.DataBlob {
	return windows.DataBlob{Size: uint32(len(b)), Data: unsafe.SliceData(b)}
}

// take copies what DPAPI allocated and frees it with LocalFree.
func take(out windows.DataBlob) []byte {
	defer windows.LocalFree(windows.Handle(unsafe.Pointer(out.Data)))
	return append([]byte(nil), unsafe.Slice(out.Data, out.Size)...)
}
