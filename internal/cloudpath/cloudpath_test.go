package cloudpath

import (
	"errors"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/manifest"
)

func TestCheck(t *testing.T) {
	for _, ok := range []string{"/a.prt", "/projects/bracket v2/asm", "/设计/零件.prt", "/a/b/c/d.e"} {
		if got, err := Check(ok); err != nil || got != ok {
			t.Errorf("Check(%q) = %q, %v", ok, got, err)
		}
	}
	for _, bad := range []string{"", "/", "a.prt", "/a/", "//a", "/a//b", "/../etc/passwd", "/a/../b", "/./a", "/a\\b", "/a\x00b",
		"/a\nb", "/\xff", "/" + strings.Repeat("x", 256), strings.Repeat("/x", 600)} {
		if _, err := Check(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Check(%q) accepted", bad)
		}
	}
	// The manifest's element rules: names every client can create.
	for _, tc := range []struct{ path, why string }{
		{"/CON", `"CON" is a Windows device name`},
		{"/parts/aux.prt", `"aux.prt" is a Windows device name`},
		{"/Nul.tar.gz", "device name"},
		{"/com¹.prt", "device name"},
		{"/LPT3/x.prt", "device name"},
		{"/a.prt:stream", `contains ':'`},
		{"/what?.prt", "Windows does not allow"},
		{"/C:/x.prt", `contains ':'`},
		{"/bracket.", "ends in a dot or a space"},
		{"/bracket /x", "ends in a dot or a space"},
		{"/a\u0085b", "control character U+0085"},
		{"/\u202Etrp.exe", "bidirectional control U+202E"},
		{"/a\u2067b", "bidirectional control U+2067"},
	} {
		_, err := Check(tc.path)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("Check(%q) = %v, want ...%s", tc.path, err, tc.why)
		}
	}
	var ne *manifest.NameError
	if _, err := Check("/parts/aux.prt"); !errors.As(err, &ne) || ne.Name != "aux.prt" {
		t.Errorf("the rule a name breaks is not in the error: %v", err)
	}
	if Dir("/a/b/c.prt") != "/a/b" || Dir("/c.prt") != "/" || Base("/a/b/c.prt") != "c.prt" {
		t.Error("Dir/Base")
	}
}
