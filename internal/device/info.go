package device

import (
	"bytes"
	"net"
	"slices"
	"strings"
)

// maxValueLen bounds one value of a fingerprint taken from the machine, so
// that a strange firmware string cannot crowd out the other parts.
const maxValueLen = 256

// Info returns this machine's fingerprint, "MAC|diskId|boardId|cpuId", from
// the sources listed in the package doc. Values are upper-cased, any "|",
// "," or control character in them becomes "_", and a part that cannot be
// read is left empty. MACs and disks keep the documented order (they are
// not sorted as Parse sorts them). The result is at most MaxLen bytes:
// trailing disks, then trailing MACs, are dropped to fit.
//
// Info reads only local files (and the CPUID instruction); it needs no
// privileges, but as root it can read the board serial where other users
// get a fallback (see the package doc).
func Info() string {
	fp := collect()
	fp.CPU = cpuID()
	return format(fp)
}

// format cleans the values of a collected fingerprint and bounds its length.
func format(fp Fingerprint) string {
	fp = Fingerprint{
		MACs:  cleanList(fp.MACs),
		Disks: cleanList(fp.Disks),
		Board: clean(fp.Board),
		CPU:   clean(fp.CPU),
	}
	for {
		s := fp.String()
		switch {
		case len(s) <= MaxLen:
			return s
		case len(fp.Disks) > 0:
			fp.Disks = fp.Disks[:len(fp.Disks)-1]
		case len(fp.MACs) > 0:
			fp.MACs = fp.MACs[:len(fp.MACs)-1]
		default: // unreachable: board and CPU are bounded by maxValueLen
			return s[:MaxLen]
		}
	}
}

// clean makes a value from the machine safe to place in a fingerprint.
func clean(v string) string {
	v = strings.ToValidUTF8(v, "_")
	v = strings.Map(func(r rune) rune {
		if r == '|' || r == ',' || isControl(r) {
			return '_'
		}
		return r
	}, v)
	v = strings.ToUpper(strings.TrimSpace(v))
	for len(v) > maxValueLen {
		v = strings.ToValidUTF8(v[:maxValueLen], "")
	}
	return v
}

// cleanList cleans every value, dropping empty ones and later duplicates
// but keeping the order.
func cleanList(vs []string) []string {
	var out []string
	for _, v := range vs {
		if v = clean(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// usableMAC rejects all-zero, multicast and locally administered addresses:
// the last are set by software (VMs, containers, Wi-Fi privacy) and change.
func usableMAC(hw net.HardwareAddr) bool {
	return hw[0]&0x03 == 0 && !bytes.Equal(hw, make(net.HardwareAddr, len(hw)))
}

// usableBoardID rejects the placeholders firmware vendors leave in place.
func usableBoardID(v string) bool {
	if strings.Trim(v, "0-. ") == "" { // empty, "0", all-zero UUID
		return false
	}
	switch strings.ToLower(v) {
	case "to be filled by o.e.m.", "default string", "none", "not specified", "not applicable",
		"system serial number", "base board serial number", "0123456789", "123456789", "n/a",
		"03000200-0400-0500-0006-000700080009":
		return false
	}
	return true
}
