package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/release"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

// publishRelease publishes data as version of the demo product for this
// platform.
func publishRelease(t *testing.T, srv *servertest.Server, version string, forced bool, data []byte) store.Release {
	t.Helper()
	req := adminapi.PublishRelease{ProductID: srv.Product, Platform: sdk.Platform(), Version: version, Forced: forced,
		Notes: "fixes " + version, FileName: "setup-" + version + ".run", InstallCommand: "{package} --silent"}
	out, err := srv.Admin().PublishRelease(context.Background(), req, bytes.NewReader(data), srv.ReleaseKey, nil)
	if err != nil {
		t.Fatalf("publish %s: %v", version, err)
	}
	return store.Release(out.Release) // the record, to tamper with in the store
}

// upgradeConfig is a client at version 1.2.3 that verifies packages with
// the dev release key and leaves installing to the test (no installer is
// started when the test process ends).
func upgradeConfig(t *testing.T, srv *servertest.Server) sdk.Config {
	cfg := config(t, srv)
	cfg.ReleaseKeys, cfg.NoAutoInstall = srv.ReleaseKeys, true
	return cfg
}

func isType(typ sdk.EventType) func(sdk.Event) bool {
	return func(e sdk.Event) bool { return e.Type == typ }
}

func TestOptionalUpgrade(t *testing.T) {
	srv := servertest.Start(t)
	data := randomBytes(21, 3<<20)
	publishRelease(t, srv, "1.0.0", false, randomBytes(1, 1000)) // older than the program: never offered
	publishRelease(t, srv, "2.0.0", false, data)
	cfg := upgradeConfig(t, srv)
	c := connect(t, cfg)
	if err := sdk.NewDesk(c).UpgradeNotify(true); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("UpgradeNotify before any offer: %v", err)
	}
	id, err := sdk.NewDesk(c).CheckNewVersions()
	if err != nil {
		t.Fatal(err)
	}
	n := next(t, c, isType(sdk.EventUpgradeNotice))
	if n.RequestID != id || n.Params["available"] != "true" || n.Params["version"] != "2.0.0" || n.Params["forced"] != "false" ||
		n.Params["size"] != strconv.Itoa(len(data)) || n.Params["notes"] != "fixes 2.0.0" || n.Params["current"] != "1.2.3" {
		t.Fatalf("notice: %+v", n)
	}
	if err := sdk.NewDesk(c).UpgradeNotify(true); err != nil {
		t.Fatal(err)
	}
	u := next(t, c, isType(sdk.EventUpdate))
	if u.RequestID != id || u.Params["fromForceWin"] != "false" || u.Params["status"] != "staged" || u.Params["autoInstall"] != "false" {
		t.Fatalf("update: %+v", u)
	}
	if got, err := os.ReadFile(u.Params["packagePath"]); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the staged package differs from the published one (%v)", err)
	}
	var argv []string
	if err := json.Unmarshal([]byte(u.Params["installCommand"]), &argv); err != nil || len(argv) != 2 || argv[0] != u.Params["packagePath"] || argv[1] != "--silent" {
		t.Fatalf("install command %q (%v)", u.Params["installCommand"], err)
	}
	c.Close()

	// The host installed it itself (NoAutoInstall) and starts again at
	// 2.0.0: the next Init says the upgrade is done, and nothing is offered.
	cfg.AppVersion = "2.0.0" // the same workspace
	c2 := connect(t, cfg)
	r := next(t, c2, isType(sdk.EventUpgradeResult))
	if r.Params["status"] != "success" || r.Params["version"] != "2.0.0" || r.Params["installer"] != "host" {
		t.Fatalf("result: %+v", r)
	}
	if _, err := os.Stat(u.Params["packagePath"]); !os.IsNotExist(err) {
		t.Fatalf("the installed package is still in the workspace: %v", err)
	}
	sdk.NewDesk(c2).CheckNewVersions()
	if n := next(t, c2, isType(sdk.EventUpgradeNotice)); n.Params["available"] != "false" {
		t.Fatalf("up to date, yet: %+v", n)
	}
}

