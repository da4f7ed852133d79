//go:build linux

package s3store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/chunkstore/chunkstoretest"
	"github.com/iscsdk/iscsdk/internal/chunkstore/s3store"
	"github.com/iscsdk/iscsdk/internal/chunkstore/s3store/s3test"
)

// srv is the package's S3 server, started by TestMain; nil (and why in
// missing) when versitygw is not installed.
var (
	srv     *s3test.Server
	missing error
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := os.MkdirTemp("", "s3store-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(root)
	if _, err := s3test.Binary(); err != nil {
		missing = err
		if !s3test.Absent(err) {
			return 1
		}
	} else if srv, err = s3test.Start(root); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if srv != nil {
		srv.Stop()
	}
	return code
}

// open returns a store on a fresh bucket of the package's server.
func open(t testing.TB, now func() time.Time) *s3store.Store {
	s, _ := openConfig(t, now)
	return s
}

// openConfig is open, also returning the store's configuration (for a
// second store on the same bucket: another replica).
func openConfig(t testing.TB, now func() time.Time) (*s3store.Store, s3store.Config) {
	t.Helper()
	if srv == nil {
		t.Skipf("SKIPPED: no S3 server: %v", missing)
	}
	ctx := context.Background()
	b, err := srv.MakeBucket(ctx, "chunks")
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config(b)
	cfg.Prefix = "iscd/"
	cfg.Now = now
	s, err := s3store.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, cfg
}

// TestSuite runs the behavioural suite of every chunk store on the S3 one.
func TestSuite(t *testing.T) {
	chunkstoretest.Run(t, func(t *testing.T, now func() time.Time) chunkstore.Store { return open(t, now) })
}

func TestNoBucket(t *testing.T) {
	if srv == nil {
		t.Skipf("SKIPPED: no S3 server: %v", missing)
	}
	_, err := s3store.New(context.Background(), srv.Config("no-such-bucket"))
	if err == nil || !strings.Contains(err.Error(), "bucket does not exist") {
		t.Fatalf("New on a missing bucket: %v", err)
	}
}

func TestWrongCredentials(t *testing.T) {
	if srv == nil {
		t.Skipf("SKIPPED: no S3 server: %v", missing)
	}
	b, err := srv.MakeBucket(context.Background(), "creds")
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config(b)
	cfg.SecretKey = "wrong-secret-value"
	_, err = s3store.New(context.Background(), cfg)
	if err == nil {
		t.Fatal("New with a wrong secret succeeded")
	}
	if strings.Contains(err.Error(), cfg.SecretKey) || strings.Contains(err.Error(), srv.SecretKey) {
		t.Fatalf("the error shows a secret: %v", err)
	}
	t.Log(err)
}

// TestServerDown: with the server gone, calls fail promptly with an error
// that names the store, and work again once it is back.
func TestServerDown(t *testing.T) {
	s := open(t, time.Now)
	ctx := context.Background()
	data := []byte("a chunk")
	id := chunkstore.Sum(data)
	srv.Stop()
	defer srv.Resume()
	start := time.Now()
	err := s.Put(ctx, "acme", id, chunkstore.Encode(data))
	if err == nil || !strings.Contains(err.Error(), srv.Endpoint[len("http://"):]) {
		t.Fatalf("Put with the server down: %v", err)
	}
	t.Logf("after %v: %v", time.Since(start), err)
	if errors.Is(err, chunkstore.ErrNoSpace) {
		t.Fatal("a server down reported as a full store")
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "acme", id, chunkstore.Encode(data)); err != nil {
		t.Fatalf("Put once the server is back: %v", err)
	}
}

// TestTwoReplicasGCRace: replica B collects a chunk while replica A finds it
// for an upload (Has), at the same moment, many times over. Whenever A
// answered that the chunk is there, it must still be there afterwards: the
// lock-free protocol of the package comment.
func TestTwoReplicasGCRace(t *testing.T) {
	clk := &chunkstoretest.Clock{}
	a, cfg := openConfig(t, clk.Now)
	b, err := s3store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	kept, collected := 0, 0
	for round := range 40 {
		data := []byte(fmt.Sprintf("an abandoned upload's chunk, round %d", round))
		id := chunkstore.Sum(data)
		clk.Set(t0)
		if err := b.Put(ctx, "acme", id, chunkstore.Encode(data)); err != nil {
			t.Fatal(err)
		}
		clk.Set(t0.Add(25 * time.Hour)) // past the grace: due for collection
		cutoff := t0.Add(time.Hour)
		var found, deleted bool
		var herr, derr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			deleted, derr = b.Delete(ctx, "acme", id, cutoff)
		}()
		found, herr = a.Has(ctx, "acme", id)
		<-done
		if herr != nil || derr != nil {
			t.Fatalf("round %d: Has: %v; Delete: %v", round, herr, derr)
		}
		if found {
			kept++
			// What a commit relies on: the chunk is there, for any replica.
			c, err := s3store.New(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := c.Get(ctx, "acme", id); err != nil || string(got) != string(chunkstore.Encode(data)) {
				t.Fatalf("round %d: Has said present (Delete: %v), then Get: %v", round, deleted, err)
			}
		} else {
			collected++
		}
	}
	t.Logf("kept by the upload: %d rounds; collected first: %d rounds", kept, collected)
}
