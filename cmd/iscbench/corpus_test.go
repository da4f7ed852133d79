package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// A small corpus has every kind of data, and the edits change ten files.
func TestCorpus(t *testing.T) {
	dir := t.TempDir()
	c, err := makeCorpus(dir, 16<<20, "../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"ccx", "step", "binary", "incompressible"} {
		if c.kinds[kind] == 0 {
			t.Errorf("no %s data: %s", kind, c.describe())
		}
	}
	if c.size < 15<<20 || c.size > 17<<20 {
		t.Errorf("corpus of %d bytes, want about 16 MiB", c.size)
	}
	before := map[string][]byte{}
	for _, f := range c.files {
		b, err := os.ReadFile(filepath.Join(dir, f.rel))
		if err != nil {
			t.Fatal(err)
		}
		before[f.rel] = b
	}
	edits, err := c.edit()
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for _, f := range c.files {
		b, _ := os.ReadFile(filepath.Join(dir, f.rel))
		if string(b) != string(before[f.rel]) {
			changed++
		}
	}
	if len(edits) != 10 || changed != 10 {
		t.Errorf("%d edits changed %d files, want 10 and 10: %q", len(edits), changed, edits)
	}
}

// The JSON has each figure as a top-level number, null when skipped.
func TestReportJSON(t *testing.T) {
	r := &report{log: testWriter{t}}
	r.add("x_ms", 1.23456, "ms", "base", "")
	r.skip("y_ratio", "ratio", "base", "not installed")
	path := filepath.Join(t.TempDir(), "bench.json")
	if err := r.write(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if v, ok := got["x_ms"].(float64); !ok || v != 1.235 {
		t.Errorf("x_ms = %v, want the number 1.235", got["x_ms"])
	}
	if v, ok := got["y_ratio"]; !ok || v != nil {
		t.Errorf("y_ratio = %v, want null", v)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
