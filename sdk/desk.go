package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/iscsdk/iscsdk/internal/cloudpath"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Desk is the call surface of the SDK that CAD vendors already integrate
// (the ISCDesk client SDK; docs/architecture.md, "Two surfaces"), kept so
// that a program ported from it changes names, not logic: Init first,
// RegisterEventRecall, then calls that return a request id at once and
// answer with an event carrying that id and the caller's come-back JSON,
// parameters as strings, ShutOut last. The C ABI (capi) is built on it.
//
// A Desk is a view of a Client: every Desk of one Client shares its
// session, events and request ids, and Client returns the Client for the
// calls Desk does not have (listing, history, sign-in). Its methods may be
// called from any goroutine.
type Desk struct{ c *Client }

// NewDesk returns the Desk surface of c.
func NewDesk(c *Client) *Desk { return &Desk{c: c} }

// InitDesk is Init for a program ported from the SDK Desk mirrors: it
// connects like Init and returns the Desk of the new Client.
func InitDesk(ctx context.Context, cfg Config) (*Desk, error) {
	c, err := Init(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return NewDesk(c), nil
}

// Client returns the Client d is a view of.
func (d *Desk) Client() *Client { return d.c }

// RegisterEventRecall sets the function that receives events, one at a
// time and in order, on a goroutine of the SDK (Client.OnEvent). fn == nil
// queues events for PollEvent instead. When it returns, a callback in
// progress with the previous function has finished (unless it is called
// from that callback).
func (d *Desk) RegisterEventRecall(fn func(Event)) error { return d.c.OnEvent(fn) }

// PollEvent returns the next event while no callback is registered,
// waiting until ctx is done (ErrTimeout).
func (d *Desk) PollEvent(ctx context.Context) (Event, error) { return d.c.PollEvent(ctx) }

// ShutOut ends the session and frees everything (Client.Close): no
// callback runs after it returns, and it may be called from inside the
// callback. A second call returns ErrShutOut.
func (d *Desk) ShutOut() error { return d.c.Close() }

// Save saves a local file (or assembly folder) back to where it came from
// in the cloud, like Client.Save. It returns at once; a SaveResult event
// with the returned request id reports the outcome (status, cloudPath,
// version, bytesTotal, bytesSent, chunksTotal, chunksSent, filesRead;
// errorCode and errorMsg on failure). TransferProgress events report
// progress.
func (d *Desk) Save(localPath string, assembly bool, comeBack json.RawMessage) (uint64, error) {
	abs, cb, err := d.checkLocal(localPath, comeBack)
	if err != nil {
		return 0, err
	}
	return d.startSave(abs, "", assembly, cb), nil
}

// SaveAs saves a local file (or assembly folder) as cloudPath: a new cloud
// file, or a new version of an existing one, like Client.SaveAs. Like
// Save, it reports with a SaveResult event.
func (d *Desk) SaveAs(localPath, cloudPath string, assembly bool, comeBack json.RawMessage) (uint64, error) {
	abs, cb, err := d.checkLocal(localPath, comeBack)
	if err != nil {
		return 0, err
	}
	cp, err := cloudpath.Check(cloudPath)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	return d.startSave(abs, cp, assembly, cb), nil
}

// checkLocal checks the arguments every call on a local file takes.
func (d *Desk) checkLocal(localPath string, comeBack json.RawMessage) (string, json.RawMessage, error) {
	if d.c.shut.Load() {
		return "", nil, ErrShutOut
	}
	abs, err := localArg(localPath)
	if err != nil {
		return "", nil, err
	}
	cb, err := checkComeBack(comeBack)
	if err != nil {
		return "", nil, err
	}
	return abs, cb, nil
}

func (d *Desk) startSave(localPath, cloudPath string, assembly bool, cb json.RawMessage) uint64 {
	id := d.c.nextRequest.Add(1)
	d.c.goAsync(func(ctx context.Context) { d.reportSave(ctx, id, localPath, cloudPath, assembly, cb) })
	return id
}

// reportSave saves (back where it came from when cloudPath is "") and
// reports the outcome as the SaveResult event of request id (Save, SaveAs,
// SelectSaveAsPath).
func (d *Desk) reportSave(ctx context.Context, id uint64, localPath, cloudPath string, assembly bool, cb json.RawMessage) {
	c := d.c
	ctx, cancel := context.WithTimeout(ctx, transferTimout)
	defer cancel()
	opt := SaveOptions{Assembly: assembly, Progress: c.progressEvents(id)}
	var res SaveResult
	var err error
	if cloudPath == "" {
		res, err = c.Save(ctx, localPath, opt)
	} else {
		res, err = c.SaveAs(ctx, localPath, cloudPath, opt)
	}
	p := map[string]string{"status": "success", "cloudPath": res.CloudPath, "localPath": localPath}
	if err != nil {
		code, msg := errorCode(err)
		p = map[string]string{"status": "failed", "errorCode": code, "errorMsg": msg, "localPath": localPath}
		if cloudPath != "" {
			p["cloudPath"] = cloudPath
		}
	} else {
		p["version"] = strconv.Itoa(res.Version)
		p["bytesTotal"] = strconv.FormatInt(res.Size, 10)
		p["bytesSent"] = strconv.FormatInt(res.BytesSent, 10)
		p["chunksTotal"] = strconv.Itoa(res.ChunksTotal)
		p["chunksSent"] = strconv.Itoa(res.ChunksSent)
		p["filesRead"] = strconv.Itoa(res.FilesRead)
	}
	c.emit(Event{Type: EventSaveResult, RequestID: id, Operate: EventSaveResult.String(), Params: p, ComeBack: cb})
}

// progressEvents reports a transfer as TransferProgress events.
func (c *Client) progressEvents(id uint64) func(Progress) {
	return func(p Progress) {
		c.emit(Event{Type: EventTransferProgress, RequestID: id, Operate: EventTransferProgress.String(), Params: map[string]string{
			"path": p.Path, "bytesDone": strconv.FormatInt(p.BytesDone, 10), "bytesTotal": strconv.FormatInt(p.BytesTotal, 10)}})
	}
}

// Open types of OpenCloudPath, as the C ABI numbers them.
const (
	OpenOnly        = 0 // workState CHECKIN: read only, cannot be saved back
	OpenAndCheckout = 1 // workState CHECKOUT: exclusive edit lock
)

// OpenCloudPath downloads a cloud file into the workspace; an OpenFile
// event with the returned request id reports mainFile (the local path),
// openType, workState, assembly, cloudPath, version, bytesFetched,
// chunksReused and filesRead, or errorCode and errorMsg.
func (d *Desk) OpenCloudPath(cloudPath string, openType int, comeBack json.RawMessage) (uint64, error) {
	c := d.c
	if c.shut.Load() {
		return 0, ErrShutOut
	}
	cp, err := cloudpath.Check(cloudPath)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	if openType != OpenOnly && openType != OpenAndCheckout {
		return 0, fmt.Errorf("%w: open type %d", ErrInvalidArgument, openType)
	}
	cb, err := checkComeBack(comeBack)
	if err != nil {
		return 0, err
	}
	id := c.nextRequest.Add(1)
	c.goAsync(func(ctx context.Context) { d.reportOpen(ctx, id, cp, openType, cb) })
	return id, nil
}

// reportOpen opens and reports the outcome as the OpenFile event of
// request id (OpenCloudPath, OpenCloudFile).
func (d *Desk) reportOpen(ctx context.Context, id uint64, cp string, openType int, cb json.RawMessage) {
	c := d.c
	ctx, cancel := context.WithTimeout(ctx, transferTimout)
	defer cancel()
	res, err := c.OpenFile(ctx, cp, OpenOptions{Checkout: openType == OpenAndCheckout, Progress: c.progressEvents(id)})
	p := map[string]string{"cloudPath": cp}
	if err != nil {
		code, msg := errorCode(err)
		p["status"], p["errorCode"], p["errorMsg"] = "failed", code, msg
	} else {
		p["status"] = "success"
		p["mainFile"], p["version"], p["assembly"] = res.MainFile, strconv.Itoa(res.Version), strconv.FormatBool(res.Assembly)
		p["openType"], p["workState"] = "OpenOnly", "CHECKIN"
		if res.CheckedOut {
			p["openType"], p["workState"] = "OpenAndCheckout", "CHECKOUT"
		}
		p["bytesFetched"], p["chunksReused"] = strconv.FormatInt(res.BytesFetched, 10), strconv.Itoa(res.ChunksReused)
		p["filesRead"] = strconv.Itoa(res.FilesRead)
	}
	c.emit(Event{Type: EventOpenCloudFile, RequestID: id, Operate: EventOpenCloudFile.String(), Params: p, ComeBack: cb})
}

// errorCode names an error for an event's errorCode.
func errorCode(err error) (string, string) {
	var we *wire.Error
	switch {
	case errors.As(err, &we):
		return we.Code, we.Message
	case errors.Is(err, ErrNotFromCloud):
		return "not_from_cloud", err.Error()
	case errors.Is(err, ErrCheckedIn):
		return "checked_in", err.Error()
	case errors.Is(err, ErrFileChanged):
		return "file_changed", err.Error()
	case errors.Is(err, ErrLocalChanges):
		return "local_changes", err.Error()
	case errors.Is(err, ErrBadArchive):
		return "bad_archive", err.Error()
	case errors.Is(err, ErrInvalidArgument):
		return "invalid_argument", err.Error()
	case errors.Is(err, fs.ErrNotExist):
		return "missing_file", err.Error()
	case errors.Is(err, fs.ErrPermission):
		return "unreadable", err.Error()
	case errors.Is(err, ErrDisconnected), errors.Is(err, context.DeadlineExceeded):
		return "unreachable", err.Error()
	}
	return "internal", err.Error()
}
