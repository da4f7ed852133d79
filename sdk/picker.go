package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/cloudpath"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Outcomes of a picker that are not errors of the service.
var (
	// ErrPickerCancelled: the user pressed Cancel in the picker
	// (errorCode "cancelled").
	ErrPickerCancelled = errors.New("iscsdk: the picker was cancelled")
	// ErrPickerExpired: nobody picked before the link expired
	// (errorCode "expired").
	ErrPickerExpired = errors.New("iscsdk: the picker link expired before anything was picked")
)

// pickerGrace is how long past its link's life a picker is waited for.
const pickerGrace = time.Minute

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
		p, err := c.pick(ctx, id, wire.PickerOpen{Mode: wire.PickerModeOpen, RequestID: id}, cb)
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
		c.reportOpen(ctx, id, p["cloudPath"], openType, cb)
	})
	return id, nil
}

// SelectSaveAsPath lets the user pick a cloud folder and name for a local
// file (or assembly folder) in a picker page, then saves it there like
// SaveAs. Like OpenCloudFile it raises a Picker event; the outcome is the
// SaveResult event of the returned request id.
func (d *Desk) SelectSaveAsPath(localPath string, assembly bool, comeBack json.RawMessage) (uint64, error) {
	c := d.c
	abs, cb, err := c.checkLocal(localPath, comeBack)
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
		// Nothing to save: say so before the user picks a place for it.
		if _, err := os.Stat(abs); err != nil {
			failed(err)
			return
		}
		req := wire.PickerOpen{Mode: wire.PickerModeSave, LocalName: filepath.Base(abs), Assembly: assembly, RequestID: id}
		p, err := c.pick(ctx, id, req, cb)
		if err != nil {
			failed(err)
			return
		}
		c.reportSave(ctx, id, abs, p["cloudPath"], assembly, cb)
	})
	return id, nil
}

// pick asks the service for a picker, shows it, and waits for the user's
// pick; it returns the PickerResult's params.
func (c *Client) pick(ctx context.Context, id uint64, req wire.PickerOpen, cb json.RawMessage) (map[string]string, error) {
	got := c.pickers.wait(id)
	defer c.pickers.forget(id)
	var opened wire.PickerOpened
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	err := c.call(cctx, wire.OpPickerOpen, req, &opened)
	cancel()
	if err != nil {
		return nil, err
	}
	u, err := c.pickerURL(opened.URL)
	if err != nil {
		return nil, err
	}
	browser := "off"
	if !c.cfg.NoBrowser {
		browser = "opened"
		if err := openBrowser(u); err != nil {
			c.log.Warn("open the browser", "err", err)
			browser = "failed"
		}
	}
	c.log.Info("picker", "request", id, "picker", opened.PickerID, "mode", req.Mode, "browser", browser)
	c.emit(Event{Type: EventPicker, RequestID: id, Operate: EventPicker.String(), ComeBack: cb, Params: map[string]string{
		"url": u, "pickerId": opened.PickerID, "mode": req.Mode, "browser": browser,
		"expires": opened.Expires.UTC().Format(time.RFC3339)}})

	ttl := time.Duration(opened.TTLSeconds) * time.Second
	if ttl <= 0 {
		ttl = 15 * time.Minute
	}
	timer := time.NewTimer(ttl + pickerGrace)
	defer timer.Stop()
	var e Event
	select {
	case e = <-got:
	case <-timer.C:
		return nil, ErrPickerExpired
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p := e.Params
	switch p["status"] {
	case wire.PickerCancelled:
		return nil, ErrPickerCancelled
	case wire.PickerPicked:
	default:
		return nil, fmt.Errorf("%w: picker status %q", ErrProtocol, p["status"])
	}
	if _, err := cloudpath.Check(p["cloudPath"]); err != nil {
		return nil, fmt.Errorf("%w: picked %v", ErrProtocol, err)
	}
	return p, nil
}

// pickerURL makes the service's picker URL absolute (it is relative to the
// endpoint, whose ws/wss scheme reads as http/https) and refuses anything
// but http(s): the URL goes to the system's URL handler.
func (c *Client) pickerURL(ref string) (string, error) {
	base, err := url.Parse(c.url)
	if err != nil {
		return "", err
	}
	switch base.Scheme {
	case "ws":
		base.Scheme = "http"
	case "wss":
		base.Scheme = "https"
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("%w: picker url: %v", ErrProtocol, err)
	}
	u := base.ResolveReference(r)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: picker url %q is not http(s)", ErrProtocol, ref)
	}
	return u.String(), nil
}

func pickerErrorCode(err error) (string, string) {
	switch {
	case errors.Is(err, ErrPickerCancelled):
		return "cancelled", err.Error()
	case errors.Is(err, ErrPickerExpired):
		return "expired", err.Error()
	case errors.Is(err, context.Canceled):
		return "shut_out", "the client shut out before anything was picked"
	}
	return errorCode(err)
}

// pickerWaits hands PickerResult events to the pickers waiting for them,
// by request id.
type pickerWaits struct {
	mu sync.Mutex
	m  map[uint64]chan Event
}

func (w *pickerWaits) wait(id uint64) <-chan Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[uint64]chan Event{}
	}
	ch := make(chan Event, 1)
	w.m[id] = ch
	return ch
}

func (w *pickerWaits) forget(id uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, id)
}

// deliver takes e if it is a PickerResult, and reports whether it was.
// A result nobody waits for (its picker gave up) is dropped.
func (w *pickerWaits) deliver(e Event) bool {
	if e.Type != EventPicker || e.Operate != wire.OperatePickerResult {
		return false
	}
	w.mu.Lock()
	ch := w.m[e.RequestID]
	delete(w.m, e.RequestID)
	w.mu.Unlock()
	if ch != nil {
		ch <- e // buffered: never blocks
	}
	return true
}

// openBrowser opens u in the user's default browser, in the background:
// it never waits for the browser and never writes to the host's stdout
// or stderr (the child's are the null device).
func openBrowser(u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	case "darwin":
		cmd = exec.Command("open", u)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(cmd.Path), err)
	}
	go cmd.Wait() // reap it whenever it ends
	return nil
}
