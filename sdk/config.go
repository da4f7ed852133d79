package sdk

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// DefaultConnectTimeout bounds Init's connection when Config.ConnectTimeout is 0.
const DefaultConnectTimeout = 10 * time.Second

// Environment variables read when a Config field is empty.
const (
	EnvEndpoint      = "ISCSDK_ENDPOINT"
	EnvToken         = "ISCSDK_TOKEN"
	EnvProduct       = "ISCSDK_PRODUCT"
	EnvCAFile        = "ISCSDK_CA_FILE"
	EnvLog           = "ISCSDK_LOG"
	EnvCreds         = "ISCSDK_CREDENTIALS"        // path of the credentials file
	EnvWorkspace     = "ISCSDK_WORKSPACE"          // the default workspace directory
	EnvNoBrowser     = "ISCSDK_NO_BROWSER"         // "1": pickers do not open the browser (Config.NoBrowser)
	EnvPublicKey     = "ISCSDK_LICENSE_PUBLIC_KEY" // the product's licence public key(s), for VerifyLicense (dev.env writes it)
	EnvReleaseKey    = "ISCSDK_RELEASE_KEY"        // the vendor's release public key(s) (Config.ReleaseKeys)
	EnvNoAutoInstall = "ISCSDK_NO_AUTO_INSTALL"    // "1": the host runs upgrade installers itself (Config.NoAutoInstall)
)

// Config says how to reach the service. Each of Endpoint, Token and ProductID
// is taken from the struct, else from its environment variable, else from the
// user's credentials file.
type Config struct {
	Endpoint   string // ws:// or wss:// URL of iscd; its path defaults to /v1/session
	Token      string // the user's API token; empty with SignIn
	ProductID  string // the product this program is
	AppVersion string // the host program's version, e.g. "2024.1.3"

	// WorkspaceDir holds the SDK's cache and log file. Default: the user's
	// cache directory + "/iscsdk" (%LOCALAPPDATA%\iscsdk on Windows).
	WorkspaceDir string
	// SignIn: the program signs its user in (Client.SignIn: in the
	// browser, or with the device grant) instead of passing a Token. Init then uses the refresh token
	// the workspace keeps from the last sign-in, if it still works, and
	// otherwise returns a client that is signed out until SignIn.
	SignIn bool
	// LoginHint, with SignIn, is the user's email, when the program knows
	// it: a browser sign-in goes straight to the identity provider of its
	// organisation, or fills the email in. SignInOptions.LoginHint, when
	// set, is used instead.
	LoginHint string
	// ConnectTimeout bounds Init's first connection; 0 means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// DeviceInfo is the device fingerprint sent at hello; empty sends none.
	DeviceInfo string
	// CAFile adds PEM certificates to the system roots for wss://; empty
	// means $ISCSDK_CA_FILE, if set.
	CAFile string
	// LogLevel for the workspace log: debug, info, warn, error or off.
	// Empty means $ISCSDK_LOG, else info.
	LogLevel string
	// AllowInsecure lets a ws:// endpoint that is not on this machine be
	// used (the token then crosses the network in clear): for a trusted
	// network or a TLS-terminating proxy only. $ISCSDK_ALLOW_INSECURE=1 too.
	AllowInsecure bool
	// CredentialsFile overrides the per-user credentials file
	// (default: $ISCSDK_CREDENTIALS, else the user's config directory +
	// "/iscsdk/credentials"; %LOCALAPPDATA%\iscsdk\credentials on Windows).
	// It holds KEY=VALUE lines, like iscd's dev.env.
	CredentialsFile string
	// NoBrowser keeps the SDK from opening the user's browser: the
	// pickers (OpenCloudFile, SelectSaveAsPath) leave the URL of their
	// Picker event to the host, and SignIn takes the device grant (a
	// code the host shows) unless SignInOptions.OpenBrowser is given.
	// Also set by $ISCSDK_NO_BROWSER=1.
	NoBrowser bool
	// ReleaseKeys is the vendor's release public key, or several
	// separated by commas (the old and the new one of a rotation), as
	// `iscctl release key generate` prints them ("ISR1.<kid>.<key>"). An
	// upgrade is downloaded, staged and run only if its release is signed
	// by one of them: the vendor signs releases offline, so neither the
	// service nor anyone holding its admin token can make the program run
	// code. Empty means $ISCSDK_RELEASE_KEY; with neither, every upgrade
	// is refused (errorCode no_release_key). A program compiles its key in.
	ReleaseKeys string
	// NoAutoInstall: Close (ShutOut) does not start the installer of a staged
	// upgrade; the host runs it itself (the Update event gives
	// packagePath and installCommand). Also set by $ISCSDK_NO_AUTO_INSTALL=1.
	NoAutoInstall bool
}

