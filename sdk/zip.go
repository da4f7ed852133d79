package sdk

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/iscsdk/iscsdk/internal/manifest"
)

// ErrBadArchive: a zipped assembly that cannot be unpacked safely.
var ErrBadArchive = errors.New("iscsdk: bad assembly archive")

// Limits on a zipped assembly: what an engineer's assembly needs, and no
// more, so a zip bomb fails instead of filling the disk.
const (
	maxZipEntries = 100_000
	maxZipBytes   = 64 << 30
)

// isZipAssembly says whether a cloud file is a zipped assembly.
func isZipAssembly(cloudPath string) bool {
	return strings.EqualFold(filepath.Ext(cloudPath), ".zip")
}

// unzipAssembly unpacks the zip at path into a folder beside it named like
// the zip without ".zip", replacing that folder's files, and returns the
// folder. Every entry must be a plain relative path that stays inside the
// folder (no "..", no absolute path, no link): anything else fails with
// ErrBadArchive before a byte is written.
func unzipAssembly(path string) (string, error) {
	r, err := zip.OpenReader(path)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadArchive, err)
	}
	defer r.Close()
	if len(r.File) > maxZipEntries {
		return "", fmt.Errorf("%w: more than %d entries", ErrBadArchive, maxZipEntries)
	}
	var total uint64
	for _, f := range r.File {
		name := strings.TrimSuffix(f.Name, "/")
		if f.FileInfo().IsDir() {
			continue
		}
		if err := manifest.CheckPath(name); err != nil {
			return "", fmt.Errorf("%w: entry %q: %v", ErrBadArchive, f.Name, err)
		}
		if !f.Mode().IsRegular() {
			return "", fmt.Errorf("%w: entry %q is not a regular file", ErrBadArchive, f.Name)
		}
		total += f.UncompressedSize64
	}
	if total > maxZipBytes {
		return "", fmt.Errorf("%w: unpacks to more than %d bytes", ErrBadArchive, uint64(maxZipBytes))
	}
	dir := strings.TrimSuffix(path, filepath.Ext(path))
	for _, f := range r.File {
		if f.FileInfo().IsDir() {
			continue
		}
		if err := unzipEntry(f, filepath.Join(dir, filepath.FromSlash(f.Name))); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// unzipEntry writes one entry, stopping at the size it declared.
func unzipEntry(f *zip.File, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadArchive, f.Name, err)
	}
	defer rc.Close()
	out, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.part")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	n, err := io.Copy(out, io.LimitReader(rc, int64(f.UncompressedSize64)+1))
	if err == nil && uint64(n) != f.UncompressedSize64 {
		err = fmt.Errorf("%w: %s is not the size it declares", ErrBadArchive, f.Name)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(out.Name(), dst)
}
