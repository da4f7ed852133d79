package wire

import (
	"strings"
	"unicode/utf8"
)

// Bounds of requests beyond the size of their message. The service's
// router checks them (Check) once a request is decoded, before any
// handler runs; a client may check before sending.

// MaxNotifyMessage bounds the message of a license.notify.
const MaxNotifyMessage = 4096

// Check refuses more chunk ids than MaxHaveBatch.
func (r FilesHave) Check() error { return checkHave(len(r.IDs)) }

// Check refuses more chunk ids than MaxHaveBatch.
func (r WorkerHave) Check() error { return checkHave(len(r.IDs)) }

func checkHave(n int) error {
	if n > MaxHaveBatch {
		return Errorf(CodeTooLarge, "more than %d chunk ids in one request", MaxHaveBatch)
	}
	return nil
}

// Check refuses a message longer than MaxNotifyMessage.
func (r LicenseNotify) Check() error {
	if len(r.Message) > MaxNotifyMessage {
		return Errorf(CodeTooLarge, "license.notify message longer than %d bytes", MaxNotifyMessage)
	}
	return nil
}

// MaxJobArg bounds one solver argument of a JobSubmit.
const MaxJobArg = 4096

// Check refuses more solver arguments than MaxJobArgs, and an argument
// longer than MaxJobArg, not UTF-8 or holding a NUL.
func (r JobSubmit) Check() error {
	if len(r.Args) > MaxJobArgs {
		return Errorf(CodeTooLarge, "more than %d solver arguments", MaxJobArgs)
	}
	for _, a := range r.Args {
		if len(a) > MaxJobArg || !utf8.ValidString(a) || strings.IndexByte(a, 0) >= 0 {
			return Errorf(CodeBadRequest, "a solver argument is longer than %d bytes, not UTF-8, or holds a NUL", MaxJobArg)
		}
	}
	return nil
}

// Check refuses a cursor longer than MaxCursorLen and a negative limit.
func (p Page) Check() error {
	switch {
	case len(p.Cursor) > MaxCursorLen:
		return Errorf(CodeBadRequest, "cursor longer than %d bytes", MaxCursorLen)
	case p.Limit < 0:
		return Errorf(CodeBadRequest, "negative page limit %d", p.Limit)
	}
	return nil
}

// Check checks the page asked for, if any (Page.Check).
func (r FilesList) Check() error { return checkPage(r.Page) }

// Check checks the page asked for, if any (Page.Check).
func (r FilesHistory) Check() error { return checkPage(r.Page) }

// Check checks the page asked for, if any (Page.Check).
func (r JobsList) Check() error { return checkPage(r.Page) }

func checkPage(p *Page) error {
	if p == nil {
		return nil
	}
	return p.Check()
}
