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
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/envelope"
	"github.com/iscsdk/iscsdk/internal/license"
	"github.com/iscsdk/iscsdk/internal/release"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
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
	t.Cleanup(func() { c.Close() })
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
			sdk.NewDesk(c).CheckNewVersions()
			keysEvent(t, c, sdk.EventUpgradeNotice) // forced: staged at once, or not
			u := keysEvent(t, c, sdk.EventUpdate)
			if u.Params["status"] != "failed" || u.Params["errorCode"] != tc.code || u.Params["packagePath"] != "" {
				t.Fatalf("update: %+v, want failed with %s", u.Params, tc.code)
			}
			t.Logf("refused: %s: %s", u.Params["errorCode"], u.Params["errorMsg"])
			if err := c.Close(); err != nil { // an installer would start here, were anything staged
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
		if err := srv.Store().PutRelease(ctx, store.Release(r), evilManifest); err != nil {
			t.Fatal(err)
		}
		c, cfg := keysClient(t, srv)
		sdk.NewDesk(c).CheckNewVersions()
		keysEvent(t, c, sdk.EventUpgradeNotice)
		u := keysEvent(t, c, sdk.EventUpdate)
		if u.Params["status"] != "failed" || u.Params["errorCode"] != sdk.UpgradeBadSignature { // ...the signature does not
			t.Fatalf("update: %+v", u.Params)
		}
		c.Close()
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
	session.Handle(h, wire.OpUpgradesCheck, func(context.Context, session.Caller, struct{}) (any, error) { return offer, nil })
	fetch := func(context.Context, session.Caller, struct{}) (any, error) {
		downloads.Add(1)
		return nil, wire.Errorf(wire.CodeNotFound, "not here")
	}
	session.Handle(h, wire.OpUpgradesManifest, fetch)
	session.Handle(h, wire.OpUpgradesChunk, fetch)
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
				id, err := sdk.NewDesk(c).CheckNewVersions()
				if err != nil {
					t.Fatal(err)
				}
				n := keysEvent(t, c, sdk.EventUpgradeNotice)
				if n.RequestID != id || n.Params["available"] != "false" || n.Params["errorCode"] != tc.code || n.Params["errorMsg"] == "" {
					t.Fatalf("notice: %+v, want available false with %s", n.Params, tc.code)
				}
				t.Logf("refused: %s: %s", n.Params["errorCode"], n.Params["errorMsg"])
				if err := sdk.NewDesk(c).UpgradeNotify(true); !errors.Is(err, sdk.ErrInvalidArgument) {
					t.Fatalf("UpgradeNotify after a refused offer: %v, want ErrInvalidArgument (nothing was offered)", err)
				}
				// The offer is refused before the notice is raised, in the
				// same step: a download would have asked by now.
				c.Close()
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
			defer c.Close()
			sdk.NewDesk(c).CheckNewVersions()
			keysEvent(t, c, sdk.EventUpgradeNotice)
			u := keysEvent(t, c, sdk.EventUpdate)
			if u.Params["status"] != "failed" || u.Params["errorCode"] != sdk.UpgradeNoReleaseKey {
				t.Fatalf("update: %+v", u.Params)
			}
			t.Logf("refused: %s", u.Params["errorMsg"])
		})
	}
}

// keyForms are the ways a signing key's secret could sit in a dump: the
// seed and the whole private key, raw, in hex and in every base64.
func keyForms(k license.SigningKey) map[string][]byte {
	forms := map[string][]byte{}
	for name, raw := range map[string][]byte{"seed": k.Private.Seed(), "private key": k.Private} {
		forms[name+" raw"] = raw
		forms[name+" hex"] = []byte(hex.EncodeToString(raw))
		forms[name+" HEX"] = []byte(strings.ToUpper(hex.EncodeToString(raw)))
		for enc, e := range map[string]*base64.Encoding{"std": base64.StdEncoding, "raw std": base64.RawStdEncoding, "url": base64.URLEncoding, "raw url": base64.RawURLEncoding} {
			forms[name+" base64 "+enc] = []byte(e.EncodeToString(raw))
		}
	}
	if s, err := license.MarshalSigningKey(k); err == nil {
		forms["storage form of older iscds"] = []byte(s)
	}
	return forms
}

// seedFound names the first form of any key found in dump ("" if none).
func seedFound(dump []byte, keys []license.SigningKey) string {
	for _, k := range keys {
		for name, form := range keyForms(k) {
			if bytes.Contains(dump, form) {
				return fmt.Sprintf("%s of %s", name, k)
			}
		}
	}
	return ""
}

