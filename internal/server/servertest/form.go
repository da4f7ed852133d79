package servertest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// PostForm posts a form to path on the service (as the OAuth endpoints
// take them) and returns the status and the body: its JSON fields when it
// is a JSON object, else the text under "text".
func (s *Server) PostForm(t testing.TB, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(s.AdminURL+path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	body := map[string]any{}
	if json.Unmarshal(data, &body) != nil {
		body = map[string]any{"text": string(data)}
	}
	return resp.StatusCode, body
}

var confirmNonce = regexp.MustCompile(`name="nonce" value="([^"]+)"`)

// ConfirmSignIn approves a device sign-in on its page as a user does: the
// code and the API token ("" on a dev server: the demo user), then "yes"
// on the step that shows what is being signed in. It returns the status
// and text of the last page.
func (s *Server) ConfirmSignIn(t testing.TB, userCode, apiToken string) (int, string) {
	t.Helper()
	status, body := s.PostForm(t, "/device", url.Values{"user_code": {userCode}, "api_token": {apiToken}, "action": {"approve"}})
	text, _ := body["text"].(string)
	m := confirmNonce.FindStringSubmatch(text)
	if status != http.StatusOK || m == nil {
		return status, text
	}
	status, body = s.PostForm(t, "/device", url.Values{"user_code": {userCode}, "nonce": {m[1]}, "action": {"approve"}})
	text, _ = body["text"].(string)
	return status, text
}
