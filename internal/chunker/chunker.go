// Package chunker cuts a byte stream into content-defined chunks.
//
// It implements FastCDC with normalized chunking (Xia et al., "FastCDC: a Fast
// and Efficient Content-Defined Chunking Approach for Data Deduplication",
// USENIX ATC 2016, and the 2020 TPDS extension). A gear hash rolls over the
// input; a cut point is declared where the hash has zero bits under a mask.
// Between MinSize and AvgSize the mask is stricter (more bits), after AvgSize
// it is looser (fewer bits): this pulls chunk sizes towards the average. No
// chunk is shorter than MinSize, except the last one of a stream, and none is
// longer than MaxSize.
//
// Because cut points depend only on the bytes near them, an edit in the middle
// of a file changes the chunks around the edit and leaves the others as they
// were: that is what lets a re-save send only what changed.
//
// The gear table, the masks and the sizes are frozen under [AlgorithmID],
// which every manifest records. Changing any of them changes every boundary,
// and so must come with a new algorithm id; the golden test in this package
// fails if they change by accident.
package chunker

import (
	"errors"
	"io"
)

// AlgorithmID names the chunking algorithm with its parameters: the gear
// table, the masks and the sizes below. Manifests record it; two clients
// dedup against each other only when they chunk with the same id.
const AlgorithmID = "fastcdc-v1-16k-64k-256k"

// Chunk sizes in bytes.
const (
	MinSize = 16 << 10  // no cut point before this many bytes
	AvgSize = 64 << 10  // where the stricter mask gives way to the looser one
	MaxSize = 256 << 10 // a chunk is cut here if no cut point came before
)

// The masks of normalized chunking, level 2 (the paper's NC2): the strict one
// has log2(AvgSize)+2 = 18 one bits, the loose one log2(AvgSize)-2 = 14. The
// bits are every other bit from bit 62 down, so that a cut point depends on the
// last 30 to 63 bytes (the gear hash shifts left by one each byte, so bit k
// depends on the last k+1 bytes), and maskLoose is a subset of maskStrict.
const (
	maskStrict = 0x5555555550000000 // bits 62, 60, ..., 28
	maskLoose  = 0x5555555000000000 // bits 62, 60, ..., 36
)

// bufSize is the size of a Chunker's buffer: a few MaxSize, so that refills
// move little data and reads are large.
const bufSize = 4 * MaxSize

// ErrNoProgress is returned by [Chunker.Next] when the reader returns no data
// and no error many times in a row.
var ErrNoProgress = errors.New("chunker: reader made no progress")

// A Chunk is one piece of the stream.
type Chunk struct {
	// Offset is the position of the chunk's first byte in the stream.
	Offset int64
	// Data holds the chunk's bytes; its length is the chunk's length. It
	// points into the Chunker's buffer and is valid only until the next call
	// to Next: copy it to keep it.
	Data []byte
}

// A Chunker reads a stream and returns its chunks in order. Its memory is one
// fixed buffer of about 1 MiB, whatever the size of the stream. A Chunker is
// not safe for concurrent use.
type Chunker struct {
	r     io.Reader
	buf   []byte
	start int   // first byte of buf not yet returned
	end   int   // end of the data in buf
	off   int64 // stream offset of buf[start]
	eof   bool
	err   error // sticky read error
}

// New returns a Chunker that reads from r.
func New(r io.Reader) *Chunker {
	return &Chunker{r: r, buf: make([]byte, bufSize)}
}

// Next returns the next chunk. At the end of the stream it returns io.EOF; an
// empty stream has no chunks. A read error other than io.EOF is returned as
// is, and again by every later call. The returned Chunk's Data is valid only
// until the next call.
func (c *Chunker) Next() (Chunk, error) {
	if c.end-c.start < MaxSize && !c.eof && c.err == nil {
		c.fill()
	}
	if c.err != nil {
		// Cutting what was read before the error could put a boundary where
		// a complete read would not: return the error, not a chunk.
		return Chunk{}, c.err
	}
	if c.start == c.end {
		return Chunk{}, io.EOF
	}
	n := cut(c.buf[c.start:c.end])
	ch := Chunk{Offset: c.off, Data: c.buf[c.start : c.start+n : c.start+n]}
	c.start += n
	c.off += int64(n)
	return ch, nil
}

// fill moves the unread data to the front of the buffer and reads until the
// buffer is full, the stream ends or a read fails.
func (c *Chunker) fill() {
	if c.start > 0 {
		c.end = copy(c.buf, c.buf[c.start:c.end])
		c.start = 0
	}
	empty := 0
	for c.end < len(c.buf) {
		n, err := c.r.Read(c.buf[c.end:])
		if n < 0 || n > len(c.buf)-c.end {
			c.err = errors.New("chunker: reader returned an invalid count")
			return
		}
		c.end += n
		if err == io.EOF {
			c.eof = true
			return
		}
		if err != nil {
			c.err = err
			return
		}
		if n > 0 {
			empty = 0
		} else if empty++; empty >= 100 {
			c.err = ErrNoProgress
			return
		}
	}
}

// Boundaries returns the end offset of each chunk of data, in order: the last
// one is len(data). Empty data has no chunks. It cuts exactly as a Chunker
// reading data would.
func Boundaries(data []byte) []int {
	var ends []int
	for off := 0; off < len(data); {
		off += cut(data[off:])
		ends = append(ends, off)
	}
	return ends
}

// cut returns the length of the chunk that starts at src[0]. src must hold at
// least MaxSize bytes, or all that is left of the stream.
func cut(src []byte) int {
	n := len(src)
	if n <= MinSize {
		return n
	}
	if n > MaxSize {
		n = MaxSize
	}
	normal := AvgSize
	if n < normal {
		normal = n
	}
	// The hash starts from zero at MinSize: the bytes before cannot be a cut
	// point, so there is no need to hash them (as in the paper).
	var fp uint64
	for i, b := range src[MinSize:normal] {
		fp = fp<<1 + gear[b]
		if fp&maskStrict == 0 {
			return MinSize + i + 1
		}
	}
	for i, b := range src[normal:n] {
		fp = fp<<1 + gear[b]
		if fp&maskLoose == 0 {
			return normal + i + 1
		}
	}
	return n
}
