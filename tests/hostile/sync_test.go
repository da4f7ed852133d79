package hostile_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/envelope"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

// The 联营kit sync interfaces (marketplace → iscd): tenants, the
// application's login credentials, users and departments. Each attack is
// a call someone without the kit key, or with a captured call, could send.

const kitKey = "kit-key-of-the-hostile-suite"

// kitRSA is the vendor's key pair whose public half the marketplace
// encrypts client secrets with (3072 bits, as the marketplace wants).
var kitRSA = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		panic(err)
	}
	return k
})

// syncKEK is the key-encryption key of the suite's services, shared by
// replicas of one database.
var syncKEK = sync.OnceValue(func() *envelope.Keyring {
	text, err := envelope.GenerateKEK()
	if err != nil {
		panic(err)
	}
	ring, err := envelope.ParseKeyring(text)
	if err != nil {
		panic(err)
	}
	return ring
})

func syncConfig() server.Config {
	return server.Config{NoDevWorker: true, KEK: syncKEK(), KitSync: marketplace.SyncConfig{KitKey: kitKey, PrivateKey: kitRSA()}}
}

// kit calls one iscd's sync interfaces as the marketplace does.
type kit struct {
	t    *testing.T
	base string // http://ADDR/produceAPI/v2/
	key  string
	how  string // marketplace.SignBody or SignBodyHMAC
	hc   *http.Client
	n    int
}

type kitCall struct {
	name, sign, ts, nonce string
	body                  []byte
}

type kitResult struct {
	Status     int
	ResultCode string `json:"resultCode"`
	ResultMsg  string `json:"resultMsg"`
}

func newKit(t *testing.T, srv *servertest.Server) *kit {
	return &kit{t: t, base: "http://" + srv.Addr + marketplace.SyncPrefix, key: kitKey,
		hc: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}}
}

func (k *kit) sign(name string, body any) kitCall {
	k.t.Helper()
	data, ok := body.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(body); err != nil {
			k.t.Fatal(err)
		}
	}
	k.n++
	nonce := fmt.Sprintf("nonce-%d-%d", time.Now().UnixNano(), k.n)
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	return kitCall{name: name, sign: marketplace.SyncSignWith(k.how, k.key, nonce, ts, data), ts: ts, nonce: nonce, body: data}
}

