package chunker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
	"slices"
	"testing"
	"testing/iotest"
)

// splitmix64 is the generator the gear table was made with; the tests also use
// it to make their inputs, so that they depend on nothing that could change.
type splitmix64 uint64

func (s *splitmix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// randomBytes returns n pseudo-random bytes from seed.
func randomBytes(seed uint64, n int) []byte {
	s := splitmix64(seed)
	b := make([]byte, (n+7)&^7)
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], s.next())
	}
	return b[:n]
}

func TestGearTable(t *testing.T) {
	s := splitmix64(0x69736373646b0001)
	for i := range gear {
		if v := s.next(); gear[i] != v {
			t.Fatalf("gear[%d] = %#x, the documented procedure gives %#x", i, gear[i], v)
		}
	}
}

func TestMasks(t *testing.T) {
	if n := bits.OnesCount64(maskStrict); n != 18 {
		t.Errorf("maskStrict has %d bits, want 18", n)
	}
	if n := bits.OnesCount64(maskLoose); n != 14 {
		t.Errorf("maskLoose has %d bits, want 14", n)
	}
	if maskLoose&^maskStrict != 0 {
		t.Error("maskLoose is not a subset of maskStrict")
	}
}

// golden are the chunk ends of goldenInput. They freeze the gear table, the
// masks and the sizes: if this test fails, the chunker no longer cuts as
// AlgorithmID says, and every stored manifest would stop deduplicating. Fix
// the code, or define a new algorithm id; never just update the list.
var golden = []int{
	73692, 139774, 231132, 309080, 388052, 420952, 526602, 572067,
	642015, 732964, 815451, 832412, 900262, 973071, 1026887, 1103897,
	1185974, 1254021, 1339609, 1386739, 1418205, 1490065, 1507451, 1590249,
	1656377, 1728328, 1751792, 1776320, 1855567, 1947047, 2014481, 2062884,
	2129498, 2237935, 2308526, 2393863, 2467707, 2533390, 2603194, 2670180,
	2727035, 2826961, 2937993, 2992041, 3062364, 3151616, 3196768, 3299754,
	3368680, 3438549, 3560693, 3650021, 3736224, 3802610, 3871977, 3946735,
	4017363, 4067630, 4096652, 4173901, 4194304,
}

func goldenInput() []byte { return randomBytes(0x676f6c64656e, 4<<20) } // "golden"

func TestGolden(t *testing.T) {
	got := Boundaries(goldenInput())
	if !slices.Equal(got, golden) {
		t.Errorf("boundaries of the golden input changed:\ngot  %#v\nwant %#v", got, golden)
	}
}

// reference is the chunking rule written as plainly as possible, byte by
// byte, as the paper gives it; cut must agree with it.
func reference(data []byte) []int {
	var ends []int
	start := 0
	var fp uint64
	for i := 0; i < len(data); i++ {
		size := i - start + 1
		if size > MinSize {
			fp = fp<<1 + gear[data[i]]
			mask := uint64(maskLoose)
			if size <= AvgSize {
				mask = maskStrict
			}
			if fp&mask != 0 && size < MaxSize {
				continue
			}
		} else if size < MaxSize {
			continue
		}
		ends = append(ends, i+1)
		start, fp = i+1, 0
	}
	if start < len(data) {
		ends = append(ends, len(data))
	}
	return ends
}

func TestReference(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		data := randomBytes(seed, 3<<20+int(seed)*777)
		if got, want := Boundaries(data), reference(data); !slices.Equal(got, want) {
			t.Fatalf("seed %d: Boundaries and reference differ:\n%v\n%v", seed, got, want)
		}
	}
	// Zeros never hit a cut point: every chunk is MaxSize.
	zeros := make([]byte, 3*MaxSize+5)
	if got, want := Boundaries(zeros), reference(zeros); !slices.Equal(got, want) {
		t.Fatalf("zeros: %v, reference %v", got, want)
	}
}

func TestSizes(t *testing.T) {
	data := randomBytes(42, 64<<20)
	ends := Boundaries(data)
	prev := 0
	for i, end := range ends {
		size := end - prev
		if size > MaxSize || size < MinSize && i != len(ends)-1 {
			t.Fatalf("chunk %d has %d bytes", i, size)
		}
		prev = end
	}
	avg := len(data) / len(ends)
	t.Logf("%d chunks, average %d bytes (%.2f KiB)", len(ends), avg, float64(avg)/1024)
	if avg < AvgSize*3/4 || avg > AvgSize*5/4 {
		t.Errorf("average chunk size %d, want within 25%% of %d", avg, AvgSize)
	}
}

