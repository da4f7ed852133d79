package sdk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// ErrNoBrowser: no browser could be opened for the sign-in (SignIn then
// falls back to the device grant).
var ErrNoBrowser = errors.New("iscsdk: no browser could be opened")

// browserTimeout bounds a browser sign-in whose caller set no deadline:
// iscd forgets an authorization request after 10 minutes.
const browserTimeout = 10 * time.Minute

// openBrowser opens u in the user's default browser (the pickers, the
// sign-in): $ISCSDK_BROWSER (a program run with the URL as its one
// argument) when set, else the system's opener — on Linux and the BSDs
// only with a display (not in an SSH session). It never writes to the
// host's stdout or stderr (the child's are the null device) and never
// waits for the browser: an opener that fails within openerWait is an
// error, one still running then has opened it.
func openBrowser(u string) error {
	var cmd *exec.Cmd
	switch p := os.Getenv("ISCSDK_BROWSER"); {
	case p != "":
		cmd = exec.Command(p, u)
	case runtime.GOOS == "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	case runtime.GOOS == "darwin":
		cmd = exec.Command("open", u)
	case os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "":
		return fmt.Errorf("%w: no display", ErrNoBrowser)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrNoBrowser, filepath.Base(cmd.Path), err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps it whenever it ends
	select {
	case err := <-exited:
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrNoBrowser, filepath.Base(cmd.Path), err)
		}
	case <-time.After(openerWait):
	}
	return nil
}

// openerWait: how long an opener may take to fail.
const openerWait = 3 * time.Second

// loopbackAnswer is what the program's loopback tells the browser.
type loopbackAnswer struct {
	code string
	err  error
}

// browserSignIn is the authorization-code flow with PKCE and a loopback
// redirect (RFC 8252 7.3): a listener on 127.0.0.1 and an ephemeral port,
// the authorization request opened in the browser, the one callback that
// carries this sign-in's state taken, the code redeemed with the
// verifier. It returns ErrNoBrowser, before anything is shown, when no
// browser opens.
func (s *signIn) browserSignIn(ctx context.Context, opts SignInOptions) (oauthAnswer, error) {
	c := s.c
	var none oauthAnswer
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return none, fmt.Errorf("%w: loopback listener: %v", ErrNoBrowser, err)
	}
	defer ln.Close()
	redirect := "http://" + ln.Addr().String() + "/callback"
	verifier, state := rand.Text()+rand.Text(), rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {c.cfg.ProductID}, "redirect_uri": {redirect}, "state": {state},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	if opts.Org != "" {
		q.Set("org", opts.Org)
	}
	if opts.LoginHint != "" {
		q.Set("login_hint", opts.LoginHint)
	}
	page := s.base + "/oauth/authorize?" + q.Encode()

	answers := make(chan loopbackAnswer, 1)
	srv := &http.Server{Handler: callbackHandler(state, answers), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}
	go srv.Serve(ln)
	defer srv.Close()

	open := opts.OpenBrowser
	if open == nil {
		open = openBrowser
	}
	if err := open(page); err != nil {
		if !errors.Is(err, ErrNoBrowser) {
			err = fmt.Errorf("%w: %v", ErrNoBrowser, err)
		}
		return none, err
	}
	c.emit(localEvent(EventSignInPrompt, map[string]string{"url": page, "verificationUri": s.base + "/oauth/authorize",
		"userCode": "", "expires": time.Now().Add(browserTimeout).UTC().Format(time.RFC3339)}))
	c.log.Info("sign-in: waiting for the browser", "loopback", ln.Addr().String())

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, browserTimeout)
		defer cancel()
	}
	var a loopbackAnswer
	select {
	case a = <-answers:
	case <-ctx.Done():
		return none, ctx.Err()
	case <-c.ctx.Done():
		return none, ErrShutOut
	}
	if a.err != nil {
		return none, a.err
	}
	t, err := s.post(ctx, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {c.cfg.ProductID},
		"device": {s.device}, "code": {a.code}, "code_verifier": {verifier}, "redirect_uri": {redirect}})
	if err != nil {
		return none, err
	}
	if t.Error != "" {
		return none, fmt.Errorf("%w: sign-in: %s: %s", ErrUnauthorized, t.Error, t.ErrorDescription)
	}
	return t, nil
}

// callbackHandler takes the browser's one callback with this sign-in's
// state: a code, or iscd's refusal. Anything else (another state, another
// path: a web page poking at the port) is answered 400 and changes
// nothing.
func callbackHandler(state string, answers chan<- loopbackAnswer) http.Handler {
	var taken atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method != http.MethodGet || r.URL.Path != "/callback" || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			loopbackPage(w, r, http.StatusBadRequest, "notThis")
			return
		}
		var a loopbackAnswer
		switch {
		case q.Get("error") == "access_denied":
			a.err = ErrSignInDenied
		case q.Get("error") != "":
			a.err = fmt.Errorf("%w: sign-in: %s: %s", ErrUnauthorized, q.Get("error"), q.Get("error_description"))
		case q.Get("code") == "":
			a.err = fmt.Errorf("%w: sign-in: the callback carries no code", ErrProtocol)
		default:
			a.code = q.Get("code")
		}
		if !taken.CompareAndSwap(false, true) { // one callback per sign-in
			loopbackPage(w, r, http.StatusBadRequest, "over")
			return
		}
		// The page is on its way before the answer is handed over: the
		// sign-in then closes the loopback (a refused one at once, and its
		// program may exit), which would cut a page still being written;
		// the browser showed its own connection error instead.
		msg := "signedIn"
		if a.err != nil {
			msg = "refused"
		}
		loopbackPage(w, r, http.StatusOK, msg)
		http.NewResponseController(w).Flush()
		answers <- a
	})
}

// loopbackText is what the loopback tells the browser, in English and
// Simplified Chinese.
var loopbackText = map[string]map[string]string{
	"en": {
		"title":    "Sign-in",
		"signedIn": "You are signed in. Return to your program; you can close this window.",
		"refused":  "You are not signed in. Return to your program.",
		"notThis":  "This is not the sign-in your program is waiting for.",
		"over":     "This sign-in is over.",
	},
	"zh-Hans": {
		"title":    "登录",
		"signedIn": "您已登录。请返回您的程序；可以关闭此窗口。",
		"refused":  "您未登录。请返回您的程序。",
		"notThis":  "这不是您的程序正在等待的登录。",
		"over":     "此登录已结束。",
	},
}

// loopbackPage answers the browser in its language (Accept-Language).
func loopbackPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	lang := "en"
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(r.Header.Get("Accept-Language"))), "zh") {
		lang = "zh-Hans"
	}
	t := loopbackText[lang]
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	page := fmt.Appendf(nil, "<!doctype html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\"><title>%s</title></head>\n<body><main><h1>%s</h1><p id=\"message\" role=\"status\">%s</p></main></body></html>\n",
		lang, t["title"], t["title"], t[msg])
	h.Set("Content-Length", strconv.Itoa(len(page))) // whole once flushed
	w.WriteHeader(status)
	w.Write(page)
}