func (k *kit) send(c kitCall) kitResult {
	k.t.Helper()
	req, err := http.NewRequest("POST", k.base+c.name, bytes.NewReader(c.body))
	if err != nil {
		k.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for h, v := range map[string]string{"x-sign": c.sign, "x-timestamp": c.ts, "x-nonce": c.nonce} {
		if v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := k.hc.Do(req)
	if err != nil {
		k.t.Fatal(err)
	}
	defer resp.Body.Close()
	r := kitResult{Status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		k.t.Fatalf("%s: HTTP %s, reply not JSON: %v", c.name, resp.Status, err)
	}
	return r
}

// call signs and sends; want is the result code expected.
func (k *kit) call(name string, body any, want string) kitResult {
	k.t.Helper()
	r := k.send(k.sign(name, body))
	if r.ResultCode != want {
		k.t.Fatalf("%s %s: %+v, want %s", name, trunc(body), r, want)
	}
	return r
}

func (k *kit) ok(name string, body any) { k.t.Helper(); k.call(name, body, marketplace.ResultOK) }

func trunc(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

func stamp() string {
	return time.Now().In(time.FixedZone("UTC+8", 8*3600)).Format("20060102150405.000")
}

func tenant(id string, flag int, name string) map[string]any {
	return map[string]any{"instanceId": "inst-" + id, "orderId": "ord-" + id, "tenantId": id, "tenantCode": "code-" + id,
		"name": name, "domainName": "https://login.example/" + id, "flag": flag, "testFlag": 0, "timeStamp": stamp()}
}

func users(tenantID string, flag int, list ...map[string]any) map[string]any {
	return map[string]any{"instanceId": "inst-" + tenantID, "tenantId": tenantID, "appId": "app-" + tenantID,
		"userList": list, "currentSyncTime": stamp(), "flag": flag, "testFlag": "0", "timeStamp": stamp()}
}

func kitUser(name, org, role, enable string) map[string]any {
	return map[string]any{"userName": name, "name": "Name of " + name, "orgCode": org, "role": role, "enable": enable,
		"position": "engineer", "employeeCode": "E-" + name, "employeeType": 1, "mobile": "13800000000",
		"email": name + "@example.com", "workPlace": "上海"}
}

func orgs(tenantID string, list any) map[string]any {
	return map[string]any{"instanceId": "inst-" + tenantID, "tenantId": tenantID, "orgInfoList": list, "testFlag": 0, "timeStamp": stamp()}
}

func oneOrg(tenantID string, flag int, code, name, parent string) map[string]any {
	return map[string]any{"instanceId": "inst-" + tenantID, "tenantId": tenantID, "orgCode": code, "orgName": name,
		"parentCode": parent, "flag": flag, "testFlag": 0, "timeStamp": stamp()}
}

func adminGet[T any](t *testing.T, srv *servertest.Server, path string) T {
	t.Helper()
	var v T
	if err := srv.Admin().Do(context.Background(), "GET", path, nil, &v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return v
}

func orgOf(t *testing.T, srv *servertest.Server, id string) (store.Org, bool) {
	for _, o := range adminGet[[]store.Org](t, srv, "/orgs") {
		if o.ID == id {
			return o, true
		}
	}
	return store.Org{}, false
}

func userNamed(t *testing.T, srv *servertest.Server, org, userName string) store.User {
	t.Helper()
	for _, u := range adminGet[[]store.User](t, srv, "/users?org="+org) {
		if u.UserName == userName {
			return u
		}
	}
	t.Fatalf("org %s has no user %s", org, userName)
	return store.User{}
}

// Every tenantSync flag, each sent twice (the marketplace retries): the
// tenant becomes an organisation, is renamed, is closed (its users'
// tokens refused) and comes back.
func TestSyncTenantFlags(t *testing.T) {
	srv := servertest.StartConfig(t, syncConfig())
	k := newKit(t, srv)
	for range 2 {
		k.ok("tenantSync", tenant("T1", 1, "Acme Engineering"))
	}
	o, ok := orgOf(t, srv, "mkt-T1")
	if !ok || o.Name != "Acme Engineering" || o.Tenant == nil || o.Tenant.DomainName != "https://login.example/T1" || o.Closed {
		t.Fatalf("tenant after add: %+v %v", o, ok)
	}
	for range 2 {
		k.ok("tenantSync", tenant("T1", 2, "Acme Engineering GmbH"))
	}
	if o, _ := orgOf(t, srv, "mkt-T1"); o.Name != "Acme Engineering GmbH" {
		t.Fatalf("tenant after modify: %+v", o)
	}
	test := tenant("T9", 1, "")
	test["testFlag"] = 1
	k.ok("tenantSync", test)
	if o, ok := orgOf(t, srv, "mkt-T9"); !ok || o.Tenant == nil || !o.Tenant.Test {
		t.Fatalf("a test tenant lost its testFlag: %+v", o)
	}

	// A user of the tenant connects; deleting the tenant ends that and
	// refuses the token.
	k.ok("authSync", users("T1", 1, kitUser("ann", "", "user", "true")))
	tok := userToken(t, srv, userNamed(t, srv, "mkt-T1", "ann").ID)
	c := syncClient(t, srv, tok)
	for range 2 {
		k.ok("tenantSync", tenant("T1", 0, ""))
	}
	servertest.NextEvent(t, c, isEvent(sdk.EventSignInRequired))
	if o, _ := orgOf(t, srv, "mkt-T1"); !o.Closed {
		t.Fatalf("tenant after delete: %+v", o)
	}
	if _, err := initClient(t, srv, tok); !errors.Is(err, sdk.ErrUnauthorized) {
		t.Fatalf("a closed tenant's user connected: %v", err)
	}
	k.call("authSync", users("T1", 1, kitUser("bob", "", "user", "true")), marketplace.ResultUnknownTenant)
	k.ok("tenantSync", tenant("T1", 0, "")) // deleting what is gone: done
	k.ok("tenantSync", tenant("T-never", 0, ""))
	k.ok("tenantSync", tenant("T1", 1, "Acme again"))
	if _, err := initClient(t, srv, tok); err != nil {
		t.Fatalf("after the tenant came back: %v", err)
	}
	k.call("tenantSync", tenant("T1", 7, ""), marketplace.ResultBadParams)
	k.call("tenantSync", tenant("../x", 1, ""), marketplace.ResultBadParams)
	k.call("tenantSync", tenant("a.b", 1, ""), marketplace.ResultBadParams)
	k.call("tenantSync", tenant(strings.Repeat("t", 65), 1, ""), marketplace.ResultBadParams)
}

func userToken(t *testing.T, srv *servertest.Server, userID string) string {
	t.Helper()
	var nt adminapi.NewToken
	if err := srv.Admin().Do(context.Background(), "POST", "/tokens", adminapi.CreateToken{UserID: userID}, &nt); err != nil {
		t.Fatal(err)
	}
	return nt.Secret
}

func initClient(t *testing.T, srv *servertest.Server, tok string) (*sdk.Client, error) {
	dir := t.TempDir()
	return sdk.Init(context.Background(), sdk.Config{Endpoint: srv.Endpoint, Token: tok, ProductID: srv.Product, AppVersion: "1.0.0",
		WorkspaceDir: dir, ConnectTimeout: 5 * time.Second, CredentialsFile: filepath.Join(dir, "none"), NoBrowser: true})
}

func syncClient(t *testing.T, srv *servertest.Server, tok string) *sdk.Client {
	t.Helper()
	c, err := initClient(t, srv, tok)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func isEvent(typ sdk.EventType) func(sdk.Event) bool {
	return func(e sdk.Event) bool { return e.Type == typ }
}

// encryptSecret is what the marketplace does to a client secret.
func encryptSecret(t *testing.T, secret string, mgf crypto.Hash) string {
	t.Helper()
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &kitRSA().PublicKey, []byte(secret), nil)
	if mgf == crypto.SHA1 {
		ct, err = rsa.EncryptOAEPWithOptions(rand.Reader, &kitRSA().PublicKey, []byte(secret), &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1})
	}
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(ct)
}

func application(tenantID string, flag int, clientID, secret string) map[string]any {
	return map[string]any{"instanceId": "inst-" + tenantID, "tenantId": tenantID, "appId": "app-" + tenantID,
		"clientId": clientID, "clientSecret": secret, "flag": flag, "testFlag": 0, "timeStamp": stamp()}
}

// applicationSync's secret arrives RSA-OAEP-encrypted (both hash choices
// decrypt), is kept sealed under the KEK (never in clear in the store's
// file), and what is not an OAEP ciphertext under the kit key is refused
// with the stored credentials unchanged.
func TestSyncApplicationSecret(t *testing.T) {
	srv := servertest.StartConfig(t, syncConfig())
	k := newKit(t, srv)
	k.ok("tenantSync", tenant("T2", 1, "Beta"))
	const secret1, secret2 = "s3cr3t-of-the-unified-login-ONE", "s3cr3t-of-the-unified-login-TWO"
	k.ok("applicationSync", application("T2", 1, "client-1", encryptSecret(t, secret1, crypto.SHA1)))
	k.ok("applicationSync", application("T2", 2, "client-2", encryptSecret(t, secret2, crypto.SHA256)))

	ctx := context.Background()
	login, err := srv.Store().OrgLogin(ctx, "mkt-T2")
	if err != nil || login.ClientID != "client-2" || login.AppID != "app-T2" || !envelope.Sealed(login.SealedSecret) {
		t.Fatalf("stored login: %+v %v", login, err)
	}
	if plain, err := marketplace.OpenLoginSecret(ctx, syncKEK(), login); err != nil || string(plain) != secret2 {
		t.Fatalf("the sealed secret opens to %q, %v", plain, err)
	}
	// On the embedded store, the whole file (freed pages too) holds
	// neither secret; on PostgreSQL the record above is all there is.
	db, err := os.ReadFile(filepath.Join(srv.DataDir, "iscd.db"))
	switch {
	case errors.Is(err, os.ErrNotExist) && os.Getenv("ISCD_TEST_DATABASE") == "postgres":
	case err != nil:
		t.Fatal(err)
	case bytes.Contains(db, []byte(secret1)) || bytes.Contains(db, []byte(secret2)):
		t.Fatal("a client secret is in clear in the store's file")
	}

	pkcs1, err := rsa.EncryptPKCS1v15(rand.Reader, &kitRSA().PublicKey, []byte("other"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	wrongKey, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &other.PublicKey, []byte("other"), nil)
	for name, bad := range map[string]string{
		"clear text":         "plain-secret",
		"PKCS#1 v1.5":        base64.StdEncoding.EncodeToString(pkcs1),
		"another key":        base64.StdEncoding.EncodeToString(wrongKey),
		"truncated":          encryptSecret(t, "x", crypto.SHA1)[:100],
		"empty":              "",
		"5 KiB of base64":    strings.Repeat("A", 5000),
		"flipped ciphertext": flip(encryptSecret(t, "x", crypto.SHA1)),
	} {
		r := k.send(k.sign("applicationSync", application("T2", 2, "client-evil", bad)))
		if r.ResultCode != marketplace.ResultBadParams || !strings.Contains(r.ResultMsg, "clientSecret") {
			t.Errorf("%s: %+v, want %s naming clientSecret", name, r, marketplace.ResultBadParams)
		}
	}
	if l, _ := srv.Store().OrgLogin(ctx, "mkt-T2"); l.ClientID != "client-2" {
		t.Fatalf("a refused call changed the login: %+v", l)
	}
	k.call("applicationSync", application("T-unknown", 1, "c", encryptSecret(t, "x", crypto.SHA1)), marketplace.ResultUnknownTenant)
	for range 2 {
		k.ok("applicationSync", application("T2", 0, "", ""))
	}
	if l, _ := srv.Store().OrgLogin(ctx, "mkt-T2"); !l.Deleted {
		t.Fatalf("after delete the login is %+v", l)
	}
}

// A KEK rotation re-wraps the client secrets with the signing keys
// (RewrapKeys: SIGHUP, iscd kek rewrap): once the old KEK is retired the
// secret still opens.
func TestSyncSecretSurvivesKEKRotation(t *testing.T) {
	oldText, err := envelope.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	kekFile := filepath.Join(t.TempDir(), "iscd.kek")
	if err := os.WriteFile(kekFile, []byte(oldText+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kr, err := envelope.LoadKeyring(kekFile)
	if err != nil {
		t.Fatal(err)
	}
	oldID := kr.Current()
	cfg := syncConfig()
	cfg.KEK = kr
	srv := servertest.StartConfig(t, cfg)
	k := newKit(t, srv)
	k.ok("tenantSync", tenant("T12", 1, "Lambda"))
	k.ok("applicationSync", application("T12", 1, "client", encryptSecret(t, "the-secret", crypto.SHA1)))

	newText, err := envelope.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kekFile, []byte(newText+"\n"+oldText+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rep, err := srv.RewrapKeys(ctx)
	if err != nil || rep.KEK == oldID {
		t.Fatalf("rewrap: %+v %v", rep, err)
	}
	if err := os.WriteFile(kekFile, []byte(newText+"\n"), 0o600); err != nil { // the old KEK retired
		t.Fatal(err)
	}
	if err := kr.Reload(); err != nil || len(kr.IDs()) != 1 {
		t.Fatalf("keyring: %v %v", kr.IDs(), err)
	}
	l, err := srv.Store().OrgLogin(ctx, "mkt-T12")
	if err != nil || envelope.KEK(l.SealedSecret) != rep.KEK {
		t.Fatalf("login after the rotation: KEK %q, want %s (%v)", envelope.KEK(l.SealedSecret), rep.KEK, err)
	}
	if plain, err := marketplace.OpenLoginSecret(ctx, kr, l); err != nil || string(plain) != "the-secret" {
		t.Fatalf("the secret after the old KEK was retired: %q %v", plain, err)
	}
}

func flip(b64 string) string {
	b, _ := base64.StdEncoding.DecodeString(b64)
	b[len(b)/2] ^= 1
	return base64.StdEncoding.EncodeToString(b)
}

// 500 users in one authSync call (every field filled in), then again (a
// retry: nothing changes), each flag on some of them.
func TestSyncAuth500Users(t *testing.T) {
	srv := servertest.StartConfig(t, syncConfig())
	k := newKit(t, srv)
	k.ok("tenantSync", tenant("T3", 1, "Gamma"))
	k.ok("allOrgSync", orgs("T3", []map[string]string{{"orgCode": "root", "orgName": "Gamma"}, {"orgCode": "cae", "orgName": "CAE 仿真部", "parentCode": "root"}}))
	list := make([]map[string]any, 500)
	for i := range list {
		list[i] = kitUser(fmt.Sprintf("engineer-%03d", i), "cae", "user", "true")
	}
	list[0]["role"] = "admin"
	body, _ := json.Marshal(users("T3", 1, list...))
	t.Logf("500 users: %d bytes", len(body))
	start := time.Now()
	k.ok("authSync", body)
	t.Logf("authSync of 500 users: %v", time.Since(start))
	k.ok("authSync", body) // a retry (a new nonce: the marketplace signs each attempt)
	all := adminGet[[]store.User](t, srv, "/users?org=mkt-T3")
	if len(all) != 500 {
		t.Fatalf("%d users, want 500", len(all))
	}
	admin := userNamed(t, srv, "mkt-T3", "engineer-000")
	if admin.Role != store.RoleAdmin || admin.Department != "cae" || !admin.Authorised || admin.Email != "engineer-000@example.com" {
		t.Fatalf("first user: %+v", admin)
	}
	// One more user is refused, all of the list: nothing stored.
	over := append(list, kitUser("engineer-500", "cae", "user", "true"))
	k.call("authSync", users("T3", 1, over...), marketplace.ResultBadParams)
	if n := len(adminGet[[]store.User](t, srv, "/users?org=mkt-T3")); n != 500 {
		t.Fatalf("a refused 501-user call stored users: %d", n)
	}
	// modify: a new role and disabled; revoke; delete.
	k.ok("authSync", users("T3", 2, kitUser("engineer-001", "root", "admin", "false")))
	if u := userNamed(t, srv, "mkt-T3", "engineer-001"); u.Role != "admin" || !u.Disabled || u.Department != "root" {
		t.Fatalf("modified user: %+v", u)
	}
	k.ok("authSync", users("T3", 3, kitUser("engineer-002", "", "", "")))
	if u := userNamed(t, srv, "mkt-T3", "engineer-002"); u.Authorised {
		t.Fatalf("revoked user still authorised: %+v", u)
	}
	k.ok("authSync", users("T3", 0, kitUser("engineer-003", "", "", "")))
	if u := userNamed(t, srv, "mkt-T3", "engineer-003"); !u.Deleted {
		t.Fatalf("deleted user: %+v", u)
	}
	// Revoking all 500 in one call ends the sessions of those connected.
	c1 := syncClient(t, srv, userToken(t, srv, userNamed(t, srv, "mkt-T3", "engineer-010").ID))
	c2 := syncClient(t, srv, userToken(t, srv, userNamed(t, srv, "mkt-T3", "engineer-499").ID))
	revokeAll := make([]map[string]any, 500)
	for i := range revokeAll {
		revokeAll[i] = map[string]any{"userName": fmt.Sprintf("engineer-%03d", i)}
	}
	start = time.Now()
	k.ok("authSync", users("T3", 3, revokeAll...))
	for _, c := range []*sdk.Client{c1, c2} {
		servertest.NextEvent(t, c, isEvent(sdk.EventSignInRequired))
	}
	t.Logf("revoking 500 users: both programs told after %v", time.Since(start))
	for _, u := range adminGet[[]store.User](t, srv, "/users?org=mkt-T3") {
		if u.Authorised {
			t.Fatalf("still authorised after the revocation of all: %+v", u)
		}
	}

	// Refusals: a department the tenant lacks, a bad role, a bad flag, a
	// user twice, an empty list, enable neither true nor false.
	k.call("authSync", users("T3", 1, kitUser("x", "nowhere", "user", "true")), marketplace.ResultBadTree)
	k.call("authSync", users("T3", 1, kitUser("x", "", "root", "true")), marketplace.ResultBadParams)
	k.call("authSync", users("T3", 4, kitUser("x", "", "user", "true")), marketplace.ResultBadParams)
	k.call("authSync", users("T3", 1, kitUser("x", "", "user", "true"), kitUser("x", "", "user", "true")), marketplace.ResultBadParams)
	k.call("authSync", users("T3", 1), marketplace.ResultBadParams)
	k.call("authSync", users("T3", 1, kitUser("x", "", "user", "maybe")), marketplace.ResultBadParams)
}

// The department tree from singleOrgSync (every flag) and allOrgSync (the
// list as an array and as a JSON string, orgName and OrgName); unknown
// parents and cycles are refused and the stored tree stays.
func TestSyncDepartments(t *testing.T) {
	srv := servertest.StartConfig(t, syncConfig())
	k := newKit(t, srv)
	k.ok("tenantSync", tenant("T4", 1, "Delta"))
	tree := func() map[string]adminapi.Department {
		m := map[string]adminapi.Department{}
		for _, d := range adminGet[[]adminapi.Department](t, srv, "/departments?org=mkt-T4") {
			m[d.Code] = d
		}
		return m
	}
	for range 2 {
		k.ok("singleOrgSync", oneOrg("T4", 1, "root", "Delta", ""))
		k.ok("singleOrgSync", oneOrg("T4", 1, "mech", "Mechanics", "root"))
	}
	k.ok("singleOrgSync", oneOrg("T4", 2, "mech", "Mechanical Engineering", "root"))
	if d := tree(); len(d) != 2 || d["mech"].Name != "Mechanical Engineering" || d["mech"].Parent != "root" {
		t.Fatalf("tree after single syncs: %+v", d)
	}
	k.call("singleOrgSync", oneOrg("T4", 1, "orphan", "Orphan", "nowhere"), marketplace.ResultBadTree)
	k.call("singleOrgSync", oneOrg("T4", 2, "root", "Delta", "mech"), marketplace.ResultBadTree) // a cycle
	k.call("singleOrgSync", oneOrg("T4", 0, "root", "", ""), marketplace.ResultBadTree)          // it has a child
	k.ok("singleOrgSync", oneOrg("T4", 0, "mech", "", ""))
	k.ok("singleOrgSync", oneOrg("T4", 0, "mech", "", "")) // again: done
	if d := tree(); len(d) != 1 {
		t.Fatalf("tree after delete: %+v", d)
	}

	list := []map[string]string{{"orgCode": "hq", "orgName": "HQ"}, {"orgCode": "cfd", "OrgName": "CFD", "parentCode": "hq"}, {"orgCode": "fem", "orgName": "FEM", "parentCode": "hq"}}
	k.ok("allOrgSync", orgs("T4", list))
	if d := tree(); len(d) != 3 || d["cfd"].Name != "CFD" || d["root"].Code != "" {
		t.Fatalf("tree after allOrgSync (array): %+v", d)
	}
	asString, _ := json.Marshal(list[:2])
	k.ok("allOrgSync", orgs("T4", string(asString)))
	if d := tree(); len(d) != 2 || d["cfd"].Parent != "hq" {
		t.Fatalf("tree after allOrgSync (string): %+v", d)
	}
	cycle := []map[string]string{{"orgCode": "a", "orgName": "A", "parentCode": "b"}, {"orgCode": "b", "orgName": "B", "parentCode": "a"}}
	k.call("allOrgSync", orgs("T4", cycle), marketplace.ResultBadTree)
	k.call("allOrgSync", orgs("T4", []map[string]string{{"orgCode": "a", "parentCode": "zzz"}}), marketplace.ResultBadTree)
	k.call("allOrgSync", orgs("T4", []map[string]string{{"orgCode": "a"}, {"orgCode": "a"}}), marketplace.ResultBadTree)
	k.call("allOrgSync", orgs("T4", "not json"), marketplace.ResultBadParams)
	k.call("allOrgSync", orgs("T4", 42), marketplace.ResultBadParams)
	if d := tree(); len(d) != 2 {
		t.Fatalf("refused calls changed the tree: %+v", d)
	}
}

// A revoked user's running program hears SignInRequired, its licence is
// released, and its seat is free within a second: another user takes it.
// A disabled user (enable=false) is refused at once, and a deleted one
// too.
func TestSyncRevokeEndsSessionsAndFreesSeats(t *testing.T) {
	srv := servertest.StartConfig(t, syncConfig())
	k := newKit(t, srv)
	ctx := context.Background()
	k.ok("tenantSync", tenant("T5", 1, "Epsilon"))
	k.ok("authSync", users("T5", 1, kitUser("ann", "", "user", "true"), kitUser("bob", "", "user", "true"), kitUser("cy", "", "user", "true")))
	var lic store.License
	if err := srv.Admin().Do(ctx, "POST", "/licenses", adminapi.CreateLicense{OrgID: "mkt-T5", ProductID: srv.Product, Seats: 1}, &lic); err != nil {
		t.Fatal(err)
	}
	ann, bob := userNamed(t, srv, "mkt-T5", "ann"), userNamed(t, srv, "mkt-T5", "bob")
	annTok, bobTok := userToken(t, srv, ann.ID), userToken(t, srv, bob.ID)

	c := syncClient(t, srv, annTok)
	if e := requestLicense(t, c); e.Params["Status"] != "success" {
		t.Fatalf("ann's licence: %v", e.Params)
	}
	b := syncClient(t, srv, bobTok)
	if e := requestLicense(t, b); e.Params["errorCode"] != wire.CodeNoSeat {
		t.Fatalf("bob while ann holds the one seat: %v", e.Params)
	}

	start := time.Now()
	k.ok("authSync", users("T5", 3, kitUser("ann", "", "", "")))
	released := servertest.NextEvent(t, c, func(e sdk.Event) bool {
		return e.Type == sdk.EventLicenseState && e.Params["state"] == sdk.LicenseReleased
	})
	signIn := servertest.NextEvent(t, c, isEvent(sdk.EventSignInRequired))
	heard := time.Since(start)
	if released.Params["licenseId"] != lic.ID || signIn.Params["reason"] != wire.ByeSignInRequired {
		t.Fatalf("events: %v %v", released.Params, signIn.Params)
	}
	seats := adminGet[[]store.Seat](t, srv, "/seats?license="+lic.ID)
	freed := time.Since(start)
	if len(seats) != 0 || freed > time.Second {
		t.Fatalf("%v after the revocation the licence has seats %+v", freed, seats)
	}
	t.Logf("revoked: the program heard it after %v; the seat was free after %v", heard, freed)
	if e := requestLicense(t, b); e.Params["Status"] != "success" {
		t.Fatalf("bob after ann's revocation: %v", e.Params)
	}
	if _, err := initClient(t, srv, annTok); !errors.Is(err, sdk.ErrUnauthorized) {
		t.Fatalf("a revoked user connected again: %v", err)
	}

	// enable=false: bob's program is told and his token refused; enable=true
	// gives it back.
	k.ok("authSync", users("T5", 2, kitUser("bob", "", "", "false")))
	servertest.NextEvent(t, b, isEvent(sdk.EventSignInRequired))
	if _, err := initClient(t, srv, bobTok); !errors.Is(err, sdk.ErrUnauthorized) {
		t.Fatalf("a disabled user connected: %v", err)
	}
	k.ok("authSync", users("T5", 2, kitUser("bob", "", "", "true")))
	b2, err := initClient(t, srv, bobTok)
	if err != nil {
		t.Fatalf("bob enabled again: %v", err)
	}
	defer b2.Close()

	// delete, sent by a marketplace that hangs up before the answer:
	// the call runs to its end all the same — cy's program is told.
	cy := syncClient(t, srv, userToken(t, srv, userNamed(t, srv, "mkt-T5", "cy").ID))
	hangUp(t, srv.Addr, k.sign("authSync", users("T5", 0, kitUser("cy", "", "", ""))))
	servertest.NextEvent(t, cy, isEvent(sdk.EventSignInRequired))
	if u := userNamed(t, srv, "mkt-T5", "cy"); !u.Deleted {
		t.Fatalf("cy after delete: %+v", u)
	}
}

// A program that is offline when its user is revoked: the session ends
// and the seat is free at once; when the program comes back its token is
// refused, and it hears SignInRequired (reason unauthorized) with its
// licence released, once, while it keeps trying.
func TestSyncRevokedWhileOffline(t *testing.T) {
	srv := servertest.StartConfig(t, syncConfig())
	k := newKit(t, srv)
	ctx := context.Background()
	k.ok("tenantSync", tenant("T10", 1, "Iota"))
	k.ok("authSync", users("T10", 1, kitUser("ann", "", "user", "true")))
	var lic store.License
	if err := srv.Admin().Do(ctx, "POST", "/licenses", adminapi.CreateLicense{OrgID: "mkt-T10", ProductID: srv.Product, Seats: 1}, &lic); err != nil {
		t.Fatal(err)
	}
	relay := servertest.StartRelay(t, srv.Addr)
	ws := t.TempDir()
	c, err := sdk.Init(ctx, sdk.Config{Endpoint: relay.Endpoint(), Token: userToken(t, srv, userNamed(t, srv, "mkt-T10", "ann").ID),
		ProductID: srv.Product, AppVersion: "1.0.0", WorkspaceDir: ws, ConnectTimeout: 5 * time.Second,
		CredentialsFile: filepath.Join(ws, "none"), NoBrowser: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if e := requestLicense(t, c); e.Params["Status"] != "success" {
		t.Fatal(e.Params)
	}
	relay.Cut(true)
	servertest.NextEvent(t, c, func(e sdk.Event) bool {
		return e.Type == sdk.EventConnectionState && e.Params["state"] == sdk.StateDisconnected
	})
	k.ok("authSync", users("T10", 3, kitUser("ann", "", "", "")))
	if seats := adminGet[[]store.Seat](t, srv, "/seats?license="+lic.ID); len(seats) != 0 {
		t.Fatalf("the offline program's seat after the revocation: %+v", seats)
	}
	relay.Cut(false)
	released := servertest.NextEvent(t, c, func(e sdk.Event) bool {
		return e.Type == sdk.EventLicenseState && e.Params["state"] == sdk.LicenseReleased
	})
	signIn := servertest.NextEvent(t, c, isEvent(sdk.EventSignInRequired))
	if released.Params["licenseId"] != lic.ID || signIn.Params["reason"] != "unauthorized" {
		t.Fatalf("events: %v %v", released.Params, signIn.Params)
	}
	// It keeps trying (refused), without asking again.
	for range 2 {
		e := servertest.NextEvent(t, c, func(e sdk.Event) bool {
			return e.Type == sdk.EventSignInRequired || (e.Type == sdk.EventConnectionState && e.Params["state"] == sdk.StateDisconnected)
		})
		if e.Type == sdk.EventSignInRequired {
			t.Fatalf("SignInRequired twice: %v", e.Params)
		}
	}
}

func requestLicense(t *testing.T, c *sdk.Client) sdk.Event {
	t.Helper()
	return requestLicenseOn(t, c, "")
}

// requestLicenseOn asks for a licence as the machine dev (a fingerprint;
// "" is this one).
func requestLicenseOn(t *testing.T, c *sdk.Client, dev string) sdk.Event {
	t.Helper()
	id, err := sdk.NewDesk(c).GetLicenseStringRequest(dev, nil)
	if err != nil {
		t.Fatal(err)
	}
	return servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventLicenseVerify && e.RequestID == id })
}

// A named-user licence: a user an operator made, whom the marketplace did
// not authorise, is refused with not_named_user until an operator assigns
// the licence; a user on two machines holds one seat between them.
func TestSyncNamedUsers(t *testing.T) {
	srv := servertest.StartConfig(t, syncConfig())
	k := newKit(t, srv)
	ctx := context.Background()
	k.ok("tenantSync", tenant("T6", 1, "Zeta"))
	k.ok("authSync", users("T6", 1, kitUser("ann", "", "user", "true")))
	var lic store.License
	if err := srv.Admin().Do(ctx, "POST", "/licenses", adminapi.CreateLicense{OrgID: "mkt-T6", ProductID: srv.Product, Seats: 1}, &lic); err != nil {
		t.Fatal(err)
	}
	if err := srv.Admin().Do(ctx, "PUT", "/licenses/"+lic.ID+"/users", adminapi.LicenseUsers{NamedUsers: true}, &lic); err != nil || !lic.NamedUsers {
		t.Fatalf("named: %+v %v", lic, err)
	}
	var local store.User
	if err := srv.Admin().Do(ctx, "POST", "/users", adminapi.CreateUser{OrgID: "mkt-T6", Name: "contractor"}, &local); err != nil {
		t.Fatal(err)
	}
	contractor := syncClient(t, srv, userToken(t, srv, local.ID))
	if e := requestLicense(t, contractor); e.Params["errorCode"] != wire.CodeNotNamedUser {
		t.Fatalf("an unnamed user: %v, want %s", e.Params, wire.CodeNotNamedUser)
	}
	annTok := userToken(t, srv, userNamed(t, srv, "mkt-T6", "ann").ID)
	// ann on two machines: two leases, one user, one seat of one.
	one, two := syncClient(t, srv, annTok), syncClient(t, srv, annTok)
	for i, c := range []*sdk.Client{one, two} {
		dev := fmt.Sprintf("AA:BB:CC:00:00:0%d|disk-%d|board-%d|cpu", i+1, i+1, i+1)
		if e := requestLicenseOn(t, c, dev); e.Params["Status"] != "success" {
			t.Fatalf("ann's machine %d on a one-seat named licence: %v", i+1, e.Params)
		}
	}
	if seats := adminGet[[]store.Seat](t, srv, "/seats?license="+lic.ID); len(seats) != 2 || seats[0].UserID != seats[1].UserID || seats[0].Device == seats[1].Device {
		t.Fatalf("ann's seats: %+v", seats)
	}
	if err := srv.Admin().Do(ctx, "PUT", "/licenses/"+lic.ID+"/users", adminapi.LicenseUsers{NamedUsers: true, Users: []string{local.ID}}, &lic); err != nil {
		t.Fatal(err)
	}
	if e := requestLicense(t, contractor); e.Params["errorCode"] != wire.CodeNoSeat {
		t.Fatalf("the assigned contractor while ann holds the seat: %v, want %s", e.Params, wire.CodeNoSeat)
	}
	one.Close()
	two.Close()
	if e := requestLicense(t, contractor); e.Params["Status"] != "success" {
		t.Fatalf("the assigned contractor once ann left: %v", e.Params)
	}
	var other store.Org
	_ = srv.Admin().Do(ctx, "POST", "/orgs", adminapi.CreateOrg{ID: "elsewhere", Name: "elsewhere"}, &other)
	var stranger store.User
	if err := srv.Admin().Do(ctx, "POST", "/users", adminapi.CreateUser{OrgID: "elsewhere", Name: "x"}, &stranger); err != nil {
		t.Fatal(err)
	}
	if err := srv.Admin().Do(ctx, "PUT", "/licenses/"+lic.ID+"/users", adminapi.LicenseUsers{NamedUsers: true, Users: []string{stranger.ID}}, nil); err == nil {
		t.Fatal("a user of another organisation was assigned the licence")
	}
}

// Calls without the kit key, stale or non-canonical timestamps, replays
// (to the same and to another interface), malformed and oversized
// bodies: refused, and nothing changes.
func TestSyncAttacks(t *testing.T) {
	srv := servertest.StartConfig(t, syncConfig())
	k := newKit(t, srv)
	k.ok("tenantSync", tenant("T7", 1, "Eta"))
	before := len(adminGet[[]store.Org](t, srv, "/orgs"))
	evil := tenant("T-evil", 1, "Evil")
	body, _ := json.Marshal(evil)
	now := time.Now()
	ms := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).UnixMilli(), 10) }
	signed := func(key, nonce, ts string, b []byte) kitCall {
		return kitCall{name: "tenantSync", sign: marketplace.SyncSign(key, nonce, ts, b), ts: ts, nonce: nonce, body: b}
	}
	cases := map[string]kitCall{
		"no signature":      {name: "tenantSync", ts: ms(0), nonce: "n1", body: body},
		"no nonce":          signed(kitKey, "", ms(0), body),
		"no timestamp":      signed(kitKey, "n2", "", body),
		"wrong key":         signed("guessed", "n3", ms(0), body),
		"production key":    signed("replica-test-key", "n3b", ms(0), body),
		"stale":             signed(kitKey, "n4", ms(-61*time.Second), body),
		"future":            signed(kitKey, "n5", ms(61*time.Second), body),
		"leading zero":      signed(kitKey, "n6", "0"+ms(0), body),
		"plus sign":         signed(kitKey, "n7", "+"+ms(0), body),
		"fraction":          signed(kitKey, "n8", ms(0)+".0", body),
		"not hex":           {name: "tenantSync", sign: "zz", ts: ms(0), nonce: "n9", body: body},
		"long nonce":        signed(kitKey, strings.Repeat("n", 300), ms(0), body),
		"body changed":      {name: "tenantSync", sign: marketplace.SyncSign(kitKey, "n10", ms(0), body), ts: ms(0), nonce: "n10", body: append(body[:len(body)-1:len(body)-1], ` `...)},
		"nonce moved to ts": signed(kitKey, "n11", ms(0), body),
	}
	// The last: a digit of the nonce moved to the timestamp's front.
	c := cases["nonce moved to ts"]
	c.nonce, c.ts = "n1", "1"+c.ts
	cases["nonce moved to ts"] = c
	for name, c := range cases {
		if r := k.send(c); r.ResultCode != marketplace.ResultAuth {
			t.Errorf("%s: %+v, want %s", name, r, marketplace.ResultAuth)
		}
	}
	if n := len(adminGet[[]store.Org](t, srv, "/orgs")); n != before {
		t.Fatalf("refused calls made organisations: %d, was %d", n, before)
	}

	// A replay: the same call again, and to another interface.
	call := k.sign("tenantSync", tenant("T7", 2, "Eta renamed"))
	if r := k.send(call); r.ResultCode != marketplace.ResultOK {
		t.Fatal(r)
	}
	k.ok("tenantSync", tenant("T7", 2, "Eta final"))
	for _, name := range []string{"tenantSync", "singleOrgSync"} {
		replay := call
		replay.name = name
		if r := k.send(replay); r.ResultCode != marketplace.ResultAuth || !strings.Contains(r.ResultMsg, "replay") {
			t.Errorf("replay to %s: %+v", name, r)
		}
	}
	if o, _ := orgOf(t, srv, "mkt-T7"); o.Name != "Eta final" {
		t.Fatalf("a replay renamed the tenant: %q", o.Name)
	}

	// Malformed bodies, signed with the right key.
	for name, b := range map[string]string{
		"not JSON":     `{"tenantId":`,
		"array":        `[1,2]`,
		"trailing":     `{"tenantId":"T7","flag":2} {}`,
		"flag as word": `{"tenantId":"T7","flag":"add"}`,
		"not UTF-8":    "{\"tenantId\":\"T7\",\"name\":\"\xff\",\"flag\":2}",
		"no tenant":    `{"flag":1}`,
		"long name":    `{"tenantId":"T7","flag":2,"name":"` + strings.Repeat("x", 300) + `"}`,
	} {
		if r := k.send(k.sign("tenantSync", []byte(b))); r.ResultCode != marketplace.ResultBadParams {
			t.Errorf("%s: %+v, want %s", name, r, marketplace.ResultBadParams)
		}
	}
	if r := k.send(k.sign("noSuchSync", tenant("T7", 2, "x"))); r.ResultCode != marketplace.ResultBadParams {
		t.Errorf("unknown interface: %+v", r)
	}

	// Oversized: refused with 413 before the body is read whole — at once
	// when Content-Length says so, at the limit when it is chunked.
	for _, chunked := range []bool{false, true} {
		if status, body := oversized(t, srv.Addr, marketplace.SyncPrefix+"authSync", chunked); status != http.StatusRequestEntityTooLarge || !strings.Contains(body, marketplace.ResultAuth) {
			t.Errorf("oversized (chunked %v): %d %s", chunked, status, body)
		}
	}
	resp, err := http.Get(k.base + "tenantSync")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %s", resp.Status)
	}
}

// hangUp sends a sync call and closes the connection without waiting for
// the answer.
func hangUp(t *testing.T, addr string, c kitCall) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST %s%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nx-sign: %s\r\nx-timestamp: %s\r\nx-nonce: %s\r\n\r\n%s",
		marketplace.SyncPrefix, c.name, addr, len(c.body), c.sign, c.ts, c.nonce, c.body)
	conn.Close()
}

// oversized sends a body one byte over MaxSyncBody, signed, and returns
// the answer's status and body. The body is written by a goroutine whose
// write errors are expected: iscd answers and closes without reading it.
func oversized(t *testing.T, addr, path string, chunked bool) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	body := bytes.Repeat([]byte(" "), marketplace.MaxSyncBody+1)
	ts, nonce := strconv.FormatInt(time.Now().UnixMilli(), 10), fmt.Sprintf("big-%v-%d", chunked, time.Now().UnixNano())
	head := "POST " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\n" +
		"x-sign: " + marketplace.SyncSign(kitKey, nonce, ts, body) + "\r\nx-timestamp: " + ts + "\r\nx-nonce: " + nonce + "\r\n"
	if chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	} else {
		head += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	}
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	go func() {
		if !chunked {
			return // the headers are enough to refuse it
		}
		for off := 0; off < len(body); off += 16 << 10 {
			chunk := body[off:min(off+16<<10, len(body))]
			if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
				return
			}
		}
		io.WriteString(conn, "0\r\n\r\n")
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("oversized: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The signature's other shape (--kit-sign body-hmac, the production
// interface's): calls signed so pass, calls signed over the raw body are
// refused.
func TestSyncSignBodyHMAC(t *testing.T) {
	cfg := syncConfig()
	cfg.KitSync.Sign = marketplace.SignBodyHMAC
	srv := servertest.StartConfig(t, cfg)
	k := newKit(t, srv)
	k.call("tenantSync", tenant("T13", 1, "Mu"), marketplace.ResultAuth)
	k.how = marketplace.SignBodyHMAC
	k.ok("tenantSync", tenant("T13", 1, "Mu"))
}

// The marketplace retries a call after a newer one was applied (an add
// after the revocation that followed it): the older call, by its
// timeStamp, changes nothing, and the revoked user stays out.
func TestSyncLateRetryDoesNotUndo(t *testing.T) {
	srv := servertest.StartConfig(t, syncConfig())
	k := newKit(t, srv)
	at := func(d time.Duration) string {
		return time.Now().Add(d).In(time.FixedZone("UTC+8", 8*3600)).Format("20060102150405") +
			fmt.Sprintf("%03d", time.Now().Add(d).Nanosecond()/1e6)
	}
	stamped := func(body map[string]any, ts string) map[string]any { body["timeStamp"] = ts; return body }
	t1, t2, t3 := at(-2*time.Second), at(-time.Second), at(0)

	k.ok("tenantSync", stamped(tenant("T14", 1, "Nu"), t1))
	k.ok("authSync", stamped(users("T14", 1, kitUser("ann", "", "user", "true")), t1))
	k.ok("authSync", stamped(users("T14", 3, kitUser("ann", "", "", "")), t2))
	k.ok("authSync", stamped(users("T14", 1, kitUser("ann", "", "user", "true")), t1)) // the add, retried late
	if u := userNamed(t, srv, "mkt-T14", "ann"); u.Authorised {
		t.Fatalf("a late retry of the add undid the revocation: %+v", u)
	}
	k.ok("authSync", stamped(users("T14", 1, kitUser("ann", "", "user", "true")), t3))
	if u := userNamed(t, srv, "mkt-T14", "ann"); !u.Authorised {
		t.Fatalf("a newer add did not authorise: %+v", u)
	}

	k.ok("tenantSync", stamped(tenant("T14", 0, ""), t2))
	k.ok("tenantSync", stamped(tenant("T14", 2, "Nu renamed"), t1)) // late
	if o, _ := orgOf(t, srv, "mkt-T14"); !o.Closed || o.Name != "Nu" {
		t.Fatalf("a late modify reopened or renamed the deleted tenant: %+v", o)
	}
}

// Dev mode serves the sync interfaces with a key of its own, in dev.env
// beside the production interface's; a call signed with another key is
// refused.
func TestSyncDevEnv(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true})
	data, err := os.ReadFile(filepath.Join(srv.DataDir, "dev.env"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			env[k] = v
		}
	}
	if env["ISCD_KIT_URL"] != "http://"+srv.Addr+marketplace.SyncPrefix || env["ISCD_KIT_KEY"] == "" || env["ISCD_KIT_KEY"] == env["ISCD_MARKETPLACE_KEY"] {
		t.Fatalf("dev.env: %v", env)
	}
	k := newKit(t, srv)
	k.call("tenantSync", tenant("T11", 1, "Kappa"), marketplace.ResultAuth) // the suite's key is not this iscd's
	k.key = env["ISCD_KIT_KEY"]
	k.ok("tenantSync", tenant("T11", 1, "Kappa"))
	if _, ok := orgOf(t, srv, "mkt-T11"); !ok {
		t.Fatal("no organisation for the tenant")
	}
}

