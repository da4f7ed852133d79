package store

import (
	"context"
	"time"
)

// Release is one published upgrade package of a product for one platform.
// Releases belong to a product, not to an org: every org's programs of
// the product are offered them. The package's chunks are in the chunk
// store under the namespace ReleaseChunks(ProductID); its manifest is kept
// beside the release (PutRelease, ReleaseManifest).
type Release struct {
	ProductID string `json:"productId"`
	Platform  string `json:"platform"` // GOOS-GOARCH: windows-amd64, linux-amd64, ...
	Version   string `json:"version"`  // semantic version, canonical form (internal/semver)
	Notes     string `json:"notes,omitempty"`
	// Forced: every program older than Version must upgrade.
	Forced bool `json:"forced,omitempty"`
	// MinSupported: a program older than this must upgrade (forced), even
	// when the release itself is optional. "" for none.
	MinSupported   string    `json:"minSupported,omitempty"`
	FileName       string    `json:"fileName"`
	Size           int64     `json:"size"`
	SHA256         string    `json:"sha256"` // of the package, lower-case hex
	InstallCommand string    `json:"installCommand"`
	KeyID          string    `json:"keyId"`     // the vendor's release key that signed it
	Signature      string    `json:"signature"` // Ed25519 over internal/release.Statement, base64url, made offline
	Published      time.Time `json:"published"`
	PublishedBy    string    `json:"publishedBy,omitempty"` // who published it ("admin": the admin API)
}

// ReleaseChunks is the chunk store namespace of a product's release
// packages. It starts with '_', which no org id can (they start with a
// letter or digit), so it never meets an org's cloud files, and the
// org-by-org chunk collection never visits it.
func ReleaseChunks(productID string) string { return "_release." + productID }

// Releases holds the release catalogue.
type Releases interface {
	// PutRelease stores a new release and its manifest (the encoded
	// internal/manifest of its one file); ErrExists if the product already
	// has that version for that platform (a withdrawn one included: a
	// version number is never reused for other bytes).
	PutRelease(ctx context.Context, r Release, manifest []byte) error
	// Release returns one release; ErrNotFound if there is none (or it
	// was withdrawn).
	Release(ctx context.Context, productID, platform, version string) (Release, error)
	// ReleaseManifest returns a release's manifest.
	ReleaseManifest(ctx context.Context, productID, platform, version string) ([]byte, error)
	// ListReleases returns a product's releases that are not withdrawn;
	// platform "" lists every platform. Order is unspecified: callers sort
	// by semantic version.
	ListReleases(ctx context.Context, productID, platform string) ([]Release, error)
	// WithdrawRelease takes a release out of the catalogue (it is offered
	// no more; programs that staged it may still install it). Its manifest
	// goes; a record that the version existed stays (see PutRelease).
	// ErrNotFound if there is no such release.
	WithdrawRelease(ctx context.Context, productID, platform, version string) error
	// ReleaseManifests calls fn with the manifest of every release of the
	// product that is not withdrawn (for collecting its chunks).
	ReleaseManifests(ctx context.Context, productID string, fn func([]byte) error) error
}
