package device

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestInfoThisMachine(t *testing.T) {
	s := Info()
	t.Logf("Info() = %q", s)
	if len(s) > MaxLen {
		t.Errorf("Info is %d bytes, more than %d", len(s), MaxLen)
	}
	if n := strings.Count(s, "|"); n != 3 {
		t.Errorf("Info has %d separators, want 3", n)
	}
	if s != strings.ToUpper(s) {
		t.Error("Info is not upper-case")
	}
	if !utf8.ValidString(s) {
		t.Error("Info is not valid UTF-8")
	}
	if _, err := Parse(s); err != nil {
		t.Errorf("Parse(Info()): %v", err)
	}
	if again := Info(); again != s {
		t.Errorf("Info changed between calls: %q then %q", s, again)
	}
}

func TestFormatCleansAndBounds(t *testing.T) {
	got := format(Fingerprint{
		MACs:  []string{"aa:01", "", "AA:01", "aa:02"},
		Disks: []string{" s|1 ", "s,2", "s\n3", "bad\xffutf8"},
		Board: "b1",
		CPU:   "c1",
	})
	want := "AA:01,AA:02|S_1,S_2,S_3,BAD_UTF8|B1|C1"
	if got != want {
		t.Errorf("format = %q, want %q", got, want)
	}

	// Too many disks: trailing ones are dropped to fit, MACs and the rest stay.
	var disks []string
	for i := range 1000 {
		disks = append(disks, fmt.Sprintf("SERIAL-NUMBER-%04d", i))
	}
	long := format(Fingerprint{MACs: []string{"AA:01"}, Disks: disks, Board: strings.Repeat("b", 1000), CPU: "C1"})
	if len(long) > MaxLen {
		t.Fatalf("format produced %d bytes", len(long))
	}
	fp, err := Parse(long)
	if err != nil {
		t.Fatal(err)
	}
	if len(fp.MACs) != 1 || len(fp.Disks) == 0 || len(fp.Board) != maxValueLen || fp.CPU != "C1" {
		t.Errorf("bounded fingerprint lost the wrong parts: %d MACs, %d disks, board %d bytes, CPU %q",
			len(fp.MACs), len(fp.Disks), len(fp.Board), fp.CPU)
	}
}
