package sdk

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
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

// PickerPage is a picker page of the service, made for one pick.
type PickerPage struct {
	URL     string // http(s), usable once, until Expires
	ID      string
	Mode    string // "open" or "save"
	Expires time.Time
	// Browser says what the SDK did with it: "opened" (in the user's
	// default browser), "off" (Config.NoBrowser) or "failed".
	Browser string
}

// PickOptions tune a pick.
type PickOptions struct {
	// Assembly: PickSaveAs's local path is an assembly folder.
	Assembly bool
	// Shown, when set, is called with the page once it exists and before
	// the user picks: a host with its own web view may show it there.
	Shown func(PickerPage)
}

// Picked is what the user chose in a picker page.
type Picked struct {
	CloudPath string
	Checkout  bool // PickFile: the user chose to open it checked out
}

// PickFile lets the user pick a cloud file in a picker page of the
// service (opened in the user's default browser unless Config.NoBrowser)
// and waits for the pick: the cloud file and whether the user chose to
// check it out (then OpenFile opens it). Cancel in the page is
// ErrPickerCancelled; a page nobody used before it expired,
// ErrPickerExpired.
func (c *Client) PickFile(ctx context.Context, opt PickOptions) (Picked, error) {
	if c.shut.Load() {
		return Picked{}, ErrShutOut
	}
	id := c.nextRequest.Add(1)
	p, err := c.pick(ctx, id, wire.PickerOpen{Mode: wire.PickerModeOpen, RequestID: id}, opt.Shown)
	if err != nil {
		return Picked{}, err
	}
	return Picked{CloudPath: p["cloudPath"], Checkout: p["openType"] == "OpenAndCheckout"}, nil
}

// PickSaveAs lets the user pick a cloud folder and name for a local file
// (or assembly folder: opt.Assembly) in a picker page and waits for the
// pick (then SaveAs saves it there). A local file that is not there is
// refused before any page is shown.
func (c *Client) PickSaveAs(ctx context.Context, localPath string, opt PickOptions) (Picked, error) {
	if c.shut.Load() {
		return Picked{}, ErrShutOut
	}
	abs, err := localArg(localPath)
	if err != nil {
		return Picked{}, err
	}
	id := c.nextRequest.Add(1)
	return c.pickSaveAs(ctx, id, abs, opt)
}

func (c *Client) pickSaveAs(ctx context.Context, id uint64, abs string, opt PickOptions) (Picked, error) {
	// Nothing to save: say so before the user picks a place for it.
	if _, err := os.Stat(abs); err != nil {
		return Picked{}, err
	}
	req := wire.PickerOpen{Mode: wire.PickerModeSave, LocalName: filepath.Base(abs), Assembly: opt.Assembly, RequestID: id}
	p, err := c.pick(ctx, id, req, opt.Shown)
	if err != nil {
		return Picked{}, err
	}
	return Picked{CloudPath: p["cloudPath"]}, nil
}

// pick asks the service for a picker, shows it, and waits for the user's
// pick; it returns the PickerResult's params.
func (c *Client) pick(ctx context.Context, id uint64, req wire.PickerOpen, shown func(PickerPage)) (map[string]string, error) {
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
	if shown != nil {
		shown(PickerPage{URL: u, ID: opened.PickerID, Mode: req.Mode, Expires: opened.Expires, Browser: browser})
	}

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
