package chunker_test

import (
	"bytes"
	"fmt"
	"io"
	"log"

	"github.com/iscsdk/iscsdk/internal/chunker"
)

func Example() {
	// 1 MiB of zeros has no cut point: it is cut at MaxSize.
	c := chunker.New(bytes.NewReader(make([]byte, 1<<20)))
	for {
		ch, err := c.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ch.Offset, len(ch.Data))
	}
	// Output:
	// 0 262144
	// 262144 262144
	// 524288 262144
	// 786432 262144
}

func ExampleBoundaries() {
	fmt.Println(chunker.Boundaries(make([]byte, 300<<10)))
	// Output: [262144 307200]
}
