package hostile_test

// Keys: what a database dump, an admin token or a compromised iscd can make
// of the keys that sign licences and releases.
//
//   - releases are signed offline with the vendor's release key, which iscd
//     never holds: a release published with an admin token but not signed by
//     that key (another key, a signature copied from another release, a
//     package swapped under a real signature) is refused by the program, and
//     nothing is staged or run;
//   - an offer that is a downgrade, or for another product or platform, is
//     refused before anything is downloaded, even when the vendor signed it;
//   - licence signing keys are stored wrapped by a key-encryption key that
//     lives outside the database: a dump holds no seed, an iscd without its
//     KEK signs nothing, and rotating the KEK keeps everything working.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/release"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

// keysClient connects a program of the demo product at version 1.2.3 that
// trusts releases signed by the dev release key (the vendor's) and installs
// what it stages when it shuts out.
func keysClient(t *testing.T, srv *servertest.Server) (*sdk.Client, sdk.Config) {
	t.Helper()
	cfg := sdk.Config{
		Endpoint: srv.Endpoint, Token: srv.APIToken, ProductID: srv.Product, AppVersion: "1.2.3",
		WorkspaceDir: t.TempDir(), ConnectTimeout: 10 * time.Second, CredentialsFile: filepath.Join(t.TempDir(), "none"),
		ReleaseKeys: srv.ReleaseKeys,
	}
	c, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.ShutOut() })
	return c, cfg
}

func keysEvent(t *testing.T, c *sdk.Client, typ sdk.EventType) sdk.Event {
	t.Helper()
	return servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == typ })
}

