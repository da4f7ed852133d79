// Package adminapi is the operator's HTTP API of iscd: its request and reply
// types, and a client for them (used by iscctl and tests). The handlers live
// in internal/server/admin and the service packages, which map their store
// records to these types; this package and its clients import no storage
// or server package (a test holds them to it).
//
// Every call carries "Authorization: Bearer <admin token>". Failures answer
// with a non-2xx status and {"error": {"code": ..., "message": ...}}.
package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/wire"
)

// Prefix is the path prefix of every admin endpoint.
const Prefix = "/admin/v1"

// Requests.
type (
	// CreateOrg is the body of POST /admin/v1/orgs.
	CreateOrg struct {
		ID   string `json:"id,omitempty"` // optional; generated when empty
		Name string `json:"name"`
	}
	// CreateUser is the body of POST /admin/v1/users.
	CreateUser struct {
		ID    string `json:"id,omitempty"`
		OrgID string `json:"orgId"`
		Name  string `json:"name"`
		Email string `json:"email,omitempty"`
		// Role in the organisation: UserRole (default) or UserRoleAdmin,
		// whose holder sees the organisation in the console.
		Role string `json:"role,omitempty"`
	}
	// CreateToken is the body of POST /admin/v1/tokens.
	CreateToken struct {
		UserID string `json:"userId"`
		Name   string `json:"name,omitempty"`
	}
	// CreateProduct is the body of POST /admin/v1/products.
	CreateProduct struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		// RequireLicense: what needs an active licence of the product
		// (docs/licensing.md); nil leaves it undecided.
		RequireLicense *LicenseGates `json:"requireLicense,omitempty"`
	}
	// UpdateProduct is the body of PATCH /admin/v1/products/{id}: the
	// fields given are changed, the others stay.
	UpdateProduct struct {
		Name           *string       `json:"name,omitempty"`
		RequireLicense *LicenseGates `json:"requireLicense,omitempty"`
	}
	// Notice is the body of POST /admin/v1/notices: a message pushed to
	// every matching session (connected now, or resuming later).
	Notice struct {
		ProductID string `json:"product,omitempty"`
		OrgID     string `json:"org,omitempty"`
		UserID    string `json:"user,omitempty"`
		SessionID string `json:"session,omitempty"`
		Title     string `json:"title"`
		Text      string `json:"text"`
	}
	// UnlockFile is the body of POST /admin/v1/files/unlock: break the
	// check-out of an organisation's cloud file.
	UnlockFile struct {
		OrgID string `json:"orgId"`
		Path  string `json:"path"` // a cloud path, /folder/part.prt
	}
	// Storage answers GET /admin/v1/files/storage?org=ID: what an
	// organisation's cloud files hold. LogicalBytes is every version's
	// bytes as saved; StoredBytes those of the distinct chunks they are
	// made of (before compression): deduplication is the difference.
	Storage struct {
		OrgID        string `json:"orgId"`
		Versions     int    `json:"versions"` // every version kept, of every file and assembly
		LogicalBytes int64  `json:"logicalBytes"`
		StoredChunks int    `json:"storedChunks"`
		StoredBytes  int64  `json:"storedBytes"`
	}
)

// Replies.
type (
	// NewToken answers CreateToken; Token is shown this once and never stored.
	NewToken struct {
		Token
		Secret string `json:"token"`
	}
	// NoticeSent answers Notice.
	NoticeSent struct {
		Sessions int `json:"sessions"`
	}
)

// Client calls the admin API.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:7400
	Token   string
	HTTP    *http.Client
}

// Error is a failed admin call.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status) }

// Do sends method path with body (nil for none) and decodes the reply into out.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	return c.send(ctx, method, path, "application/json", b, body != nil, out)
}

// DoRaw is Do with a body of raw bytes (application/octet-stream): a
// release's chunk.
func (c *Client) DoRaw(ctx context.Context, method, path string, body []byte, out any) error {
	return c.send(ctx, method, path, "application/octet-stream", body, true, out)
}

