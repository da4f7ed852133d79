package device

import (
	"encoding/json"
	"regexp"
	"testing"
)

func TestHashMatchesFollowsDriftRule(t *testing.T) {
	const salt = "lic-123"
	for _, tt := range driftCases {
		h := Hash(mustParse(t, tt.stored), salt)
		if got := h.Matches(mustParse(t, tt.current), salt); got != tt.same {
			t.Errorf("%s: Hash(%q).Matches(%q) = %v, want %v", tt.name, tt.stored, tt.current, got, tt.same)
		}
	}
}

func TestHashSaltMatters(t *testing.T) {
	fp := mustParse(t, "AA:01|D1|B1|C1")
	h := Hash(fp, "one")
	if h.Matches(fp, "two") {
		t.Error("a hash matched under another salt")
	}
	if h2 := Hash(fp, "two"); h2.Board == h.Board {
		t.Error("the same board hashed equal under two salts")
	}
}

func TestHashShape(t *testing.T) {
	fp := Fingerprint{MACs: []string{"aa:02", "AA:01", "AA:02"}, Board: "B1"}
	h := Hash(fp, "s")
	hexRE := regexp.MustCompile(`^[0-9a-f]{64}$`)
	if len(h.MACs) != 2 || len(h.Disks) != 0 || h.CPU != "" || !hexRE.MatchString(h.Board) {
		t.Fatalf("Hash = %+v", h)
	}
	for _, m := range h.MACs {
		if !hexRE.MatchString(m) {
			t.Errorf("MAC hash %q is not hex SHA-256", m)
		}
	}
	if h.MACs[0] > h.MACs[1] {
		t.Error("hash lists are not sorted")
	}
	// Normalisation happens before hashing: "aa:02" and "AA:02" are one MAC.
	if got := Hash(mustParse(t, "AA:01,AA:02|||"), "s").MACs; got[0] != h.MACs[0] || got[1] != h.MACs[1] {
		t.Error("Hash of an unnormalised fingerprint differs from Hash of the parsed one")
	}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"mac":["` + h.MACs[0] + `","` + h.MACs[1] + `"],"board":"` + h.Board + `"}`
	if string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
	if b, _ := json.Marshal(Hashed{}); string(b) != "{}" {
		t.Errorf("JSON of the zero Hashed = %s, want {}", b)
	}
	if !(Hashed{}).IsZero() || h.IsZero() || !Hash(Fingerprint{}, "s").IsZero() {
		t.Error("IsZero wrong")
	}
}