// Two replicas on one PostgreSQL database: a sync call answered by one
// and replayed to the other is refused there; the users it made are seen
// by both, and a revocation sent to one ends the session held on the
// other.
func TestSyncReplayToAnotherReplica(t *testing.T) {
	dsn := pgtest.DSN(t) // skips, saying so, without PostgreSQL
	cfg := syncConfig()
	cfg.Database = dsn
	a := servertest.StartConfig(t, cfg)
	b := servertest.StartConfig(t, cfg)
	ka, kb := newKit(t, a), newKit(t, b)
	ka.ok("tenantSync", tenant("T8", 1, "Theta"))
	call := ka.sign("authSync", users("T8", 1, kitUser("ann", "", "user", "true")))
	if r := ka.send(call); r.ResultCode != marketplace.ResultOK {
		t.Fatal(r)
	}
	ann := userNamed(t, b, "mkt-T8", "ann")
	c := syncClient(t, b, userToken(t, b, ann.ID))
	ka.ok("authSync", users("T8", 3, kitUser("ann", "", "", "")))
	servertest.NextEvent(t, c, isEvent(sdk.EventSignInRequired))
	if r := kb.send(call); r.ResultCode != marketplace.ResultAuth || !strings.Contains(r.ResultMsg, "replay") {
		t.Fatalf("the replay to replica b: %+v", r)
	}
	if u := userNamed(t, a, "mkt-T8", "ann"); u.Authorised {
		t.Fatalf("the replayed add authorised ann again: %+v", u)
	}
}
