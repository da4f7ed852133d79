package device

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
)

// Hashed is a fingerprint with every value replaced by its salted SHA-256,
// so that a licence can be bound to a device without carrying its raw
// hardware ids. Each entry is the lower-case hex SHA-256 of
// salt + "\x00" + value, where value is the normalised (trimmed,
// upper-cased) part; the lists are sorted. An empty part stays empty.
//
// Its JSON form is compact, empty parts omitted:
//
//	{"mac":["…"],"disk":["…"],"board":"…","cpu":"…"}
type Hashed struct {
	MACs  []string `json:"mac,omitempty"`
	Disks []string `json:"disk,omitempty"`
	Board string   `json:"board,omitempty"`
	CPU   string   `json:"cpu,omitempty"`
}

// Hash returns the salted hash of fp (fp is normalised first). Licences use
// the licence id as the salt, so the same machine hashes differently in
// every licence.
func Hash(fp Fingerprint, salt string) Hashed {
	fp = fp.normalized()
	return Hashed{
		MACs:  hashList(fp.MACs, salt),
		Disks: hashList(fp.Disks, salt),
		Board: hashValue(fp.Board, salt),
		CPU:   hashValue(fp.CPU, salt),
	}
}

// IsZero reports whether h binds nothing: every part is empty.
func (h Hashed) IsZero() bool {
	return len(h.MACs) == 0 && len(h.Disks) == 0 && h.Board == "" && h.CPU == ""
}

// Matches reports whether fp is the device h was hashed from, by the same
// drift rule as Same with h as the stored fingerprint. salt must be the one
// given to Hash.
func (h Hashed) Matches(fp Fingerprint, salt string) bool {
	cur := Hash(fp, salt)
	return sameParts(
		parts{h.MACs, h.Disks, single(h.Board), single(h.CPU)},
		parts{cur.MACs, cur.Disks, single(cur.Board), single(cur.CPU)},
	)
}

func hashValue(v, salt string) string {
	if v == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(salt + "\x00" + v))
	return hex.EncodeToString(sum[:])
}

func hashList(vs []string, salt string) []string {
	var out []string
	for _, v := range vs {
		out = append(out, hashValue(v, salt))
	}
	slices.Sort(out)
	return slices.Compact(out)
}