// signingKeys makes a second product and rotates the dev product's key
// (so the store holds a retired key, a current one and another
// product's), checks the service signs a licence, and returns every
// signing key the store holds.
func signingKeys(t *testing.T, srv *servertest.Server) []license.SigningKey {
	t.Helper()
	ctx := context.Background()
	lic := srv.Licenses()
	first, err := lic.SigningKey(ctx, srv.Product)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lic.RotateKey(ctx, srv.Product); err != nil {
		t.Fatal(err)
	}
	current, err := lic.SigningKey(ctx, srv.Product)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Admin().Do(ctx, "POST", "/products", adminapi.CreateProduct{ID: "other-cae", Name: "Other CAE"}, nil); err != nil {
		t.Fatal(err)
	}
	other, err := lic.SigningKey(ctx, "other-cae")
	if err != nil {
		t.Fatal(err)
	}
	keysLicence(t, srv) // the service signs
	return []license.SigningKey{first, current, other}
}

// keysLicence gets the demo user a licence through the SDK and checks it
// against the product's public keys; it returns the licence string.
func keysLicence(t *testing.T, srv *servertest.Server) string {
	t.Helper()
	c, _ := keysClient(t, srv)
	defer c.Close()
	id, err := sdk.NewDesk(c).GetLicenseStringRequest("", nil)
	if err != nil {
		t.Fatal(err)
	}
	e := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventLicenseVerify && e.RequestID == id })
	if e.Params["Status"] != "success" {
		t.Fatalf("licence: %+v", e.Params)
	}
	lic := e.Params["LicenseContent"]
	if _, err := sdk.VerifyLicense(lic, keysPublic(t, srv), ""); err != nil {
		t.Fatalf("the licence does not verify: %v", err)
	}
	return lic
}

func keysPublic(t *testing.T, srv *servertest.Server) string {
	t.Helper()
	var keys adminapi.PublicKeys
	if err := srv.Admin().Do(context.Background(), "GET", "/products/"+srv.Product+"/keys", nil, &keys); err != nil {
		t.Fatal(err)
	}
	return strings.Join(keys.Keys, ",")
}

// keysOnBolt skips a test that reads the embedded store's file when the
// services of this run keep their data in PostgreSQL.
func keysOnBolt(t *testing.T) {
	if os.Getenv("ISCD_TEST_DATABASE") == "postgres" {
		t.Skip("reads the embedded store's file; this run keeps the data in PostgreSQL (TestDumpOfThePostgresStoreHoldsNoKey covers it)")
	}
}

