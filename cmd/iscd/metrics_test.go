package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A metrics token file that is missing, empty or holds a short token
// stops iscd serve and iscd worker before they start.
func TestMetricsTokenFlags(t *testing.T) {
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct{ file, want string }{
		{filepath.Join(dir, "missing"), "--metrics-token-file"},
		{file("empty", "\n"), "is empty"},
		{file("short", "ism_short\n"), "shorter than 16"},
	} {
		for _, cmd := range [][]string{
			{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--metrics-token-file", c.file},
			{"worker", "--server", "http://127.0.0.1:1", "--metrics-token-file", c.file},
		} {
			var out, errb bytes.Buffer
			err := run(cmd, &out, &errb)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("iscd %s: %v, want an error saying %q", strings.Join(cmd, " "), err, c.want)
			}
		}
	}
}
