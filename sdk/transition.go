package sdk

import "encoding/json"

// The calls below moved to Desk (and ShutOut became Close; Save and SaveAs
// are Go calls now, with a context, and the Desk has the old ones). They stay on
// Client only while the branches written before the move are merged, and
// go before this session ends.

// Deprecated: use Close.
func (c *Client) ShutOut() error { return c.Close() }

// Deprecated: use OnEvent, or Desk.RegisterEventRecall.
func (c *Client) RegisterEventRecall(fn func(Event)) error { return c.OnEvent(fn) }

// Deprecated: use Desk.OpenCloudPath.
func (c *Client) OpenCloudPath(cloudPath string, openType int, comeBack json.RawMessage) (uint64, error) {
	return NewDesk(c).OpenCloudPath(cloudPath, openType, comeBack)
}

// Deprecated: use Desk.OpenCloudFile.
func (c *Client) OpenCloudFile(comeBack json.RawMessage) (uint64, error) {
	return NewDesk(c).OpenCloudFile(comeBack)
}

// Deprecated: use Desk.SelectSaveAsPath.
func (c *Client) SelectSaveAsPath(localPath string, assembly bool, comeBack json.RawMessage) (uint64, error) {
	return NewDesk(c).SelectSaveAsPath(localPath, assembly, comeBack)
}

// Deprecated: use Desk.GetLicenseStringRequest.
func (c *Client) GetLicenseStringRequest(devInfo string, comeBack json.RawMessage) (uint64, error) {
	return NewDesk(c).GetLicenseStringRequest(devInfo, comeBack)
}

// Deprecated: use Desk.GetLicenseFileRequest.
func (c *Client) GetLicenseFileRequest(fileName, devInfo string, comeBack json.RawMessage) (uint64, error) {
	return NewDesk(c).GetLicenseFileRequest(fileName, devInfo, comeBack)
}

// Deprecated: use Desk.LicenseVerifyNotify.
func (c *Client) LicenseVerifyNotify(verified bool, errorMsg string) error {
	return NewDesk(c).LicenseVerifyNotify(verified, errorMsg)
}

// Deprecated: use Desk.CheckNewVersions.
func (c *Client) CheckNewVersions() (uint64, error) { return NewDesk(c).CheckNewVersions() }

// Deprecated: use Desk.UpgradeNotify.
func (c *Client) UpgradeNotify(upgrade bool) error { return NewDesk(c).UpgradeNotify(upgrade) }

// Deprecated: use Desk.GetSolution.
func (c *Client) GetSolution(filePath, optionsJSON string, comeBack json.RawMessage) (uint64, error) {
	return NewDesk(c).GetSolution(filePath, optionsJSON, comeBack)
}

// Deprecated: use Desk.Cancel.
func (c *Client) Cancel(requestID uint64) error { return NewDesk(c).Cancel(requestID) }
