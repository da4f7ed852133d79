package manifest_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"time"

	"github.com/iscsdk/iscsdk/internal/manifest"
)

func Example() {
	content := bytes.Repeat([]byte("a part file "), 100000) // 1.2 MB
	sent := 0
	f, err := manifest.Build(context.Background(), bytes.NewReader(content), func(c manifest.Chunk) error {
		sent += len(c.Encoded) // an uploader would send c.ID and c.Encoded here
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	f.Path, f.Mode, f.ModTime = "bracket.prt", 0o644, time.Unix(1700000000, 0)

	b, err := manifest.Encode(manifest.New(f))
	if err != nil {
		log.Fatal(err)
	}
	m, err := manifest.Decode(b)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Files[0].Path, m.Files[0].Size, len(m.Files[0].Chunks), "chunks", sent < len(content)/100)
	// Output: bracket.prt 1200000 5 chunks true
}
