package sdk

import (
	"context"
	"encoding/json"
	"time"

	"github.com/iscsdk/iscsdk/internal/wire"
)

// OpenCloudFile lets the user pick a cloud file in a picker page of the
// service, then opens it like OpenCloudPath, with the open type the user
// chose there. It returns a request id at once. A Picker event with that
// id carries the page's URL (url; also pickerId, mode, expires, and
// browser: "opened", "off" or "failed"), which the SDK opens in the
// user's default browser unless Config.NoBrowser; a host with its own web
// view may show the URL there instead. The outcome is the OpenFile event
// of that id, as for OpenCloudPath; a cancelled picker reports status
// "failed" with errorCode "cancelled", an unused one "expired".
func (d *Desk) OpenCloudFile(comeBack json.RawMessage) (uint64, error) {
	c := d.c
	if c.shut.Load() {
		return 0, ErrShutOut
	}
	cb, err := checkComeBack(comeBack)
	if err != nil {
		return 0, err
	}
	id := c.nextRequest.Add(1)
	c.goAsync(func(ctx context.Context) {
		p, err := c.pick(ctx, id, wire.PickerOpen{Mode: wire.PickerModeOpen, RequestID: id}, d.pickerEvent(id, cb))
		if err != nil {
			code, msg := pickerErrorCode(err)
			c.emit(Event{Type: EventOpenCloudFile, RequestID: id, Operate: EventOpenCloudFile.String(), ComeBack: cb,
				Params: map[string]string{"status": "failed", "errorCode": code, "errorMsg": msg}})
			return
		}
		openType := OpenOnly
		if p["openType"] == "OpenAndCheckout" {
			openType = OpenAndCheckout
		}
		d.reportOpen(ctx, id, p["cloudPath"], openType, cb)
	})
	return id, nil
}

// SelectSaveAsPath lets the user pick a cloud folder and name for a local
// file (or assembly folder) in a picker page, then saves it there like
// SaveAs. Like OpenCloudFile it raises a Picker event; the outcome is the
// SaveResult event of the returned request id.
func (d *Desk) SelectSaveAsPath(localPath string, assembly bool, comeBack json.RawMessage) (uint64, error) {
	c := d.c
	abs, cb, err := d.checkLocal(localPath, comeBack)
	if err != nil {
		return 0, err
	}
	id := c.nextRequest.Add(1)
	c.goAsync(func(ctx context.Context) {
		failed := func(err error) {
			code, msg := pickerErrorCode(err)
			c.emit(Event{Type: EventSaveResult, RequestID: id, Operate: EventSaveResult.String(), ComeBack: cb,
				Params: map[string]string{"status": "failed", "errorCode": code, "errorMsg": msg, "localPath": abs}})
		}
		p, err := c.pickSaveAs(ctx, id, abs, PickOptions{Assembly: assembly, Shown: d.pickerEvent(id, cb)})
		if err != nil {
			failed(err)
			return
		}
		d.reportSave(ctx, id, abs, p.CloudPath, assembly, cb)
	})
	return id, nil
}

// pickerEvent tells the host of a picker page with the Picker event of
// request id.
func (d *Desk) pickerEvent(id uint64, cb json.RawMessage) func(PickerPage) {
	return func(p PickerPage) {
		d.c.emit(Event{Type: EventPicker, RequestID: id, Operate: EventPicker.String(), ComeBack: cb, Params: map[string]string{
			"url": p.URL, "pickerId": p.ID, "mode": p.Mode, "browser": p.Browser, "expires": p.Expires.UTC().Format(time.RFC3339)}})
	}
}
