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

func BenchmarkGet(b *testing.B) {
	for name, s := range benchStores(b) {
		const n = 64
		ids := make([]chunkstore.ID, n)
		for i := range ids {
			data := benchData(benchSeed.Add(1))
			ids[i] = chunkstore.Sum(data)
			if err := s.Put(context.Background(), "acme", ids[i], chunkstore.Encode(data)); err != nil {
				b.Fatal(err)
			}
		}
		for _, par := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/conc=%d", name, par), func(b *testing.B) {
				b.SetBytes(benchChunk)
				runN(b, par, func(i int) {
					if _, err := s.Get(context.Background(), "acme", ids[i%n]); err != nil {
						b.Error(err)
					}
				})
			})
		}
		b.Run(name+"/has", func(b *testing.B) {
			runN(b, 1, func(i int) {
				if ok, err := s.Has(context.Background(), "acme", ids[i%n]); !ok || err != nil {
					b.Error(ok, err)
				}
			})
		})
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
