package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// The corpus is a folder of engineering data, saved as one assembly: real
// CalculiX decks and larger decks of the same form, STEP-like text, real
// ELF binaries of this machine, and incompressible data. It is generated
// for each run from a fixed seed (the binaries come from the machine).
type corpus struct {
	dir   string
	files []corpusFile
	size  int64
	kinds map[string]int64 // bytes by kind
	notes []string
}

type corpusFile struct {
	rel  string
	kind string
	size int64
}

// Shares of the corpus by kind; the rest is incompressible.
const (
	shareDecks  = 0.30 // CalculiX decks: the real ones, then generated meshes
	shareStep   = 0.25 // STEP AP214-like text
	shareBinary = 0.20 // ELF executables and libraries of this machine
)

// ccxExamples is where Debian's calculix-ccx-test package puts CalculiX's
// own test decks (some gzipped).
const ccxExamples = "/usr/share/doc/calculix-ccx-test/examples"

func makeCorpus(dir string, total int64, repo string) (*corpus, error) {
	c := &corpus{dir: dir, kinds: map[string]int64{}}
	rng := rand.New(rand.NewPCG(0x697363, 0x62656e6368))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// Real decks first, as they are.
	decks := int64(float64(total) * shareDecks)
	n, err := c.realDecks(repo, decks/2)
	if err != nil {
		return nil, err
	}
	for i := 0; n < decks; i++ {
		size := min(fileSize(rng, total), decks-n)
		if err := c.write(fmt.Sprintf("ccx/mesh_%03d.inp", i), "ccx", size, func(w *bufio.Writer, size int64) error {
			return writeDeck(w, rng, i, size)
		}); err != nil {
			return nil, err
		}
		n += size
	}
	step := int64(float64(total) * shareStep)
	for i, n := 0, int64(0); n < step; i++ {
		size := min(fileSize(rng, total), step-n)
		if err := c.write(fmt.Sprintf("step/part_%03d.stp", i), "step", size, func(w *bufio.Writer, size int64) error {
			return writeStep(w, rng, i, size)
		}); err != nil {
			return nil, err
		}
		n += size
	}
	bins, err := c.binaries(int64(float64(total) * shareBinary))
	if err != nil {
		return nil, err
	}
	random := total - c.size
	if short := int64(float64(total)*shareBinary) - bins; short > 0 {
		c.notes = append(c.notes, fmt.Sprintf("only %d MiB of binaries found: the rest is incompressible", bins>>20))
	}
	for i, n := 0, int64(0); n < random; i++ {
		size := min(fileSize(rng, total), random-n)
		seed := rng.Uint64()
		if err := c.write(fmt.Sprintf("results/run_%03d.bin", i), "incompressible", size, func(w *bufio.Writer, size int64) error {
			return writeRandom(w, seed, size)
		}); err != nil {
			return nil, err
		}
		n += size
	}
	return c, nil
}

// fileSize draws a file size, log-uniform from 256 KiB to total/16.
func fileSize(rng *rand.Rand, total int64) int64 {
	lo, hi := 18.0, float64(bitsLen(total/16))
	return int64(1) << int(lo+rng.Float64()*(hi-lo)) * int64(100+rng.IntN(100)) / 150
}

func bitsLen(n int64) int {
	b := 0
	for ; n > 0; n >>= 1 {
		b++
	}
	return b
}

// write makes one file of the corpus with gen, which writes exactly size bytes.
func (c *corpus) write(rel, kind string, size int64, gen func(w *bufio.Writer, size int64) error) error {
	p := filepath.Join(c.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(&limitWriter{w: f, n: size}, 1<<20)
	err = gen(w, size)
	if err == nil || err == errFull {
		err = w.Flush()
		if err == errFull {
			err = nil
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("corpus %s: %w", rel, err)
	}
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	c.add(rel, kind, st.Size())
	return nil
}

func (c *corpus) add(rel, kind string, size int64) {
	c.files = append(c.files, corpusFile{rel: rel, kind: kind, size: size})
	c.size += size
	c.kinds[kind] += size
}

var errFull = fmt.Errorf("file full")

// limitWriter writes the first n bytes and then reports errFull.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		k, err := l.w.Write(p[:l.n])
		l.n -= int64(k)
		if err == nil {
			err = errFull
		}
		return k, err
	}
	k, err := l.w.Write(p)
	l.n -= int64(k)
	return k, err
}

