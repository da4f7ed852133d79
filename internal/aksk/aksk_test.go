package aksk_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/aksk"
)

// The published vectors (the gateway's Go SDK, signer_test.go): AK
// AccessKey, SK SecretKey, at 20060102T150405Z, with the SDK's extra
// headers (one with an underscore, not signed; Content-Type, not signed).
func TestPublishedVectors(t *testing.T) {
	for _, v := range []struct {
		method, url, body string
		hdr               map[string]string
		want              string
	}{
		{"GET", "https://example.huaweicloud.com/path?limit=1", "",
			map[string]string{"TEST_UNDERSCORE": "TEST_VALUE"},
			"5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"},
		{"POST", "https://example.huaweicloud.com/path?key=value", "{\"Name\":\"test\",\"Id\":1}\n",
			map[string]string{"TEST_UNDERSCORE": "TEST_VALUE", "Content-Type": "application/json"},
			"cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59"},
	} {
		r, err := http.NewRequest(v.method, v.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		for n, val := range v.hdr {
			r.Header[n] = []string{val} // as the SDK sends it, not canonicalised
		}
		now := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
		if err := (aksk.Key{Access: "AccessKey", Secret: "SecretKey"}).Sign(r, []byte(v.body), now); err != nil {
			t.Fatal(err)
		}
		want := "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=" + v.want
		if got := r.Header.Get("Authorization"); got != want {
			t.Errorf("%s %s: Authorization = %q\nwant %q", v.method, v.url, got, want)
		}
		if got := r.Header.Get(aksk.DateHeader); got != "20060102T150405Z" {
			t.Errorf("X-Sdk-Date = %q", got)
		}
	}
}

// The SDK's canonical query vector: sorted keys, sorted repeated values,
// everything but A-Za-z0-9-_.~ escaped.
func TestCanonicalQueryVector(t *testing.T) {
	r, _ := http.NewRequest("GET", "https://example.huaweicloud.com/path", nil)
	q := r.URL.Query()
	q.Add("limit", "1")
	q.Add("enable", "true")
	q.Add("test", "一 (&=?!#%.*)")
	q.Add("path", "/tmp/123")
	q.Add("multi", "3")
	q.Add("multi", "1")
	q.Add("multi", "2")
	r.URL.RawQuery = q.Encode()
	canon := aksk.CanonicalRequest(r, nil, nil)
	want := "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123&test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29"
	if lines := strings.Split(canon, "\n"); len(lines) < 3 || lines[2] != want || lines[1] != "/path/" {
		t.Errorf("canonical request = %q\nwant the URI /path/ and the query %q", canon, want)
	}
}

// A change to anything signed changes the signature; the secret never
// shows in the key's printed forms.
func TestSignatureCoversRequest(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	k := aksk.Key{Access: "ak", Secret: "very-secret"}
	sign := func(method, url, body string, hdr map[string]string) string {
		r, _ := http.NewRequest(method, url, nil)
		r.Header.Set("Host", r.URL.Host) // signed when the caller names it
		for n, v := range hdr {
			r.Header.Set(n, v)
		}
		if err := k.Sign(r, []byte(body), now); err != nil {
			t.Fatal(err)
		}
		return r.Header.Get("Authorization")
	}
	base := sign("POST", "https://mkt.example/a/b?x=1&y=2", `{"a":1}`, map[string]string{"Content-Type": "application/json"})
	for name, other := range map[string]string{
		"method": sign("PUT", "https://mkt.example/a/b?x=1&y=2", `{"a":1}`, map[string]string{"Content-Type": "application/json"}),
		"path":   sign("POST", "https://mkt.example/a/c?x=1&y=2", `{"a":1}`, map[string]string{"Content-Type": "application/json"}),
		"query":  sign("POST", "https://mkt.example/a/b?x=1&y=3", `{"a":1}`, map[string]string{"Content-Type": "application/json"}),
		"body":   sign("POST", "https://mkt.example/a/b?x=1&y=2", `{"a":2}`, map[string]string{"Content-Type": "application/json"}),
		"header": sign("POST", "https://mkt.example/a/b?x=1&y=2", `{"a":1}`, map[string]string{"Content-Type": "application/json", "X-Project-Id": "p"}),
		"host":   sign("POST", "https://mkt2.example/a/b?x=1&y=2", `{"a":1}`, map[string]string{"Content-Type": "application/json"}),
	} {
		if other == base {
			t.Errorf("changing the %s left the signature unchanged", name)
		}
	}
	if got := sign("POST", "https://mkt.example/a/b?y=2&x=1", `{"a":1}`, map[string]string{"Content-Type": "application/json"}); got != base {
		t.Errorf("query order changed the signature: the canonical query is sorted")
	}
	for _, s := range []string{k.String(), k.GoString()} {
		if strings.Contains(s, "very-secret") {
			t.Errorf("key printed with its secret: %s", s)
		}
	}
}
