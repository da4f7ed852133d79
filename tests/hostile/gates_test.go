package hostile_test

// Licence gates: a product that requires an active licence for compute
// and cloud files (the dev product does, as marketplace products do) gives
// neither to an organisation without one, nor to one whose licence is
// frozen, and a licence frozen mid-solve cancels the solve, saying why.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/solver/calculixtest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

// gateClient opens an SDK session for product with an API token of a new
// user of org (made, with the org, when org is not the demo one).
func gateClient(t *testing.T, srv *servertest.Server, org, product string) *sdk.Client {
	t.Helper()
	ctx := context.Background()
	tok := srv.APIToken
	if org != server.DevOrg {
		a := srv.Admin()
		if err := a.Do(ctx, "POST", "/orgs", adminapi.CreateOrg{ID: org, Name: org}, nil); err != nil && !strings.Contains(err.Error(), "exists") {
			t.Fatal(err)
		}
		var u store.User
		if err := a.Do(ctx, "POST", "/users", adminapi.CreateUser{OrgID: org, Name: "user of " + org}, &u); err != nil {
			t.Fatal(err)
		}
		var nt adminapi.NewToken
		if err := a.Do(ctx, "POST", "/tokens", adminapi.CreateToken{UserID: u.ID}, &nt); err != nil {
			t.Fatal(err)
		}
		tok = nt.Secret
	}
	c, err := sdk.Init(ctx, sdk.Config{Endpoint: srv.Endpoint, Token: tok, ProductID: product, AppVersion: "1.0.0",
		WorkspaceDir: t.TempDir(), ConnectTimeout: 5 * time.Second, CredentialsFile: filepath.Join(t.TempDir(), "none"), NoBrowser: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// gateSave saves local as cloud through the compatible call and returns
// its SaveResult event's params.
func gateSave(t *testing.T, c *sdk.Client, local, cloud string) map[string]string {
	t.Helper()
	id, err := sdk.NewDesk(c).SaveAs(local, cloud, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSaveResult && e.RequestID == id }).Params
}

// gateSolve starts a solve of model and returns its request id.
func gateSolve(t *testing.T, c *sdk.Client, model string) uint64 {
	t.Helper()
	id, err := sdk.NewDesk(c).GetSolution(model, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func gateResult(t *testing.T, c *sdk.Client, id uint64) map[string]string {
	t.Helper()
	return servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSolutionResult && e.RequestID == id }).Params
}

// wantRefused checks a failed result's errorCode.
func wantRefused(t *testing.T, what string, p map[string]string, code string) {
	t.Helper()
	if p["status"] != "failed" || p["errorCode"] != code {
		t.Errorf("%s: %v, want failed with errorCode %s", what, p, code)
	}
}

func gateLicenceStatus(t *testing.T, srv *servertest.Server, action string) {
	t.Helper()
	if err := srv.Admin().Do(context.Background(), "POST", "/licenses/"+server.DevLicense+"/"+action, nil, nil); err != nil {
		t.Fatalf("%s the demo licence: %v", action, err)
	}
}

// TestGatesWithoutLicence: an organisation with no licence of the dev
// product saves, lists, picks and solves nothing (license_required), while
// the demo organisation, which has one, does all of it; a product that
// requires nothing serves the same organisation, until an owner turns its
// files gate on.
func TestGatesWithoutLicence(t *testing.T) {
	calculixtest.Need(t)
	srv := servertest.Start(t)
	ctx := context.Background()
	model := filepath.Join(t.TempDir(), "truss.inp")
	deck, err := os.ReadFile(filepath.Join(calculixtest.DecksDir, "truss.inp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(model, deck, 0o600); err != nil {
		t.Fatal(err)
	}

	licensed := gateClient(t, srv, server.DevOrg, srv.Product)
	if p := gateSave(t, licensed, model, "/gates/truss.inp"); p["status"] != "success" {
		t.Fatalf("the licensed org's save: %v", p)
	}
	if p := gateResult(t, licensed, gateSolve(t, licensed, model)); p["status"] != "success" {
		t.Fatalf("the licensed org's solve: %v", p)
	}

	c := gateClient(t, srv, "nolicence", srv.Product)
	wantRefused(t, "save without a licence", gateSave(t, c, model, "/gates/truss.inp"), wire.CodeLicenseRequired)
	wantRefused(t, "solve without a licence", gateResult(t, c, gateSolve(t, c, model)), wire.CodeLicenseRequired)
	_, err = c.List(ctx, "/")
	if !isWireCode(err, wire.CodeLicenseRequired) || !errors.Is(err, sdk.ErrLicenseRequired) || errors.Is(err, sdk.ErrLicenseFrozen) {
		t.Errorf("list without a licence: %v, want %s (sdk.ErrLicenseRequired)", err, wire.CodeLicenseRequired)
	}
	// A picker would show the organisation's files: none opens.
	pid, err := sdk.NewDesk(c).OpenCloudFile(nil)
	if err != nil {
		t.Fatal(err)
	}
	e := servertest.NextEvent(t, c, func(e sdk.Event) bool {
		return e.RequestID == pid && (e.Type == sdk.EventOpenCloudFile || e.Type == sdk.EventPicker)
	})
	if e.Type == sdk.EventPicker {
		t.Errorf("a picker opened for an organisation without a licence: %v", e.Params)
	} else {
		wantRefused(t, "picker without a licence", e.Params, wire.CodeLicenseRequired)
	}
	var jobs []store.Job
	if err := srv.Admin().Do(ctx, "GET", "/jobs?org=nolicence", nil, &jobs); err != nil || len(jobs) != 0 {
		t.Errorf("jobs of the org without a licence: %v, %v; want none stored", jobs, err)
	}

	// A product that requires nothing: the same org saves.
	if err := srv.Admin().Do(ctx, "POST", "/products", adminapi.CreateProduct{ID: "free-cad", Name: "Free CAD"}, nil); err != nil {
		t.Fatal(err)
	}
	free := gateClient(t, srv, "nolicence", "free-cad")
	if p := gateSave(t, free, model, "/free/truss.inp"); p["status"] != "success" {
		t.Fatalf("save to a product without gates: %v", p)
	}
	var p store.Product
	req := adminapi.UpdateProduct{RequireLicense: &adminapi.LicenseGates{Files: true}}
	if err := srv.Admin().Do(ctx, "PATCH", "/products/free-cad", req, &p); err != nil || p.RequireLicense == nil || !p.RequireLicense.Files {
		t.Fatalf("turn the files gate on: %+v, %v", p, err)
	}
	wantRefused(t, "save once the files gate is on", gateSave(t, free, model, "/free/truss.inp"), wire.CodeLicenseRequired)
}

// isWireCode reports whether err is a service refusal with code.
func isWireCode(err error, code string) bool {
	var we *wire.Error
	return errors.As(err, &we) && we.Code == code
}

// TestGatesFrozenLicence: with its licence frozen the demo org saves and
// solves nothing (license_frozen); a CalculiX solve running when the
// licence is frozen is canceled, and the program's SolutionResult says
// why; unfrozen, it works again.
func TestGatesFrozenLicence(t *testing.T) {
	calculixtest.Need(t)
	srv := servertest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	long := filepath.Join(dir, "long.inp")
	if err := os.WriteFile(long, []byte(calculixtest.EndlessDeck), 0o600); err != nil {
		t.Fatal(err)
	}
	c := gateClient(t, srv, server.DevOrg, srv.Product)

	// A solve runs; the licence is frozen under it.
	id := gateSolve(t, c, long)
	running := servertest.NextEvent(t, c, func(e sdk.Event) bool {
		return e.RequestID == id && (e.Params["state"] == "running" && e.Params["log"] != "" || e.Type == sdk.EventSolutionResult)
	})
	if running.Type == sdk.EventSolutionResult {
		t.Fatalf("the long solve ended before it ran: %v", running.Params)
	}
	frozen := time.Now()
	gateLicenceStatus(t, srv, "freeze")
	p := gateResult(t, c, id)
	t.Logf("freeze to the program's SolutionResult: %v", time.Since(frozen).Round(time.Millisecond))
	if p["status"] != "canceled" || p["errorCode"] != wire.CodeFrozen || !strings.Contains(p["errorMsg"], server.DevLicense) {
		t.Fatalf("solve running when its licence was frozen: %v; want canceled, %s, naming the licence", p, wire.CodeFrozen)
	}
	var j store.Job
	if err := srv.Admin().Do(ctx, "GET", "/jobs/"+p["jobId"], nil, &j); err != nil || j.State != store.JobCanceled || j.ErrorCode != wire.CodeFrozen {
		t.Errorf("the job as iscd keeps it: %s %s, %v", j.State, j.ErrorCode, err)
	}

	// Frozen: nothing new.
	wantRefused(t, "save with a frozen licence", gateSave(t, c, long, "/gates/long.inp"), wire.CodeFrozen)
	wantRefused(t, "solve with a frozen licence", gateResult(t, c, gateSolve(t, c, long)), wire.CodeFrozen)
	if _, err := c.List(ctx, "/"); !isWireCode(err, wire.CodeFrozen) || !errors.Is(err, sdk.ErrLicenseFrozen) {
		t.Errorf("list with a frozen licence: %v, want %s", err, wire.CodeFrozen)
	}

	// Unfrozen: saves again.
	gateLicenceStatus(t, srv, "unfreeze")
	if p := gateSave(t, c, long, "/gates/long.inp"); p["status"] != "success" {
		t.Errorf("save after unfreeze: %v", p)
	}
}
