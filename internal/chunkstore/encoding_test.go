package chunkstore

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/iscsdk/iscsdk/internal/chunker"
	"github.com/klauspost/compress/zstd"
)

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestEncodeDecode(t *testing.T) {
	text := bytes.Repeat([]byte("a CAD part, saved again and again. "), 2000)
	for _, tc := range []struct {
		name string
		data []byte
		tag  byte
	}{
		{"empty", nil, TagRaw},
		{"one byte", []byte{1}, TagRaw},
		{"random", random(64 << 10), TagRaw},
		{"text", text, TagZstd},
		{"max zeros", make([]byte, chunker.MaxSize), TagZstd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := Encode(tc.data)
			if enc[0] != tc.tag {
				t.Errorf("tag %d, want %d", enc[0], tc.tag)
			}
			if len(enc) > 1+len(tc.data) {
				t.Errorf("encoded %d bytes into %d", len(tc.data), len(enc))
			}
			dec, err := Decode(enc)
			if err != nil || !bytes.Equal(dec, tc.data) {
				t.Errorf("Decode: %v, equal %v", err, bytes.Equal(dec, tc.data))
			}
		})
	}
}

func TestChunkerFits(t *testing.T) {
	if chunker.MaxSize > MaxChunkSize {
		t.Fatalf("chunker.MaxSize %d > MaxChunkSize %d", chunker.MaxSize, MaxChunkSize)
	}
}

func zstdFrames(t *testing.T, opts []zstd.EOption, parts ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteByte(TagZstd)
	for _, p := range parts {
		w, err := zstd.NewWriter(&buf, opts...)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p)
		w.Close()
	}
	return buf.Bytes()
}

func TestDecodeRefuses(t *testing.T) {
	big := make([]byte, 1<<20)
	part := make([]byte, 100<<10)
	encodeAll := func(b []byte) []byte { return append([]byte{TagZstd}, encoder.EncodeAll(b, nil)...) }
	for _, tc := range []struct {
		name string
		enc  []byte
		want error
	}{
		{"empty", nil, ErrEncoding},
		{"unknown tag", []byte{7, 1, 2}, ErrEncoding},
		{"garbage", []byte{TagZstd, 1, 2, 3, 4, 5, 6, 7, 8}, ErrEncoding},
		{"truncated", encodeAll(random(1000))[:100], ErrEncoding},
		{"raw too large", append([]byte{TagRaw}, make([]byte, MaxChunkSize+1)...), ErrTooLarge},
		{"bomb with size", encodeAll(big), ErrTooLarge},
		{"bomb with a large window", zstdFrames(t, nil, big), ErrTooLarge},
		{"bomb without size", zstdFrames(t, []zstd.EOption{zstd.WithWindowSize(64 << 10)}, big), ErrTooLarge},
		{"bomb in frames", zstdFrames(t, nil, part, part, part, part), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(tc.enc); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// cadLike is 64 KiB of text that compresses about as a STEP file does.
func cadLike() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 64<<10; i++ {
		fmt.Fprintf(&b, "#%d=CARTESIAN_POINT('',(%d.%03d,%d.%03d,%d.5));\n", i, i*7%1000, i*13%1000, i*31%977, i*17%1000, i%97)
	}
	return b.Bytes()[:64<<10]
}

func BenchmarkEncode(b *testing.B) {
	for _, in := range []struct {
		name string
		data []byte
	}{
		{"random", random(64 << 10)},
		{"cadlike", cadLike()},
	} {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			b.RunParallel(func(pb *testing.PB) {
				var buf []byte
				for pb.Next() {
					buf = AppendEncode(buf[:0], in.data)
				}
			})
		})
	}
}

// BenchmarkVerify measures what Put costs before it writes: decode and hash.
func BenchmarkVerify(b *testing.B) {
	data := cadLike()
	enc, id := Encode(data), Sum(data)
	b.SetBytes(int64(len(data)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := Verify("o", id, enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
