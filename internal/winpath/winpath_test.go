package winpath

import (
	"errors"
	"testing"
)

// Every form Windows accepts for Z:\tmp\ws\part.stp, from a current
// directory on Z: (as under Wine, started from a Unix directory).
func TestAbsOneFileManyForms(t *testing.T) {
	const cwd = `Z:\home\ann`
	const want = `Z:\tmp\ws\part.stp`
	for _, p := range []string{
		`Z:\tmp\ws\part.stp`,
		`Z:/tmp/ws/part.stp`,
		`z:\tmp\ws\part.stp`,
		`/tmp/ws/part.stp`, // rooted, no drive: the current drive
		`\tmp\ws\part.stp`,
		`\tmp\\ws\.\part.stp`,
		`/tmp/other/../ws/part.stp`,
		`Z:\tmp\ws\part.stp.`, // Win32 drops trailing dots and spaces
		`Z:\tmp\ws\part.stp  `,
		`Z:\tmp\ws.\part.stp`,
		`\\?\Z:\tmp\ws\part.stp`,
		`\\?\z:\tmp\ws\part.stp`,
		`\\.\Z:\tmp\ws\part.stp`,
		`//./Z:/tmp/ws/part.stp`,
		`..\..\tmp\ws\part.stp`,    // relative to the current directory
		`Z:..\..\tmp\ws\part.stp`,  // relative to Z:'s current directory
		`Z:\..\..\tmp\ws\part.stp`, // .. of the root is the root
	} {
		got, err := Abs(p, cwd)
		if err != nil || got != want {
			t.Errorf("Abs(%q) = %q, %v; want %q", p, got, err, want)
		}
	}
	// Another letter case names the same file: the keys are equal.
	a, _ := Abs(`Z:\TMP\WS\Part.STP`, cwd)
	if Key(a) != Key(want) || a == want {
		t.Errorf("case: %q and %q", a, want)
	}
}

func TestAbsUNC(t *testing.T) {
	const want = `\\server\share\cad\part.stp`
	for _, tc := range []struct{ p, cwd string }{
		{`\\server\share\cad\part.stp`, `C:\`},
		{`//server/share/cad/part.stp`, `C:\`},
		{`\\?\UNC\server\share\cad\part.stp`, `C:\`},
		{`\cad\part.stp`, `\\server\share\home`}, // rooted: the current share
		{`part.stp`, `\\server\share\cad`},
		{`..\cad\part.stp`, `\\?\UNC\server\share\home`},
	} {
		if got, err := Abs(tc.p, tc.cwd); err != nil || got != want {
			t.Errorf("Abs(%q) in %q = %q, %v; want %q", tc.p, tc.cwd, got, err, want)
		}
	}
	for _, tc := range []struct{ p, want string }{
		{`C:`, `C:\`}, {`c:\`, `C:\`}, {`\`, `D:\`}, {`D:x`, `D:\work\x`}, {`E:x`, `E:\x`},
		{`\\server\share`, `\\server\share`}, {`\\server\share\`, `\\server\share`},
		{`\\?\C:\a\..\b.`, `C:\a\..\b.`}, // \\?\ paths are taken as they are
	} {
		if got, err := Abs(tc.p, `D:\work`); err != nil || got != tc.want {
			t.Errorf("Abs(%q) = %q, %v; want %q", tc.p, got, err, tc.want)
		}
	}
}

func TestAbsRefuses(t *testing.T) {
	for _, p := range []string{
		"", "a\x00b", `\\server`, `\\server\`, `\\`, `\\?\UNC\server`, `\\?\relative\x`,
		`\\.\pipe\x`, `\\.\PhysicalDrive0`, `C:\work\aux.prt`, `C:\work\NUL`, `COM1`, `C:\com¹\x`,
	} {
		if got, err := Abs(p, `C:\work`); !errors.Is(err, ErrPath) {
			t.Errorf("Abs(%q) = %q, %v; want ErrPath", p, got, err)
		}
	}
	if _, err := Abs(`x`, `relative`); !errors.Is(err, ErrPath) {
		t.Error("a relative current directory was taken")
	}
}

func TestWithinAndIsAbs(t *testing.T) {
	for _, tc := range []struct {
		p, root string
		in      bool
	}{
		{`Z:\tmp\ws\files\a.prt`, `Z:\tmp\ws`, true},
		{`z:\TMP\WS\files\a.prt`, `Z:\tmp\ws\`, true},
		{`Z:\tmp\ws`, `Z:\tmp\ws`, true},
		{`Z:\tmp\ws2\a.prt`, `Z:\tmp\ws`, false},
		{`C:\tmp\ws\a.prt`, `Z:\tmp\ws`, false},
	} {
		if Within(tc.p, tc.root) != tc.in {
			t.Errorf("Within(%q, %q) = %v", tc.p, tc.root, !tc.in)
		}
	}
	for p, abs := range map[string]bool{`C:\x`: true, `C:/x`: true, `/x`: true, `\x`: true, `\\s\h`: true, `C:x`: false, `x`: false, `..\x`: false} {
		if IsAbs(p) != abs {
			t.Errorf("IsAbs(%q) = %v", p, !abs)
		}
	}
}