// realDecks copies CalculiX's test decks (or, without them, the examples of
// this repository), up to max bytes.
func (c *corpus) realDecks(repo string, max int64) (int64, error) {
	var paths []string
	root := ccxExamples
	if _, err := os.Stat(root); err != nil {
		root = filepath.Join(repo, "examples", "data")
		c.notes = append(c.notes, "calculix-ccx-test not installed: the real decks are this repository's examples only")
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && (strings.HasSuffix(p, ".inp") || strings.HasSuffix(p, ".inp.gz")) {
			paths = append(paths, p)
		}
		return nil
	})
	slices.Sort(paths)
	var n int64
	for _, p := range paths {
		if n >= max {
			break
		}
		data, err := readMaybeGzip(p)
		if err != nil {
			return n, err
		}
		rel := "ccx/real/" + strings.TrimSuffix(filepath.Base(p), ".gz")
		if err := os.MkdirAll(filepath.Join(c.dir, "ccx", "real"), 0o755); err != nil {
			return n, err
		}
		if err := os.WriteFile(filepath.Join(c.dir, filepath.FromSlash(rel)), data, 0o644); err != nil {
			return n, err
		}
		c.add(rel, "ccx", int64(len(data)))
		n += int64(len(data))
	}
	return n, nil
}

func readMaybeGzip(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(p, ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		r = z
	}
	return io.ReadAll(io.LimitReader(r, 64<<20))
}

// binaries copies ELF files of /usr/bin and /usr/lib, each once, up to max bytes.
func (c *corpus) binaries(max int64) (int64, error) {
	type cand struct {
		path string
		size int64
	}
	var found []cand
	seen := map[uint64]bool{}
	for _, root := range []string{"/usr/bin", "/usr/lib", "/usr/libexec"} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			info, err := d.Info()
			if err != nil || info.Size() < 64<<10 {
				return nil
			}
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				if seen[st.Ino] {
					return nil
				}
				seen[st.Ino] = true
			}
			found = append(found, cand{p, info.Size()})
			return nil
		})
	}
	slices.SortFunc(found, func(a, b cand) int { return strings.Compare(a.path, b.path) })
	// Spread the picks over the whole list, not the first directory only.
	var n int64
	sums := map[string]bool{}
	for i := 0; i < len(found) && n < max; i++ {
		f := found[(i*7919)%len(found)]
		data, err := os.ReadFile(f.path)
		if err != nil || len(data) < 4 || !bytes.Equal(data[:4], []byte("\x7fELF")) {
			continue
		}
		head := string(data[:min(len(data), 4096)]) + strconv.Itoa(len(data))
		if sums[head] {
			continue // the same file under another name
		}
		sums[head] = true
		data = data[:min(int64(len(data)), max-n)]
		rel := fmt.Sprintf("bin/%04d_%s", i, filepath.Base(f.path))
		if err := os.MkdirAll(filepath.Join(c.dir, "bin"), 0o755); err != nil {
			return n, err
		}
		if err := os.WriteFile(filepath.Join(c.dir, rel), data, 0o755); err != nil {
			return n, err
		}
		c.add(rel, "binary", int64(len(data)))
		n += int64(len(data))
	}
	return n, nil
}

// writeRandom writes incompressible bytes (ChaCha8 from seed).
func writeRandom(w *bufio.Writer, seed uint64, size int64) error {
	var s [32]byte
	for i := range 4 {
		for j := range 8 {
			s[i*8+j] = byte(seed >> (8 * j))
		}
		seed = seed*6364136223846793005 + 1442695040888963407
	}
	r := rand.NewChaCha8(s)
	buf := make([]byte, 1<<20)
	for size > 0 {
		r.Read(buf)
		k := min(int64(len(buf)), size)
		if _, err := w.Write(buf[:k]); err != nil {
			return err
		}
		size -= k
	}
	return nil
}

