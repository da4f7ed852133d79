package signin

import (
	"regexp"
	"slices"
	"testing"
)

// TestTextComplete: every string of the pages exists in every language,
// is not empty, and takes the same arguments (a missing key would show
// an empty line to a Chinese reader; a missing verb, %!(EXTRA ...)).
func TestTextComplete(t *testing.T) {
	verbs := regexp.MustCompile(`%(\[\d+\])?[a-z]`)
	args := func(s string) []string {
		var out []string
		for i, m := range verbs.FindAllStringSubmatch(s, -1) {
			n := m[1]
			if n == "" {
				n = "[" + string(rune('1'+i)) + "]"
			}
			out = append(out, n+m[0][len(m[0])-1:])
		}
		slices.Sort(out)
		return out
	}
	for lang, strs := range text {
		for key, en := range text["en"] {
			s, ok := strs[key]
			if !ok || s == "" {
				t.Errorf("%s: %q is missing", lang, key)
				continue
			}
			if a, b := args(en), args(s); !slices.Equal(a, b) {
				t.Errorf("%s: %q takes %v, English %v", lang, key, b, a)
			}
		}
		for key := range strs {
			if _, ok := text["en"][key]; !ok {
				t.Errorf("%s: %q is not in English", lang, key)
			}
		}
	}
}
