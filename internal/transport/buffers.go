package transport

import (
	"io"
	"math/bits"
	"sync"

	"github.com/iscsdk/iscsdk/internal/wire"
)

// Messages are read into pooled buffers of a few sizes, powers of two from
// minBuffer to wire.MaxBinaryMessage: a message read whole with io.ReadAll
// took about twice its size in fresh memory (its growing pieces, then one
// piece of the right size, zeroed first) and was garbage once handled —
// for iscd, receiving chunks, the most of what its collector had to do.
// A buffer is at most twice the message in it, and that is what a held
// message weighs against the budgets.
const (
	minBuffer   = 4 << 10
	bufferSizes = 1 + 10 // 4 KiB … 4 MiB
	// binaryBuffer is the size class a binary message is first read
	// into: 64 KiB, the chunks' average, so that most are read in one
	// or two reads and not grown through 4, 8, 16 and 32 KiB first.
	binaryBuffer = 4
)

var buffers [bufferSizes]sync.Pool

func init() {
	if minBuffer<<(bufferSizes-1) != wire.MaxBinaryMessage {
		panic("transport: the largest buffer is not wire.MaxBinaryMessage")
	}
}

// getBuffer returns an empty buffer of size class i.
func getBuffer(i int) *[]byte {
	if b, ok := buffers[i].Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, minBuffer<<i)
	return &b
}

// putBuffer gives b back for another message; nothing may use it after.
func putBuffer(b *[]byte) {
	i := bits.Len(uint(cap(*b)/minBuffer)) - 1
	if i < 0 || i >= bufferSizes || cap(*b) != minBuffer<<i {
		return // not one of ours
	}
	*b = (*b)[:0]
	buffers[i].Put(b)
}

// readBuffer reads r to its end into a pooled buffer of size class first
// or larger, which the caller gives back with putBuffer. More than limit
// bytes (at most wire.MaxBinaryMessage) is wire.ErrTooLarge.
func readBuffer(r io.Reader, first, limit int) (*[]byte, error) {
	i := first
	b := getBuffer(i)
	for {
		if len(*b) >= limit {
			var one [1]byte
			n, err := io.ReadFull(r, one[:])
			if n > 0 {
				putBuffer(b)
				return nil, wire.ErrTooLarge
			}
			if err == io.EOF {
				return b, nil
			}
			putBuffer(b)
			return nil, err
		}
		if len(*b) == cap(*b) {
			i++
			bigger := getBuffer(i)
			*bigger = append(*bigger, *b...)
			putBuffer(b)
			b = bigger
		}
		n, err := r.Read((*b)[len(*b):min(cap(*b), limit)])
		*b = (*b)[:len(*b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			putBuffer(b)
			return nil, err
		}
	}
}
