package chunkstore_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/chunkstore/chunkstoretest"
)

// TestDirSuite runs the behavioural suite of every chunk store on Dir (the
// object store runs it in package s3store).
func TestDirSuite(t *testing.T) {
	chunkstoretest.Run(t, func(t *testing.T, now func() time.Time) chunkstore.Store {
		d, err := chunkstore.NewDir(filepath.Join(t.TempDir(), "chunks"))
		if err != nil {
			t.Fatal(err)
		}
		chunkstore.SetDirClock(d, now)
		return d
	})
}
