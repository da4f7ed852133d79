// Package chunkstore stores content-addressed chunks for each organisation.
//
// A chunk is named by the SHA-256 of its content (an [ID]) and stored encoded:
// compressed with zstd, or raw when compression does not shrink it (see
// [Encode]). A [Store] verifies every chunk it is given: it decodes it,
// hashes it and compares with the id it was given, so that it never trusts a
// hash a client claims. Chunks are shared by all the versions of all the files
// of an organisation, never across organisations. [GC] removes the chunks no
// version references, and never one an upload in flight may still need.
//
// [Dir] keeps the chunks in a directory tree; package s3store keeps them in
// an S3-compatible object store. Both pass the suite in package
// chunkstoretest.
package chunkstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// HashID names the hash that makes chunk ids (and whole-file hashes).
// Manifests record it.
const HashID = "sha256"

// An ID names a chunk: the SHA-256 of its decoded content.
type ID [sha256.Size]byte

// Sum returns the ID of a chunk whose content is data.
func Sum(data []byte) ID { return sha256.Sum256(data) }

// String returns the id in lower-case hexadecimal, as it appears in file
// names and messages.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID parses the hexadecimal form that String returns.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return ID{}, fmt.Errorf("chunkstore: chunk id %q: want %d hex digits", s, 2*len(id))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ID{}, fmt.Errorf("chunkstore: chunk id %q: %w", s, err)
	}
	if id.String() != s {
		return ID{}, fmt.Errorf("chunkstore: chunk id %q: not lower-case", s)
	}
	return id, nil
}