// ErrConfig reports a missing or invalid setting.
var ErrConfig = errors.New("iscsdk: invalid configuration")

// DefaultCredentialsFile is where Config looks for credentials last.
func DefaultCredentialsFile() string {
	if p := os.Getenv(EnvCreds); p != "" {
		return p
	}
	// On Windows the token stays on the machine (%LOCALAPPDATA%), never in
	// the roaming profile; elsewhere it is configuration (~/.config).
	dirOf := os.UserConfigDir
	if runtime.GOOS == "windows" {
		dirOf = os.UserCacheDir
	}
	dir, err := dirOf()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "iscsdk", "credentials")
}

// DefaultWorkspaceDir is the workspace used when Config.WorkspaceDir is
// empty: $ISCSDK_WORKSPACE, else the user's cache directory + "/iscsdk".
// It also holds the trusted-time mark of licence verification (its twin
// is kept per user outside it: docs/licensing.md).
func DefaultWorkspaceDir() string {
	if dir := os.Getenv(EnvWorkspace); dir != "" {
		return dir
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "iscsdk")
}

// resolve fills the empty fields from the environment and the credentials
// file and checks the result.
func (c Config) resolve() (Config, error) {
	var file map[string]string
	fromFile := func(key string) string {
		if file == nil {
			path := c.CredentialsFile
			if path == "" {
				path = DefaultCredentialsFile()
			}
			file = readKeyValues(path)
		}
		return file[key]
	}
	pick := func(v *string, env string) {
		if *v == "" {
			*v = os.Getenv(env)
		}
		if *v == "" {
			*v = fromFile(env)
		}
	}
	pick(&c.Endpoint, EnvEndpoint)
	pick(&c.Token, EnvToken)
	pick(&c.ProductID, EnvProduct)
	if c.CAFile == "" {
		c.CAFile = os.Getenv(EnvCAFile)
	}
	if v := os.Getenv(EnvNoBrowser); v != "" && v != "0" {
		c.NoBrowser = true
	}
	if c.ReleaseKeys == "" {
		c.ReleaseKeys = os.Getenv(EnvReleaseKey)
	}
	if v := os.Getenv(EnvNoAutoInstall); v != "" && v != "0" {
		c.NoAutoInstall = true
	}
	if c.LogLevel == "" {
		c.LogLevel = os.Getenv(EnvLog)
	}
	if c.WorkspaceDir == "" {
		c.WorkspaceDir = DefaultWorkspaceDir()
	}
	// One form of the workspace's path, so that the paths of the files
	// opened into it are the forms the host will give back.
	ws, err := localAbs(c.WorkspaceDir)
	if err != nil {
		return c, fmt.Errorf("%w: workspace %q: %v", ErrConfig, c.WorkspaceDir, err)
	}
	c.WorkspaceDir = ws
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	switch {
	case c.Endpoint == "":
		return c, fmt.Errorf("%w: no endpoint (set Config.Endpoint or %s)", ErrConfig, EnvEndpoint)
	case c.Token == "" && !c.SignIn:
		return c, fmt.Errorf("%w: no token (set Config.Token or %s, or Config.SignIn)", ErrConfig, EnvToken)
	case c.ProductID == "":
		return c, fmt.Errorf("%w: no product (set Config.ProductID or %s)", ErrConfig, EnvProduct)
	}
	for name, v := range map[string]string{"endpoint": c.Endpoint, "product": c.ProductID, "app version": c.AppVersion, "device info": c.DeviceInfo} {
		if len(v) > 8<<10 {
			return c, fmt.Errorf("%w: %s longer than 8 KiB", ErrConfig, name)
		}
	}
	if !strings.HasPrefix(c.Endpoint, "ws://") && !strings.HasPrefix(c.Endpoint, "wss://") {
		return c, fmt.Errorf("%w: endpoint %q is not a ws:// or wss:// URL", ErrConfig, c.Endpoint)
	}
	if strings.HasPrefix(c.Endpoint, "ws://") && !c.AllowInsecure && os.Getenv("ISCSDK_ALLOW_INSECURE") != "1" && !loopback(c.Endpoint) {
		return c, fmt.Errorf("%w: %s would send the token in clear over the network: use wss:// (or AllowInsecure on a trusted network)", ErrConfig, c.Endpoint)
	}
	return c, nil
}

// loopback reports whether a URL's host is this machine.
func loopback(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readKeyValues reads KEY=VALUE lines; a missing or unreadable file is empty.
func readKeyValues(path string) map[string]string {
	out := map[string]string{}
	if path == "" {
		return out
	}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}
