package console

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Every word the pages and the Go code ask for is in the table, in both
// languages: a missing one would show as nothing.
func TestEveryWordInBothLanguages(t *testing.T) {
	for k, w := range words {
		if w[english] == "" || w[chinese] == "" {
			t.Errorf("%q lacks a language: %q", k, w)
		}
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\.T\.([A-Za-z]+)`).FindAllStringSubmatch(pageHTML, -1) {
		used[m[1]] = true
	}
	files, _ := filepath.Glob("*.go")
	asked := regexp.MustCompile(`\.T\["([A-Za-z]+)"\]|newPage\([^)]*, "([A-Za-z]+)"\)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range asked.FindAllStringSubmatch(string(b), -1) {
			used[m[1]+m[2]] = true
		}
	}
	for _, n := range append(operatorNav, customerNav...) {
		used[n] = true
	}
	if len(used) < 50 {
		t.Fatalf("found %d words in use: the patterns miss them", len(used))
	}
	for k := range used {
		if _, ok := words[k]; !ok {
			t.Errorf("%q is used but not in the table", k)
		}
	}
}
