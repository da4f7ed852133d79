package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// reply is one HTTP answer of the admin API.
type reply struct {
	status int
	ctype  string
	body   []byte
}

// errorCode returns the code of a {"error": {...}} body, or "" if the body
// is not one.
func (r reply) errorCode() string {
	var e struct {
		Error *wire.Error `json:"error"`
	}
	if json.Unmarshal(r.body, &e) != nil || e.Error == nil || e.Error.Message == "" {
		return ""
	}
	return e.Error.Code
}

// send makes one request; auth is the whole Authorization header ("" for none).
func send(t *testing.T, srv *servertest.Server, method, path, auth string, body []byte) reply {
	t.Helper()
	req, err := http.NewRequest(method, srv.AdminURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return reply{resp.StatusCode, resp.Header.Get("Content-Type"), b}
}

// admin makes an authorised request.
func admin(t *testing.T, srv *servertest.Server, method, path string, body []byte) reply {
	t.Helper()
	return send(t, srv, method, path, "Bearer "+srv.AdminToken, body)
}

// wantError checks a failed reply's status and JSON error code.
func wantError(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status || r.errorCode() != code || r.ctype != "application/json" {
		t.Errorf("got %d %s %q, want %d with a JSON error %q", r.status, r.ctype, r.body, status, code)
	}
}

func client(srv *servertest.Server) *adminapi.Client {
	return &adminapi.Client{BaseURL: srv.AdminURL, Token: srv.AdminToken}
}

func TestUnauthorized(t *testing.T) {
	srv := servertest.Start(t)
	apiID, apiSecret, err := token.Parse(token.PrefixAPI, srv.APIToken)
	if err != nil {
		t.Fatal(err)
	}
	adminID, _, err := token.Parse(token.PrefixAdmin, srv.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	for name, auth := range map[string]string{
		"no header":           "",
		"empty bearer":        "Bearer ",
		"basic auth":          "Basic " + srv.AdminToken,
		"bare token":          srv.AdminToken,
		"garbage":             "Bearer hello",
		"wrong secret":        "Bearer isa_" + adminID + "_wrongsecret",
		"unknown id":          "Bearer isa_0123456789abcdef_secret",
		"over-long":           "Bearer " + srv.AdminToken + strings.Repeat("x", token.MaxLen),
		"API token":           "Bearer " + srv.APIToken,
		"API token as admin":  "Bearer isa_" + apiID + "_" + apiSecret, // the right secret, the wrong kind
		"admin token trimmed": "Bearer " + srv.AdminToken[:len(srv.AdminToken)-1],
	} {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/admin/v1/orgs", "/admin/v1/tokens", "/admin/v1/no-such-endpoint"} {
				wantError(t, send(t, srv, "GET", path, auth, nil), http.StatusUnauthorized, wire.CodeUnauthorized)
			}
			r := send(t, srv, "POST", "/admin/v1/orgs", auth, []byte(`{"id":"intruder","name":"x"}`))
			wantError(t, r, http.StatusUnauthorized, wire.CodeUnauthorized)
		})
	}
	// Nothing was created on the way.
	if _, err := srv.Store().Org(context.Background(), "intruder"); err == nil {
		t.Error("an unauthorised request created an org")
	}
	// The scheme is case-insensitive; the token is not.
	if r := send(t, srv, "GET", "/admin/v1/orgs", "bearer "+srv.AdminToken, nil); r.status != http.StatusOK {
		t.Errorf("lower-case bearer scheme: %d %s", r.status, r.body)
	}
	// A revoked admin token stops working.
	if err := srv.Store().RevokeToken(context.Background(), adminID); err != nil {
		t.Fatal(err)
	}
	wantError(t, admin(t, srv, "GET", "/admin/v1/orgs", nil), http.StatusUnauthorized, wire.CodeUnauthorized)
}

