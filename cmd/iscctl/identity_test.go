package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/sdk"
)

// kitCall sends one signed sync call and fails the test unless it succeeds.
func kitCall(t *testing.T, srv *servertest.Server, name string, body any) {
	t.Helper()
	if code := srv.KitSync(t, "kit", name, body); code != marketplace.ResultOK {
		t.Fatalf("%s: resultCode %s", name, code)
	}
}

// users, departments and seats show what the marketplace synced and who
// holds which seat; license users names a licence's users.
func TestIdentityCommands(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true, KitSync: marketplace.SyncConfig{KitKey: "kit"}})
	env := map[string]string{"ISCD_ADMIN_URL": srv.AdminURL, "ISCD_ADMIN_TOKEN": srv.AdminToken}
	kitCall(t, srv, "tenantSync", map[string]any{"tenantId": "T1", "name": "Acme", "flag": 1})
	kitCall(t, srv, "allOrgSync", map[string]any{"tenantId": "T1", "orgInfoList": `[{"orgCode":"root","orgName":"Acme"},{"orgCode":"cae","orgName":"CAE","parentCode":"root"},{"orgCode":"a-cad","orgName":"CAD","parentCode":"root"}]`})
	kitCall(t, srv, "authSync", map[string]any{"tenantId": "T1", "flag": 1, "userList": []map[string]string{
		{"userName": "ann", "name": "Ann", "orgCode": "cae", "role": "admin", "enable": "true"},
		{"userName": "bob", "name": "Bob", "orgCode": "a-cad", "role": "user", "enable": "false"}}})
	kitCall(t, srv, "authSync", map[string]any{"tenantId": "T1", "flag": 3, "userList": []map[string]string{{"userName": "cy"}}})

	// iscctl users is iscctl user list.
	for _, cmd := range [][]string{{"users", "--org", "mkt-T1"}, {"user", "list", "--org", "mkt-T1"}} {
		rows := table(t, ok(t, env, cmd...).stdout)
		got := map[string]string{}
		for _, r := range rows[1:] {
			got[r[2]] = strings.Join(append([]string{r[3]}, r[5:]...), " ")
		}
		if got["ann"] != "Ann admin cae active" || got["bob"] != "Bob user a-cad disabled" || !strings.HasSuffix(got["cy"], "revoked") {
			t.Fatalf("iscctl %s:\n%s", strings.Join(cmd, " "), ok(t, env, cmd...).stdout)
		}
	}
	out := ok(t, env, "departments", "--org", "mkt-T1").stdout
	if !strings.Contains(out, "root ") || strings.Index(out, "  a-cad") > strings.Index(out, "  cae") || !strings.Contains(out, "  cae") {
		t.Fatalf("iscctl departments:\n%s", out)
	}
	fails(t, env, exitUsage, []string{"--org"}, "departments")

	ctx := context.Background()
	var lic store.License
	if err := srv.Admin().Do(ctx, "POST", "/licenses", adminapi.CreateLicense{OrgID: "mkt-T1", ProductID: srv.Product, Seats: 2}, &lic); err != nil {
		t.Fatal(err)
	}
	ann := userID(t, srv, "ann")
	var nt adminapi.NewToken
	if err := srv.Admin().Do(ctx, "POST", "/tokens", adminapi.CreateToken{UserID: ann}, &nt); err != nil {
		t.Fatal(err)
	}
	ws := t.TempDir()
	c, err := sdk.Init(ctx, sdk.Config{Endpoint: srv.Endpoint, Token: nt.Secret, ProductID: srv.Product, AppVersion: "1",
		WorkspaceDir: ws, CredentialsFile: filepath.Join(ws, "none"), NoBrowser: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, _ := sdk.NewDesk(c).GetLicenseStringRequest("", nil)
	if e := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.RequestID == id }); e.Params["Status"] != "success" {
		t.Fatal(e.Params)
	}
	// iscctl seats is iscctl seats list: who holds the seat, by name.
	for _, cmd := range [][]string{{"seats", "--license", lic.ID}, {"seats", "list", "--license", lic.ID}} {
		seats := table(t, ok(t, env, cmd...).stdout)
		if len(seats) != 2 || seats[1][1] != lic.ID || seats[1][3] != ann || seats[1][4] != "ann" || seats[1][5] != "Ann" || seats[1][6] != "cae" {
			t.Fatalf("iscctl %s: %v", strings.Join(cmd, " "), seats)
		}
	}
	var js []adminapi.Seat
	if err := json.Unmarshal([]byte(ok(t, env, "--json", "seats").stdout), &js); err != nil || len(js) != 1 || js[0].UserID != ann {
		t.Fatalf("iscctl --json seats: %+v %v", js, err)
	}

	out = ok(t, env, "license", "users", lic.ID, "--named", "yes", "--users", ann+", "+ann).stdout
	if !strings.Contains(out, "named users yes; assigned: "+ann+"\n") {
		t.Fatalf("license users: %q", out)
	}
	fails(t, env, exitUsage, []string{"yes or no"}, "license", "users", lic.ID, "--named", "maybe")
	fails(t, env, exitError, []string{"nobody"}, "license", "users", lic.ID, "--named", "yes", "--users", "nobody")
}

func userID(t *testing.T, srv *servertest.Server, userName string) string {
	t.Helper()
	var users []store.User
	if err := srv.Admin().Do(context.Background(), "GET", "/users?org=mkt-T1", nil, &users); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.UserName == userName {
			return u.ID
		}
	}
	t.Fatalf("no user %s", userName)
	return ""
}
