//go:build linux

package s3store_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/chunkstore/s3store"
)

// The benchmarks behind the numbers in docs/deploy.md: chunk Put, Get and
// Has on versitygw over loopback against the Dir store, one at a time and 8
// at once, with 64 KiB chunks (the chunker's average) of random content
// (stored raw), and what packing 64 chunks into one object would change.
//
//	go test -run '^$' -bench . -benchtime 400x ./internal/chunkstore/s3store/

const benchChunk = 64 << 10

func benchData(seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, benchChunk)
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func benchStores(b *testing.B) map[string]chunkstore.Store {
	d, err := chunkstore.NewDir(filepath.Join(b.TempDir(), "chunks"))
	if err != nil {
		b.Fatal(err)
	}
	return map[string]chunkstore.Store{"dir": d, "s3": open(b, time.Now)}
}

var benchSeed atomic.Uint64

func BenchmarkPut(b *testing.B) {
	for name, s := range benchStores(b) {
		for _, par := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/conc=%d", name, par), func(b *testing.B) {
				encs := make([][]byte, b.N)
				ids := make([]chunkstore.ID, b.N)
				for i := range encs {
					data := benchData(benchSeed.Add(1))
					ids[i], encs[i] = chunkstore.Sum(data), chunkstore.Encode(data)
				}
				b.SetBytes(benchChunk)
				b.ResetTimer()
				runN(b, par, func(i int) {
					if err := s.Put(context.Background(), "acme", ids[i], encs[i]); err != nil {
						b.Error(err)
					}
				})
			})
		}
	}
}

// BenchmarkGet reads chunks back, and asks for them, from the replica that
// put them (which remembers their objects) and from another one (which must
// look each up: a LIST before the GET).
func BenchmarkGet(b *testing.B) {
	d, err := chunkstore.NewDir(filepath.Join(b.TempDir(), "chunks"))
	if err != nil {
		b.Fatal(err)
	}
	writer, cfg := openConfig(b, time.Now)
	other := func(b *testing.B) chunkstore.Store {
		s, err := s3store.New(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name string
		put  chunkstore.Store
		read func(b *testing.B) chunkstore.Store
		conc []int
	}{
		{"dir", d, func(*testing.B) chunkstore.Store { return d }, []int{1, 8}},
		{"s3/same-replica", writer, func(*testing.B) chunkstore.Store { return writer }, []int{1, 8}},
		{"s3/other-replica", writer, other, []int{1, 8}},
	} {
		for _, par := range tc.conc {
			for _, op := range []string{"get", "has"} {
				b.Run(fmt.Sprintf("%s/%s/conc=%d", tc.name, op, par), func(b *testing.B) {
					ids := make([]chunkstore.ID, b.N)
					for i := range ids {
						data := benchData(benchSeed.Add(1))
						ids[i] = chunkstore.Sum(data)
						if err := tc.put.Put(context.Background(), "acme", ids[i], chunkstore.Encode(data)); err != nil {
							b.Fatal(err)
						}
					}
					s := tc.read(b)
					if op == "get" {
						b.SetBytes(benchChunk)
					}
					b.ResetTimer()
					runN(b, par, func(i int) {
						var err error
						if op == "get" {
							_, err = s.Get(context.Background(), "acme", ids[i])
						} else {
							var ok bool
							if ok, err = s.Has(context.Background(), "acme", ids[i]); !ok && err == nil {
								err = fmt.Errorf("chunk %s missing", ids[i])
							}
						}
						if err != nil {
							b.Error(err)
						}
					})
				})
			}
		}
	}
}

// BenchmarkPacked measures the alternative design: 64 chunks in one 4 MiB
// object, written with one PUT, each chunk read back with a ranged GET.
func BenchmarkPacked(b *testing.B) {
	if srv == nil {
		b.Skip("no S3 server")
	}
	ctx := context.Background()
	bucket, err := srv.MakeBucket(ctx, "packed")
	if err != nil {
		b.Fatal(err)
	}
	c, err := minio.New(strings.TrimPrefix(srv.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: "us-east-1"})
	if err != nil {
		b.Fatal(err)
	}
	const per = 64
	pack := make([]byte, 0, per*benchChunk)
	for range per {
		pack = append(pack, chunkstore.Encode(benchData(benchSeed.Add(1)))...)
	}
	b.Run("put", func(b *testing.B) {
		b.SetBytes(int64(len(pack)))
		for i := 0; b.Loop(); i++ {
			if _, err := c.PutObject(ctx, bucket, fmt.Sprintf("pack-%d", i), bytes.NewReader(pack), int64(len(pack)), minio.PutObjectOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	if _, err := c.PutObject(ctx, bucket, "pack", bytes.NewReader(pack), int64(len(pack)), minio.PutObjectOptions{}); err != nil {
		b.Fatal(err)
	}
	size := int64(benchChunk + 1)
	for _, par := range []int{1, 8} {
		b.Run(fmt.Sprintf("get-range/conc=%d", par), func(b *testing.B) {
			b.SetBytes(size)
			runN(b, par, func(i int) {
				var opt minio.GetObjectOptions
				off := int64(i%per) * size
				opt.SetRange(off, off+size-1)
				o, err := c.GetObject(ctx, bucket, "pack", opt)
				if err == nil {
					_, err = io.Copy(io.Discard, o)
					o.Close()
				}
				if err != nil {
					b.Error(err)
				}
			})
		})
	}
}

// runN calls fn(0..b.N-1) from par goroutines.
func runN(b *testing.B, par int, fn func(i int)) {
	var next atomic.Int64
	done := make(chan struct{})
	for range par {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				fn(i)
			}
		}()
	}
	for range par {
		<-done
	}
}
