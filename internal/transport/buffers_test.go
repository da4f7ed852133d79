package transport

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/iscsdk/iscsdk/internal/wire"
)

// readBuffer returns every byte of what it reads, in a buffer at most
// twice its size, whatever the sizes of the reads, and refuses more than
// the limit.
func TestReadBuffer(t *testing.T) {
	for _, n := range []int{0, 1, minBuffer - 1, minBuffer, minBuffer + 1, 150 << 10, 288 << 10, wire.MaxBinaryMessage} {
		want := bytes.Repeat([]byte("chunk"), n/5+1)[:n]
		for _, r := range []io.Reader{bytes.NewReader(want), iotest.OneByteReader(bytes.NewReader(want)), iotest.HalfReader(bytes.NewReader(want))} {
			b, err := readBuffer(r, 0, wire.MaxBinaryMessage)
			if err != nil {
				t.Fatalf("%d bytes: %v", n, err)
			}
			if !bytes.Equal(*b, want) {
				t.Fatalf("%d bytes: read %d, not the same", n, len(*b))
			}
			if cap(*b) > max(2*n, minBuffer) {
				t.Fatalf("%d bytes in a buffer of %d", n, cap(*b))
			}
			putBuffer(b)
		}
	}
	for _, limit := range []int{100, minBuffer, wire.MaxControlMessage, wire.MaxBinaryMessage} {
		if _, err := readBuffer(bytes.NewReader(make([]byte, limit+1)), 0, limit); !errors.Is(err, wire.ErrTooLarge) {
			t.Fatalf("%d bytes of at most %d: %v", limit+1, limit, err)
		}
		if b, err := readBuffer(bytes.NewReader(make([]byte, limit)), binaryBuffer, limit); err != nil || len(*b) != limit {
			t.Fatalf("%d bytes of at most %d: %v", limit, limit, err)
		}
	}
	if _, err := readBuffer(iotest.ErrReader(io.ErrClosedPipe), 0, 100); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("a failing read: %v", err)
	}
}