// writeDeck writes a CalculiX input deck of about size bytes: a
// hexahedral mesh of a perturbed block (nodes, C3D8 elements), a
// material, boundary conditions, loads and a static step, as a mesher
// would write it.
func writeDeck(w *bufio.Writer, rng *rand.Rand, n int, size int64) error {
	// About 70 bytes a node line and 60 an element line: pick the grid.
	nodes := size / 130
	nx := int64(40 + rng.IntN(40))
	ny := int64(20 + rng.IntN(20))
	nz := max(nodes/(nx*ny), 2)
	fmt.Fprintf(w, "** Generated by iscbench: hexahedral mesh of block %d, %dx%dx%d nodes\n*HEADING\nModel: block_%04d\n", n, nx, ny, nz, n)
	w.WriteString("*NODE, NSET=NALL\n")
	var b []byte
	hx, hy, hz := 0.5+rng.Float64(), 0.5+rng.Float64(), 0.25+rng.Float64()
	id := 1
	for k := range nz {
		for j := range ny {
			for i := range nx {
				b = strconv.AppendInt(b[:0], int64(id), 10)
				for _, x := range []float64{
					float64(i)*hx + 0.01*rng.NormFloat64(),
					float64(j)*hy + 0.01*rng.NormFloat64(),
					float64(k)*hz + 0.01*rng.NormFloat64(),
				} {
					b = append(b, ", "...)
					b = strconv.AppendFloat(b, x, 'e', 6, 64)
				}
				b = append(b, '\n')
				if _, err := w.Write(b); err != nil {
					return err
				}
				id++
			}
		}
	}
	w.WriteString("*ELEMENT, TYPE=C3D8, ELSET=EALL\n")
	node := func(i, j, k int64) int64 { return 1 + i + j*nx + k*nx*ny }
	e := int64(1)
	for k := range nz - 1 {
		for j := range ny - 1 {
			for i := range nx - 1 {
				b = strconv.AppendInt(b[:0], e, 10)
				for _, v := range []int64{node(i, j, k), node(i+1, j, k), node(i+1, j+1, k), node(i, j+1, k),
					node(i, j, k+1), node(i+1, j, k+1), node(i+1, j+1, k+1), node(i, j+1, k+1)} {
					b = append(b, ", "...)
					b = strconv.AppendInt(b, v, 10)
				}
				b = append(b, '\n')
				if _, err := w.Write(b); err != nil {
					return err
				}
				e++
			}
		}
	}
	fmt.Fprintf(w, "*NSET, NSET=FIX\n")
	for j := range ny {
		for k := range nz {
			fmt.Fprintf(w, "%d,\n", node(0, j, k))
		}
	}
	fmt.Fprintf(w, "*MATERIAL, NAME=STEEL\n*ELASTIC\n210000., 0.3\n*DENSITY\n7.85e-9\n"+
		"*SOLID SECTION, ELSET=EALL, MATERIAL=STEEL\n*STEP\n*STATIC\n*BOUNDARY\nFIX, 1, 3\n*CLOAD\n")
	for j := range ny {
		fmt.Fprintf(w, "%d, 3, %.4e\n", node(nx-1, j, nz-1), -1000*rng.Float64())
	}
	_, err := w.WriteString("*NODE FILE\nU\n*EL FILE\nS, E\n*END STEP\n")
	return err
}

