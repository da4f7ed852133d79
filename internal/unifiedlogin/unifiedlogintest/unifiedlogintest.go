// Package unifiedlogintest is a stand-in for the marketplace's unified
// login, for tests: the login page, token, refresh, user-info and logout
// endpoints exactly as the marketplace's SaaS guide gives them
// (../shared/reference/marketplace-saas.md, section 1), over real HTTP.
//
// The login page lives where the marketplace's does, behind a URL
// fragment (/unified-login/#/portal-login?ind=UNOP&appId=…), which a
// browser does not send: as the marketplace's single-page application
// does, a script on /unified-login/ reads the fragment into the form. The form takes a user name and password, and sends the browser
// to the application's registered callback with ?code=…&tenant=….
package unifiedlogintest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/unifiedlogin"
)

// App is an application registered with the unified login.
type App struct {
	AppID        string
	ClientID     string
	ClientSecret string
	Callback     string // the registered redirect: the browser comes back here
}

// User is a person who can sign in, and what user info says of them.
type User struct {
	unifiedlogin.UserInfo
	Password string
}

// Lifetimes, as the guide gives them.
const (
	AccessTTL  = 7200 * time.Second
	RefreshTTL = 30 * 24 * time.Hour
	CodeTTL    = 5 * time.Minute
)

// Server is a running unified login.
type Server struct {
	URL string // the API's base ({domain}); the login page is under it too

	srv *httptest.Server
	mu  sync.Mutex
	// apps by appId; users by userName; codes, access and refresh
	// tokens: what each was issued for.
	apps    map[string]App
	users   map[string]User
	codes   map[string]grant
	access  map[string]grant
	refresh map[string]grant
	logouts []string
	now     func() time.Time
}

type grant struct {
	app     string // appId
	user    string // userName
	expires time.Time
}

// Start starts a unified login on loopback; Close stops it.
func Start() *Server {
	s := &Server{apps: map[string]App{}, users: map[string]User{}, codes: map[string]grant{},
		access: map[string]grant{}, refresh: map[string]grant{}, now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /unified-login/", s.spa)
	mux.HandleFunc("POST /unified-login/portal-login", s.login)
	mux.HandleFunc("POST "+unifiedlogin.TokenPath, s.token)
	mux.HandleFunc("GET "+unifiedlogin.UserInfoPath, s.userInfo)
	mux.HandleFunc("GET "+unifiedlogin.LogoutPath, s.logout)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// LoginPage is the login page's URL with {appId} in it, as the
// marketplace's is.
func (s *Server) LoginPage() string {
	return s.URL + "/unified-login/#/portal-login?ind=UNOP&appId={appId}"
}

// AddApp registers an application.
func (s *Server) AddApp(a App) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[a.AppID] = a
}

// AddUser adds (or replaces) a user who can sign in.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.UserName] = u
}

// Logouts are the redirect_url of each logout, in order.
func (s *Server) Logouts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.logouts...)
}

// ExpireAccess makes every access token issued so far expired.
func (s *Server) ExpireAccess() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, g := range s.access {
		g.expires = time.Time{}
		s.access[k] = g
	}
}

func newToken() string { return rand.Text() + rand.Text() }

// spa stands for the marketplace's single-page application: the route
// (#/portal-login?ind=UNOP&appId=…) is in the fragment, which the page's
// script reads into the form, as the application renders its login form
// without another request. The POST checks the application.
func (s *Server) spa(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pageTmpl.Execute(w, map[string]string{})
}

var pageTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Unified login</title></head>
<body><main><h1>Unified login</h1>
{{if .Message}}<p id="message" role="alert">{{.Message}}</p>{{end}}
<form method="post" action="/unified-login/portal-login">
<input type="hidden" id="appId" name="appId" value="{{.AppID}}">
<p><label for="username">User name</label><br><input id="username" name="username" autocomplete="username"></p>
<p><label for="password">Password</label><br><input id="password" name="password" type="password" autocomplete="current-password"></p>
<p><button type="submit">Log in</button></p>
</form></main>
<script>
var m = /^#\/portal-login\?(.*)$/.exec(location.hash);
if (m) {
  var q = new URLSearchParams(m[1]);
  if (q.get("ind") === "UNOP" && q.get("appId")) { document.getElementById("appId").value = q.get("appId"); }
}
</script></body></html>`))

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	appID, name, password := r.PostForm.Get("appId"), r.PostForm.Get("username"), r.PostForm.Get("password")
	s.mu.Lock()
	app, okApp := s.apps[appID]
	u, okUser := s.users[name]
	okUser = okUser && subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) == 1
	code := newToken()
	if okApp && okUser {
		s.codes[code] = grant{app: appID, user: name, expires: s.now().Add(CodeTTL)}
	}
	s.mu.Unlock()
	if !okApp {
		http.Error(w, "unknown application", http.StatusBadRequest)
		return
	}
	if !okUser {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		pageTmpl.Execute(w, map[string]string{"AppID": appID, "Message": "Wrong user name or password."})
		return
	}
	to, _ := url.Parse(app.Callback)
	v := to.Query()
	v.Set("code", code)
	v.Set("tenant", u.Tenant)
	to.RawQuery = v.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// token redeems a code (grant_type=authorization_code) or a refresh token
// (grant_type=refresh_token), with the application's client id and
// secret. Codes are spent by their first use; refresh tokens rotate.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "not a form")
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	var app App
	for _, a := range s.apps {
		if a.ClientID == f.Get("client_id") {
			app = a
		}
	}
	if app.ClientID == "" || subtle.ConstantTimeCompare([]byte(app.ClientSecret), []byte(f.Get("client_secret"))) != 1 {
		oauthError(w, http.StatusBadRequest, "invalid_client", "client_id or client_secret is wrong")
		return
	}
	var g grant
	var ok bool
	switch f.Get("grant_type") {
	case "authorization_code":
		g, ok = s.codes[f.Get("code")]
		delete(s.codes, f.Get("code"))
		if ru := f.Get("redirect_uri"); ok && ru != "" && ru != app.Callback {
			ok = false
		}
	case "refresh_token":
		g, ok = s.refresh[f.Get("refresh_token")]
		delete(s.refresh, f.Get("refresh_token"))
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "authorization_code or refresh_token")
		return
	}
	if !ok || g.app != app.AppID || s.now().After(g.expires) {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the code or refresh token is unknown, spent or expired")
		return
	}
	access, refresh := newToken(), newToken()
	s.access[access] = grant{app: g.app, user: g.user, expires: s.now().Add(AccessTTL)}
	s.refresh[refresh] = grant{app: g.app, user: g.user, expires: s.now().Add(RefreshTTL)}
	writeJSON(w, http.StatusOK, unifiedlogin.Token{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(AccessTTL / time.Second),
		Scope: "get_user_info", RefreshToken: refresh})
}

func (s *Server) userInfo(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	g, known := s.access[tok]
	u := s.users[g.user]
	s.mu.Unlock()
	if !ok || !known || s.now().After(g.expires) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
		return
	}
	writeJSON(w, http.StatusOK, u.UserInfo)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("redirect_url")
	s.mu.Lock()
	s.logouts = append(s.logouts, to)
	s.mu.Unlock()
	u, err := url.Parse(to)
	if to == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		http.Error(w, "redirect_url", http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, to, http.StatusFound)
}
