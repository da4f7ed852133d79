// Package manifest describes the content of a saved file or assembly: its
// files, and for each the chunks it is made of.
//
// A manifest records the chunking algorithm and the hash that made it, so a
// reader knows how its chunk ids were computed. It has one canonical binary
// encoding: Encode always gives the same bytes for the same manifest, and
// Decode accepts only such bytes, so a manifest can be named by the hash of
// its encoding. Decode is written for input from the network: it checks limits
// before it allocates, and refuses any path that could leave the directory the
// manifest is unpacked into.
//
// Build makes a File by chunking a stream, hashing and encoding its chunks in
// parallel.
package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/iscsdk/iscsdk/internal/chunker"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/winpath"
)

// FormatVersion is the version of the encoding that Encode writes.
const FormatVersion = 1

// magic starts every encoded manifest.
const magic = "iscm"

// Limits that Decode and Encode enforce.
const (
	MaxFiles   = 100_000 // files in one manifest
	MaxChunks  = 1 << 22 // chunks in one manifest: 256 GiB at the average size
	MaxPathLen = 1024    // bytes in a path
	MaxNameLen = 255     // bytes in one element of a path
)

// Errors of Encode and Decode. Each error they return matches one of them.
var (
	ErrInvalid     = errors.New("manifest: invalid")
	ErrUnsupported = errors.New("manifest: unsupported format, chunker or hash")
	ErrLimit       = errors.New("manifest: over a limit")
)

// A Manifest lists the files of a saved file (one) or assembly (several).
type Manifest struct {
	Chunker string // the chunker's algorithm id: chunker.AlgorithmID
	HashID  string // the hash of chunk ids and file hashes: chunkstore.HashID
	Files   []File // in any order; Encode sorts them by path
}

// A File is one file of a manifest.
type File struct {
	// Path is relative to the root of the saved file or assembly, with '/'
	// between elements; see CheckPath.
	Path    string
	Size    int64
	Mode    fs.FileMode // permission bits only (0o644, 0o755)
	ModTime time.Time   // the zero Time means unknown
	Hash    chunkstore.ID
	Chunks  []ChunkRef // in order; their sizes add up to Size
}

// A ChunkRef is one chunk of a file.
type ChunkRef struct {
	ID   chunkstore.ID
	Size int
}

// New returns a manifest of files made with this package's chunker and hash.
func New(files ...File) *Manifest {
	return &Manifest{Chunker: chunker.AlgorithmID, HashID: chunkstore.HashID, Files: files}
}

// Hash returns the SHA-256 of the manifest's encoding, in hexadecimal: it
// names the content of a version. A manifest that Encode refuses has the
// empty hash.
func (m *Manifest) Hash() string {
	b, err := Encode(m)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// CheckPath returns an error matching ErrInvalid unless p is a relative path
// that stays inside its root and names one file on every system: elements
// separated by single '/', each one a valid name (CheckName; so no leading
// '/', no drive letter, UNC path or alternate data stream on Windows), valid
// UTF-8, at most MaxPathLen bytes.
func CheckPath(p string) error {
	if err := checkPath(p); err != nil {
		return fmt.Errorf("%w: path %q: %s", ErrInvalid, p, err)
	}
	return nil
}

func checkPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty")
	case len(p) > MaxPathLen:
		return fmt.Errorf("longer than %d bytes", MaxPathLen)
	case !utf8.ValidString(p):
		return errors.New("not UTF-8")
	}
	for name := range strings.SplitSeq(p, "/") {
		if why := checkName(name); why != "" {
			return fmt.Errorf("element %q %s", name, why)
		}
	}
	return nil
}

// CheckName returns an error matching ErrInvalid unless name is one element
// of a path that every client can create and that shows as it is: not "",
// "." or "..", at most MaxNameLen bytes of UTF-8, no '/', '\\' or ':' (a
// drive, a UNC path, an NTFS alternate data stream), none of the other
// characters Windows refuses in a name (< > " | ? *), no control character
// (C0, DEL, C1), no bidirectional embedding, override or isolate
// (U+202A–U+202E, U+2066–U+2069: "exe.prt" shown for "trp.exe"), not ending
// in '.' or ' ' (Windows drops them, so two names would be one), and not a
// Windows device name (CON, PRN, AUX, NUL, COM0–9, LPT0–9, also with ¹ ² ³,
// CONIN$, CONOUT$; in any case and with any extension: "aux.prt"). Cloud
// paths (internal/cloudpath) follow the same rule.
func CheckName(name string) error {
	if why := checkName(name); why != "" {
		return &NameError{Name: name, Reason: why}
	}
	return nil
}

