// Package hydratest runs a real OpenID Connect provider for tests: Ory
// Hydra v2.3.0 with an in-memory store (DSN=memory), and the small login
// and consent app Hydra needs (it has no pages of its own). The binary is
// $ISCSDK_HYDRA, then $ISCSDK_BUILD_DIR/tools/hydra, then build/tools/hydra
// in the module's root; .ci/run builds it there from tools/hydra (Install).
//
// Hydra's public side is reached through a proxy of the test's, which is
// the issuer: a test can have it alter the ID tokens Hydra hands out
// (Tamper) as an attacker on the way would.
package hydratest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Install is how the binary is built (what .ci/run does).
const Install = "cd tools/hydra && go build -tags sqlite,sqlite_omit_load_extension -o ../../build/tools/hydra github.com/ory/hydra/v2 (.ci/run does)"

// Binary returns the path of the hydra binary, or an error saying how to
// build it.
func Binary() (string, error) {
	if p := os.Getenv("ISCSDK_HYDRA"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("$ISCSDK_HYDRA: %w", err)
		}
		return p, nil
	}
	var dirs []string
	if b := os.Getenv("ISCSDK_BUILD_DIR"); b != "" {
		dirs = append(dirs, filepath.Join(b, "tools"))
	}
	if dir, err := os.Getwd(); err == nil {
		for ; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				dirs = append(dirs, filepath.Join(dir, "build", "tools"))
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "hydra")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("hydra not found (looked in $ISCSDK_HYDRA, %s); build it: %s", strings.Join(dirs, ", "), Install)
}

// User is someone the login app signs in.
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
}

// Hydra is a running Hydra with its login and consent app.
type Hydra struct {
	Issuer string // the proxy's URL: what iscd is configured with
	admin  string // Hydra's admin API

	mu    sync.Mutex
	users map[string]User
	// Tamper, while set, changes the email claim of every ID token Hydra
	// hands out, leaving its signature as it was.
	Tamper atomic.Bool
	// Remember, while set, has Hydra remember a user's sign-in in the
	// browser (its session cookie): the next sign-in there asks nothing,
	// until the user signs out of Hydra (its logout page).
	Remember atomic.Bool
	logins   atomic.Int64 // login pages shown
	app      *httptest.Server
	proxy    *httptest.Server
}

// Start runs Hydra for the test, or skips the test when the binary is
// missing. Everything stops when the test ends.
func Start(t testing.TB) *Hydra {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Skipf("Ory Hydra is not installed, OpenID Connect federation is not tested: %v", err)
	}
	h := &Hydra{users: map[string]User{}}
	h.app = httptest.NewServer(http.HandlerFunc(h.serveApp))
	t.Cleanup(h.app.Close)
	// Hydra is given two ports that were free a moment before; another
	// program may take one first (tests run beside each other), and
	// Hydra then exits: it is started again on others.
	var logs *lockedBuffer
	for attempt := 1; ; attempt++ {
		var err error
		if logs, err = h.launch(t, bin); err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || attempt == 5 {
			t.Fatal(err)
		}
		t.Logf("hydra, attempt %d: %v; again on other ports", attempt, err)
	}
	// Its signing keys are made now, before any test's request: Hydra
	// would make each key set on first use, an RSA key pair that takes
	// seconds on a loaded machine, inside whichever request came first (a
	// token exchange iscd gives 10 s).
	for _, set := range []string{"hydra.openid.id-token", "hydra.jwt.access-token"} {
		// ES256: a P-256 key is made in microseconds, and the ID tokens'
		// algorithm is then ES256, which Hydra's discovery announces.
		if err := h.call(http.MethodPost, "/admin/keys/"+set, map[string]string{"alg": "ES256", "kid": set, "use": "sig"}, nil); err != nil {
			t.Fatalf("hydra's %s keys: %v\n%s", set, err, logs.String())
		}
	}
	resp, err := http.Get(h.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatalf("hydra's discovery through the proxy: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("hydra's discovery through the proxy: %s\n%s", resp.Status, logs.String())
	}
	return h
}

