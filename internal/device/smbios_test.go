package device

import (
	"encoding/binary"
	"testing"
)

// smbiosStruct builds one SMBIOS structure: a formatted area (type, length,
// a handle, then body) and its strings.
func smbiosStruct(typ byte, body []byte, strs ...string) []byte {
	b := append([]byte{typ, byte(4 + len(body)), 0x01, 0x00}, body...)
	if len(strs) == 0 {
		return append(b, 0, 0)
	}
	for _, s := range strs {
		b = append(append(b, s...), 0)
	}
	return append(b, 0)
}

func rawSMBIOS(structs ...[]byte) []byte {
	var table []byte
	for _, s := range structs {
		table = append(table, s...)
	}
	raw := make([]byte, rawSMBIOSHeader, rawSMBIOSHeader+len(table))
	raw[1], raw[2] = 3, 4 // SMBIOS 3.4
	binary.LittleEndian.PutUint32(raw[4:], uint32(len(table)))
	return append(raw, table...)
}

// A baseboard structure: manufacturer, product, version, serial number
// (string numbers 1-4), then asset tag and the rest.
func baseboard(serialIndex byte, strs ...string) []byte {
	return smbiosStruct(2, []byte{1, 2, 3, serialIndex, 0, 0}, strs...)
}

func TestSMBIOSBaseboardSerial(t *testing.T) {
	bios := smbiosStruct(0, []byte{1, 2, 0, 0}, "American Megatrends", "1.2.3")
	system := smbiosStruct(1, []byte{1, 2, 3, 4}, "ACME", "Model", "1", "SYS-SERIAL")
	noStrings := smbiosStruct(32, []byte{0, 0, 0, 0, 0, 0})
	end := smbiosStruct(127, nil)
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"after other structures", rawSMBIOS(bios, system, noStrings, baseboard(4, "ACME", "X570", "1.0", " MB-1234567 "), end), "MB-1234567"},
		{"placeholder", rawSMBIOS(baseboard(4, "ACME", "X570", "1.0", "To be filled by O.E.M."), end), ""},
		{"second board has the real serial", rawSMBIOS(baseboard(4, "a", "b", "c", "Default string"), baseboard(1, "BOARD-2"), end), "BOARD-2"},
		{"no serial string", rawSMBIOS(baseboard(0, "ACME"), end), ""},
		{"index past the strings", rawSMBIOS(baseboard(9, "ACME"), end), ""},
		{"no baseboard", rawSMBIOS(bios, system, end), ""},
		{"after the end marker", rawSMBIOS(bios, end, baseboard(1, "LATE")), ""},
		{"empty", nil, ""},
		{"header only", rawSMBIOS(), ""},
	}
	for _, tt := range tests {
		if got := smbiosBaseboardSerial(tt.raw); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// Truncated or corrupt tables never panic or read out of bounds.
func TestSMBIOSMalformed(t *testing.T) {
	good := rawSMBIOS(smbiosStruct(0, []byte{1}, "bios"), baseboard(1, "SERIAL"))
	for n := range len(good) {
		smbiosBaseboardSerial(good[:n])
	}
	bad := rawSMBIOS(smbiosStruct(2, []byte{1, 2, 3, 1}, "S"))
	bad[rawSMBIOSHeader+1] = 200 // length past the end
	if got := smbiosBaseboardSerial(bad); got != "" {
		t.Errorf("length past the end: %q", got)
	}
	bad[rawSMBIOSHeader+1] = 2 // shorter than a header
	if got := smbiosBaseboardSerial(bad); got != "" {
		t.Errorf("length 2: %q", got)
	}
	big := rawSMBIOS(baseboard(1, "SERIAL"))
	binary.LittleEndian.PutUint32(big[4:], 0xFFFFFFFF) // a length larger than the data
	if got := smbiosBaseboardSerial(big); got != "SERIAL" {
		t.Errorf("oversized length: %q", got)
	}
}

func FuzzSMBIOS(f *testing.F) {
	f.Add(rawSMBIOS(baseboard(4, "ACME", "X570", "1.0", "MB-1")))
	f.Fuzz(func(t *testing.T, raw []byte) { smbiosBaseboardSerial(raw) })
}