func TestDeclinedVersionIsNotOfferedAgainUnlessForced(t *testing.T) {
	srv := servertest.Start(t)
	publishRelease(t, srv, "2.0.0", false, randomBytes(22, 1<<20))
	cfg := upgradeConfig(t, srv)
	c := connect(t, cfg)
	sdk.NewDesk(c).CheckNewVersions()
	next(t, c, isType(sdk.EventUpgradeNotice))
	if err := sdk.NewDesk(c).UpgradeNotify(false); err != nil {
		t.Fatal(err)
	}
	sdk.NewDesk(c).CheckNewVersions()
	if n := next(t, c, isType(sdk.EventUpgradeNotice)); n.Params["available"] != "false" || n.Params["declined"] != "2.0.0" {
		t.Fatalf("a declined version offered again: %+v", n)
	}
	// The declines live in the workspace: a new session remembers.
	c.Close()
	c = connect(t, cfg) // the same workspace
	sdk.NewDesk(c).CheckNewVersions()
	if n := next(t, c, isType(sdk.EventUpgradeNotice)); n.Params["available"] != "false" {
		t.Fatalf("a declined version offered in a new session: %+v", n)
	}
	// A forced release is offered whatever was declined, is pushed to the
	// running program, staged without asking, and cannot be declined.
	publishRelease(t, srv, "2.1.0", true, randomBytes(23, 1<<20))
	n := next(t, c, isType(sdk.EventUpgradeNotice))
	if n.RequestID != 0 || n.Params["available"] != "true" || n.Params["forced"] != "true" || n.Params["version"] != "2.1.0" {
		t.Fatalf("pushed notice: %+v", n)
	}
	u := next(t, c, isType(sdk.EventUpdate))
	if u.Params["fromForceWin"] != "true" || u.Params["status"] != "staged" || u.Params["version"] != "2.1.0" {
		t.Fatalf("forced update: %+v", u)
	}
	if err := sdk.NewDesk(c).UpgradeNotify(false); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("declining a forced upgrade: %v", err)
	}
}

// A package whose signature or bytes were altered is refused, says why,
// and nothing is staged.
func TestAlteredPackageIsRefused(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	good := publishRelease(t, srv, "2.0.0", false, randomBytes(24, 1<<20))
	goodManifest, err := srv.Store().ReleaseManifest(ctx, good.ProductID, good.Platform, good.Version)
	if err != nil {
		t.Fatal(err)
	}
	other := publishRelease(t, srv, "1.9.0", false, randomBytes(25, 1<<20))
	otherManifest, _ := srv.Store().ReleaseManifest(ctx, other.ProductID, other.Platform, other.Version)

	check := func(t *testing.T, cfg sdk.Config, wantCode string) {
		t.Helper()
		c := connect(t, cfg)
		defer c.Close()
		sdk.NewDesk(c).CheckNewVersions()
		if n := next(t, c, isType(sdk.EventUpgradeNotice)); n.Params["available"] != "true" {
			t.Fatalf("notice: %+v", n)
		}
		sdk.NewDesk(c).UpgradeNotify(true)
		u := next(t, c, isType(sdk.EventUpdate))
		if u.Params["status"] != "failed" || u.Params["errorCode"] != wantCode || u.Params["errorMsg"] == "" || u.Params["packagePath"] != "" {
			t.Fatalf("update: %+v, want failed with %s", u, wantCode)
		}
		t.Logf("refused: %s: %s", u.Params["errorCode"], u.Params["errorMsg"])
		filepath.WalkDir(filepath.Join(cfg.WorkspaceDir, "upgrades"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				t.Errorf("%s is in the workspace after a refusal", p)
			}
			return nil
		})
	}
	put := func(r store.Release, m []byte) {
		t.Helper()
		if err := srv.Store().PutRelease(ctx, r, m); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("signature", func(t *testing.T) {
		r := good
		r.Version = "3.0.0" // the record says 3.0.0; the signature is 2.0.0's
		put(r, goodManifest)
		check(t, upgradeConfig(t, srv), sdk.UpgradeBadSignature)
	})
	t.Run("signature bytes", func(t *testing.T) {
		r := good
		r.Version = "3.0.1"
		sig := []byte(r.Signature)
		sig[5] ^= 0x01
		r.Signature = string(sig)
		put(r, goodManifest)
		check(t, upgradeConfig(t, srv), sdk.UpgradeBadSignature)
	})
	t.Run("unknown key", func(t *testing.T) {
		cfg := upgradeConfig(t, srv)
		cfg.ReleaseKeys = "ISR1.0123abcd.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		check(t, cfg, sdk.UpgradeUnknownKey)
	})
	t.Run("no key", func(t *testing.T) {
		cfg := upgradeConfig(t, srv)
		cfg.ReleaseKeys = ""
		t.Setenv(sdk.EnvReleaseKey, "")
		check(t, cfg, sdk.UpgradeNoReleaseKey)
	})
	t.Run("licence key", func(t *testing.T) {
		// The product's licence key is iscd's: it verifies no release.
		cfg := upgradeConfig(t, srv)
		cfg.ReleaseKeys = publicKey(t, srv)
		check(t, cfg, sdk.UpgradeNoReleaseKey)
	})
	t.Run("other package", func(t *testing.T) {
		// A release signed as it should be, served with another package's
		// manifest: its bytes are not those that were signed.
		srv.Store().WithdrawRelease(ctx, good.ProductID, good.Platform, "3.0.0")
		srv.Store().WithdrawRelease(ctx, good.ProductID, good.Platform, "3.0.1")
		r := good
		r.Version = "3.0.2"
		sig, err := release.Sign(release.Statement{Product: r.ProductID, Platform: r.Platform, Version: r.Version, FileName: r.FileName,
			Size: r.Size, SHA256: r.SHA256, InstallCommand: r.InstallCommand}, srv.ReleaseKey)
		if err != nil {
			t.Fatal(err)
		}
		r.KeyID, r.Signature = sig.KeyID, sig.Value
		put(r, otherManifest)
		check(t, upgradeConfig(t, srv), sdk.UpgradeBadPackage)
		srv.Store().WithdrawRelease(ctx, r.ProductID, r.Platform, r.Version)
	})
	t.Run("bytes", func(t *testing.T) {
		// The service answers the package's first chunk with other bytes
		// (a compromised iscd, or a store that lost them: the directory
		// store would notice a flipped byte itself).
		m, err := manifest.Decode(goodManifest)
		if err != nil {
			t.Fatal(err)
		}
		served := map[chunkstore.ID][]byte{}
		data, off := randomBytes(24, 1<<20), 0 // good's package
		for _, ch := range m.Files[0].Chunks {
			served[ch.ID] = chunkstore.Encode(data[off : off+ch.Size])
			off += ch.Size
		}
		served[m.Files[0].Chunks[0].ID] = chunkstore.Encode([]byte("not the vendor's bytes"))
		session.Handle(srv.Hub(), wire.OpUpgradesChunk, func(_ context.Context, _ session.Caller, req wire.FilesChunk) (any, error) {
			id, _ := chunkstore.ParseID(req.ID)
			return session.Binary{Kind: wire.BinChunkData, ChunkID: id, Data: served[id]}, nil
		})
		check(t, upgradeConfig(t, srv), sdk.UpgradeBadPackage)
	})
}

