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
