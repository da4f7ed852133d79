package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/release"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

// The Go calls that the Desk's are built on say what went wrong with an
// error a caller can tell apart (errors.Is / errors.As), and do what they
// say when nothing does.
func TestGoCallsSaveAndLicence(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	cfg := config(t, srv)
	a := connect(t, cfg)
	b := connect(t, colleague(t, srv))

	local := writeTemp(t, "p.prt", []byte("v1"))
	if _, err := a.Save(ctx, local, sdk.SaveOptions{}); !errors.Is(err, sdk.ErrNotFromCloud) {
		t.Fatalf("Save of a file that came from no cloud file: %v", err)
	}
	for _, bad := range []string{"", strings.Repeat("x", 5000)} {
		if _, err := a.Save(ctx, bad, sdk.SaveOptions{}); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("Save of local path %.10q: %v", bad, err)
		}
	}
	if _, err := a.SaveAs(ctx, local, "/../p.prt", sdk.SaveOptions{}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("SaveAs to a path that leaves the root: %v", err)
	}
	res, err := a.SaveAs(ctx, local, "/p.prt", sdk.SaveOptions{})
	if err != nil || res.CloudPath != "/p.prt" || res.Version != 1 {
		t.Fatalf("SaveAs: %+v %v", res, err)
	}
	// A colleague saves as the same cloud file: a new version of it.
	if res, err := b.SaveAs(ctx, writeTemp(t, "q.prt", []byte("v2 by b")), "/p.prt", sdk.SaveOptions{}); err != nil || res.Version != 2 {
		t.Fatalf("SaveAs onto an existing file: %+v %v", res, err)
	}
	// a's copy is of version 1: saving it back conflicts, and nothing changes.
	os.WriteFile(local, []byte("v2 by a"), 0o644)
	var we *wire.Error
	if _, err := a.Save(ctx, local, sdk.SaveOptions{}); !errors.As(err, &we) || we.Code != wire.CodeConflict {
		t.Fatalf("Save of a stale copy: %v", err)
	}
	// Opened without a check-out: read only.
	o, err := a.OpenFile(ctx, "/p.prt", sdk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Save(ctx, o.MainFile, sdk.SaveOptions{}); !errors.Is(err, sdk.ErrCheckedIn) {
		t.Fatalf("Save of a file opened without check-out: %v", err)
	}
	if o, err = a.OpenFile(ctx, "/p.prt", sdk.OpenOptions{Checkout: true}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(o.MainFile, []byte("v3 by a"), 0o644)
	if res, err := a.Save(ctx, o.MainFile, sdk.SaveOptions{CheckIn: true}); err != nil || res.Version != 3 {
		t.Fatalf("Save of a checked-out file: %+v %v", res, err)
	}

	l, err := a.RequestLicense(ctx, sdk.LicenseOptions{Device: fp1, File: "cad.lic"})
	want := filepath.Join(cfg.WorkspaceDir, "licenses", "cad.lic")
	if err != nil || l.File != want || !strings.HasPrefix(l.Content, "ISL1.") || l.ID == "" {
		t.Fatalf("RequestLicense: %+v %v", l, err)
	}
	if got, err := os.ReadFile(want); err != nil || strings.TrimSpace(string(got)) != l.Content {
		t.Fatalf("licence file: %q %v", got, err)
	}
	if v, err := sdk.VerifyLicense(l.Content, "", fp1); err == nil && v.Valid {
		t.Fatal("a licence verified without a public key")
	}
	for _, bad := range []sdk.LicenseOptions{{File: "../escape.lic"}, {Device: strings.Repeat("d", sdk.MaxDeviceInfo+1)}} {
		if _, err := a.RequestLicense(ctx, bad); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("RequestLicense %.20v: %v", bad, err)
		}
	}
	if err := a.ReportLicenseCheck(ctx, true, ""); err != nil {
		t.Fatalf("ReportLicenseCheck: %v", err)
	}

	a.Close()
	if _, err := a.Save(ctx, local, sdk.SaveOptions{}); !errors.Is(err, sdk.ErrShutOut) {
		t.Errorf("Save after Close: %v", err)
	}
	if _, err := a.RequestLicense(ctx, sdk.LicenseOptions{}); !errors.Is(err, sdk.ErrShutOut) {
		t.Errorf("RequestLicense after Close: %v", err)
	}
}

// CheckUpgrade, StageUpgrade and DeclineUpgrade: the Go calls of an
// upgrade, waiting for their answers.
func TestGoCallsUpgrade(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	data := randomBytes(23, 2<<20)
	publishRelease(t, srv, "2.0.0", false, data)
	cfg := upgradeConfig(t, srv)
	c := connect(t, cfg)

	up, err := c.CheckUpgrade(ctx)
	if err != nil || !up.Available || up.Version != "2.0.0" || up.Forced || up.Size != int64(len(data)) || up.Current != "1.2.3" || up.Notes != "fixes 2.0.0" {
		t.Fatalf("CheckUpgrade: %+v %v", up, err)
	}
	if _, err := c.StageUpgrade(ctx, sdk.Upgrade{}, nil); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("StageUpgrade of no upgrade: %v", err)
	}
	var last sdk.Progress
	st, err := c.StageUpgrade(ctx, up, func(p sdk.Progress) { last = p })
	if err != nil || st.Version != "2.0.0" || st.AutoInstall || len(st.InstallCommand) != 2 || st.InstallCommand[0] != st.Package {
		t.Fatalf("StageUpgrade: %+v %v", st, err)
	}
	if got, err := os.ReadFile(st.Package); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the staged package differs from the published one (%v)", err)
	}
	if last.BytesDone != int64(len(data)) || last.BytesTotal != int64(len(data)) {
		t.Fatalf("last progress %+v", last)
	}

	if err := c.DeclineUpgrade("2.0.0"); err != nil {
		t.Fatal(err)
	}
	if up, err := c.CheckUpgrade(ctx); err != nil || up.Available || up.Declined != "2.0.0" {
		t.Fatalf("CheckUpgrade after the decline: %+v %v", up, err)
	}

	// Signed with a key the program was not given: refused with its code,
	// nothing staged.
	cfg2 := config(t, srv)
	cfg2.NoAutoInstall = true
	other, err := release.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg2.ReleaseKeys = other.Public().String()
	c2 := connect(t, cfg2)
	up, err = c2.CheckUpgrade(ctx)
	if err != nil || !up.Available {
		t.Fatalf("CheckUpgrade: %+v %v", up, err)
	}
	var se *sdk.Error
	if _, err := c2.StageUpgrade(ctx, up, nil); !errors.As(err, &se) || se.Code != sdk.UpgradeUnknownKey {
		t.Fatalf("StageUpgrade of a package signed by an unknown key: %v", err)
	}
}