// A download whose connection is cut resumes where it was: it fetches the
// package about once (chunks answered before the cut come from the chunk
// cache), never from the start again.
func TestUpgradeDownloadResumes(t *testing.T) {
	srv := servertest.Start(t)
	data := randomBytes(26, 24<<20)
	publishRelease(t, srv, "2.0.0", false, data)
	p := startProxy(t, srv.Addr)
	cfg := upgradeConfig(t, srv)
	cfg.Endpoint = p.Endpoint()
	c := connect(t, cfg)
	sdk.NewDesk(c).CheckNewVersions()
	next(t, c, isType(sdk.EventUpgradeNotice))
	// A link of 16 MiB/s: the 24 MiB download is still going when the
	// link is cut (on loopback a loaded machine could finish it first).
	p.Throttle(16 << 20)
	sdk.NewDesk(c).UpgradeNotify(true)
	pr := next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventTransferProgress && e.Params["bytesDone"] != "0" })
	p.Cut(true) // the network fails during the download...
	p.Cut(false)
	// It really dropped, before the package was staged.
	next(t, c, func(e sdk.Event) bool {
		if e.Type == sdk.EventUpdate {
			t.Fatalf("staged before the link was cut: %+v", e.Params)
		}
		return e.Type == sdk.EventConnectionState && e.Params["state"] == sdk.StateDisconnected
	})
	p.Throttle(0)
	u := next(t, c, isType(sdk.EventUpdate))
	if u.Params["status"] != "staged" {
		t.Fatalf("update: %+v", u)
	}
	fetched, _ := strconv.ParseInt(u.Params["bytesFetched"], 10, 64)
	reused, _ := strconv.Atoi(u.Params["chunksReused"])
	t.Logf("cut at %s bytes; fetched %d bytes for a %d-byte package, %d chunks reused", pr.Params["bytesDone"], fetched, len(data), reused)
	const inFlight = 9 * 256 << 10 // the download window of the largest chunks, plus one
	if fetched > int64(len(data))+int64(len(data))/100+inFlight {
		t.Fatalf("the download started over: %d bytes fetched for %d", fetched, len(data))
	}
	if got, _ := os.ReadFile(u.Params["packagePath"]); !bytes.Equal(got, data) {
		t.Fatal("the resumed package differs")
	}
}