// A copy of the embedded store's file holds no signing key in any form:
// the keys are sealed under a KEK that is not in it.
func TestDumpOfTheBoltStoreHoldsNoKey(t *testing.T) {
	keysOnBolt(t)
	srv := servertest.Start(t)
	keys := signingKeys(t, srv)
	srv.Stop() // the file as a backup has it
	dump, err := os.ReadFile(filepath.Join(srv.DataDir, "iscd.db"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(dump, []byte("ISKE1.")) {
		t.Fatal("no sealed key in the dump: the search looks at the wrong bytes")
	}
	if found := seedFound(dump, keys); found != "" {
		t.Fatalf("the store's file holds the %s", found)
	}
	t.Logf("%d bytes of iscd.db searched for %d keys in %d forms each: none", len(dump), len(keys), len(keyForms(keys[0])))
}

// Every row of every table of the PostgreSQL store, as text, holds no
// signing key in any form.
func TestDumpOfThePostgresStoreHoldsNoKey(t *testing.T) {
	dsn := pgtest.DSN(t)
	srv := servertest.StartConfig(t, server.Config{Database: dsn})
	keys := signingKeys(t, srv)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_schema, table_name FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var schema, name string
		if err := rows.Scan(&schema, &name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, pgx.Identifier{schema, name}.Sanitize())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var dump bytes.Buffer
	for _, table := range tables {
		var text *string
		if err := conn.QueryRow(ctx, "SELECT string_agg(t::text, E'\\n') FROM "+table+" t").Scan(&text); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if text != nil {
			dump.WriteString(*text + "\n")
		}
	}
	if !bytes.Contains(dump.Bytes(), []byte("ISKE1.")) {
		t.Fatal("no sealed key in the dump: the search looks at the wrong rows")
	}
	if found := seedFound(dump.Bytes(), keys); found != "" {
		t.Fatalf("a table holds the %s", found)
	}
	t.Logf("%d tables, %d bytes of rows searched for %d keys: none", len(tables), dump.Len(), len(keys))
}

// iscdBinary builds iscd (or takes $ISCSDK_BUILD_DIR/bin/iscd).
var iscdBinary = sync.OnceValues(func() (string, error) {
	if dir := os.Getenv("ISCSDK_BUILD_DIR"); dir != "" {
		if p := filepath.Join(dir, "bin", "iscd"); fileExists(p) {
			return p, nil
		}
	}
	dir, err := os.MkdirTemp("", "hostile-iscd-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "iscd")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/iscd").CombinedOutput(); err != nil {
		return "", errors.New(string(out))
	}
	return bin, nil
})

// runISCD runs the iscd binary to its end (or 60 s) and returns its exit
// error and output.
func runISCD(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	bin, err := iscdBinary()
	if err != nil {
		t.Fatalf("build iscd: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// An iscd started without the KEK that sealed its keys (a stolen data
// directory, a database restored elsewhere) stops at start, saying why:
// it never serves, so it signs nothing.
func TestISCDWithoutItsKEKSignsNothing(t *testing.T) {
	data := t.TempDir()
	kekFile := filepath.Join(t.TempDir(), "iscd.kek")
	if out, err := runISCD(t, nil, "kek", "generate", "--out", kekFile); err != nil {
		t.Fatalf("kek generate: %v\n%s", err, out)
	}
	// A service that made its keys under that KEK.
	b, err := servertest.StartBinary(mustISCD(t), data, "--kek-file", kekFile)
	if err != nil {
		t.Fatal(err)
	}
	b.Stop()
	for _, tc := range []struct {
		name, want string
		env        []string
		args       []string
	}{
		{"no KEK at all", "no key-encryption key", []string{"ISCD_KEK=", "ISCD_KEK_FILE="}, []string{"serve", "--data", data, "--listen", "127.0.0.1:0"}},
		{"another KEK", "do not open with this KEK", []string{"ISCD_KEK=" + mustKEK(t), "ISCD_KEK_FILE="}, []string{"serve", "--data", data, "--listen", "127.0.0.1:0"}},
		{"dev mode, its own dev KEK", "do not open with this KEK", nil, []string{"serve", "--dev", "--data", data, "--listen", "127.0.0.1:0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runISCD(t, tc.env, tc.args...)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Fatalf("iscd %s: %v, want an error saying %q:\n%s", strings.Join(tc.args, " "), err, tc.want, out)
			}
			if strings.Contains(out, `"msg":"listening"`) {
				t.Fatalf("it served:\n%s", out)
			}
			t.Logf("%s", lastLine(out))
		})
	}
	// With its KEK it starts and signs again.
	b, err = servertest.StartBinary(mustISCD(t), data, "--kek-file", kekFile)
	if err != nil {
		t.Fatal(err)
	}
	b.Stop()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func mustISCD(t *testing.T) string {
	t.Helper()
	bin, err := iscdBinary()
	if err != nil {
		t.Fatalf("build iscd: %v", err)
	}
	return bin
}

func mustKEK(t *testing.T) string {
	t.Helper()
	k, err := envelope.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Rotating the KEK while the service runs: licences are signed throughout,
// the licences signed before still verify, every key ends up wrapped by
// the new KEK, and the old KEK is not needed any more.
func TestKEKRotationKeepsSigning(t *testing.T) {
	keysOnBolt(t)
	kekFile := filepath.Join(t.TempDir(), "iscd.kek")
	if out, err := runISCD(t, nil, "kek", "generate", "--out", kekFile); err != nil {
		t.Fatalf("kek generate: %v\n%s", err, out)
	}
	kr, err := envelope.LoadKeyring(kekFile)
	if err != nil {
		t.Fatal(err)
	}
	oldKEK := kr.Current()
	srv := servertest.StartConfig(t, server.Config{KEK: kr})
	keys := signingKeys(t, srv)
	before := keysLicence(t, srv)

	// Licences are asked for all through the rotation.
	stop := make(chan struct{})
	var asked, failed atomic.Int32
	var wg sync.WaitGroup
	wg.Go(func() {
		ctx := context.Background()
		for {
			select {
			case <-stop:
				return
			default:
			}
			asked.Add(1)
			if _, err := srv.Licenses().SigningKey(ctx, srv.Product); err != nil {
				failed.Add(1)
				t.Errorf("signing key during the rotation: %v", err)
			}
		}
	})
	out, err := runISCD(t, nil, "kek", "rotate", "--kek-file", kekFile)
	if err != nil {
		t.Fatalf("kek rotate: %v\n%s", err, out)
	}
	t.Log(strings.TrimSpace(out))
	rep, err := srv.RewrapKeys(context.Background()) // what SIGHUP does
	if err != nil {
		t.Fatal(err)
	}
	during := keysLicence(t, srv)
	close(stop)
	wg.Wait()
	if rep.KEK == oldKEK || rep.Rewrapped != len(keys) || failed.Load() != 0 {
		t.Fatalf("rewrap: %+v (old KEK %s), %d of %d signing-key reads failed", rep, oldKEK, failed.Load(), asked.Load())
	}

	// Retire the old KEK (the store closed: the embedded store is one
	// process's) and start again with the new one only.
	srv.Stop()
	out, err = runISCD(t, nil, "kek", "rewrap", "--kek-file", kekFile, "--data", srv.DataDir, "--retire")
	if err != nil || !strings.Contains(out, "0 re-wrapped") {
		t.Fatalf("kek rewrap --retire: %v\n%s", err, out)
	}
	if err := kr.Reload(); err != nil || len(kr.IDs()) != 1 || kr.IDs()[0] != rep.KEK {
		t.Fatalf("after --retire the file has %v (%v)", kr.IDs(), err)
	}
	srv.Restart()
	after := keysLicence(t, srv)
	pub := keysPublic(t, srv)
	for name, lic := range map[string]string{"before": before, "during": during, "after": after} {
		if _, err := sdk.VerifyLicense(lic, pub, ""); err != nil {
			t.Errorf("the licence signed %s the rotation: %v", name, err)
		}
	}
	if cur, err := srv.Licenses().SigningKey(context.Background(), srv.Product); err != nil || cur.ID != keys[1].ID {
		t.Fatalf("the product's signing key after the rotation: %v, %v (want %s: the KEK changed, not the key)", cur, err, keys[1].ID)
	}
	srv.Stop()
	dump, err := os.ReadFile(filepath.Join(srv.DataDir, "iscd.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(dump, []byte("ISKE1."+oldKEK+".")) || !bytes.Contains(dump, []byte("ISKE1."+rep.KEK+".")) {
		t.Fatal("a key is still wrapped by the retired KEK")
	}
	t.Logf("%d signing-key reads during the rotation, none failed", asked.Load())
}

// A store written by an iscd before keys were sealed holds them in clear:
// the first start with a KEK seals them, and they sign as before.
func TestClearKeysOfAnOlderISCDSealedAtStart(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	if err := srv.Admin().Do(ctx, "POST", "/products", adminapi.CreateProduct{ID: "legacy-cad", Name: "Legacy CAD"}, nil); err != nil {
		t.Fatal(err)
	}
	old, err := license.GenerateKey("legacy-cad")
	if err != nil {
		t.Fatal(err)
	}
	clearForm, err := license.MarshalSigningKey(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Store().PutProductKey(ctx, store.ProductKey{ProductID: "legacy-cad", ID: old.ID, Private: clearForm, Created: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	srv.Restart()
	keys, err := srv.Store().ProductKeys(ctx, "legacy-cad")
	if err != nil || len(keys) != 1 || !envelope.Sealed(keys[0].Private) {
		t.Fatalf("after the start: %d keys, sealed %v (%v)", len(keys), len(keys) == 1 && envelope.Sealed(keys[0].Private), err)
	}
	if found := seedFound([]byte(keys[0].Private), []license.SigningKey{old}); found != "" {
		t.Fatalf("the sealed record holds the %s", found)
	}
	k, err := srv.Licenses().SigningKey(ctx, "legacy-cad")
	if err != nil || k.ID != old.ID || !k.Private.Equal(old.Private) {
		t.Fatalf("the sealed key signs as %v (%v), not as the old key", k, err)
	}
}

// The rotation as an operator does it on a running iscd process: a new KEK
// in the file, SIGHUP, and the keys are re-wrapped while it serves; the
// licences it signs before and after verify with the same public keys.
func TestKEKRotationBySIGHUP(t *testing.T) {
	keysOnBolt(t)
	data := t.TempDir()
	kekFile := filepath.Join(t.TempDir(), "iscd.kek")
	if out, err := runISCD(t, nil, "kek", "generate", "--out", kekFile); err != nil {
		t.Fatalf("kek generate: %v\n%s", err, out)
	}
	old, err := envelope.LoadKeyring(kekFile)
	if err != nil {
		t.Fatal(err)
	}
	b, err := servertest.StartBinary(mustISCD(t), data, "--kek-file", kekFile)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	licence := func() string {
		t.Helper()
		c, err := sdk.Init(context.Background(), sdk.Config{Endpoint: b.Env["ISCSDK_ENDPOINT"], Token: b.Env["ISCSDK_TOKEN"],
			ProductID: b.Env["ISCSDK_PRODUCT"], AppVersion: "1.2.3", WorkspaceDir: t.TempDir(), CredentialsFile: filepath.Join(t.TempDir(), "none")})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		id, _ := sdk.NewDesk(c).GetLicenseStringRequest("", nil)
		e := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventLicenseVerify && e.RequestID == id })
		if e.Params["Status"] != "success" {
			t.Fatalf("licence: %+v", e.Params)
		}
		if _, err := sdk.VerifyLicense(e.Params["LicenseContent"], b.Env["ISCSDK_LICENSE_PUBLIC_KEY"], ""); err != nil {
			t.Fatalf("the licence does not verify with the public keys of the first start: %v", err)
		}
		return e.Params["LicenseContent"]
	}
	licence()
	out, err := runISCD(t, nil, "kek", "rotate", "--kek-file", kekFile)
	if err != nil {
		t.Fatalf("kek rotate: %v\n%s", err, out)
	}
	cur, err := envelope.LoadKeyring(kekFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(b.Pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The store's file shows the re-wrap once iscd has committed it.
	db := filepath.Join(data, "iscd.db")
	deadline := time.Now().Add(30 * time.Second)
	for {
		dump, err := os.ReadFile(db)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(dump, []byte("ISKE1."+old.Current()+".")) && bytes.Contains(dump, []byte("ISKE1."+cur.Current()+".")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("30 s after SIGHUP the keys are still wrapped by the old KEK")
		}
		time.Sleep(20 * time.Millisecond) // polls another process's file
	}
	licence() // still serving, still signing with the same key
}

// Two replicas on one PostgreSQL database, each with the KEK file: one is
// told to re-wrap under a new KEK, the other, not told, keeps signing (it
// reads the file again when it meets the new KEK id); iscd kek rewrap
// --retire runs against the database while both serve.
func TestKEKRotationAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	kekFile := filepath.Join(t.TempDir(), "iscd.kek")
	if out, err := runISCD(t, nil, "kek", "generate", "--out", kekFile); err != nil {
		t.Fatalf("kek generate: %v\n%s", err, out)
	}
	keyringOf := func() *envelope.Keyring {
		k, err := envelope.LoadKeyring(kekFile)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ka, kb := keyringOf(), keyringOf() // each replica reads the file itself
	a := servertest.StartConfig(t, server.Config{Database: dsn, KEK: ka})
	b := servertest.StartConfig(t, server.Config{Database: dsn, KEK: kb})
	ctx := context.Background()
	before, err := b.Licenses().SigningKey(ctx, b.Product)
	if err != nil {
		t.Fatal(err)
	}
	oldKEK := kb.Current()
	if out, err := runISCD(t, nil, "kek", "rotate", "--kek-file", kekFile); err != nil {
		t.Fatalf("kek rotate: %v\n%s", err, out)
	}
	rep, err := a.RewrapKeys(ctx) // A was sent SIGHUP; B was not
	if err != nil || rep.Rewrapped == 0 {
		t.Fatalf("A's re-wrap: %+v, %v", rep, err)
	}
	if kb.Current() != oldKEK {
		t.Fatal("B read the file before it needed to: the test proves nothing")
	}
	if got, err := b.Licenses().SigningKey(ctx, b.Product); err != nil || !got.Private.Equal(before.Private) {
		t.Fatalf("B after A's re-wrap: %v, %v", got, err)
	}
	if kb.Current() != rep.KEK {
		t.Fatalf("B holds KEK %s, want %s (read again from the file)", kb.Current(), rep.KEK)
	}
	keysLicence(t, b)
	out, err := runISCD(t, nil, "kek", "rewrap", "--kek-file", kekFile, "--db", dsn, "--retire")
	if err != nil || !strings.Contains(out, "0 re-wrapped") || !strings.Contains(out, "retired") {
		t.Fatalf("kek rewrap --retire while the replicas serve: %v\n%s", err, out)
	}
	keysLicence(t, a)
	keysLicence(t, b)
}
