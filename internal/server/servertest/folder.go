package servertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/sdk"
	"golang.org/x/sync/errgroup"
)

// LongName is the i-th of the long names of FillFolder: 249 bytes, each
// '&' of which JSON encoders may write as 6 (\u0026), so that 1,100 of
// them listed at once are more than a 1 MiB answer.
func LongName(i int) string {
	return fmt.Sprintf("%04d-%s.prt", i, strings.Repeat("R&D&", 60))
}

// FillFolder saves n small files named LongName(0..n-1) into the cloud
// folder dir through c, a few at a time.
func FillFolder(t testing.TB, c *sdk.Client, dir string, n int) {
	t.Helper()
	local := filepath.Join(t.TempDir(), "part.prt")
	if err := os.WriteFile(local, []byte("a part\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var g errgroup.Group
	g.SetLimit(8)
	for i := range n {
		g.Go(func() error {
			_, err := c.SaveTo(context.Background(), local, dir+"/"+LongName(i), 0, sdk.SaveOptions{})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("fill %s: %v", dir, err)
	}
}