// NameError is the error of CheckName: Reason says what is wrong with
// Name ("is a Windows device name").
type NameError struct{ Name, Reason string }

func (e *NameError) Error() string {
	return fmt.Sprintf("%v: name %q %s", ErrInvalid, e.Name, e.Reason)
}

// Unwrap makes a NameError match ErrInvalid.
func (e *NameError) Unwrap() error { return ErrInvalid }

// checkName returns why name is not a valid element, or "".
func checkName(name string) string {
	switch {
	case name == "":
		return "is empty"
	case name == "." || name == "..":
		return `is not a name ("." and ".." are not allowed)`
	case len(name) > MaxNameLen:
		return fmt.Sprintf("is longer than %d bytes", MaxNameLen)
	case !utf8.ValidString(name):
		return "is not UTF-8"
	}
	for _, r := range name {
		switch {
		case r == '/' || r == '\\' || r == ':':
			return fmt.Sprintf("contains %q", r)
		case strings.ContainsRune(`<>"|?*`, r):
			return fmt.Sprintf("contains %q, which Windows does not allow in a name", r)
		case unicode.IsControl(r):
			return fmt.Sprintf("contains the control character %U", r)
		case 0x202A <= r && r <= 0x202E || 0x2066 <= r && r <= 0x2069:
			return fmt.Sprintf("contains the bidirectional control %U", r)
		}
	}
	switch {
	case strings.HasSuffix(name, ".") || strings.HasSuffix(name, " "):
		return "ends in a dot or a space (Windows drops them)"
	case winpath.IsDevice(name):
		return "is a Windows device name"
	}
	return ""
}

// check validates m, whose files are sorted by path.
func check(m *Manifest) error {
	if m.Chunker != chunker.AlgorithmID {
		return fmt.Errorf("%w: chunker %q", ErrUnsupported, m.Chunker)
	}
	if m.HashID != chunkstore.HashID {
		return fmt.Errorf("%w: hash %q", ErrUnsupported, m.HashID)
	}
	if len(m.Files) > MaxFiles {
		return fmt.Errorf("%w: %d files, at most %d", ErrLimit, len(m.Files), MaxFiles)
	}
	chunks := 0
	dirs := make(map[string]bool)
	for i, f := range m.Files {
		if err := CheckPath(f.Path); err != nil {
			return err
		}
		if i > 0 && m.Files[i-1].Path >= f.Path {
			if m.Files[i-1].Path == f.Path {
				return fmt.Errorf("%w: path %q twice", ErrInvalid, f.Path)
			}
			return fmt.Errorf("%w: files not sorted by path", ErrInvalid)
		}
		for d := f.Path; ; {
			j := strings.LastIndexByte(d, '/')
			if j < 0 {
				break
			}
			d = d[:j]
			dirs[d] = true
		}
		if f.Mode&^fs.ModePerm != 0 {
			return fmt.Errorf("%w: %s: mode %v is not permission bits", ErrInvalid, f.Path, f.Mode)
		}
		if !f.ModTime.IsZero() && !time.Unix(0, f.ModTime.UnixNano()).Equal(f.ModTime) {
			return fmt.Errorf("%w: %s: time %v out of range", ErrInvalid, f.Path, f.ModTime)
		}
		chunks += len(f.Chunks)
		if chunks > MaxChunks {
			return fmt.Errorf("%w: more than %d chunks", ErrLimit, MaxChunks)
		}
		var size int64
		for _, c := range f.Chunks {
			if c.Size < 1 || c.Size > chunker.MaxSize {
				return fmt.Errorf("%w: %s: chunk of %d bytes", ErrInvalid, f.Path, c.Size)
			}
			size += int64(c.Size)
		}
		if size != f.Size {
			return fmt.Errorf("%w: %s: size %d, chunks add up to %d", ErrInvalid, f.Path, f.Size, size)
		}
	}
	for _, f := range m.Files {
		if dirs[f.Path] {
			return fmt.Errorf("%w: %q is both a file and a folder", ErrInvalid, f.Path)
		}
	}
	return nil
}

