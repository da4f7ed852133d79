package upgrades_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/release"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// publish uploads a small package through the admin API and publishes it,
// signed with the dev release key.
func publish(t *testing.T, srv *servertest.Server, req adminapi.PublishRelease) error {
	return publishSigned(t, srv, req, srv.ReleaseKey)
}

// publishSigned is publish with the signature sign makes (nil: none).
func publishSigned(t *testing.T, srv *servertest.Server, req adminapi.PublishRelease, sign release.Signer) error {
	t.Helper()
	ctx := context.Background()
	a := srv.Admin()
	data := make([]byte, 100<<10)
	rand.Read(data)
	var chunks []manifest.Chunk
	f, err := manifest.Build(ctx, bytes.NewReader(data), func(c manifest.Chunk) error {
		chunks = append(chunks, manifest.Chunk{ID: c.ID, Encoded: bytes.Clone(c.Encoded)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chunks {
		if err := a.DoRaw(ctx, "PUT", "/releases/"+req.ProductID+"/chunks/"+c.ID.String(), c.Encoded, nil); err != nil {
			return err
		}
	}
	if sign != nil {
		sig, err := sign.Sign(adminapi.Statement(req, f.Size, f.Hash.String()))
		if err != nil { // a request the test makes bad on purpose: iscd must refuse it for what it is
			sig = release.Signature{KeyID: "0a", Value: strings.Repeat("A", 86)}
		}
		req.KeyID, req.Signature = sig.KeyID, sig.Value
	}
	f.Path = "package"
	req.Manifest, err = manifest.Encode(manifest.New(f))
	if err != nil {
		t.Fatal(err)
	}
	var out adminapi.ReleasePublished
	return a.Do(ctx, "POST", "/releases", req, &out)
}

// fixedSignature signs every statement with the same signature.
type fixedSignature release.Signature

func (f fixedSignature) Sign(release.Statement) (release.Signature, error) {
	return release.Signature(f), nil
}

func TestOfferRules(t *testing.T) {
	srv := servertest.Start(t)
	p := srv.Product
	rel := func(v string) adminapi.PublishRelease {
		return adminapi.PublishRelease{ProductID: p, Platform: "linux-amd64", Version: v, FileName: "setup.run", InstallCommand: "{package} --silent"}
	}
	forced := rel("1.5.0")
	forced.Forced = true
	withMin := rel("2.0.0")
	withMin.MinSupported = "1.2.0"
	for _, r := range []adminapi.PublishRelease{rel("1.0.0"), forced, withMin, rel("2.1.0-rc.1")} {
		if err := publish(t, srv, r); err != nil {
			t.Fatalf("publish %s: %v", r.Version, err)
		}
	}
	svc := srv.Upgrades()
	ctx := context.Background()
	for _, tc := range []struct {
		current, want, forcedBy string
	}{
		{"0.9.0", "2.0.0", "release"},         // below the forced 1.5.0 (and the minimum)
		{"1.4.9", "2.0.0", "release"},         // 1.5.0 is forced
		{"1.5.0", "2.0.0", ""},                // at 1.5.0: 2.0.0 is optional
		{"1.1.0+build.9", "2.0.0", "release"}, // build metadata counts for nothing
		{"2.0.0", "", ""},                     // up to date: the rc is not offered to a release
		{"2.0.1-beta", "2.1.0-rc.1", ""},      // a pre-release is offered to a pre-release
		{"3.0.0", "", ""},                     // newer than anything published
	} {
		o, err := svc.Offer(ctx, p, "linux-amd64", tc.current)
		if err != nil {
			t.Fatalf("%s: %v", tc.current, err)
		}
		if o.Version != tc.want || o.Available != (tc.want != "") || o.ForcedBy != tc.forcedBy || o.Forced != (tc.forcedBy != "") {
			t.Errorf("at %s: offered %q forced by %q (%+v); want %q forced by %q", tc.current, o.Version, o.ForcedBy, o, tc.want, tc.forcedBy)
		}
	}
	// The minimum supported version forces on its own, without a forced release.
	other := rel("5.0.0")
	other.Platform, other.MinSupported = "windows-amd64", "4.0.0"
	if err := publish(t, srv, other); err != nil {
		t.Fatal(err)
	}
	if o, _ := svc.Offer(ctx, p, "windows-amd64", "3.9.9"); o.ForcedBy != "minimum" || o.Version != "5.0.0" {
		t.Errorf("below the minimum: %+v", o)
	}
	if o, _ := svc.Offer(ctx, p, "windows-amd64", "4.1.0"); o.Forced || !o.Available {
		t.Errorf("above the minimum: %+v", o)
	}
	var we *wire.Error
	if _, err := svc.Offer(ctx, p, "linux-amd64", "2024.1"); !errors.As(err, &we) || we.Code != wire.CodeBadVersion {
		t.Errorf("a bad program version: %v", err)
	}
}

func TestPublishRefusals(t *testing.T) {
	srv := servertest.Start(t)
	p := srv.Product
	ok := adminapi.PublishRelease{ProductID: p, Platform: "linux-amd64", Version: "1.0.0", FileName: "setup.run"}
	if err := publish(t, srv, ok); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*adminapi.PublishRelease){
		"the same version":    func(r *adminapi.PublishRelease) {},
		"a bad version":       func(r *adminapi.PublishRelease) { r.Version = "1.0" },
		"a bad platform":      func(r *adminapi.PublishRelease) { r.Version, r.Platform = "1.0.1", "linux" },
		"a path as file name": func(r *adminapi.PublishRelease) { r.Version, r.FileName = "1.0.1", "../x" },
		"an unclosed quote":   func(r *adminapi.PublishRelease) { r.Version, r.InstallCommand = "1.0.1", `"{package}` },
		"a minimum too new":   func(r *adminapi.PublishRelease) { r.Version, r.MinSupported = "1.0.1", "1.1.0" },
		"an unknown product":  func(r *adminapi.PublishRelease) { r.ProductID = "nope" },
	} {
		r := ok
		change(&r)
		var ae *adminapi.Error
		if err := publish(t, srv, r); !errors.As(err, &ae) || ae.Status/100 != 4 {
			t.Errorf("%s: %v, want a 4xx", name, err)
		}
	}
	// iscd signs nothing: a release without a signature, or with one that
	// is not an Ed25519 signature, is refused; it cannot check more (it
	// does not know the release key), the programs do.
	var ae *adminapi.Error
	unsigned := ok
	unsigned.Version = "1.0.3"
	if err := publishSigned(t, srv, unsigned, nil); !errors.As(err, &ae) || ae.Code != wire.CodeBadRequest || !strings.Contains(ae.Message, "not signed") {
		t.Errorf("an unsigned release: %v", err)
	}
	if err := publishSigned(t, srv, unsigned, fixedSignature{KeyID: "0a", Value: "AAAA"}); !errors.As(err, &ae) || ae.Code != wire.CodeBadRequest {
		t.Errorf("a malformed signature: %v", err)
	}
	// A manifest whose chunks were never put is refused.
	m, _ := manifest.Encode(manifest.New(manifest.File{Path: "x", Size: 1, Hash: chunkstore.Sum([]byte("x")), Chunks: []manifest.ChunkRef{{ID: chunkstore.Sum([]byte("x")), Size: 1}}}))
	r := ok
	r.Version, r.Manifest = "1.0.2", m
	if err := srv.Admin().Do(context.Background(), "POST", "/releases", r, nil); !errors.As(err, &ae) || ae.Code != wire.CodeMissingChunks {
		t.Errorf("missing chunks: %v", err)
	}
	// Withdrawn: offered no more, and its version is not reused.
	if err := srv.Admin().Do(context.Background(), "DELETE", "/releases/"+p+"/linux-amd64/1.0.0", nil, nil); err != nil {
		t.Fatal(err)
	}
	var list []store.Release
	if err := srv.Admin().Do(context.Background(), "GET", "/releases?product="+p, nil, &list); err != nil || len(list) != 0 {
		t.Fatalf("after the withdrawal: %v %v", list, err)
	}
	if err := publish(t, srv, ok); !errors.As(err, &ae) || ae.Status != 409 {
		t.Errorf("a withdrawn version again: %v", err)
	}
}
