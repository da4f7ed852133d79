package servertest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
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
