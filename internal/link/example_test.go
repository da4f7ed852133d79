package link_test

import (
	"context"
	"fmt"

	"github.com/iscsdk/iscsdk/internal/link"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// A transfer built to resume is repeated when its connection drops; a
// refusal ends it at once.
func ExamplePolicy() {
	p := link.Policy{Attempts: 5, Retrying: func(attempt int, err error) {
		fmt.Printf("attempt %d: %v; again\n", attempt, err)
	}}
	err := p.Do(context.Background(), func(attempt int) error {
		if attempt < 3 {
			return link.ErrDisconnected
		}
		return &wire.Error{Code: wire.CodeConflict, Message: "someone saved since"}
	})
	fmt.Println("ended:", err)
	// Output:
	// attempt 1: iscsdk: disconnected; again
	// attempt 2: iscsdk: disconnected; again
	// ended: conflict: someone saved since
}