func TestEdits(t *testing.T) {
	orig := randomBytes(7, 8<<20)
	mid := len(orig) / 2
	edits := map[string][]byte{
		"insert":    slices.Concat(orig[:mid], []byte("hello"), orig[mid:]),
		"delete":    slices.Concat(orig[:mid], orig[mid+3:]),
		"overwrite": slices.Concat(orig[:mid], []byte{1, 2, 3, 4, 5, 6, 7, 8}, orig[mid+8:]),
	}
	before := chunkSet(orig, Boundaries(orig))
	for name, edited := range edits {
		ends := Boundaries(edited)
		after := chunkSet(edited, ends)
		changed := 0
		for c := range after {
			if !before[c] {
				changed++
			}
		}
		t.Logf("%s: %d of %d chunks new", name, changed, len(ends))
		if changed < 1 || changed > 3 {
			t.Errorf("%s: %d chunks changed, want 1 to 3", name, changed)
		}
	}
}

func chunkSet(data []byte, ends []int) map[string]bool {
	m := make(map[string]bool)
	prev := 0
	for _, end := range ends {
		m[string(data[prev:end])] = true
		prev = end
	}
	return m
}

// readAll chunks r and checks that the chunks tile the stream.
func readAll(t *testing.T, r io.Reader) (ends []int, data []byte) {
	t.Helper()
	c := New(r)
	for {
		ch, err := c.Next()
		if err == io.EOF {
			return ends, data
		}
		if err != nil {
			t.Fatal(err)
		}
		if ch.Offset != int64(len(data)) || len(ch.Data) == 0 {
			t.Fatalf("chunk at offset %d with %d bytes after %d bytes", ch.Offset, len(ch.Data), len(data))
		}
		data = append(data, ch.Data...)
		ends = append(ends, len(data))
	}
}

func TestChunker(t *testing.T) {
	big := randomBytes(9, 5<<20+123)
	for _, tc := range []struct {
		name string
		data []byte
		want []int
	}{
		{"empty", nil, nil},
		{"one byte", []byte{7}, []int{1}},
		{"min", big[:MinSize], []int{MinSize}},
		{"min+1", big[:MinSize+1], []int{MinSize + 1}},
		{"max zeros", make([]byte, MaxSize), []int{MaxSize}},
		{"max+1 zeros", make([]byte, MaxSize+1), []int{MaxSize, MaxSize + 1}},
		{"big", big, Boundaries(big)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ends, data := readAll(t, bytes.NewReader(tc.data))
			if !slices.Equal(ends, tc.want) || !bytes.Equal(data, tc.data) {
				t.Errorf("ends %v, want %v", ends, tc.want)
			}
			if b := Boundaries(tc.data); !slices.Equal(b, tc.want) {
				t.Errorf("Boundaries %v, want %v", b, tc.want)
			}
		})
	}
}

func TestSmallReads(t *testing.T) {
	data := randomBytes(11, 3<<20)
	want := Boundaries(data)
	ends, got := readAll(t, iotest.OneByteReader(bytes.NewReader(data)))
	if !slices.Equal(ends, want) || !bytes.Equal(got, data) {
		t.Errorf("one byte at a time: %v, want %v", ends, want)
	}
	ends, got = readAll(t, iotest.HalfReader(iotest.DataErrReader(bytes.NewReader(data))))
	if !slices.Equal(ends, want) || !bytes.Equal(got, data) {
		t.Errorf("half reads with data and EOF together: %v, want %v", ends, want)
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	data := randomBytes(12, 2*MaxSize)
	c := New(io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom)))
	var err error
	for err == nil {
		_, err = c.Next()
	}
	if err != boom {
		t.Fatalf("got %v, want the read error", err)
	}
	if _, err := c.Next(); err != boom {
		t.Fatalf("second call: %v, want the read error again", err)
	}
}

type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

func TestNoProgress(t *testing.T) {
	if _, err := New(stuckReader{}).Next(); err != ErrNoProgress {
		t.Fatalf("got %v, want ErrNoProgress", err)
	}
}

func BenchmarkBoundaries(b *testing.B) {
	data := randomBytes(1, 64<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Boundaries(data)
	}
}

func BenchmarkChunker(b *testing.B) {
	data := randomBytes(1, 64<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c := New(bytes.NewReader(data))
		for {
			if _, err := c.Next(); err != nil {
				break
			}
		}
	}
}
