package device

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseNormalises(t *testing.T) {
	tests := []struct {
		in   string
		want Fingerprint
	}{
		{"04:7C:16:5E:E3:5D|001B_444A_488B_5CEC.||BFEBFBFF00090672",
			Fingerprint{MACs: []string{"04:7C:16:5E:E3:5D"}, Disks: []string{"001B_444A_488B_5CEC."}, CPU: "BFEBFBFF00090672"}},
		{" 04:7c:16:5e:e3:5d , 00:11:22:33:44:55,,04:7C:16:5E:E3:5D | s2 ,s1 | board-1 | bfebfbff00090672 ",
			Fingerprint{MACs: []string{"00:11:22:33:44:55", "04:7C:16:5E:E3:5D"}, Disks: []string{"S1", "S2"}, Board: "BOARD-1", CPU: "BFEBFBFF00090672"}},
		{"|||", Fingerprint{}},
		{",,|,|  |", Fingerprint{}},
		{"|ünïcode||", Fingerprint{Disks: []string{"ÜNÏCODE"}}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
		// The canonical form parses to itself.
		again, err := Parse(got.String())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("Parse(%q) = %#v, %v; want %#v", got.String(), again, err, got)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrMalformed},
		{"three parts", "a|b|c", ErrMalformed},
		{"five parts", "a|b|c|d|e", ErrMalformed},
		{"invalid UTF-8", "a|b\xff|c|d", ErrMalformed},
		{"control character", "a|b\n|c|d", ErrMalformed},
		{"NUL", "a|b|c\x00|d", ErrMalformed},
		{"too large", strings.Repeat("A", MaxLen) + "|||", ErrTooLarge},
	}
	for _, tt := range tests {
		if _, err := Parse(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("%s: Parse error %v, want %v", tt.name, err, tt.want)
		}
	}
	// Exactly MaxLen bytes is allowed.
	ok := strings.Repeat("A", MaxLen-3) + "|||"
	if _, err := Parse(ok); err != nil {
		t.Errorf("Parse of %d bytes: %v", len(ok), err)
	}
}

func mustParse(t *testing.T, s string) Fingerprint {
	t.Helper()
	fp, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return fp
}

// driftCases is the drift rule's table, shared by the Same and Hashed tests.
var driftCases = []struct {
	name            string
	stored, current string
	same            bool
}{
	{"same machine", "AA:01|D1,D2|B1|C1", "AA:01|D1,D2|B1|C1", true},
	{"same machine, other order and case", "AA:01,AA:02|D1,D2|B1|C1", "aa:02,aa:01|d2,d1|b1|c1", true},
	{"MAC changed", "AA:01|D1|B1|C1", "AA:09|D1|B1|C1", true},
	{"disk swapped", "AA:01|D1|B1|C1", "AA:01|D9|B1|C1", true},
	{"one of two disks swapped", "AA:01|D1,D2|B1|C1", "AA:01|D1,D9|B1|C1", true},
	{"board changed", "AA:01|D1|B1|C1", "AA:01|D1|B9|C1", true},
	{"NIC added", "AA:01|D1|B1|C1", "AA:01,AA:02|D1|B1|C1", true},
	{"two parts changed", "AA:01|D1|B1|C1", "AA:09|D9|B1|C1", true},
	{"three parts changed", "AA:01|D1|B1|C1", "AA:09|D9|B9|C1", false},
	{"another machine", "AA:01|D1|B1|C1", "AA:09|D9|B9|C9", false},
	{"same CPU model only", "AA:01|D1|B1|C1", "|||C1", false},
	{"current lost parts, two still match", "AA:01|D1|B1|C1", "AA:01||B1|", true},
	{"current lost parts, one matches", "AA:01|D1|B1|C1", "AA:01|||", false},
	{"empty part never matches an empty part", "|D1||C1", "|D9||C1", false},
	{"sparse stored, its part matches", "|||C1", "AA:01|D1|B1|C1", true},
	{"sparse stored, its part differs", "|||C1", "AA:01|D1|B1|C9", false},
	{"sparse both, equal", "||B1|", "||B1|", true},
	{"sparse both, different", "||B1|", "||B2|", false},
	{"sparse stored, current empty", "||B1|", "|||", false},
	{"stored empty matches nothing", "|||", "AA:01|D1|B1|C1", false},
	{"both empty", "|||", "|||", false},
}

func TestSame(t *testing.T) {
	for _, tt := range driftCases {
		stored, current := mustParse(t, tt.stored), mustParse(t, tt.current)
		if got := Same(stored, current); got != tt.same {
			t.Errorf("%s: Same(%q, %q) = %v, want %v", tt.name, tt.stored, tt.current, got, tt.same)
		}
	}
}

func TestSameNormalises(t *testing.T) {
	a := Fingerprint{MACs: []string{" aa:01 "}, Board: "b1"}
	b := Fingerprint{MACs: []string{"AA:01"}, Board: "B1"}
	if !Same(a, b) {
		t.Error("Same does not normalise unparsed fingerprints")
	}
}
