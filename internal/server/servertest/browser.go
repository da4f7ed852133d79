package servertest

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"testing"
)

// Browser is an HTTP client that keeps cookies and follows redirects as
// a browser does, except those stop picks: the redirect's response is then
// returned as it is (the program's loopback, a callback a test carries
// elsewhere).
func Browser(stop func(*http.Request) bool) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if stop(req) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// CodeChallenge is PKCE's S256 challenge of verifier (RFC 7636).
func CodeChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

var (
	formAction  = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	hiddenField = regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)">`)
)

// FollowForms walks browser b through the pages of a sign-in from resp
// (and err, of the request that got it): each page's first form is
// posted with its hidden fields and fields[its action] (the user's
// entries), until a response that is not a page with a form — a redirect
// b did not follow, or a page without one — which it returns with its
// body. More than eight pages fail t.
func FollowForms(t testing.TB, b *http.Client, resp *http.Response, err error, fields map[string]url.Values) (*http.Response, []byte) {
	t.Helper()
	for range 8 {
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := formAction.FindSubmatch(page)
		if m == nil || (resp.StatusCode >= 300 && resp.StatusCode < 400) {
			return resp, page
		}
		form := url.Values{}
		for _, h := range hiddenField.FindAllSubmatch(page, -1) {
			form.Set(string(h[1]), string(h[2]))
		}
		for k, v := range fields[string(m[1])] {
			form[k] = v
		}
		action, _ := resp.Request.URL.Parse(string(m[1]))
		resp, err = b.PostForm(action.String(), form)
	}
	t.Fatal("no end to the pages")
	return nil, nil
}
