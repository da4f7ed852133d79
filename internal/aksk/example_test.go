package aksk_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/iscsdk/iscsdk/internal/aksk"
)

// Signing a request for the API gateway: the SK never leaves the process,
// the Authorization header names the AK and the headers signed.
func ExampleKey_Sign() {
	r, _ := http.NewRequest(http.MethodGet, "https://example.huaweicloud.com/path?limit=1", nil)
	key := aksk.Key{Access: "AccessKey", Secret: "SecretKey"}
	if err := key.Sign(r, nil, time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)); err != nil {
		panic(err)
	}
	fmt.Println(r.Header.Get("X-Sdk-Date"))
	fmt.Println(r.Header.Get("Authorization"))
	fmt.Println(key)
	// Output:
	// 20060102T150405Z
	// SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624
	// aksk{access=AccessKey}
}
