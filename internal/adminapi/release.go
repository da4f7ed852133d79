package adminapi

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/release"
	"golang.org/x/sync/errgroup"
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

// publishWindow is how many chunks go up at once.
const publishWindow = 4

// PublishRelease uploads a package read from pkg (chunked as cloud files
// are: only the chunks iscd lacks are sent, so a publish that failed
// half-way sends the rest when it is run again) and publishes it as req
// with the signature sign gives for its statement (req.Manifest, KeyID
// and Signature are filled in; sign is the vendor's release key, or a
// release.Signed made offline). progress, if not nil, is called with the
// bytes of pkg read and sent so far.
func (c *Client) PublishRelease(ctx context.Context, req PublishRelease, pkg io.Reader, sign release.Signer, progress func(done int64)) (ReleasePublished, error) {
	var out ReleasePublished
	base := "/releases/" + req.ProductID + "/chunks/"
	var (
		batch []manifest.Chunk
		done  int64
	)
	flush := func() error {
		ids := ChunkIDs{}
		for _, ch := range batch {
			ids.IDs = append(ids.IDs, ch.ID.String())
		}
		var missing ChunkIDs
		if err := c.Do(ctx, "POST", base+"have", ids, &missing); err != nil {
			return err
		}
		want := map[string]bool{}
		for _, id := range missing.IDs {
			want[id] = true
		}
		var g errgroup.Group
		g.SetLimit(publishWindow)
		for _, ch := range batch {
			if !want[ch.ID.String()] {
				continue
			}
			delete(want, ch.ID.String())
			g.Go(func() error { return c.DoRaw(ctx, "PUT", base+ch.ID.String(), ch.Encoded, nil) })
		}
		err := g.Wait()
		batch = batch[:0]
		return err
	}
	f, err := manifest.Build(ctx, pkg, func(ch manifest.Chunk) error {
		batch = append(batch, manifest.Chunk{ID: ch.ID, Encoded: bytes.Clone(ch.Encoded)})
		done += int64(len(ch.Data))
		if len(batch) >= 64 {
			if err := flush(); err != nil {
				return err
			}
			if progress != nil {
				progress(done)
			}
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
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