// errPortTaken: Hydra could not listen on a port it was given.
var errPortTaken = errors.New("a port given to hydra was taken")

// launch starts Hydra on two free ports behind the tampering proxy and
// waits until both its sides answer; the process and the proxy stop when
// the test ends.
func (h *Hydra) launch(t testing.TB, bin string) (*lockedBuffer, error) {
	public, admin := freePort(t), freePort(t)
	target, _ := url.Parse("http://" + public)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = h.tamper
	h.proxy = httptest.NewServer(rp)
	t.Cleanup(h.proxy.Close)
	h.Issuer, h.admin = h.proxy.URL, "http://"+admin

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", "all", "--dev")
	_, pport, _ := net.SplitHostPort(public)
	_, aport, _ := net.SplitHostPort(admin)
	cmd.Env = append(os.Environ(), "DSN=memory", "SECRETS_SYSTEM=iscsdk-hydra-test-secret-0123456789",
		"URLS_SELF_ISSUER="+h.Issuer, "URLS_LOGIN="+h.app.URL+"/login", "URLS_CONSENT="+h.app.URL+"/consent",
		"URLS_LOGOUT="+h.app.URL+"/logout", "URLS_POST_LOGOUT_REDIRECT="+h.app.URL+"/logged-out",
		"SERVE_PUBLIC_HOST=127.0.0.1", "SERVE_ADMIN_HOST=127.0.0.1", "SERVE_PUBLIC_PORT="+pport, "SERVE_ADMIN_PORT="+aport,
		"LOG_LEVEL=warn")
	logs := &lockedBuffer{} // written by exec's copier while launch reads it
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start hydra: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("hydra's log:\n%s", logs.String())
		}
	})
	// Ready when both its sides answer (directly: through the proxy, each
	// refused connection would be logged).
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !ready("http://"+admin) || !ready("http://"+public) {
		select {
		case <-done:
			if strings.Contains(logs.String(), "address already in use") {
				return nil, errPortTaken
			}
			return nil, fmt.Errorf("hydra exited:\n%s", logs.String())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("hydra did not answer within 30 s:\n%s", logs.String())
		}
	}
	return logs, nil
}

// ready reports whether a side of Hydra answers (its health, which makes
// no keys).
func ready(side string) bool {
	resp, err := http.Get(side + "/health/ready")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// lockedBuffer is a bytes.Buffer safe for one writer and readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// AddUser lets the login app sign u in.
func (h *Hydra) AddUser(u User) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.users[u.Subject] = u
}

// Client registers an OAuth 2.0 client (iscd) whose only redirect URI is
// redirect, and returns its id and secret.
func (h *Hydra) Client(t testing.TB, redirect string) (id, secret string) {
	t.Helper()
	secret = "iscd-secret-" + base64.RawURLEncoding.EncodeToString([]byte(t.Name()))
	body := map[string]any{"client_secret": secret, "grant_types": []string{"authorization_code", "refresh_token"},
		"response_types": []string{"code"}, "redirect_uris": []string{redirect}, "scope": "openid email profile",
		"token_endpoint_auth_method": "client_secret_basic"}
	var out struct {
		ClientID string `json:"client_id"`
	}
	if err := h.call(http.MethodPost, "/admin/clients", body, &out); err != nil {
		t.Fatalf("hydra client: %v", err)
	}
	return out.ClientID, secret
}