// Encode returns the canonical encoding of m, with its files sorted by path.
// It does not change m. It refuses a manifest that Decode would refuse.
//
// The encoding: "iscm", then unsigned varints (u) and byte strings (s, a u
// length then the bytes):
//
//	u FormatVersion, s chunker id, s hash id, u number of files, then each file:
//	s path, u size, u mode, u mtime as Unix nanoseconds zigzag-encoded (0 if
//	unknown), 32-byte hash, u number of chunks, then each chunk: 32-byte id,
//	u size.
func Encode(m *Manifest) ([]byte, error) {
	sorted := *m
	sorted.Files = slices.SortedFunc(slices.Values(m.Files), func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	if err := check(&sorted); err != nil {
		return nil, err
	}
	return appendManifest(nil, &sorted), nil
}

func appendManifest(b []byte, m *Manifest) []byte {
	b = append(b, magic...)
	b = binary.AppendUvarint(b, FormatVersion)
	b = appendString(b, m.Chunker)
	b = appendString(b, m.HashID)
	b = binary.AppendUvarint(b, uint64(len(m.Files)))
	for _, f := range m.Files {
		b = appendString(b, f.Path)
		b = binary.AppendUvarint(b, uint64(f.Size))
		b = binary.AppendUvarint(b, uint64(f.Mode))
		var t int64
		if !f.ModTime.IsZero() {
			t = f.ModTime.UnixNano()
		}
		b = binary.AppendVarint(b, t)
		b = append(b, f.Hash[:]...)
		b = binary.AppendUvarint(b, uint64(len(f.Chunks)))
		for _, c := range f.Chunks {
			b = append(b, c.ID[:]...)
			b = binary.AppendUvarint(b, uint64(c.Size))
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// Decode parses a manifest that Encode made. It refuses anything else: bytes
// that are not the canonical encoding of a valid manifest (see Encode and
// CheckPath), or that exceed the limits, which it checks before allocating.
func Decode(b []byte) (*Manifest, error) {
	d := decoder{b: b}
	m, err := d.manifest()
	if err != nil {
		return nil, err
	}
	if err := check(m); err != nil {
		return nil, err
	}
	if !bytes.Equal(appendManifest(nil, m), b) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrInvalid)
	}
	return m, nil
}

// decoder reads the encoding; its first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
	}
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail("truncated")
		d.b = nil
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string(max int) string {
	n := d.uvarint()
	if n > uint64(max) {
		d.fail("string of %d bytes", n)
		return ""
	}
	return string(d.bytes(n))
}

// count reads a count and checks it against a limit and against the bytes
// left, each item taking at least min bytes, so that a forged count cannot
// make Decode allocate.
func (d *decoder) count(limit, min int, what string) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(limit) {
		d.err = fmt.Errorf("%w: %d %s, at most %d", ErrLimit, n, what, limit)
		return 0
	}
	if n*uint64(min) > uint64(len(d.b)) {
		d.fail("%d %s in %d bytes", n, what, len(d.b))
		return 0
	}
	return int(n)
}

// Minimal encoded sizes, for count.
const (
	minFile  = 1 + 1 + 1 + 1 + len(chunkstore.ID{}) + 1 // path length, size, mode, time, hash, chunks
	minChunk = len(chunkstore.ID{}) + 1
)

func (d *decoder) manifest() (*Manifest, error) {
	if !bytes.HasPrefix(d.b, []byte(magic)) {
		return nil, fmt.Errorf("%w: not a manifest", ErrInvalid)
	}
	d.b = d.b[len(magic):]
	if v := d.uvarint(); d.err == nil && v != FormatVersion {
		return nil, fmt.Errorf("%w: format version %d", ErrUnsupported, v)
	}
	m := &Manifest{Chunker: d.string(64), HashID: d.string(64)}
	if d.err == nil && (m.Chunker != chunker.AlgorithmID || m.HashID != chunkstore.HashID) {
		return nil, check(m)
	}
	n := d.count(MaxFiles, minFile, "files")
	if n > 0 {
		m.Files = make([]File, n)
	}
	chunks := 0
	for i := 0; i < n && d.err == nil; i++ {
		f := &m.Files[i]
		f.Path = d.string(MaxPathLen)
		f.Size = int64(d.uvarint())
		f.Mode = fs.FileMode(d.uvarint())
		if t := d.varint(); t != 0 {
			f.ModTime = time.Unix(0, t)
		}
		copy(f.Hash[:], d.bytes(uint64(len(f.Hash))))
		k := d.count(MaxChunks-chunks, minChunk, "chunks")
		chunks += k
		if k > 0 {
			f.Chunks = make([]ChunkRef, k)
		}
		for j := 0; j < k && d.err == nil; j++ {
			c := &f.Chunks[j]
			copy(c.ID[:], d.bytes(uint64(len(c.ID))))
			size := d.uvarint()
			if size > chunker.MaxSize {
				d.fail("chunk of %d bytes", size)
			}
			c.Size = int(size)
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d bytes after the end", len(d.b))
	}
	return m, d.err
}
