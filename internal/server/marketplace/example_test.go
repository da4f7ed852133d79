package marketplace_test

import (
	"fmt"

	"github.com/iscsdk/iscsdk/internal/server/marketplace"
)

// The marketplace signs each call; a vendor's own test tool can sign a
// request the same way. The query of this call would be
// ?signature=<below>&timestamp=1767225600000&nonce=n0nce.
func ExampleSign() {
	body := []byte(`{"activity":"newInstance","orderId":"o-1","orderLineId":"ol-1","businessId":"b-1"}`)
	fmt.Println(marketplace.Sign("test-access-key", "n0nce", "1767225600000", body))
	// Output: 4116e9bb79b8183e34d224ce92a044da29aa92f7c87c0f46a624b82ecd21cb09
}

// A sync call (tenantSync here) carries its signature in headers:
// x-sign: <below>, x-timestamp: 1767225600000, x-nonce: n0nce.
func ExampleSyncSign() {
	body := []byte(`{"instanceId":"i-1","tenantId":"T1","name":"Acme","flag":1,"testFlag":0,"timeStamp":"20260101080000000"}`)
	fmt.Println(marketplace.SyncSign("test-kit-key", "n0nce", "1767225600000", body))
	// Output: 440f8b4dc7e1b946a5706d38d196b4c7c7a381d527d2678687868f4caae436d2
}