// writeStep writes an ISO 10303-21 (STEP AP214) file of about size bytes:
// the header, then a data section of the entities a B-rep solid is made of.
func writeStep(w *bufio.Writer, rng *rand.Rand, n int, size int64) error {
	fmt.Fprintf(w, "ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('iscbench part %d'),'2;1');\n"+
		"FILE_NAME('part_%03d.stp','2026-11-27T00:00:00',('iscbench'),(''),'iscbench','iscbench','');\n"+
		"FILE_SCHEMA(('AUTOMOTIVE_DESIGN { 1 0 10303 214 1 1 1 1 }'));\nENDSEC;\nDATA;\n", n, n)
	var b []byte
	id := 1
	num := func(x float64) {
		b = strconv.AppendFloat(b, x, 'G', 9+rng.IntN(6), 64)
		if !bytes.ContainsAny(b[len(b)-3:], ".E") {
			b = append(b, '.')
		}
	}
	ref := func(back int) {
		b = append(b, '#')
		b = strconv.AppendInt(b, int64(max(1, id-1-rng.IntN(back))), 10)
	}
	var written int64
	for written < size-200 {
		b = append(b[:0], '#')
		b = strconv.AppendInt(b, int64(id), 10)
		b = append(b, '=')
		switch k := rng.IntN(12); {
		case k < 4:
			b = append(b, "CARTESIAN_POINT('',("...)
			for c := range 3 {
				if c > 0 {
					b = append(b, ',')
				}
				num(200 * (rng.Float64() - 0.5))
			}
			b = append(b, "));"...)
		case k < 5:
			b = append(b, "DIRECTION('',("...)
			for c := range 3 {
				if c > 0 {
					b = append(b, ',')
				}
				num(rng.Float64()*2 - 1)
			}
			b = append(b, "));"...)
		case k < 6:
			b = append(b, "AXIS2_PLACEMENT_3D('',"...)
			ref(20)
			b = append(b, ',')
			ref(20)
			b = append(b, ',')
			ref(20)
			b = append(b, ");"...)
		case k < 7:
			b = append(b, "VERTEX_POINT('',"...)
			ref(10)
			b = append(b, ");"...)
		case k < 8:
			b = append(b, "EDGE_CURVE('',"...)
			ref(30)
			b = append(b, ',')
			ref(30)
			b = append(b, ',')
			ref(30)
			b = append(b, ",.T.);"...)
		case k < 9:
			b = append(b, "ORIENTED_EDGE('',*,*,"...)
			ref(10)
			b = append(b, ",.F.);"...)
		case k < 10:
			b = append(b, "ADVANCED_FACE('',("...)
			ref(15)
			b = append(b, "),"...)
			ref(15)
			b = append(b, ",.T.);"...)
		case k < 11:
			b = append(b, "CYLINDRICAL_SURFACE('',"...)
			ref(10)
			b = append(b, ',')
			num(50 * rng.Float64())
			b = append(b, ");"...)
		default:
			b = append(b, "B_SPLINE_CURVE_WITH_KNOTS('',3,("...)
			pts := 4 + rng.IntN(8)
			for p := range pts {
				if p > 0 {
					b = append(b, ',')
				}
				ref(40)
			}
			b = append(b, "),.UNSPECIFIED.,.F.,.F.,(4,"...)
			for range pts - 4 {
				b = append(b, "1,"...)
			}
			b = append(b, "4),("...)
			for p := range pts - 2 {
				if p > 0 {
					b = append(b, ',')
				}
				num(float64(p) / float64(pts-3))
			}
			b = append(b, "),.UNSPECIFIED.);"...)
		}
		b = append(b, '\n')
		if _, err := w.Write(b); err != nil {
			return err
		}
		written += int64(len(b))
		id++
	}
	_, err := w.WriteString("ENDSEC;\nEND-ISO-10303-21;\n")
	return err
}

// edit makes 10 scattered small changes to the corpus: five overwrites of
// 8 bytes and five inserts of 40 bytes, in ten different files of at least
// 256 KiB, each at a random place. It returns what it did.
func (c *corpus) edit() ([]string, error) {
	rng := rand.New(rand.NewPCG(0xed17, 0x5))
	var big []corpusFile
	for _, f := range c.files {
		if f.size >= 256<<10 {
			big = append(big, f)
		}
	}
	if len(big) < 10 {
		return nil, fmt.Errorf("corpus has only %d files of 256 KiB or more", len(big))
	}
	var done []string
	for i, k := range rng.Perm(len(big))[:10] {
		f := big[k]
		p := filepath.Join(c.dir, filepath.FromSlash(f.rel))
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		at := rng.Int64N(int64(len(data)) - 64)
		if i%2 == 0 {
			copy(data[at:], "7.25e+01")
			done = append(done, fmt.Sprintf("overwrite 8 B of %s at %d", f.rel, at))
		} else {
			ins := []byte("** edited by iscbench: 40 bytes inserted")
			data = slices.Insert(data, int(at), ins...)
			done = append(done, fmt.Sprintf("insert 40 B into %s at %d", f.rel, at))
			c.size += int64(len(ins))
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return nil, err
		}
	}
	return done, nil
}

// describe is one line on what the corpus holds.
func (c *corpus) describe() string {
	var parts []string
	for _, k := range sortedKeys(c.kinds) {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", k, 100*float64(c.kinds[k])/float64(c.size)))
	}
	return fmt.Sprintf("%d files, %.0f MiB: %s", len(c.files), float64(c.size)/(1<<20), strings.Join(parts, ", "))
}
