package markettest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/marketapi/markettest"
)

// The test server's own verifier accepts the gateway SDK's published
// vectors as a server receives them, and refuses any change.
func TestVerifierPublishedVectors(t *testing.T) {
	at := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
	for _, v := range []struct{ method, url, body, sig string }{
		{"GET", "https://example.huaweicloud.com/path?limit=1", "", "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"},
		{"POST", "https://example.huaweicloud.com/path?key=value", "{\"Name\":\"test\",\"Id\":1}\n", "cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59"},
	} {
		req := func(method, url, sig string) *http.Request {
			r, _ := http.NewRequest(method, url, nil)
			r.Header.Set("X-Sdk-Date", "20060102T150405Z")
			r.Header.Set("Authorization", "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature="+sig)
			return r
		}
		if err := markettest.VerifyGateway(req(v.method, v.url, v.sig), []byte(v.body), "AccessKey", "SecretKey", at, time.Minute); err != nil {
			t.Errorf("%s %s: the published vector refused: %v", v.method, v.url, err)
		}
		for name, bad := range map[string]error{
			"body":   markettest.VerifyGateway(req(v.method, v.url, v.sig), []byte(v.body+" "), "AccessKey", "SecretKey", at, time.Minute),
			"query":  markettest.VerifyGateway(req(v.method, v.url+"0", v.sig), []byte(v.body), "AccessKey", "SecretKey", at, time.Minute),
			"method": markettest.VerifyGateway(req("PUT", v.url, v.sig), []byte(v.body), "AccessKey", "SecretKey", at, time.Minute),
			"secret": markettest.VerifyGateway(req(v.method, v.url, v.sig), []byte(v.body), "AccessKey", "OtherKey", at, time.Minute),
			"clock":  markettest.VerifyGateway(req(v.method, v.url, v.sig), []byte(v.body), "AccessKey", "SecretKey", at.Add(time.Hour), time.Minute),
		} {
			if bad == nil {
				t.Errorf("%s %s: a changed %s was accepted", v.method, v.url, name)
			}
		}
	}
}
