package cloudpath

import (
	"errors"
	"strings"
	"testing"
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
	if Dir("/a/b/c.prt") != "/a/b" || Dir("/c.prt") != "/" || Base("/a/b/c.prt") != "c.prt" {
		t.Error("Dir/Base")
	}
}
