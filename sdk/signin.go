package sdk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/atomicfile"
	"github.com/iscsdk/iscsdk/internal/keyring"
	"github.com/iscsdk/iscsdk/internal/transport"
)

// Sign-in errors.
var (
	// ErrSignInDenied: the user denied the sign-in on the page.
	ErrSignInDenied = errors.New("iscsdk: the user denied the sign-in")
	// ErrSignInExpired: nobody confirmed the code in time.
	ErrSignInExpired = errors.New("iscsdk: the sign-in code expired")
	// ErrSignedIn: SignIn on a client that is signed in, or was (after
	// SignOut, Init a new client).
	ErrSignedIn = errors.New("iscsdk: already signed in")
)

// SignInOptions tune SignIn.
type SignInOptions struct {
	// Org, when set, lets only a user of that organisation sign in (a
	// device code phished to someone else is worth nothing), and sends
	// the browser straight to that organisation's identity provider.
	Org string
	// Device asks for the device authorization grant (RFC 8628) only:
	// SignInPrompt carries a page and a code the user confirms there, in
	// any browser. For a program that knows its user is not at this
	// machine's screen. Without it (the zero value) SignIn signs in
	// through the user's default browser (the authorization code with
	// PKCE and a loopback redirect), and falls back to the device grant
	// when no browser opens.
	Device bool
	// LoginHint, without Device, is the user's email, when the program
	// knows it: the browser goes straight to its organisation's provider.
	LoginHint string
	// OpenBrowser, without Device, opens a URL in the user's browser; nil:
	// $ISCSDK_BROWSER (a program run with the URL) when set, else the
	// system's (xdg-open with a display, open, rundll32
	// url.dll,FileProtocolHandler). An error falls back to the device grant.
	OpenBrowser func(url string) error
}

// signIn holds a client's sign-in: the refresh token (in a file of the
// workspace) and the current access token (in memory only).
type signIn struct {
	c      *Client
	http   *http.Client
	base   string // http(s)://host:port of iscd
	file   string // the refresh token's name (and its lock file's, beside it)
	keep   *keyring.Keyring
	device string // the fingerprint the tokens are bound to

	mu       sync.Mutex
	refresh  string
	access   string
	expires  time.Time
	user     signedInUser
	started  bool // a connection was made: later sign-ins need a new client
	busy     bool // a SignIn is under way
	signedIn bool // announced since the last sign-in
}

type signedInUser struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Email        string   `json:"email"`
	OrgID        string   `json:"orgId"`
	Organisation string   `json:"organisation"`
	Department   string   `json:"department"`
	Roles        []string `json:"roles"`
}

// oauthAnswer is every field the sign-in endpoints answer with.
type oauthAnswer struct {
	Error            string       `json:"error"`
	ErrorDescription string       `json:"error_description"`
	DeviceCode       string       `json:"device_code"`
	UserCode         string       `json:"user_code"`
	VerificationURI  string       `json:"verification_uri"`
	VerificationFull string       `json:"verification_uri_complete"`
	Interval         int          `json:"interval"`
	ExpiresIn        int          `json:"expires_in"`
	AccessToken      string       `json:"access_token"`
	RefreshToken     string       `json:"refresh_token"`
	User             signedInUser `json:"user"`
}

// accessMargin: an access token this close to its end is refreshed first.
const accessMargin = 30 * time.Second

func newSignIn(c *Client, tlsConf *tls.Config) *signIn {
	base := strings.Replace(strings.Replace(c.url, "wss://", "https://", 1), "ws://", "http://", 1)
	if u, err := url.Parse(base); err == nil {
		u.Path, u.RawQuery = "", ""
		base = u.String()
	}
	sum := sha256.Sum256([]byte(c.cfg.Endpoint + "\x00" + c.cfg.ProductID))
	dir := filepath.Join(c.cfg.WorkspaceDir, "signin")
	s := &signIn{
		c:    c,
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: proxyFromEnvironment(), TLSClientConfig: tlsConf}},
		base: base,
		file: filepath.Join(dir, hex.EncodeToString(sum[:8])+".token"),
	}
	s.keep = keyring.Open(s.file, keyring.Options{Label: "iscsdk sign-in: " + c.cfg.ProductID + " at " + c.cfg.Endpoint})
	s.device = c.cfg.DeviceInfo
	if s.device == "" {
		s.device = deviceID(dir)
	}
	return s
}

