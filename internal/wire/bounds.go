package wire

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
