package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/chunkstore/s3store"
	"github.com/iscsdk/iscsdk/internal/server"
)

// blobFlags are the flags that choose where cloud files' chunks go.
type blobFlags struct {
	url, credsFile *string
}

func addBlobFlags(fs *flag.FlagSet) blobFlags {
	return blobFlags{
		url: fs.String("blobs", "", "where file chunks go: s3://BUCKET[/PREFIX]?endpoint=http(s)://HOST:PORT&region=R for an S3-compatible object store; empty: DATA/chunks"),
		credsFile: fs.String("blobs-credentials-file", "", "file of AWS_ACCESS_KEY_ID=... and AWS_SECRET_ACCESS_KEY=... lines for --blobs; "+
			"default: those environment variables"),
	}
}

// open returns the chunk store the flags name, or nil for the default (a
// directory under the data directory, which server.Open makes).
func (b blobFlags) open(log *slog.Logger) (chunkstore.Store, error) {
	if *b.url == "" {
		if *b.credsFile != "" {
			return nil, errors.New("--blobs-credentials-file without --blobs")
		}
		return nil, nil
	}
	cfg, err := s3store.ParseURL(*b.url)
	if err != nil {
		return nil, fmt.Errorf("--blobs: %w", err)
	}
	if err := cfg.Credentials(*b.credsFile); err != nil {
		return nil, fmt.Errorf("--blobs: %w", err)
	}
	if cfg.AccessKey == "" {
		return nil, errors.New("--blobs: no credentials for the object store: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or --blobs-credentials-file")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := s3store.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("--blobs: %w", err)
	}
	log.Info("chunk store", "blobs", cfg) // cfg logs without its credentials
	return s, nil
}

// gc runs the chunk collection of a running iscd once: for operators who
// turned the periodic one off, or want it now. It opens the same store as
// iscd serve (the embedded one only while no iscd holds it).
func gc(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("iscd gc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr("ISCD_DATA", "iscd-data"), "data directory of the service; $ISCD_DATA")
	blobs := addBlobFlags(fs)
	db := addDBFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("iscd gc: unexpected argument %q", fs.Arg(0))
	}
	log := warnings(stderr)
	chunks, err := blobs.open(log)
	if err != nil {
		return err
	}
	srv, err := db.openOnce(*data, log, server.Config{Chunks: chunks})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, gcErr := srv.CollectChunks(ctx)
	fmt.Fprintf(stdout, "chunks: %d listed, %d referenced, %d recent (kept for uploads in flight), %d deleted\n", st.Chunks, st.Live, st.Recent, st.Deleted)
	return errors.Join(gcErr, srv.Shutdown(context.Background())) // never started: closes the stores
}
