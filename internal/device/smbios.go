package device

import "bytes"

// The SMBIOS structure table as Windows returns it from
// GetSystemFirmwareTable('RSMB'): a RawSMBIOSData header (calling method,
// major and minor version, DMI revision: 4 bytes; table length: a
// little-endian uint32) followed by the structures. Parsed on every OS so
// that the parser is tested everywhere; only info_windows.go reads a real one.

// rawSMBIOSHeader is the size of RawSMBIOSData before the table.
const rawSMBIOSHeader = 8

// smbiosBaseboardSerial returns the serial number of the first baseboard
// (structure type 2, string index at offset 7) of raw, a RawSMBIOSData
// block, if it is a real value (not a firmware placeholder); otherwise "".
// A malformed table yields whatever was found before the damage.
func smbiosBaseboardSerial(raw []byte) string {
	if len(raw) < rawSMBIOSHeader {
		return ""
	}
	n := int(raw[4]) | int(raw[5])<<8 | int(raw[6])<<16 | int(raw[7])<<24
	table := raw[rawSMBIOSHeader:]
	if n >= 0 && n < len(table) {
		table = table[:n]
	}
	for len(table) >= 4 {
		typ, size := table[0], int(table[1])
		if size < 4 || size > len(table) {
			return ""
		}
		// The formatted area is followed by its strings, each
		// NUL-terminated, and one more NUL (two when there are none).
		end := bytes.Index(table[size:], []byte{0, 0})
		if end < 0 {
			return ""
		}
		strs := table[size : size+end]
		if typ == 2 && size > 7 {
			if v := smbiosString(strs, table[7]); usableBoardID(v) {
				return v
			}
		}
		if typ == 127 { // end of table
			return ""
		}
		table = table[size+end+2:]
	}
	return ""
}

// smbiosString returns string number i (1-based; 0 means none) of a
// structure's string set.
func smbiosString(strs []byte, i byte) string {
	if i == 0 || len(strs) == 0 {
		return ""
	}
	for _, s := range bytes.Split(strs, []byte{0}) {
		if i--; i == 0 {
			return string(bytes.TrimSpace(s))
		}
	}
	return ""
}