func TestSecretsAreNeverListed(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	c := client(srv)
	if err := c.Do(ctx, "POST", "/orgs", adminapi.CreateOrg{ID: "acme", Name: "Acme"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "POST", "/users", adminapi.CreateUser{ID: "ann", OrgID: "acme", Name: "Ann"}, nil); err != nil {
		t.Fatal(err)
	}
	var nt struct {
		adminapi.NewToken
		Hash string `json:"hash"` // adminapi.Token has none: a hash in the answer lands here
	}
	if err := c.Do(ctx, "POST", "/tokens", adminapi.CreateToken{UserID: "ann", Name: "laptop"}, &nt); err != nil {
		t.Fatal(err)
	}
	id, secret, err := token.Parse(token.PrefixAPI, nt.Secret)
	if err != nil || id != nt.ID {
		t.Fatalf("created token %q (id %q): %v", nt.Secret, nt.ID, err)
	}
	if nt.Hash != "" {
		t.Errorf("token create answers with the hash %q", nt.Hash)
	}
	stored, err := srv.Store().Token(ctx, id)
	if err != nil || stored.Hash != token.Hash(secret) {
		t.Fatalf("store holds %+v, %v; want the secret's hash", stored, err)
	}
	_, devSecret, _ := token.Parse(token.PrefixAPI, srv.APIToken)
	_, adminSecret, _ := token.Parse(token.PrefixAdmin, srv.AdminToken)

	leaks := []string{secret, token.Hash(secret), devSecret, token.Hash(devSecret), adminSecret, token.Hash(adminSecret)}
	for _, path := range []string{"/tokens", "/tokens?user=ann", "/tokens?user=demo", "/users", "/orgs", "/products", "/sessions"} {
		r := admin(t, srv, "GET", adminapi.Prefix+path, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		for _, s := range leaks {
			if bytes.Contains(r.body, []byte(s)) {
				t.Errorf("GET %s shows a secret or its hash: %s", path, r.body)
			}
		}
	}
	var toks []store.Token
	if err := c.Do(ctx, "GET", "/tokens", nil, &toks); err != nil {
		t.Fatal(err)
	}
	if len(toks) != 2 {
		t.Errorf("listed %d tokens, want the 2 API tokens (admin tokens are not listed): %+v", len(toks), toks)
	}
	for _, tk := range toks {
		if tk.Hash != "" || tk.Kind != token.PrefixAPI {
			t.Errorf("listed token %+v: want kind isk and an empty hash", tk)
		}
	}
}

func TestBadRequests(t *testing.T) {
	srv := servertest.Start(t)
	if r := admin(t, srv, "POST", "/admin/v1/orgs", []byte(`{"id":"acme","name":"Acme"}`)); r.status != http.StatusCreated {
		t.Fatalf("create org: %d %s", r.status, r.body)
	}
	big := []byte(`{"name":"` + strings.Repeat("a", 1<<20) + `"}`)
	for _, tc := range []struct {
		name, path string
		body       []byte
		status     int
		code       string
	}{
		{"invalid UTF-8 in an org name", "/orgs", []byte("{\"name\":\"bad \xff\xfe\"}"), 400, wire.CodeBadRequest},
		{"invalid UTF-8 in a user name", "/users", []byte("{\"orgId\":\"acme\",\"name\":\"\xc3\x28\"}"), 400, wire.CodeBadRequest},
		{"invalid UTF-8 in a product name", "/products", []byte("{\"id\":\"p\",\"name\":\"\xed\xa0\x80\"}"), 400, wire.CodeBadRequest},
		{"invalid UTF-8 in a notice", "/notices", []byte("{\"text\":\"\xff\"}"), 400, wire.CodeBadRequest},
		{"body over 1 MiB", "/orgs", big, http.StatusRequestEntityTooLarge, wire.CodeTooLarge},
		{"not JSON", "/orgs", []byte(`name=acme`), 400, wire.CodeBadRequest},
		{"empty body", "/orgs", nil, 400, wire.CodeBadRequest},
		{"unknown field", "/orgs", []byte(`{"name":"x","admin":true}`), 400, wire.CodeBadRequest},
		{"data after the object", "/orgs", []byte(`{"name":"x"} {"name":"y"}`), 400, wire.CodeBadRequest},
		{"name missing", "/orgs", []byte(`{"id":"nameless"}`), 400, wire.CodeBadRequest},
		{"name blank", "/products", []byte(`{"id":"p","name":"   "}`), 400, wire.CodeBadRequest},
		{"name too long", "/orgs", []byte(`{"name":"` + strings.Repeat("n", 201) + `"}`), 400, wire.CodeBadRequest},
		{"notice without text", "/notices", []byte(`{"title":"t"}`), 400, wire.CodeBadRequest},
		{"duplicate org", "/orgs", []byte(`{"id":"acme","name":"Again"}`), http.StatusConflict, "conflict"},
		{"user in an unknown org", "/users", []byte(`{"orgId":"nope","name":"Ann"}`), 404, wire.CodeNotFound},
		{"token for an unknown user", "/tokens", []byte(`{"userId":"nobody"}`), 404, wire.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, admin(t, srv, "POST", adminapi.Prefix+tc.path, tc.body), tc.status, tc.code)
		})
	}
	// None of them left anything behind.
	ctx := context.Background()
	if orgs, _ := srv.Store().Orgs(ctx); len(orgs) != 2 {
		t.Errorf("%d orgs after the bad requests, want 2 (demo, acme): %+v", len(orgs), orgs)
	}
	if users, _ := srv.Store().Users(ctx, ""); len(users) != 1 {
		t.Errorf("%d users after the bad requests, want 1 (demo)", len(users))
	}
	if ps, _ := srv.Store().Products(ctx); len(ps) != 1 {
		t.Errorf("%d products after the bad requests, want 1 (demo-cad)", len(ps))
	}
}

