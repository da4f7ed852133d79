package wire

// Upgrades (docs/upgrades.md). A client asks whether its product has a
// newer release for its platform (upgrades.check, answered with an
// UpgradeOffer), then fetches the package's manifest (upgrades.manifest,
// answered by a BinManifest frame) and its chunks (upgrades.chunk, body
// FilesChunk, answered by BinChunkData frames), as cloud files are opened.
const (
	OpUpgradesCheck    = "upgrades.check"    // body: UpgradesCheck; result: UpgradeOffer
	OpUpgradesManifest = "upgrades.manifest" // body: UpgradeRef; answered by a BinManifest frame
	OpUpgradesChunk    = "upgrades.chunk"    // body: FilesChunk; answered by a BinChunkData frame
)

// KindUpgradeResult is the event the SDK raises at Init about the upgrade
// installed after the program last exited (ISCSDK_EVENT_UPGRADE_RESULT).
// The SDK makes it; the service never sends it.
const KindUpgradeResult int32 = 15

// CodeBadVersion: the program's version (at hello) is not a semantic version.
const CodeBadVersion = "bad_version"

// UpgradesCheck asks for the newest release for Platform (GOOS-GOARCH)
// newer than the session's app version.
type UpgradesCheck struct {
	Platform string `json:"platform"`
}

// UpgradeRef names a release of the session's product.
type UpgradeRef struct {
	Platform string `json:"platform"`
	Version  string `json:"version"`
}

// UpgradeOffer answers upgrades.check. With Available false only
// Current is set. The fields from FileName to InstallCommand, with
// Product, Platform and Version, are the signed statement
// (internal/release.Statement); KeyID and Signature its signature.
type UpgradeOffer struct {
	Available bool   `json:"available"`
	Current   string `json:"current"` // the session's app version
	Forced    bool   `json:"forced,omitempty"`
	// ForcedBy says why an upgrade is forced: "release" (a release newer
	// than the program is forced) or "minimum" (the program is older than
	// a release's minimum supported version).
	ForcedBy       string `json:"forcedBy,omitempty"`
	Product        string `json:"product,omitempty"`
	Platform       string `json:"platform,omitempty"`
	Version        string `json:"version,omitempty"`
	Notes          string `json:"notes,omitempty"`
	FileName       string `json:"fileName,omitempty"`
	Size           int64  `json:"size,omitempty"`
	SHA256         string `json:"sha256,omitempty"`
	InstallCommand string `json:"installCommand,omitempty"`
	KeyID          string `json:"keyId,omitempty"`
	Signature      string `json:"signature,omitempty"`
}
