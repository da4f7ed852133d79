package main

/*
#include <stdlib.h>
#include "capi.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/iscsdk/iscsdk/sdk"
)

// Every export below is called by its iscsdk_* namesake in iscsdk.c, with
// errbuf the calling thread's last-error buffer. Each starts with
// `defer guard(...)`.

// ---- basics ----

//export isc_go_init
func isc_go_init(o *C.iscsdk_options, out *C.uintptr_t, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, 0)
	id, err := initClient(o)
	if err == nil {
		*out = C.uintptr_t(id)
	}
	return reply(errbuf, named("iscsdk_init", err))
}

// initClient connects a new client; o is NULL or a full iscsdk_options
// (iscsdk.c has dealt with struct_size).
func initClient(o *C.iscsdk_options) (uintptr, error) {
	var cfg sdk.Config
	if o != nil {
		var a args
		cfg.Endpoint = a.str("options->endpoint", o.endpoint, false)
		cfg.Token = a.str("options->token", o.token, false)
		cfg.ProductID = a.str("options->product_id", o.product_id, false)
		cfg.AppVersion = a.str("options->app_version", o.app_version, false)
		cfg.WorkspaceDir = a.str("options->workspace_dir", o.workspace_dir, false)
		_ = a.str("options->public_key", o.public_key, false) // unused: checked as a string, as before
		cfg.ReleaseKeys = a.str("options->release_key", o.release_key, false)
		cfg.NoAutoInstall = o.no_auto_install != 0
		cfg.SignIn = o.sign_in != 0
		if cfg.LoginHint = a.str("options->login_hint", o.login_hint, false); len(cfg.LoginHint) > 256 {
			a.fail("options->login_hint: %d bytes, at most 256", len(cfg.LoginHint))
		}
		if a.err != nil {
			return 0, a.err
		}
		cfg.ConnectTimeout = time.Duration(o.connect_timeout_ms) * time.Millisecond
	}
	fromCEnv(&cfg)
	d, err := sdk.InitDesk(context.Background(), cfg)
	if err != nil {
		return 0, err
	}
	return clients.add(d), nil
}

// fromCEnv fills the settings the host left empty from the C environment.
// Go copies the environment when the library loads, so without this a host
// that calls setenv() before iscsdk_init() would not be heard.
func fromCEnv(cfg *sdk.Config) {
	for _, f := range []struct {
		key string
		v   *string
	}{
		{sdk.EnvEndpoint, &cfg.Endpoint},
		{sdk.EnvToken, &cfg.Token},
		{sdk.EnvProduct, &cfg.ProductID},
		{sdk.EnvCAFile, &cfg.CAFile},
		{sdk.EnvLog, &cfg.LogLevel},
		{sdk.EnvCreds, &cfg.CredentialsFile},
		{sdk.EnvReleaseKey, &cfg.ReleaseKeys},
	} {
		if *f.v != "" {
			continue
		}
		key := C.CString(f.key)
		if v := C.getenv(key); v != nil {
			*f.v = C.GoString(v)
		}
		C.free(unsafe.Pointer(key))
	}
	for _, f := range []struct {
		key string
		v   *bool
	}{{sdk.EnvNoBrowser, &cfg.NoBrowser}, {sdk.EnvNoAutoInstall, &cfg.NoAutoInstall}} {
		key := C.CString(f.key)
		if v := C.getenv(key); v != nil && C.GoString(v) != "" && C.GoString(v) != "0" {
			*f.v = true
		}
		C.free(unsafe.Pointer(key))
	}
}

//export isc_go_register_event_recall
func isc_go_register_event_recall(id C.uintptr_t, fn C.iscsdk_event_fn, userData C.uintptr_t, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	c := a.client(id)
	if a.err != nil {
		return reply(errbuf, named("iscsdk_register_event_recall", a.err))
	}
	var recall func(sdk.Event) // nil: queue for poll
	if fn != nil {
		recall = func(e sdk.Event) { deliver(fn, userData, e) }
	}
	return reply(errbuf, named("iscsdk_register_event_recall", c.RegisterEventRecall(recall)))
}

// deliver hands e to the host's callback, on the sdk's callback thread. The
// C copy of the event lives for the duration of the call only.
func deliver(fn C.iscsdk_event_fn, userData C.uintptr_t, e sdk.Event) {
	ev := newEvent(e)
	if ev == nil {
		panic("out of memory for an event") // the sdk logs it; the host is not told
	}
	defer C.iscsdk_event_free(ev)
	C.isc_invoke(fn, ev, userData)
}

// newEvent copies e into one C block, freed with iscsdk_event_free.
func newEvent(e sdk.Event) *C.iscsdk_event {
	b := e.JSON()
	return C.isc_event_new(C.int32_t(e.Type), C.uint64_t(e.RequestID), (*C.char)(unsafe.Pointer(unsafe.SliceData(b))), C.size_t(len(b)))
}

//export isc_go_shut_out
func isc_go_shut_out(id C.uintptr_t, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	return reply(errbuf, named("iscsdk_shut_out", shutOut(uintptr(id))))
}

func shutOut(id uintptr) error {
	c, first, err := clients.beginClose(id)
	if err != nil {
		return err
	}
	if !first {
		// Another thread is shutting it out: wait for it (so no callback
		// runs after this returns either), then refuse the handle.
		c.ShutOut()
		return fmt.Errorf("%w: %#x was shut out", errInvalidHandle, id)
	}
	defer clients.endClose(id)
	// Any other error is about closing the log file: the session is over
	// all the same, and the host can do nothing about it.
	if err := c.ShutOut(); errors.Is(err, sdk.ErrShutOut) {
		return err
	}
	return nil
}

//export isc_go_poll_event
func isc_go_poll_event(id C.uintptr_t, timeoutMS C.uint32_t, out **C.iscsdk_event, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	return reply(errbuf, named("iscsdk_poll_event", pollEvent(id, time.Duration(timeoutMS)*time.Millisecond, out)))
}

func pollEvent(id C.uintptr_t, timeout time.Duration, out **C.iscsdk_event) error {
	var a args
	if out != nil {
		*out = nil
	}
	c := a.client(id)
	if out == nil {
		a.fail("out_event is NULL")
	}
	if a.err != nil {
		return a.err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	e, err := c.PollEvent(ctx)
	if errors.Is(err, sdk.ErrTimeout) {
		return fmt.Errorf("%w: no event within %v", err, timeout)
	}
	if err != nil {
		return err
	}
	ev := newEvent(e)
	if ev == nil {
		return fmt.Errorf("%w: out of memory for an event", errInternal)
	}
	*out = ev
	return nil
}

// ---- licences ----

//export isc_go_device_info
func isc_go_device_info(out **C.char, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, 0)
	var a args
	a.outString("out_dev_info", out)
	if a.err == nil {
		*out = C.CString(sdk.DeviceInfo()) // malloc: the host frees it with iscsdk_free
	}
	return reply(errbuf, named("iscsdk_device_info", a.err))
}

//export isc_go_get_license_string_request
func isc_go_get_license_string_request(id C.uintptr_t, devInfo, comeBack *C.char, out *C.uint64_t, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	c := a.client(id)
	a.outID("out_request_id", out)
	dev := a.str("dev_info", devInfo, false)
	cb := a.object("come_back_json", comeBack)
	if a.err != nil {
		return reply(errbuf, named("iscsdk_get_license_string_request", a.err))
	}
	req, err := c.GetLicenseStringRequest(dev, cb)
	*out = C.uint64_t(req)
	return reply(errbuf, named("iscsdk_get_license_string_request", err))
}

//export isc_go_get_license_file_request
func isc_go_get_license_file_request(id C.uintptr_t, fileName, devInfo, comeBack *C.char, out *C.uint64_t, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	c := a.client(id)
	a.outID("out_request_id", out)
	name := a.str("file_name", fileName, true)
	dev := a.str("dev_info", devInfo, false)
	cb := a.object("come_back_json", comeBack)
	if a.err != nil {
		return reply(errbuf, named("iscsdk_get_license_file_request", a.err))
	}
	req, err := c.GetLicenseFileRequest(name, dev, cb)
	*out = C.uint64_t(req)
	return reply(errbuf, named("iscsdk_get_license_file_request", err))
}

//export isc_go_license_verify
func isc_go_license_verify(license, publicKey, devInfo *C.char, out **C.char, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, 0)
	var a args
	a.outString("out_result_json", out)
	lic := a.str("license", license, true)
	keys := a.str("public_key", publicKey, true)
	dev := a.str("dev_info", devInfo, false)
	if a.err != nil {
		return reply(errbuf, named("iscsdk_license_verify", a.err))
	}
	res, err := sdk.VerifyLicense(lic, keys, dev)
	if err != nil {
		return reply(errbuf, named("iscsdk_license_verify", err))
	}
	b, err := json.Marshal(res)
	if err != nil {
		return reply(errbuf, named("iscsdk_license_verify", fmt.Errorf("%w: %v", errInternal, err)))
	}
	*out = C.CString(string(b))
	return reply(errbuf, nil)
}

//export isc_go_license_verify_notify
func isc_go_license_verify_notify(id C.uintptr_t, verified C.int, errorMsg *C.char, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	c := a.client(id)
	msg := a.str("error_msg", errorMsg, false)
	if a.err != nil {
		return reply(errbuf, named("iscsdk_license_verify_notify", a.err))
	}
	return reply(errbuf, named("iscsdk_license_verify_notify", c.LicenseVerifyNotify(verified != 0, msg)))
}

// ---- upgrades ----

//export isc_go_check_new_versions
func isc_go_check_new_versions(id C.uintptr_t, out *C.uint64_t, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	c := a.client(id)
	a.outID("out_request_id", out)
	if a.err != nil {
		return reply(errbuf, named("iscsdk_check_new_versions", a.err))
	}
	req, err := c.CheckNewVersions()
	*out = C.uint64_t(req)
	return reply(errbuf, named("iscsdk_check_new_versions", err))
}

//export isc_go_upgrade_notify
func isc_go_upgrade_notify(id C.uintptr_t, upgrade C.int, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	c := a.client(id)
	if a.err != nil {
		return reply(errbuf, named("iscsdk_upgrade_notify", a.err))
	}
	return reply(errbuf, named("iscsdk_upgrade_notify", c.UpgradeNotify(upgrade != 0)))
}

// ---- cloud files ----

//export isc_go_open_cloud_file
func isc_go_open_cloud_file(id C.uintptr_t, comeBack *C.char, out *C.uint64_t, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	c := a.client(id)
	a.outID("out_request_id", out)
	cb := a.object("come_back_json", comeBack)
	if a.err != nil {
		return reply(errbuf, named("iscsdk_open_cloud_file", a.err))
	}
	req, err := c.OpenCloudFile(cb)
	*out = C.uint64_t(req)
	return reply(errbuf, named("iscsdk_open_cloud_file", err))
}

//export isc_go_open_cloud_path
func isc_go_open_cloud_path(id C.uintptr_t, cloudPath *C.char, openType C.int32_t, comeBack *C.char, out *C.uint64_t, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	c := a.client(id)
	a.outID("out_request_id", out)
	path := a.str("cloud_path", cloudPath, true)
	a.oneOf("open_type", int32(openType), C.ISCSDK_OPEN_ONLY, C.ISCSDK_OPEN_AND_CHECKOUT)
	cb := a.object("come_back_json", comeBack)
	if a.err != nil {
		return reply(errbuf, named("iscsdk_open_cloud_path", a.err))
	}
	req, err := c.OpenCloudPath(path, int(openType), cb)
	*out = C.uint64_t(req)
	return reply(errbuf, named("iscsdk_open_cloud_path", err))
}

//export isc_go_save
func isc_go_save(id C.uintptr_t, localPath *C.char, isAssembly C.int, comeBack *C.char, out *C.uint64_t, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	c := a.client(id)
	a.outID("out_request_id", out)
	local := a.str("local_path", localPath, true)
	cb := a.object("come_back_json", comeBack)
	if a.err != nil {
		return reply(errbuf, named("iscsdk_save", a.err))
	}
	req, err := c.Save(local, isAssembly != 0, cb)
	*out = C.uint64_t(req)
	return reply(errbuf, named("iscsdk_save", err))
}

//export isc_go_select_save_as_path
func isc_go_select_save_as_path(id C.uintptr_t, localPath *C.char, isAssembly C.int, comeBack *C.char, out *C.uint64_t, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	c := a.client(id)
	a.outID("out_request_id", out)
	local := a.str("local_path", localPath, true)
	cb := a.object("come_back_json", comeBack)
	if a.err != nil {
		return reply(errbuf, named("iscsdk_select_save_as_path", a.err))
	}
	req, err := c.SelectSaveAsPath(local, isAssembly != 0, cb)
	*out = C.uint64_t(req)
	return reply(errbuf, named("iscsdk_select_save_as_path", err))
}

//export isc_go_save_as
func isc_go_save_as(id C.uintptr_t, localPath, cloudPath *C.char, isAssembly C.int, comeBack *C.char, out *C.uint64_t, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	c := a.client(id)
	a.outID("out_request_id", out)
	local := a.str("local_path", localPath, true)
	cloud := a.str("cloud_path", cloudPath, true)
	cb := a.object("come_back_json", comeBack)
	if a.err != nil {
		return reply(errbuf, named("iscsdk_save_as", a.err))
	}
	req, err := c.SaveAs(local, cloud, isAssembly != 0, cb)
	*out = C.uint64_t(req)
	return reply(errbuf, named("iscsdk_save_as", err))
}

// ---- cloud compute ----

//export isc_go_get_solution
func isc_go_get_solution(id C.uintptr_t, filePath, optionsJSON, comeBack *C.char, out *C.uint64_t, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	c := a.client(id)
	a.outID("out_request_id", out)
	path := a.str("file_path", filePath, true)
	opts := a.object("options_json", optionsJSON)
	cb := a.object("come_back_json", comeBack)
	if a.err != nil {
		return reply(errbuf, named("iscsdk_get_solution", a.err))
	}
	req, err := c.GetSolution(path, string(opts), cb)
	*out = C.uint64_t(req)
	return reply(errbuf, named("iscsdk_get_solution", err))
}

//export isc_go_cancel
func isc_go_cancel(id C.uintptr_t, requestID C.uint64_t, errbuf *C.char) (st C.iscsdk_status) {
	defer guard(&st, errbuf, id)
	var a args
	c := a.client(id)
	if a.err != nil {
		return reply(errbuf, named("iscsdk_cancel", a.err))
	}
	return reply(errbuf, named("iscsdk_cancel", c.Cancel(uint64(requestID))))
}
