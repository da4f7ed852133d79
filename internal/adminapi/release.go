package adminapi

import (
	"context"
	"fmt"
	"io"

	"github.com/iscsdk/iscsdk/internal/chunksync"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/release"
)

// Statement is what a release published as req, of a package of size
// bytes with that SHA-256, says: the statement its signature covers (iscd
// builds the same from the request and the stored manifest).
func Statement(req PublishRelease, size int64, sha256 string) release.Statement {
	cmd := req.InstallCommand
	if cmd == "" {
		cmd = release.DefaultCommand
	}
	return release.Statement{Product: req.ProductID, Platform: req.Platform, Version: req.Version, FileName: req.FileName,
		Size: size, SHA256: sha256, InstallCommand: cmd}
}

// Release packages go up in rounds of releaseBatch chunks, releasePuts
// at once.
const (
	releaseBatch = 64
	releasePuts  = 4
)

// PublishRelease uploads a package read from pkg (chunked as cloud files
// are: only the chunks iscd lacks are sent, so a publish that failed
// half-way sends the rest when it is run again) and publishes it as req
// with the signature sign gives for its statement (req.Manifest, KeyID
// and Signature are filled in; sign is the vendor's release key, or a
// release.Signed made offline). progress, if not nil, is called with the
// bytes of pkg read and sent so far.
func (c *Client) PublishRelease(ctx context.Context, req PublishRelease, pkg io.Reader, sign release.Signer, progress func(done int64)) (ReleasePublished, error) {
	var out ReleasePublished
	up := chunksync.New(ctx, releaseChunks{c, "/releases/" + req.ProductID + "/chunks/"}, chunksync.Options{BatchChunks: releaseBatch, Puts: releasePuts})
	var (
		done   int64
		chunks int
	)
	f, err := manifest.Build(ctx, pkg, func(ch manifest.Chunk) error {
		if err := up.Add(ch); err != nil {
			return err
		}
		done += int64(len(ch.Data))
		if chunks++; chunks%releaseBatch == 0 && progress != nil {
			progress(done)
		}
		return nil
	})
	if err == nil {
		err = up.Flush()
	} else {
		up.Wait()
	}
	if err != nil {
		return out, fmt.Errorf("upload the package: %w", err)
	}
	if progress != nil {
		progress(done)
	}
	sig, err := sign.Sign(Statement(req, f.Size, f.Hash.String()))
	if err != nil {
		return out, fmt.Errorf("sign the release: %w", err)
	}
	req.KeyID, req.Signature = sig.KeyID, sig.Value
	f.Path = "package" // the file's name is req.FileName
	if req.Manifest, err = manifest.Encode(manifest.New(f)); err != nil {
		return out, err
	}
	err = c.Do(ctx, "POST", "/releases", req, &out)
	return out, err
}

// releaseChunks is iscd's release chunk store as the admin API reaches
// it: POST …/chunks/have, then PUT …/chunks/{id} for each missing one.
type releaseChunks struct {
	c    *Client
	base string // /releases/{product}/chunks/
}

func (r releaseChunks) Missing(ctx context.Context, ids []string) ([]string, error) {
	var missing ChunkIDs
	err := r.c.Do(ctx, "POST", r.base+"have", ChunkIDs{IDs: ids}, &missing)
	return missing.IDs, err
}

func (r releaseChunks) Put(ctx context.Context, ch *chunksync.Chunk) error {
	return r.c.DoRaw(ctx, "PUT", r.base+ch.ID.String(), ch.Encoded(), nil)
}
