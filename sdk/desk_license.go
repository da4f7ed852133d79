package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/iscsdk/iscsdk/internal/wire"
)

// GetLicenseStringRequest asks the service for a licence for this device
// (devInfo; "" means DeviceInfo()), like Client.RequestLicense. It returns
// at once; the answer arrives as a LicenseVerify event carrying the
// returned request id and comeBack: Status "success" with LicenseType
// "string" and LicenseContent, or Status "failed" with errorCode and
// errorMsg. A floating licence's lease is then renewed in the background
// until ShutOut (LicenseState events).
func (d *Desk) GetLicenseStringRequest(devInfo string, comeBack json.RawMessage) (uint64, error) {
	return d.requestLicense(LicenseOptions{Device: devInfo}, comeBack)
}

// GetLicenseFileRequest is GetLicenseStringRequest delivered as a file:
// the licence string is written atomically to fileName (a relative name is
// taken inside the workspace's "licenses" directory and may not leave it)
// and the event carries LicenseType "file" and LicenseFilePath.
func (d *Desk) GetLicenseFileRequest(fileName, devInfo string, comeBack json.RawMessage) (uint64, error) {
	if fileName == "" {
		return 0, fmt.Errorf("%w: no file name", ErrInvalidArgument)
	}
	return d.requestLicense(LicenseOptions{Device: devInfo, File: fileName}, comeBack)
}

func (d *Desk) requestLicense(opt LicenseOptions, comeBack json.RawMessage) (uint64, error) {
	c := d.c
	if c.shut.Load() {
		return 0, ErrShutOut
	}
	dev, path, err := c.licenseOptions(opt)
	if err != nil {
		return 0, err
	}
	cb, err := checkComeBack(comeBack)
	if err != nil {
		return 0, err
	}
	id := c.nextRequest.Add(1)
	c.goAsync(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		l, err := c.requestLicense(ctx, dev, path)
		if err != nil {
			c.emit(licenseFailure(id, cb, path, err))
			return
		}
		p := map[string]string{"Status": "success", "licenseId": l.ID, "kind": l.Kind}
		if path != "" {
			p["LicenseType"], p["LicenseFilePath"] = "file", path
		} else {
			p["LicenseType"], p["LicenseContent"] = "string", l.Content
		}
		if !l.LeaseExpiresAt.IsZero() {
			p["leaseExpiresAt"] = l.LeaseExpiresAt.UTC().Format(time.RFC3339)
		}
		if !l.ExpiresAt.IsZero() {
			p["expiresAt"] = l.ExpiresAt.UTC().Format(time.RFC3339)
		}
		c.emit(Event{Type: EventLicenseVerify, RequestID: id, Operate: EventLicenseVerify.String(), Params: p, ComeBack: cb})
	})
	return id, nil
}

// licenseFailure is the failed LicenseVerify event for err.
func licenseFailure(id uint64, cb json.RawMessage, filePath string, err error) Event {
	code, msg := "internal", err.Error()
	var we *wire.Error
	switch {
	case errors.As(err, &we):
		code, msg = we.Code, we.Message
	case errors.Is(err, ErrDisconnected):
		code = "unreachable"
	case errors.Is(err, os.ErrPermission), errors.As(err, new(*os.PathError)):
		code = "file_error"
	}
	p := map[string]string{"Status": "failed", "LicenseType": "string", "errorCode": code, "errorMsg": msg}
	if filePath != "" {
		p["LicenseType"], p["LicenseFilePath"] = "file", filePath
	}
	return Event{Type: EventLicenseVerify, RequestID: id, Operate: EventLicenseVerify.String(), Params: p, ComeBack: cb}
}

// LicenseVerifyNotify reports the program's own verdict on the licence it
// received (verified, or not with errorMsg) to the service's audit log,
// like Client.ReportLicenseCheck. It returns at once; the report is sent
// when the client is connected, even if ShutOut follows at once.
func (d *Desk) LicenseVerifyNotify(verified bool, errorMsg string) error {
	c := d.c
	if c.shut.Load() {
		return ErrShutOut
	}
	if err := checkText("error_msg", errorMsg, 4096); err != nil {
		return err
	}
	n := wire.LicenseNotify{Verified: verified, Message: errorMsg, LicenseID: c.licenses.latest()}
	c.goReport(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		if err := c.reportLicenseCheck(ctx, n); err != nil {
			c.log.Warn("licence verify notify not delivered", "err", err)
		}
	})
	return nil
}
