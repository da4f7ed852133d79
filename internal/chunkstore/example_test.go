package chunkstore_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
)

func ExampleEncode() {
	data := bytes.Repeat([]byte("bracket "), 1000)
	enc := chunkstore.Encode(data)
	dec, err := chunkstore.Decode(enc)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(enc[0] == chunkstore.TagZstd, len(enc) < len(data), bytes.Equal(dec, data))
	// Output: true true true
}

func ExampleDir() {
	root, err := os.MkdirTemp("", "chunks")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	store, err := chunkstore.NewDir(root)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	data := []byte("one chunk of a part file")
	id := chunkstore.Sum(data)
	if err := store.Put(ctx, "acme", id, chunkstore.Encode(data)); err != nil {
		log.Fatal(err)
	}
	// The store checks the id: it does not take the client's word for it.
	err = store.Put(ctx, "acme", chunkstore.Sum([]byte("other")), chunkstore.Encode(data))
	fmt.Println(err != nil)

	enc, err := store.Get(ctx, "acme", id)
	if err != nil {
		log.Fatal(err)
	}
	dec, _ := chunkstore.Decode(enc)
	fmt.Println(string(dec))

	// No version references the chunk, and it is older than the cut-off.
	st, err := chunkstore.GC(ctx, store, "acme", func(chunkstore.ID) bool { return false }, time.Now().Add(time.Hour))
	fmt.Println(st.Deleted, err)
	// Output:
	// true
	// one chunk of a part file
	// 1 <nil>
}
