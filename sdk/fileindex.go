package sdk

import (
	"crypto/sha256"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/iscsdk/iscsdk/internal/atomicfile"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
)

// indexEntry records where a local file came from.
type indexEntry struct {
	CloudPath  string            `json:"cloudPath"`
	Version    int               `json:"version"`
	Assembly   bool              `json:"assembly,omitempty"`
	CheckedOut bool              `json:"checkedOut,omitempty"`
	Hash       string            `json:"hash,omitempty"`  // of a single file's content when it last matched the cloud
	Files      map[string]string `json:"files,omitempty"` // an assembly's parts' hashes then, by relative path
}

// fileHash is the SHA-256 of a file's content.
func fileHash(path string) (chunkstore.ID, error) {
	f, err := os.Open(path)
	if err != nil {
		return chunkstore.ID{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return chunkstore.ID{}, err
	}
	return chunkstore.ID(h.Sum(nil)), nil
}

// fileIndex maps local absolute paths to their cloud files; it is kept in
// the workspace so that Save works across program runs.
type fileIndex struct {
	mu   sync.Mutex
	path string
	m    map[string]indexEntry
}

func (x *fileIndex) load() {
	if x.m != nil {
		return
	}
	x.m = map[string]indexEntry{}
	if b, err := os.ReadFile(x.path); err == nil {
		_ = json.Unmarshal(b, &x.m)
	}
}

func (x *fileIndex) get(local string) indexEntry {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.load()
	return x.m[indexKey(local)]
}

// indexKey is how a local path is looked up: cleaned, and on Windows,
// whose file names ignore case, lower-cased.
func indexKey(local string) string {
	local = filepath.Clean(local)
	if runtime.GOOS == "windows" {
		local = strings.ToLower(local)
	}
	return local
}

// set records e and writes the index, merged with what other programs
// sharing the workspace wrote since it was read.
func (x *fileIndex) set(local string, e indexEntry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.m = nil
	x.load()
	x.m[indexKey(local)] = e
	b, _ := json.MarshalIndent(x.m, "", " ") // map keys are sorted
	_ = atomicfile.Write(x.path, b, 0o600)
}
