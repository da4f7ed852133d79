package boltstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
)

func TestReleasesPublishListWithdraw(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	rel := func(platform, version string) store.Release {
		return store.Release{ProductID: "cad", Platform: platform, Version: version, FileName: "p", Size: 1, SHA256: "s", Published: time.Now()}
	}
	if err := db.PutRelease(ctx, rel("linux-amd64", "1.0.0"), []byte("m")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("release of an unknown product: %v", err)
	}
	db.CreateProduct(ctx, store.Product{ID: "cad"})
	db.CreateProduct(ctx, store.Product{ID: "cad2"})
	for _, r := range []store.Release{rel("linux-amd64", "1.0.0"), rel("linux-amd64", "1.1.0"), rel("windows-amd64", "1.1.0")} {
		if err := db.PutRelease(ctx, r, []byte("m"+r.Version)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutRelease(ctx, rel("linux-amd64", "1.1.0"), []byte("other")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("the same version twice: %v", err)
	}
	r2 := rel("linux-amd64", "1.0.0")
	r2.ProductID = "cad2" // another product's catalogue is apart
	if err := db.PutRelease(ctx, r2, []byte("m")); err != nil {
		t.Fatal(err)
	}
	if all, _ := db.ListReleases(ctx, "cad", ""); len(all) != 3 {
		t.Fatalf("all platforms: %d releases", len(all))
	}
	if lin, _ := db.ListReleases(ctx, "cad", "linux-amd64"); len(lin) != 2 {
		t.Fatalf("linux: %d releases", len(lin))
	}
	if m, err := db.ReleaseManifest(ctx, "cad", "linux-amd64", "1.1.0"); err != nil || string(m) != "m1.1.0" {
		t.Fatalf("manifest: %q %v", m, err)
	}
	if err := db.WithdrawRelease(ctx, "cad", "linux-amd64", "1.1.0"); err != nil {
		t.Fatal(err)
	}
	if lin, _ := db.ListReleases(ctx, "cad", "linux-amd64"); len(lin) != 1 || lin[0].Version != "1.0.0" {
		t.Fatalf("after the withdrawal: %+v", lin)
	}
	if _, err := db.Release(ctx, "cad", "linux-amd64", "1.1.0"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a withdrawn release: %v", err)
	}
	if err := db.WithdrawRelease(ctx, "cad", "linux-amd64", "1.1.0"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("withdrawn twice: %v", err)
	}
	if err := db.PutRelease(ctx, rel("linux-amd64", "1.1.0"), []byte("new bytes")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a withdrawn version published again: %v", err)
	}
	n := 0
	db.ReleaseManifests(ctx, "cad", func([]byte) error { n++; return nil })
	if n != 2 {
		t.Fatalf("%d manifests of live releases, want 2", n)
	}
}