func TestUserCreateNamesTheMissingOrg(t *testing.T) {
	srv := servertest.Start(t)
	err := client(srv).Do(context.Background(), "POST", "/users", adminapi.CreateUser{OrgID: "nope", Name: "Ann"}, nil)
	if e, ok := err.(*adminapi.Error); !ok || e.Status != 404 || !strings.Contains(e.Message, "org nope") {
		t.Errorf("user create in an unknown org: %v; want a 404 that names org nope", err)
	}
}

func TestUnknownEndpoint(t *testing.T) {
	srv := servertest.Start(t)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/admin/v1/nope"},
		{"POST", "/admin/v1/orgs/acme/users"},
		{"PUT", "/admin/v1/orgs"},
		{"DELETE", "/admin/v1/orgs/demo"},
		{"GET", "/admin/v1/"},
	} {
		wantError(t, admin(t, srv, tc.method, tc.path, []byte(`{}`)), http.StatusNotFound, wire.CodeNotFound)
	}
}

func TestIDsCannotNamePaths(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	for _, id := range []string{"..", "../etc", "a/b", "a..b", "x/../y", ".hidden", "-x", "a b", "é", strings.Repeat("i", 65)} {
		body, _ := json.Marshal(map[string]string{"id": id, "name": "x"})
		wantError(t, admin(t, srv, "POST", "/admin/v1/orgs", body), 400, wire.CodeBadRequest)
		wantError(t, admin(t, srv, "POST", "/admin/v1/products", body), 400, wire.CodeBadRequest)
		body, _ = json.Marshal(map[string]string{"id": id, "orgId": "demo", "name": "x"})
		wantError(t, admin(t, srv, "POST", "/admin/v1/users", body), 400, wire.CodeBadRequest)
	}
	for _, id := range []string{"a.b", "A-1_2", strings.Repeat("i", 64)} {
		body, _ := json.Marshal(map[string]string{"id": id, "name": "x"})
		if r := admin(t, srv, "POST", "/admin/v1/orgs", body); r.status != http.StatusCreated {
			t.Errorf("org id %q: %d %s, want 201", id, r.status, r.body)
		}
	}
	// Escaped slashes in a path id stay one segment: nothing else is hit.
	wantError(t, admin(t, srv, "DELETE", "/admin/v1/tokens/..%2F..%2Forgs", nil), 404, wire.CodeNotFound)
	wantError(t, admin(t, srv, "DELETE", "/admin/v1/sessions/a%2Fb", nil), 404, wire.CodeNotFound)
	// Admin tokens cannot be revoked (or probed) through the API-token endpoint.
	adminID, _, _ := token.Parse(token.PrefixAdmin, srv.AdminToken)
	wantError(t, admin(t, srv, "DELETE", "/admin/v1/tokens/"+adminID, nil), 404, wire.CodeNotFound)
	if tk, err := srv.Store().Token(ctx, adminID); err != nil || tk.Revoked {
		t.Errorf("admin token after a revoke attempt: %+v, %v", tk, err)
	}
}

// dial opens /v1/session with tok the way the SDK does.
func dial(t *testing.T, srv *servertest.Server, tok string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + tok}}
	return websocket.DefaultDialer.Dial(srv.Endpoint, h)
}

func TestRevokedTokenCannotOpenSession(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	c := client(srv)
	var nt adminapi.NewToken
	if err := c.Do(ctx, "POST", "/tokens", adminapi.CreateToken{UserID: "demo"}, &nt); err != nil {
		t.Fatal(err)
	}
	ws, _, err := dial(t, srv, nt.Secret)
	if err != nil {
		t.Fatalf("a fresh token cannot open a session: %v", err)
	}
	ws.Close()

	if err := c.Do(ctx, "DELETE", "/tokens/"+nt.ID, nil, nil); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	ws, resp, err := dial(t, srv, nt.Secret)
	if err == nil {
		ws.Close()
		t.Fatal("a revoked token opened a session")
	}
	if resp == nil {
		t.Fatalf("dial with a revoked token: %v, and no HTTP answer", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	wantError(t, reply{resp.StatusCode, resp.Header.Get("Content-Type"), body}, http.StatusUnauthorized, wire.CodeUnauthorized)

	// The listing says so, and the other tokens still work.
	var toks []store.Token
	if err := c.Do(ctx, "GET", "/tokens?user=demo", nil, &toks); err != nil {
		t.Fatal(err)
	}
	for _, tk := range toks {
		if (tk.ID == nt.ID) != tk.Revoked {
			t.Errorf("token %s listed with revoked=%v", tk.ID, tk.Revoked)
		}
	}
	ws, _, err = dial(t, srv, srv.APIToken)
	if err != nil {
		t.Fatalf("revoking one token broke another: %v", err)
	}
	ws.Close()
}