// deviceID is a random id kept in the workspace, the fingerprint of a
// program that gives none.
func deviceID(dir string) string {
	path := filepath.Join(dir, "device")
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 && len(b) <= 64 {
		return string(b)
	}
	id := "ws-" + rand.Text()
	if os.MkdirAll(dir, 0o700) == nil {
		atomicfile.Write(path, []byte(id), 0o600)
	}
	return id
}

// The refresh token is kept where only the user reads it
// (internal/keyring): sealed with DPAPI on Windows, in the Secret Service
// on Linux when one answers, else in a 0600 file of the workspace.
func (s *signIn) loadRefresh() string {
	tok, err := s.keep.Load()
	if err != nil {
		if !errors.Is(err, keyring.ErrNotFound) {
			s.c.log.Warn("sign-in: the kept refresh token cannot be read", "where", s.keep.Where(), "err", err)
		}
		return ""
	}
	return tok
}

func (s *signIn) saveRefresh(tok string) error {
	if err := s.keep.Save(tok); err != nil {
		return fmt.Errorf("iscsdk: keep the refresh token: %w", err)
	}
	return nil
}

func (s *signIn) forgetRefresh() {
	if err := s.keep.Delete(); err != nil {
		s.c.log.Warn("sign-in: forget the refresh token", "where", s.keep.Where(), "err", err)
	}
}

// post sends a form to an endpoint of iscd. An OAuth error answer is
// returned as the answer, not as an error.
func (s *signIn) post(ctx context.Context, path string, form url.Values) (oauthAnswer, error) {
	var a oauthAnswer
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return a, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return a, ctx.Err()
		}
		return a, fmt.Errorf("%w: %s: %v", ErrUnreachable, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return a, fmt.Errorf("%w: %s: %v", ErrUnreachable, path, err)
	}
	if path == "/oauth/revoke" {
		return a, nil
	}
	if err := json.Unmarshal(data, &a); err != nil {
		return a, fmt.Errorf("%w: %s answered HTTP %d, not JSON", ErrProtocol, path, resp.StatusCode)
	}
	if a.Error == "" && resp.StatusCode != http.StatusOK {
		return a, fmt.Errorf("%w: %s answered HTTP %d", ErrProtocol, path, resp.StatusCode)
	}
	return a, nil
}

// took keeps the tokens of a successful answer. s.mu is held.
func (s *signIn) took(a oauthAnswer) error {
	if a.AccessToken == "" || a.RefreshToken == "" {
		return fmt.Errorf("%w: the token endpoint gave no tokens", ErrProtocol)
	}
	s.access, s.refresh, s.user = a.AccessToken, a.RefreshToken, a.User
	s.expires = time.Now().Add(time.Duration(a.ExpiresIn) * time.Second)
	return s.saveRefresh(a.RefreshToken)
}

// renew trades the refresh token for new tokens. s.mu is held. A refused
// refresh token is forgotten: the user must sign in again
// (ErrUnauthorized).
//
// Programs sharing the workspace (two instances of one program) share the
// refresh token: a token used twice revokes the sign-in, so they take
// turns under a lock file, and each renews with the token the file holds,
// which another may have rotated since.
func (s *signIn) renew(ctx context.Context) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return s.renewLocked(ctx)
}