func (h *Hydra) call(method, path string, body, out any) error {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, h.admin+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

var appPage = template.Must(template.New("app").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test provider</title></head>
<body><main><h1>Test provider: {{.What}}</h1>
{{if ne .What "logged-out"}}<form method="post" action="/{{.What}}">
<input type="hidden" name="challenge" value="{{.Challenge}}">
{{if eq .What "login"}}<p><label for="user">User</label><br><input id="user" name="user"></p>{{end}}
<p><button type="submit" id="ok">OK</button></p>
</form>{{end}}</main></body></html>
`))

// LoginsShown is how many times Hydra's login page was shown.
func (h *Hydra) LoginsShown() int { return int(h.logins.Load()) }

// serveApp is the login, consent and logout app: a page with a form (a
// user name to sign in as; a button to consent or to sign out), accepted
// through Hydra's admin API. A login Hydra remembers is accepted without a
// page, as a login app must; after a logout, /logged-out says so.
func (h *Hydra) serveApp(w http.ResponseWriter, r *http.Request) {
	what := strings.TrimPrefix(r.URL.Path, "/")
	if what == "logged-out" {
		appPage.Execute(w, map[string]string{"What": what})
		return
	}
	if what != "login" && what != "consent" && what != "logout" {
		http.NotFound(w, r)
		return
	}
	if r.Method == http.MethodGet && what == "login" {
		challenge := r.URL.Query().Get("login_challenge")
		var req struct {
			Skip    bool   `json:"skip"`
			Subject string `json:"subject"`
		}
		if err := h.get("/admin/oauth2/auth/requests/login?login_challenge="+url.QueryEscape(challenge), &req); err == nil && req.Skip {
			var out struct {
				RedirectTo string `json:"redirect_to"`
			}
			if err := h.call(http.MethodPut, "/admin/oauth2/auth/requests/login/accept?login_challenge="+url.QueryEscape(challenge),
				map[string]any{"subject": req.Subject}, &out); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			http.Redirect(w, r, out.RedirectTo, http.StatusSeeOther)
			return
		}
		h.logins.Add(1)
	}
	if r.Method == http.MethodGet {
		appPage.Execute(w, map[string]string{"What": what, "Challenge": r.URL.Query().Get(what + "_challenge")})
		return
	}
	r.ParseForm()
	challenge := url.QueryEscape(r.PostForm.Get("challenge"))
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	var err error
	if what == "login" {
		h.mu.Lock()
		u, ok := h.users[r.PostForm.Get("user")]
		h.mu.Unlock()
		if !ok {
			http.Error(w, "no such user", http.StatusForbidden)
			return
		}
		err = h.call(http.MethodPut, "/admin/oauth2/auth/requests/login/accept?login_challenge="+challenge,
			map[string]any{"subject": u.Subject, "remember": h.Remember.Load()}, &out)
	} else if what == "logout" {
		err = h.call(http.MethodPut, "/admin/oauth2/auth/requests/logout/accept?logout_challenge="+challenge, nil, &out)
	} else {
		var req struct {
			Subject        string   `json:"subject"`
			RequestedScope []string `json:"requested_scope"`
		}
		if err = h.get("/admin/oauth2/auth/requests/consent?consent_challenge="+challenge, &req); err == nil {
			h.mu.Lock()
			u := h.users[req.Subject]
			h.mu.Unlock()
			err = h.call(http.MethodPut, "/admin/oauth2/auth/requests/consent/accept?consent_challenge="+challenge,
				map[string]any{"grant_scope": req.RequestedScope, "session": map[string]any{"id_token": map[string]any{
					"email": u.Email, "email_verified": u.EmailVerified, "name": u.Name}}}, &out)
		}
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, out.RedirectTo, http.StatusSeeOther)
}

func (h *Hydra) get(path string, out any) error {
	resp, err := http.Get(h.admin + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", path, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// tamper rewrites the email claim of the ID token in a token answer,
// keeping the header and signature, while Tamper is set.
func (h *Hydra) tamper(resp *http.Response) error {
	if !h.Tamper.Load() || !strings.HasSuffix(resp.Request.URL.Path, "/oauth2/token") {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var tok map[string]any
	if json.Unmarshal(body, &tok) == nil {
		if raw, ok := tok["id_token"].(string); ok {
			parts := strings.Split(raw, ".")
			if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil && len(parts) == 3 {
				var claims map[string]any
				json.Unmarshal(payload, &claims)
				claims["email"] = "mallory@" + strings.SplitN(claims["email"].(string), "@", 2)[1]
				p, _ := json.Marshal(claims)
				parts[1] = base64.RawURLEncoding.EncodeToString(p)
				tok["id_token"] = strings.Join(parts, ".")
				body, _ = json.Marshal(tok)
			}
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", fmt.Sprint(len(body)))
	return nil
}
