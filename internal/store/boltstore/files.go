package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/iscsdk/iscsdk/internal/store"
)

var (
	bktFiles     = []byte("files")     // org \x00 path → FileEntry
	bktVersions  = []byte("versions")  // org \x00 path \x00 number → Version
	bktManifests = []byte("manifests") // org \x00 path \x00 number → manifest
)

func fileKey(org, path string) []byte { return []byte(org + "\x00" + path) }

func versionKey(org, path string, n int) []byte {
	return binary.BigEndian.AppendUint64([]byte(org+"\x00"+path+"\x00"), uint64(n))
}

func getFile(tx *bolt.Tx, org, path string) (store.FileEntry, error) {
	var e store.FileEntry
	data := tx.Bucket(bktFiles).Get(fileKey(org, path))
	if data == nil {
		return e, fmt.Errorf("file %s: %w", path, store.ErrNotFound)
	}
	return e, json.Unmarshal(data, &e)
}

func putFile(tx *bolt.Tx, e store.FileEntry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return tx.Bucket(bktFiles).Put(fileKey(e.OrgID, e.Path), data)
}

// File implements store.Files.
func (d *DB) File(_ context.Context, org, path string) (store.FileEntry, error) {
	var e store.FileEntry
	err := d.db.View(func(tx *bolt.Tx) error {
		var err error
		e, err = getFile(tx, org, path)
		return err
	})
	return e, err
}

// ListFiles implements store.Files.
func (d *DB) ListFiles(_ context.Context, org, dir string) ([]store.FileEntry, []store.Folder, error) {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	files, folders := []store.FileEntry{}, []store.Folder{}
	seen := map[string]bool{}
	err := d.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktFiles).Cursor()
		start := fileKey(org, prefix)
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, start); k, v = c.Next() {
			rest := string(k[len(start):])
			if sub, _, nested := strings.Cut(rest, "/"); nested {
				if !seen[sub] {
					seen[sub] = true
					folders = append(folders, store.Folder{Path: prefix + sub})
				}
				continue
			}
			var e store.FileEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			files = append(files, e)
		}
		return nil
	})
	return files, folders, err
}

// ListFilesPage implements store.Files. Keys sort by path, so a folder's
// entries interleave: a first pass takes the subfolders (seeking past each
// one's subtree: '0' is the byte after '/'), a second the files.
func (d *DB) ListFilesPage(_ context.Context, org, dir, after string, limit int) ([]store.FileEntry, []store.Folder, bool, error) {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	start := fileKey(org, prefix)
	files, folders := []store.FileEntry{}, []store.Folder{}
	more := false
	full := func() bool {
		if len(files)+len(folders) < limit {
			return false
		}
		more = true
		return true
	}
	err := d.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktFiles).Cursor()
		past := func(sub string) []byte { return fileKey(org, prefix+sub+"0") }
		if !strings.HasPrefix(after, "f") {
			from := start
			if p, ok := strings.CutPrefix(after, "d"); ok && strings.HasPrefix(p, prefix) {
				from = fileKey(org, strings.TrimSuffix(p, "/")+"0")
			}
			for k, _ := c.Seek(from); k != nil && bytes.HasPrefix(k, start); {
				sub, _, nested := strings.Cut(string(k[len(start):]), "/")
				if !nested {
					k, _ = c.Next()
					continue
				}
				if full() {
					return nil
				}
				folders = append(folders, store.Folder{Path: prefix + sub})
				k, _ = c.Seek(past(sub))
			}
		}
		from := start
		if p, ok := strings.CutPrefix(after, "f"); ok && strings.HasPrefix(p, prefix) {
			from = append(fileKey(org, p), 0) // strictly after it
		}
		for k, v := c.Seek(from); k != nil && bytes.HasPrefix(k, start); {
			sub, _, nested := strings.Cut(string(k[len(start):]), "/")
			if nested {
				k, v = c.Seek(past(sub))
				continue
			}
			if full() {
				return nil
			}
			var e store.FileEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			files = append(files, e)
			k, v = c.Next()
		}
		return nil
	})
	return files, folders, more, err
}

