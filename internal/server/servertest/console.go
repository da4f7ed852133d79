package servertest

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Console is a browser of the web console without the browser: a cookie
// jar, the CSRF token of the last page it loaded, and no redirects
// followed, so a test sees each answer as it came.
type Console struct {
	t      testing.TB
	Client *http.Client
	Base   string // http://ADDR
	// CSRF is the token the last page loaded put in its forms.
	CSRF string
	// Header is added to every request (Origin, Sec-Fetch-Site, ...).
	Header http.Header
	// Answer is the header of the last answer.
	Answer http.Header
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// NewConsole returns a browser with no session.
func (s *Server) NewConsole(t testing.TB) *Console {
	jar, _ := cookiejar.New(nil)
	return &Console{t: t, Base: s.AdminURL, Header: http.Header{}, Client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// ConsoleSignIn signs into the console with tok (an admin token or an
// organisation admin's API token) and fails the test unless it worked.
func (s *Server) ConsoleSignIn(t testing.TB, tok string) *Console {
	t.Helper()
	c := s.NewConsole(t)
	if status, body := c.SignIn(tok); status != http.StatusSeeOther {
		t.Fatalf("console sign-in: %d\n%s", status, body)
	}
	return c
}

// SignIn loads the sign-in page and posts tok with its CSRF token.
func (c *Console) SignIn(tok string) (int, string) {
	c.t.Helper()
	if status, body := c.Get("/console/signin"); status != http.StatusOK {
		c.t.Fatalf("the sign-in page: %d\n%s", status, body)
	}
	return c.Post("/console/signin", url.Values{"token": {tok}})
}

// BrowserSignIn signs into the console through iscd's browser sign-in as
// a person does: the sign-in page's "Sign in with your work account",
// then iscd's page that asks who the user is, answered with apiToken (""
// on a dev server: the dev user). It returns the last answer: 200 and the
// page that moves on to the console when a console session was made.
func (c *Console) BrowserSignIn(apiToken string) (int, string) {
	c.t.Helper()
	if status, body := c.Get("/console/signin"); status != http.StatusOK {
		c.t.Fatalf("the sign-in page: %d\n%s", status, body)
	}
	if status, body := c.Post("/console/signin/browser", nil); status != http.StatusSeeOther {
		c.t.Fatalf("begin the browser sign-in: %d\n%s", status, body)
	}
	chooser := c.Answer.Get("Location")
	u, err := url.Parse(chooser)
	if err != nil || u.Path != "/signin" || u.Query().Get("flow") == "" {
		c.t.Fatalf("the browser sign-in sent the browser to %q", chooser)
	}
	if status, body := c.Get(chooser); status != http.StatusOK {
		c.t.Fatalf("iscd's sign-in page: %d\n%s", status, body)
	}
	form := url.Values{"flow": {u.Query().Get("flow")}}
	if apiToken != "" {
		form.Set("api_token", apiToken)
	}
	return c.Post("/signin", form)
}

// Get loads path and keeps its page's CSRF token.
func (c *Console) Get(path string) (int, string) {
	c.t.Helper()
	return c.do("GET", path, nil)
}

// Post posts form to path with the CSRF token of the last page loaded
// (unless form has one of its own).
func (c *Console) Post(path string, form url.Values) (int, string) {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if !form.Has("csrf") {
		form.Set("csrf", c.CSRF)
	}
	return c.do("POST", path, strings.NewReader(form.Encode()))
}

func (c *Console) do(method, path string, body io.Reader) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.Base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	c.Answer = resp.Header
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	if m := csrfField.FindSubmatch(data); m != nil {
		c.CSRF = html.UnescapeString(string(m[1]))
	}
	return resp.StatusCode, string(data)
}
