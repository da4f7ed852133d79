package manifest

import (
	"bytes"
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
)

func ref(s string) ChunkRef { return ChunkRef{ID: chunkstore.Sum([]byte(s)), Size: len(s)} }

// sample is an assembly with nested folders, CJK and spaces in names, an
// empty file and a file of several chunks.
func sample() *Manifest {
	return New(
		File{Path: "parts/軸受 hub.prt", Size: 5, Mode: 0o644, ModTime: time.Unix(1700000000, 123), Hash: chunkstore.Sum([]byte("hello")), Chunks: []ChunkRef{ref("hello")}},
		File{Path: "asm.asm", Size: 6, Mode: 0o755, Hash: chunkstore.Sum([]byte("abcdef")), Chunks: []ChunkRef{ref("abc"), ref("def")}},
		File{Path: "parts/empty.txt", Mode: 0o600, ModTime: time.Unix(-5, 0), Hash: chunkstore.Sum(nil)},
	)
}

func TestRoundTrip(t *testing.T) {
	m := sample()
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if m.Files[0].Path != "parts/軸受 hub.prt" {
		t.Fatal("Encode changed its argument")
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"asm.asm", "parts/empty.txt", "parts/軸受 hub.prt"}
	for i, f := range got.Files {
		if f.Path != want[i] {
			t.Fatalf("file %d is %q, want %q", i, f.Path, want[i])
		}
		var orig File
		for _, o := range m.Files {
			if o.Path == f.Path {
				orig = o
			}
		}
		if !f.ModTime.Equal(orig.ModTime) {
			t.Errorf("%s: time %v, want %v", f.Path, f.ModTime, orig.ModTime)
		}
		f.ModTime, orig.ModTime = time.Time{}, time.Time{}
		if !reflect.DeepEqual(f, orig) {
			t.Errorf("got %+v\nwant %+v", f, orig)
		}
	}
	b2, _ := Encode(got)
	if !bytes.Equal(b, b2) {
		t.Error("re-encoding differs")
	}
	if h := m.Hash(); len(h) != 64 || h != got.Hash() {
		t.Errorf("Hash %q, after a round trip %q", h, got.Hash())
	}
}

func TestCheckPath(t *testing.T) {
	for _, p := range []string{"a", "a/b/c.prt", "軸受 hub.prt", "with space/x", ".hidden", "a..b", "COMA", "con2", "COM10", "LPT⁴", "console.prt", "auxiliary.prt", "a\u200Fb", "نموذج.prt"} {
		if err := CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q): %v", p, err)
		}
	}
	for _, p := range []string{
		"", ".", "..", "../a", "a/../../b", "a/..", "/abs", "a//b", "a/", "./a", "a/./b",
		`a\b`, `..\..\x`, "C:x", "c:/x", "a\x00b", "a\nb", "\xff", "NUL", "con.txt", "a/COM1", "lpt9.x",
		"trail.", "trail ", strings.Repeat("a", 256), strings.Repeat("a/", 600) + "a",
		"aux.prt", "Aux.PRT", "x/CON", "con .txt", "PRN.tar.gz", "COM9.step", "com¹", "LPT².x", "lpt³", "CONIN$", "conout$.log",
		"a.prt:stream", "\u202Eprt.exe", "a\u2066b", "a\u2069", "a\u202Ab", "a\u0085b", "a\x7fb", "a\tb", "name..", "dir./x", "a?b", "a*", "a|b", `a"b`, "<a>",
	} {
		if err := CheckPath(p); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckPath(%q): %v, want ErrInvalid", p, err)
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(m *Manifest)
		want error
	}{
		{"chunker", func(m *Manifest) { m.Chunker = "rabin" }, ErrUnsupported},
		{"hash", func(m *Manifest) { m.HashID = "md5" }, ErrUnsupported},
		{"path", func(m *Manifest) { m.Files[0].Path = "../x" }, ErrInvalid},
		{"duplicate", func(m *Manifest) { m.Files[1].Path = m.Files[0].Path }, ErrInvalid},
		{"file and folder", func(m *Manifest) { m.Files[1].Path = "parts" }, ErrInvalid},
		{"size", func(m *Manifest) { m.Files[0].Size++ }, ErrInvalid},
		{"empty chunk", func(m *Manifest) { m.Files[2].Chunks = []ChunkRef{{}} }, ErrInvalid},
		{"big chunk", func(m *Manifest) { m.Files[2].Chunks = []ChunkRef{{Size: 1 << 20}}; m.Files[2].Size = 1 << 20 }, ErrInvalid},
		{"mode", func(m *Manifest) { m.Files[0].Mode |= fs.ModeSymlink }, ErrInvalid},
		{"time", func(m *Manifest) { m.Files[0].ModTime = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }, ErrInvalid},
		{"files", func(m *Manifest) { m.Files = make([]File, MaxFiles+1) }, ErrLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := sample()
			tc.edit(m)
			if _, err := Encode(m); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	good, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	// Every proper prefix is refused.
	for i := range good {
		if _, err := Decode(good[:i]); !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("prefix of %d bytes: %v", i, err)
		}
	}
	raw := func(edit func(m *Manifest)) []byte {
		m := sample()
		m.Files = []File{m.Files[1], m.Files[2], m.Files[0]} // sorted
		edit(m)
		return appendManifest(nil, m)
	}
	nonMinimal := append([]byte(magic), 0x81, 0x00) // version 1 in two bytes
	nonMinimal = append(nonMinimal, good[len(magic)+1:]...)
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"trailing", append(bytes.Clone(good), 0), ErrInvalid},
		{"magic", append([]byte("ISCM"), good[4:]...), ErrInvalid},
		{"version", append([]byte(magic+"\x02"), good[5:]...), ErrUnsupported},
		{"non-minimal varint", nonMinimal, ErrInvalid},
		{"unsorted", raw(func(m *Manifest) { m.Files[0], m.Files[1] = m.Files[1], m.Files[0] }), ErrInvalid},
		{"duplicate", raw(func(m *Manifest) { m.Files[1] = m.Files[0] }), ErrInvalid},
		{"absolute", raw(func(m *Manifest) { m.Files[0].Path = "/etc/passwd" }), ErrInvalid},
		{"dotdot", raw(func(m *Manifest) { m.Files[2].Path = "parts/../../x" }), ErrInvalid},
		{"backslash", raw(func(m *Manifest) { m.Files[2].Path = `parts\x` }), ErrInvalid},
		{"nul", raw(func(m *Manifest) { m.Files[2].Path = "parts/x\x00" }), ErrInvalid},
		{"sizes", raw(func(m *Manifest) { m.Files[0].Size = 7 }), ErrInvalid},
		{"huge file count", append([]byte(magic+"\x01"), appendString(appendString(nil, sample().Chunker), sample().HashID)...), ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "huge file count" {
				tc.b = append(tc.b, 0xff, 0xff, 0x05) // 98303 files in 0 bytes
			}
			if _, err := Decode(tc.b); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := Encode(sample())
	empty, _ := Encode(New())
	f.Add(good)
	f.Add(empty)
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrLimit) {
				t.Fatalf("error matches no sentinel: %v", err)
			}
			return
		}
		again, err := Encode(m)
		if err != nil {
			t.Fatalf("Decode accepted what Encode refuses: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", b, again)
		}
		for _, f := range m.Files {
			if CheckPath(f.Path) != nil {
				t.Fatalf("accepted path %q", f.Path)
			}
		}
	})
}
