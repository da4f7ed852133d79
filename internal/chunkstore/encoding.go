package chunkstore

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// The encoding tags: the first byte of an encoded chunk.
const (
	TagRaw  = 0 // the rest is the content as is
	TagZstd = 1 // the rest is one zstd frame of the content
)

// MaxChunkSize is the largest decoded chunk that Decode and Put accept: the
// chunker's 256 KiB maximum plus 32 KiB of slack. Anything larger is refused
// before it is decoded in full, so a small zstd frame that would expand to
// gigabytes (a zip bomb) costs nothing.
const MaxChunkSize = 256<<10 + 32<<10

// MaxEncodedSize is the largest encoded chunk that Decode and Put accept: a
// raw chunk of MaxChunkSize and its tag.
const MaxEncodedSize = 1 + MaxChunkSize

// Errors of Decode, and so of Put.
var (
	ErrEncoding = errors.New("chunkstore: invalid chunk encoding")
	ErrTooLarge = errors.New("chunkstore: chunk larger than MaxChunkSize")
)

// encoderWindow is the zstd window of the encoder: the power of two at
// or above MaxChunkSize.
const encoderWindow = 512 << 10

// One encoder and one decoder for the process: both are safe for concurrent
// use of EncodeAll and DecodeAll, and each keeps up to GOMAXPROCS states.
var (
	encoder = must(zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderCRC(false), // chunks are checked by their hash
		zstd.WithEncoderConcurrency(0),
		// A chunk is one frame and refers to nothing outside itself: a
		// window past the largest chunk only costs memory (the default
		// 8 MiB history is allocated by each of the encoder's states).
		zstd.WithWindowSize(encoderWindow),
	))
	decoder = must(zstd.NewReader(nil,
		zstd.WithDecoderMaxMemory(MaxChunkSize),
		zstd.WithDecoderConcurrency(0),
	))
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Encode returns the stored form of a chunk's content: a tag byte, then the
// content compressed with zstd at its fastest level, or the content as is when
// compression does not make it smaller. It is safe for concurrent use.
func Encode(data []byte) []byte { return AppendEncode(nil, data) }

// AppendEncode appends the stored form of data (see Encode) to dst and returns
// the extended slice. Reusing dst spares an allocation per chunk, which at
// gigabytes per second is what limits the speed of encoding.
func AppendEncode(dst, data []byte) []byte {
	// Room for zstd's worst case (raw blocks and their headers), so that one
	// allocation at most serves either outcome.
	dst = slices.Grow(dst, 1+len(data)+len(data)>>7+64)
	n := len(dst)
	dst = encoder.EncodeAll(data, append(dst, TagZstd))
	if len(dst)-n >= 1+len(data) {
		dst = append(append(dst[:n], TagRaw), data...)
	}
	return dst
}

// Decode returns the content of an encoded chunk. It refuses, with
// ErrTooLarge, a chunk whose content would be larger than MaxChunkSize, and
// with ErrEncoding anything else that is not what Encode makes. The content of
// a raw chunk is returned in place: it shares memory with encoded. Decode is
// safe for concurrent use.
func Decode(encoded []byte) ([]byte, error) { return decode(nil, encoded) }

// decode is Decode, decoding zstd into dst's spare capacity when it is enough.
func decode(dst, encoded []byte) ([]byte, error) {
	if len(encoded) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrEncoding)
	}
	if len(encoded) > MaxEncodedSize {
		return nil, fmt.Errorf("%w: %d bytes encoded", ErrTooLarge, len(encoded))
	}
	payload := encoded[1:]
	switch encoded[0] {
	case TagRaw:
		return payload, nil
	case TagZstd:
	default:
		return nil, fmt.Errorf("%w: unknown tag %d", ErrEncoding, encoded[0])
	}
	var h zstd.Header
	if err := h.Decode(payload); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEncoding, err)
	}
	if h.HasFCS {
		if h.FrameContentSize > MaxChunkSize {
			return nil, fmt.Errorf("%w: frame declares %d bytes", ErrTooLarge, h.FrameContentSize)
		}
		if dst == nil {
			dst = make([]byte, 0, h.FrameContentSize)
		}
	}
	out, err := decoder.DecodeAll(payload, dst[:0])
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) || err == nil && len(out) > MaxChunkSize {
		return nil, fmt.Errorf("%w: content exceeds %d bytes", ErrTooLarge, MaxChunkSize)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEncoding, err)
	}
	return out, nil
}

// decodeBufs holds buffers for Verify, which needs the content only long
// enough to hash it.
var decodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, MaxChunkSize); return &b }}