// lock takes the workspace's sign-in lock.
func (s *signIn) lock() (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(s.file), 0o700); err != nil {
		return nil, fmt.Errorf("iscsdk: sign-in lock: %w", err)
	}
	f, err := os.OpenFile(s.file+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("iscsdk: sign-in lock: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("iscsdk: sign-in lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// renewLocked renews with the refresh token the workspace holds. s.mu and
// the workspace's lock are held.
//
// s.refresh becomes that token only with the answer: until then the
// access token held is the one issued with s.refresh. A renewal that
// fails (iscd unreachable) leaves the two together, so that the next
// connection renews again rather than say hello with the access token
// another program's rotation replaced.
func (s *signIn) renewLocked(ctx context.Context) error {
	refresh := s.refresh
	if onDisk := s.loadRefresh(); onDisk != "" && refresh != "" {
		refresh = onDisk
	}
	if refresh == "" {
		return fmt.Errorf("%w: signed out", ErrUnauthorized)
	}
	a, err := s.post(ctx, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {s.c.cfg.ProductID},
		"device": {s.device}, "refresh_token": {refresh}})
	if err != nil {
		return err
	}
	if a.Error != "" {
		s.c.log.Warn("sign-in refused", "error", a.Error, "description", a.ErrorDescription)
		s.refresh, s.access = "", ""
		s.forgetRefresh()
		return fmt.Errorf("%w: %s", ErrUnauthorized, a.ErrorDescription)
	}
	return s.took(a)
}

// resume signs in with the refresh token kept from the last sign-in, if
// there is one and iscd still takes it.
func (s *signIn) resume(ctx context.Context) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refresh = s.loadRefresh(); s.refresh == "" {
		return false, nil
	}
	err := s.renew(ctx)
	if errors.Is(err, ErrUnauthorized) {
		return false, nil
	}
	return err == nil, err
}

// connect dials with a fresh access token. When another program of the
// workspace rotated the refresh token since, the access token held was
// replaced on iscd: it is renewed too. Programs of a workspace connect in
// turn, under its lock: a renewal by one replaces the access token of
// another still saying hello (whose hello would then be refused).
func (s *signIn) connect(ctx context.Context, dial func(context.Context, http.Header) (*transport.Conn, error)) (*transport.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	rotated := s.refresh != "" && s.loadRefresh() != s.refresh
	if s.access == "" || rotated || time.Until(s.expires) < accessMargin {
		if err := s.renewLocked(ctx); err != nil {
			return nil, err
		}
	}
	return dial(ctx, http.Header{"Authorization": {"Bearer " + s.access}})
}

// announce raises SignedIn once per sign-in.
func (s *signIn) announce() {
	s.mu.Lock()
	s.started = true
	u, again := s.user, s.signedIn
	s.signedIn = true
	s.mu.Unlock()
	if again {
		return
	}
	s.c.emit(localEvent(EventSignedIn, map[string]string{"userId": u.ID, "name": u.Name, "email": u.Email,
		"orgId": u.OrgID, "organisation": u.Organisation, "department": u.Department, "roles": strings.Join(u.Roles, ",")}))
}

// SignIn signs the program's user in (docs/identity.md) and connects,
// raising SignedIn; the refresh token is kept (the next Init uses it).
//
// It opens the authorization page in the user's default browser (the
// authorization code with PKCE, answered on a loopback port of this
// machine) and raises SignInPrompt with the page's URL; when no browser
// can be opened (no display: an SSH session, a cloud desktop) it falls
// back to the device grant. With opts.Device, or with Config.NoBrowser
// and no opts.OpenBrowser, the device grant only: it
// raises SignInPrompt with the page and the code to show the user and
// waits until the user confirms it there.
//
// It returns ErrSignInDenied (the user, or iscd, refused: a disabled
// user), ErrSignInExpired, ErrSignedIn, ErrConfig without Config.SignIn,
// or ctx's error.
func (c *Client) SignIn(ctx context.Context, opts SignInOptions) error {
	s := c.signin
	if s == nil {
		return fmt.Errorf("%w: SignIn needs Config.SignIn (and no Token)", ErrConfig)
	}
	s.mu.Lock()
	if s.started || s.busy {
		s.mu.Unlock()
		return ErrSignedIn
	}
	s.busy = true
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.busy = false; s.mu.Unlock() }()

	if opts.LoginHint == "" {
		opts.LoginHint = c.cfg.LoginHint
	}
	if c.cfg.NoBrowser && opts.OpenBrowser == nil {
		opts.Device = true // the host opens no browser: a code to show instead
	}
	var (
		t   oauthAnswer
		err error
	)
	if !opts.Device {
		t, err = s.browserSignIn(ctx, opts)
		if errors.Is(err, ErrNoBrowser) {
			c.log.Info("sign-in: no browser; the device grant instead", "why", err)
		}
	}
	if opts.Device || errors.Is(err, ErrNoBrowser) {
		t, err = s.deviceSignIn(ctx, opts)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	err = s.took(t)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	conn, err := c.connect(cctx)
	if err != nil {
		return err
	}
	c.start(conn)
	return nil
}