func TestUpgradeCheckWithAGarbageVersion(t *testing.T) {
	srv := servertest.Start(t)
	publishRelease(t, srv, "2.0.0", false, randomBytes(27, 1000))
	cfg := upgradeConfig(t, srv)
	cfg.AppVersion = "2024.1"
	c := connect(t, cfg)
	sdk.NewDesk(c).CheckNewVersions()
	n := next(t, c, isType(sdk.EventUpgradeNotice))
	if n.Params["available"] != "false" || n.Params["errorCode"] != "bad_version" {
		t.Fatalf("notice: %+v", n)
	}
	t.Log(n.Params["errorMsg"])
}

// A staged package changed in the workspace before the program exits is
// not handed to the installer; the next Init says why.
func TestStagedPackageChangedIsNeverRun(t *testing.T) {
	srv := servertest.Start(t)
	publishRelease(t, srv, "2.0.0", false, []byte("#!/bin/sh\nexit 0\n"))
	cfg := upgradeConfig(t, srv)
	cfg.NoAutoInstall = false // the hand-off must refuse, so no installer starts
	c := connect(t, cfg)
	sdk.NewDesk(c).CheckNewVersions()
	next(t, c, isType(sdk.EventUpgradeNotice))
	sdk.NewDesk(c).UpgradeNotify(true)
	u := next(t, c, isType(sdk.EventUpdate))
	if u.Params["status"] != "staged" || u.Params["autoInstall"] != "true" {
		t.Fatalf("update: %+v", u)
	}
	writeFile(t, u.Params["packagePath"], "#!/bin/sh\necho not the vendor's\n")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cfg.WorkspaceDir, "upgrades", srv.Product)
	if _, err := os.Stat(filepath.Join(dir, "installing.json")); !os.IsNotExist(err) {
		t.Fatalf("the changed package was handed to an installer (%v)", err)
	}
	if _, err := os.Stat(u.Params["packagePath"]); !os.IsNotExist(err) {
		t.Fatalf("the changed package is still there (%v)", err)
	}
	c2 := connect(t, cfg)
	r := next(t, c2, isType(sdk.EventUpgradeResult))
	if r.Params["status"] != "failed" || r.Params["errorCode"] != sdk.UpgradeBadPackage || r.Params["version"] != "2.0.0" {
		t.Fatalf("result: %+v", r)
	}
}

// A download cut short by the program's exit resumes at the next start
// from the chunks already fetched (the workspace's chunk cache).
func TestUpgradeDownloadResumesAfterExit(t *testing.T) {
	srv := servertest.Start(t)
	data := randomBytes(28, 16<<20)
	publishRelease(t, srv, "2.0.0", false, data)
	cfg := upgradeConfig(t, srv)
	c := connect(t, cfg)
	sdk.NewDesk(c).CheckNewVersions()
	next(t, c, isType(sdk.EventUpgradeNotice))
	sdk.NewDesk(c).UpgradeNotify(true)
	pr := next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventTransferProgress && e.Params["bytesDone"] != "0" })
	c.Close() // the engineer closes the program mid-download
	if _, err := os.Stat(filepath.Join(cfg.WorkspaceDir, "upgrades", srv.Product, "staged.json")); !os.IsNotExist(err) {
		t.Fatalf("a half-downloaded package was staged (%v)", err)
	}
	c = connect(t, cfg)
	sdk.NewDesk(c).CheckNewVersions()
	next(t, c, isType(sdk.EventUpgradeNotice))
	sdk.NewDesk(c).UpgradeNotify(true)
	u := next(t, c, isType(sdk.EventUpdate))
	fetched, _ := strconv.ParseInt(u.Params["bytesFetched"], 10, 64)
	reused, _ := strconv.Atoi(u.Params["chunksReused"])
	t.Logf("exit after %s bytes; the next start fetched %d bytes of %d, %d chunks from the cache", pr.Params["bytesDone"], fetched, len(data), reused)
	if u.Params["status"] != "staged" || reused == 0 || fetched >= int64(len(data)) {
		t.Fatalf("the download started over: %+v", u)
	}
	if got, _ := os.ReadFile(u.Params["packagePath"]); !bytes.Equal(got, data) {
		t.Fatal("the resumed package differs")
	}
}