// UpdateFile implements store.Files: bbolt's one writer at a time is the
// file's lock.
func (d *DB) UpdateFile(_ context.Context, org, path string, fn func(store.FileTx, store.FileEntry, bool) error) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		e, err := getFile(tx, org, path)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return fn(fileTx{tx: tx, org: org, path: path, found: err == nil}, e, err == nil)
	})
}

// fileTx is store.FileTx in a bbolt transaction.
type fileTx struct {
	tx        *bolt.Tx
	org, path string
	found     bool // the entry existed when the transaction began
}

func (f fileTx) Version(n int) (store.Version, error) {
	var v store.Version
	data := f.tx.Bucket(bktVersions).Get(versionKey(f.org, f.path, n))
	if data == nil {
		return v, fmt.Errorf("version %d of %s: %w", n, f.path, store.ErrNotFound)
	}
	return v, json.Unmarshal(data, &v)
}

func (f fileTx) PutVersion(v store.Version, manifest []byte) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	key := versionKey(f.org, f.path, v.Number)
	if err := f.tx.Bucket(bktVersions).Put(key, data); err != nil {
		return err
	}
	return f.tx.Bucket(bktManifests).Put(key, manifest)
}

func (f fileTx) PutFile(e store.FileEntry) error {
	if !f.found {
		if err := checkNoOverlap(f.tx, f.org, f.path); err != nil {
			return err
		}
	}
	e.OrgID, e.Path = f.org, f.path
	return putFile(f.tx, e)
}

// checkNoOverlap refuses a new file where a folder is (files below path)
// or below another file (a file at one of its parent paths).
func checkNoOverlap(tx *bolt.Tx, org, path string) error {
	c := tx.Bucket(bktFiles).Cursor()
	below := fileKey(org, path+"/")
	if k, _ := c.Seek(below); k != nil && bytes.HasPrefix(k, below) {
		return fmt.Errorf("%s: %w: it is a folder", path, store.ErrConflict)
	}
	for dir := path; ; {
		i := strings.LastIndexByte(dir, '/')
		if i <= 0 {
			return nil
		}
		dir = dir[:i]
		if tx.Bucket(bktFiles).Get(fileKey(org, dir)) != nil {
			return fmt.Errorf("%s: %w: %s is a file", path, store.ErrConflict, dir)
		}
	}
}

// Versions implements store.Files: oldest first.
func (d *DB) Versions(_ context.Context, org, path string) ([]store.Version, error) {
	out := []store.Version{}
	err := d.db.View(func(tx *bolt.Tx) error {
		if _, err := getFile(tx, org, path); err != nil {
			return err
		}
		prefix := []byte(org + "\x00" + path + "\x00")
		c := tx.Bucket(bktVersions).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, v = c.Next() {
			var ver store.Version
			if err := json.Unmarshal(v, &ver); err != nil {
				return err
			}
			out = append(out, ver)
		}
		return nil
	})
	return out, err
}

// Manifest implements store.Files.
func (d *DB) Manifest(_ context.Context, org, path string, n int) ([]byte, error) {
	var out []byte
	err := d.db.View(func(tx *bolt.Tx) error {
		data := tx.Bucket(bktManifests).Get(versionKey(org, path, n))
		if data == nil {
			return fmt.Errorf("version %d of %s: %w", n, path, store.ErrNotFound)
		}
		out = bytes.Clone(data)
		return nil
	})
	return out, err
}

// Manifests implements store.Files.
func (d *DB) Manifests(_ context.Context, org string, fn func([]byte) error) error {
	return d.db.View(func(tx *bolt.Tx) error {
		prefix := []byte(org + "\x00")
		c := tx.Bucket(bktManifests).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if err := fn(v); err != nil {
				return err
			}
		}
		return jobManifests(tx, org, fn)
	})
}