// deviceSignIn is the device authorization grant (RFC 8628): the prompt
// with the page and the code, then polls until the user answers.
func (s *signIn) deviceSignIn(ctx context.Context, opts SignInOptions) (oauthAnswer, error) {
	c := s.c
	var none oauthAnswer
	form := url.Values{"client_id": {c.cfg.ProductID}, "device": {s.device}}
	if opts.Org != "" {
		form.Set("org", opts.Org)
	}
	a, err := s.post(ctx, "/oauth/device_authorization", form)
	if err != nil {
		return none, err
	}
	if a.Error != "" {
		return none, fmt.Errorf("%w: sign-in: %s", ErrConfig, a.ErrorDescription)
	}
	expires := time.Now().Add(time.Duration(a.ExpiresIn) * time.Second)
	c.emit(localEvent(EventSignInPrompt, map[string]string{"url": a.VerificationFull, "verificationUri": a.VerificationURI,
		"userCode": a.UserCode, "expires": expires.UTC().Format(time.RFC3339)}))
	c.log.Info("sign-in: waiting for the user", "page", a.VerificationURI)

	interval := time.Duration(max(a.Interval, 1)) * time.Second
	for {
		select {
		case <-time.After(interval):
		case <-ctx.Done():
			return none, ctx.Err()
		case <-c.ctx.Done():
			return none, ErrShutOut
		}
		t, err := s.post(ctx, "/oauth/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
			"client_id": {c.cfg.ProductID}, "device": {s.device}, "device_code": {a.DeviceCode}})
		if err != nil {
			return none, err
		}
		switch t.Error {
		case "authorization_pending":
			continue
		case "slow_down":
			interval += 5 * time.Second
			continue
		case "access_denied":
			return none, ErrSignInDenied
		case "expired_token":
			return none, ErrSignInExpired
		case "":
			return t, nil
		default:
			return none, fmt.Errorf("%w: sign-in: %s: %s", ErrUnauthorized, t.Error, t.ErrorDescription)
		}
	}
}

// SignOut revokes the sign-in on iscd (its refresh and access tokens: the
// session ends), forgets the refresh token kept in the workspace and
// raises SignedOut, whose logoutUrl is iscd's page that signs the browser
// out of the organisation's identity provider as well (open it in the
// browser the user signed in with). Shut the client out afterwards; signing in again
// takes a new client. The refresh token is forgotten even when iscd
// cannot be reached (the error says so).
func (c *Client) SignOut(ctx context.Context) error {
	s := c.signin
	if s == nil {
		return fmt.Errorf("%w: SignOut needs Config.SignIn", ErrConfig)
	}
	s.mu.Lock()
	tok, org := s.refresh, s.user.OrgID
	s.refresh, s.access, s.started = "", "", true
	s.forgetRefresh()
	s.mu.Unlock()
	var err error
	if tok != "" {
		_, err = s.post(ctx, "/oauth/revoke", url.Values{"token": {tok}})
	}
	params := map[string]string{}
	if org != "" {
		// The page that signs the browser out of the organisation's
		// identity provider too (the marketplace's unified login), for
		// the program to open: the next sign-in then asks for the account.
		params["logoutUrl"] = s.base + "/signin/signout?org=" + url.QueryEscape(org)
	}
	c.emit(localEvent(EventSignedOut, params))
	return err
}