func (c *Client) send(ctx context.Context, method, path, contentType string, b []byte, hasBody bool, out any) error {
	var rd io.Reader
	if hasBody {
		rd = bytes.NewReader(b)
	}
	base := strings.TrimRight(c.BaseURL, "/")
	if _, err := url.Parse(base); err != nil || base == "" {
		return fmt.Errorf("admin URL %q is not a URL", c.BaseURL)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+Prefix+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if hasBody {
		req.Header.Set("Content-Type", contentType)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read reply: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error wire.Error `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error.Message == "" {
			e.Error = wire.Error{Code: "http", Message: strings.TrimSpace(resp.Status + " " + string(data))}
		}
		return &Error{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out != nil && len(data) > 0 { // 204 No Content leaves out as it is
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode reply: %w", method, path, err)
		}
	}
	return nil
}

// A user's role in their organisation (User.Role, CreateUser.Role): the
// marketplace's authSync roles.
const (
	UserRole      = "user"
	UserRoleAdmin = "admin"
)

// Licences.
type (
	// CreateLicense is the body of POST /admin/v1/licenses.
	CreateLicense struct {
		ID           string    `json:"id,omitempty"`
		OrgID        string    `json:"orgId"`
		ProductID    string    `json:"productId"`
		Edition      string    `json:"edition,omitempty"`
		Features     []string  `json:"features,omitempty"`
		Kind         string    `json:"kind,omitempty"` // floating (default) or node-locked
		Seats        int       `json:"seats"`
		EffectiveAt  time.Time `json:"effectiveAt,omitzero"`
		ExpiresAt    time.Time `json:"expiresAt,omitzero"` // zero: perpetual
		GraceSeconds int64     `json:"graceSeconds,omitempty"`
		// OfflineGraceSeconds: how long a lease stays usable while iscd is
		// unreachable; 0 means the default (licensing.DefaultOfflineGrace).
		OfflineGraceSeconds int64 `json:"offlineGraceSeconds,omitempty"`
		Trial               bool  `json:"trial,omitempty"`
	}
	// UpdateLicense is the body of PATCH /admin/v1/licenses/{id}
	// (licenses): a renewal or an upgrade. A field left out stays as it
	// is; it answers the licence. Sessions learn the new terms when they
	// next renew their lease.
	UpdateLicense struct {
		ExpiresAt *time.Time `json:"expiresAt,omitempty"` // the zero time: perpetual
		Seats     *int       `json:"seats,omitempty"`
	}
	// LicenseDetail answers GET /admin/v1/licenses/{id}.
	LicenseDetail struct {
		License    License `json:"license"`
		SeatsInUse []Seat  `json:"seatsInUse"`
	}
	// PublicKeys answers GET /admin/v1/products/{id}/keys: the keys a
	// program compiles in to verify licences offline, oldest first.
	PublicKeys struct {
		ProductID string   `json:"productId"`
		Keys      []string `json:"keys"`
	}
)

// Releases (docs/upgrades.md). A package is published in three steps, as
// cloud files are saved: ask which chunks are missing, put those, then
// publish the release with its manifest.
//
//	POST   /admin/v1/releases/{product}/chunks/have    body ChunkIDs; reply ChunkIDs (the missing ones)
//	PUT    /admin/v1/releases/{product}/chunks/{id}    body: the encoded chunk; 204
//	POST   /admin/v1/releases                          body PublishRelease; reply Release
//	GET    /admin/v1/releases?product=P[&platform=X]   reply []Release, newest first
//	DELETE /admin/v1/releases/{product}/{platform}/{version}   withdraw; 204
type (
	// ChunkIDs is a list of hex chunk ids.
	ChunkIDs struct {
		IDs []string `json:"ids"`
	}
	// PublishRelease is the body of POST /admin/v1/releases. The package's
	// chunks must be stored first; iscd checks the manifest against them.
	// KeyID and Signature are the vendor's offline signature of the
	// release's statement (internal/release; iscctl release sign): iscd
	// stores and serves them, and programs verify them.
	PublishRelease struct {
		ProductID      string `json:"productId"`
		Platform       string `json:"platform"` // GOOS-GOARCH, e.g. windows-amd64
		Version        string `json:"version"`
		Notes          string `json:"notes,omitempty"`
		Forced         bool   `json:"forced,omitempty"`
		MinSupported   string `json:"minSupported,omitempty"`
		FileName       string `json:"fileName"`
		InstallCommand string `json:"installCommand,omitempty"` // "" is "{package}"
		Manifest       []byte `json:"manifest"`                 // the encoded manifest of the one file
		KeyID          string `json:"keyId"`                    // the release key that signed it
		Signature      string `json:"signature"`                // Ed25519 over the statement, base64url
	}
	// ReleasePublished answers POST /admin/v1/releases.
	ReleasePublished struct {
		Release Release `json:"release"`
		// Pushed counts the sessions told at once (a forced release).
		Pushed int `json:"pushed"`
	}
)