// workspaceFiles lists the files under the workspace's upgrades folder.
func workspaceFiles(t *testing.T, ws string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(filepath.Join(ws, "upgrades"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	return files
}

// evilInstaller is a package that, were it ever run, would leave a mark.
func evilInstaller(t *testing.T) ([]byte, string) {
	marker := filepath.Join(t.TempDir(), "pwned")
	return []byte("#!/bin/sh\necho pwned > " + marker + "\n"), marker
}

// fixedSig "signs" every statement with one signature (a copied one).
type fixedSig release.Signature

func (f fixedSig) Sign(release.Statement) (release.Signature, error) {
	return release.Signature(f), nil
}

// A holder of an admin token (or a compromised iscd) publishes a forced
// release that the vendor did not sign. Every program refuses it: nothing
// is staged, nothing is handed to an installer at exit.
func TestReleaseNotSignedByTheVendorNeverRuns(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	admin := srv.Admin()
	pkg, marker := evilInstaller(t)
	attacker, err := release.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	// A genuine release, whose signature the attacker can copy.
	genuine, err := admin.PublishRelease(ctx, adminapi.PublishRelease{ProductID: srv.Product, Platform: sdk.Platform(), Version: "2.0.0",
		FileName: "setup.run"}, bytes.NewReader([]byte("#!/bin/sh\nexit 0\n")), srv.ReleaseKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Store().WithdrawRelease(ctx, srv.Product, sdk.Platform(), "2.0.0"); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, version, code string
		sign                release.Signer
	}{
		// The attacker's own key: the program does not know it.
		{"another key", "3.0.0", sdk.UpgradeUnknownKey, attacker},
		// The attacker's key under the vendor's key id.
		{"another key, the vendor's id", "3.0.1", sdk.UpgradeBadSignature, release.PrivateKey{ID: srv.ReleaseKey.ID, Key: attacker.Key}},
		// The vendor's signature of 2.0.0, copied onto the evil package.
		{"a copied signature", "3.0.2", sdk.UpgradeBadSignature, fixedSig{KeyID: genuine.Release.KeyID, Value: genuine.Release.Signature}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := adminapi.PublishRelease{ProductID: srv.Product, Platform: sdk.Platform(), Version: tc.version, Forced: true,
				FileName: "setup.run", InstallCommand: "{package}"}
			if _, err := admin.PublishRelease(ctx, req, bytes.NewReader(pkg), tc.sign, nil); err != nil {
				t.Fatalf("publish with the admin token: %v", err)
			}
			defer srv.Store().WithdrawRelease(ctx, srv.Product, sdk.Platform(), tc.version)
			c, cfg := keysClient(t, srv)
			c.CheckNewVersions()
			keysEvent(t, c, sdk.EventUpgradeNotice) // forced: staged at once, or not
			u := keysEvent(t, c, sdk.EventUpdate)
			if u.Params["status"] != "failed" || u.Params["errorCode"] != tc.code || u.Params["packagePath"] != "" {
				t.Fatalf("update: %+v, want failed with %s", u.Params, tc.code)
			}
			t.Logf("refused: %s: %s", u.Params["errorCode"], u.Params["errorMsg"])
			if err := c.ShutOut(); err != nil { // an installer would start here, were anything staged
				t.Fatal(err)
			}
			if files := workspaceFiles(t, cfg.WorkspaceDir); len(files) != 0 {
				t.Fatalf("left in the workspace: %q", files)
			}
			if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("the evil package ran")
			}
		})
	}

	t.Run("the package swapped under a genuine signature", func(t *testing.T) {
		// Whoever holds the database serves the evil package's manifest
		// under the record (and signature) of a genuine release.
		good, err := admin.PublishRelease(ctx, adminapi.PublishRelease{ProductID: srv.Product, Platform: sdk.Platform(), Version: "4.0.0",
			FileName: "setup.run"}, bytes.NewReader([]byte("#!/bin/sh\necho genuine 4.0.0\n")), srv.ReleaseKey, nil)
		if err != nil {
			t.Fatal(err)
		}
		evil, err := admin.PublishRelease(ctx, adminapi.PublishRelease{ProductID: srv.Product, Platform: sdk.Platform(), Version: "0.0.1",
			FileName: "setup.run"}, bytes.NewReader(pkg), attacker, nil)
		if err != nil {
			t.Fatal(err)
		}
		evilManifest, err := srv.Store().ReleaseManifest(ctx, srv.Product, sdk.Platform(), evil.Release.Version)
		if err != nil {
			t.Fatal(err)
		}
		srv.Store().WithdrawRelease(ctx, srv.Product, sdk.Platform(), "4.0.0")
		r := good.Release
		r.Version, r.Forced = "4.0.1", true
		r.SHA256, r.Size = evil.Release.SHA256, evil.Release.Size // the record matches the evil bytes...
		if err := srv.Store().PutRelease(ctx, r, evilManifest); err != nil {
			t.Fatal(err)
		}
		c, cfg := keysClient(t, srv)
		c.CheckNewVersions()
		keysEvent(t, c, sdk.EventUpgradeNotice)
		u := keysEvent(t, c, sdk.EventUpdate)
		if u.Params["status"] != "failed" || u.Params["errorCode"] != sdk.UpgradeBadSignature { // ...the signature does not
			t.Fatalf("update: %+v", u.Params)
		}
		c.ShutOut()
		if files := workspaceFiles(t, cfg.WorkspaceDir); len(files) != 0 {
			t.Fatalf("left in the workspace: %q", files)
		}
		if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("the evil package ran")
		}
	})
}

// hostileOffers makes srv answer upgrades.check with offer (a compromised
// iscd) and counts the requests that would download a package.
func hostileOffers(srv *servertest.Server, offer wire.UpgradeOffer) *atomic.Int32 {
	var downloads atomic.Int32
	h := srv.Hub()
	h.Handle(wire.OpUpgradesCheck, func(context.Context, session.Caller, json.RawMessage) (any, error) { return offer, nil })
	fetch := func(context.Context, session.Caller, json.RawMessage) (any, error) {
		downloads.Add(1)
		return nil, wire.Errorf(wire.CodeNotFound, "not here")
	}
	h.Handle(wire.OpUpgradesManifest, fetch)
	h.Handle(wire.OpUpgradesChunk, fetch)
	return &downloads
}

// An offer the program must not take is refused before anything is
// downloaded, even with the vendor's genuine signature (a downgrade to a
// signed release with a known flaw; another product's or platform's
// package), and it is not shown to the host as available.
func TestUpgradeOfferCheckedBeforeDownload(t *testing.T) {
	srv := servertest.Start(t)
	otherPlatform := "windows-amd64"
	if sdk.Platform() == otherPlatform {
		otherPlatform = "linux-amd64"
	}
	for _, tc := range []struct {
		name, product, platform, version, code string
	}{
		{"a downgrade", srv.Product, sdk.Platform(), "1.0.0", sdk.UpgradeNotNewer},
		{"the same version", srv.Product, sdk.Platform(), "1.2.3", sdk.UpgradeNotNewer},
		{"another product", "other-cad", sdk.Platform(), "9.0.0", sdk.UpgradeWrongProduct},
		{"another platform", srv.Product, otherPlatform, "9.0.0", sdk.UpgradeWrongPlatform},
	} {
		for _, forced := range []bool{false, true} {
			name := tc.name
			if forced {
				name += ", forced"
			}
			t.Run(name, func(t *testing.T) {
				st := release.Statement{Product: tc.product, Platform: tc.platform, Version: tc.version, FileName: "setup.run",
					Size: 17, SHA256: strings.Repeat("ab", 32), InstallCommand: "{package}"}
				sig, err := release.Sign(st, srv.ReleaseKey) // the vendor did sign it
				if err != nil {
					t.Fatal(err)
				}
				downloads := hostileOffers(srv, wire.UpgradeOffer{Available: true, Current: "1.2.3", Forced: forced,
					Product: st.Product, Platform: st.Platform, Version: st.Version, FileName: st.FileName, Size: st.Size,
					SHA256: st.SHA256, InstallCommand: st.InstallCommand, KeyID: sig.KeyID, Signature: sig.Value})
				c, cfg := keysClient(t, srv)
				id, err := c.CheckNewVersions()
				if err != nil {
					t.Fatal(err)
				}
				n := keysEvent(t, c, sdk.EventUpgradeNotice)
				if n.RequestID != id || n.Params["available"] != "false" || n.Params["errorCode"] != tc.code || n.Params["errorMsg"] == "" {
					t.Fatalf("notice: %+v, want available false with %s", n.Params, tc.code)
				}
				t.Logf("refused: %s: %s", n.Params["errorCode"], n.Params["errorMsg"])
				if err := c.UpgradeNotify(true); !errors.Is(err, sdk.ErrInvalidArgument) {
					t.Fatalf("UpgradeNotify after a refused offer: %v, want ErrInvalidArgument (nothing was offered)", err)
				}
				// The offer is refused before the notice is raised, in the
				// same step: a download would have asked by now.
				c.ShutOut()
				if n := downloads.Load(); n != 0 {
					t.Fatalf("%d download requests for a refused offer", n)
				}
				if files := workspaceFiles(t, cfg.WorkspaceDir); len(files) != 0 {
					t.Fatalf("left in the workspace: %q", files)
				}
			})
		}
	}
}

// A program given no release key (or a licence key in its place) takes no
// upgrade at all, whatever the service offers.
func TestUpgradeWithoutAReleaseKeyRefused(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	if _, err := srv.Admin().PublishRelease(ctx, adminapi.PublishRelease{ProductID: srv.Product, Platform: sdk.Platform(), Version: "2.0.0",
		FileName: "setup.run", Forced: true}, bytes.NewReader([]byte("#!/bin/sh\nexit 0\n")), srv.ReleaseKey, nil); err != nil {
		t.Fatal(err)
	}
	var keys adminapi.PublicKeys
	if err := srv.Admin().Do(ctx, "GET", "/products/"+srv.Product+"/keys", nil, &keys); err != nil {
		t.Fatal(err)
	}
	t.Setenv(sdk.EnvReleaseKey, "")
	for name, k := range map[string]string{"none": "", "the licence key": strings.Join(keys.Keys, ",")} {
		t.Run(name, func(t *testing.T) {
			cfg := sdk.Config{Endpoint: srv.Endpoint, Token: srv.APIToken, ProductID: srv.Product, AppVersion: "1.2.3",
				WorkspaceDir: t.TempDir(), CredentialsFile: filepath.Join(t.TempDir(), "none"), ReleaseKeys: k}
			c, err := sdk.Init(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.ShutOut()
			c.CheckNewVersions()
			keysEvent(t, c, sdk.EventUpgradeNotice)
			u := keysEvent(t, c, sdk.EventUpdate)
			if u.Params["status"] != "failed" || u.Params["errorCode"] != sdk.UpgradeNoReleaseKey {
				t.Fatalf("update: %+v", u.Params)
			}
			t.Logf("refused: %s", u.Params["errorMsg"])
		})
	}
}
