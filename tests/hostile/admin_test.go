package hostile_test

// Scoped admin tokens and iscctl's credentials: a token does what its role
// allows and nothing more, an expired or revoked one does nothing, and
// iscctl neither shows a token to other users nor sends it in clear to
// another machine.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// adminTokenAs has the owner make an admin token of role and returns a
// client that uses it.
func adminTokenAs(t *testing.T, srv *servertest.Server, role adminapi.Role, expires time.Time) *adminapi.Client {
	t.Helper()
	var nt adminapi.NewAdminToken
	req := adminapi.CreateAdminToken{Role: role, Name: "hostile " + string(role), Expires: expires}
	if err := srv.Admin().Do(context.Background(), "POST", "/admin-tokens", req, &nt); err != nil {
		t.Fatalf("owner creates a %s token: %v", role, err)
	}
	if nt.Role != role || !strings.HasPrefix(nt.Secret, "isa_") {
		t.Fatalf("new token = %+v", nt.AdminToken)
	}
	c := srv.Admin()
	c.Token = nt.Secret
	return c
}

// apiErr returns the admin API's refusal in err, or fails.
func apiErr(t *testing.T, err error, what string) *adminapi.Error {
	t.Helper()
	var e *adminapi.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: %v, want a refusal from the admin API", what, err)
	}
	return e
}

// adminState is what the admin API shows of everything a token could
// change, read by the owner.
func adminState(t *testing.T, srv *servertest.Server) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, path := range []string{"/orgs", "/users", "/tokens", "/admin-tokens", "/products", "/licenses", "/seats", "/sessions",
		"/releases?product=" + server.DevProduct, "/jobs", "/workers/tokens", "/products/" + server.DevProduct + "/solvers", "/products/" + server.DevProduct + "/keys"} {
		var raw json.RawMessage
		if err := srv.Admin().Do(context.Background(), "GET", path, nil, &raw); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		out[path] = string(raw)
	}
	return out
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// TestAdminRolesOnEveryRoute calls every admin route (as iscd lists them)
// with a token of each role but owner. A route the role may not call is
// refused 403, naming the role it needs; one it may call is not refused
// for the role. The read-only token goes first and, having tried every
// route that changes something, has changed nothing.
func TestAdminRolesOnEveryRoute(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true}) // its worker token would change the state
	ctx := context.Background()
	var routes []adminapi.Route
	if err := srv.Admin().Do(ctx, "GET", "/routes", nil, &routes); err != nil {
		t.Fatal(err)
	}
	mutating := 0
	for _, r := range routes {
		if r.Method != http.MethodGet {
			mutating++
			if r.Role == adminapi.RoleReadOnly {
				t.Errorf("%s %s changes something but requires only %s", r.Method, r.Pattern, r.Role)
			}
		}
	}
	// Every capability mounts routes: the list is not a stub.
	for _, want := range []string{"POST /admin/v1/licenses", "POST /admin/v1/releases", "PUT /admin/v1/products/{id}/solvers/{name}",
		"POST /admin/v1/files/unlock", "POST /admin/v1/admin-tokens", "POST /admin/v1/tokens"} {
		found := false
		for _, r := range routes {
			found = found || r.Method+" "+r.Pattern == want
		}
		if !found {
			t.Errorf("GET /routes does not list %s", want)
		}
	}
	if mutating < 25 {
		t.Fatalf("only %d routes change something: %+v", mutating, routes)
	}

	before := adminState(t, srv)
	for _, role := range []adminapi.Role{adminapi.RoleReadOnly, adminapi.RoleLicenses, adminapi.RoleReleases, adminapi.RoleCompute} {
		c := adminTokenAs(t, srv, role, time.Time{})
		refused, refusedChanges := 0, 0
		for _, r := range routes {
			path := strings.TrimPrefix(pathParam.ReplaceAllString(r.Pattern, "x"), adminapi.Prefix)
			var body any
			if r.Method != http.MethodGet {
				body = map[string]any{}
			}
			err := c.Do(ctx, r.Method, path, body, nil)
			var e *adminapi.Error
			errors.As(err, &e)
			if !role.Allows(r.Role) {
				refused++
				if r.Method != http.MethodGet {
					refusedChanges++
				}
				if e == nil || e.Status != http.StatusForbidden || e.Code != wire.CodeForbidden || !strings.Contains(e.Message, "role "+string(r.Role)) {
					t.Errorf("%s token: %s %s: %v, want 403 forbidden naming role %s", role, r.Method, path, err, r.Role)
				}
				continue
			}
			if e != nil && (e.Status == http.StatusForbidden || e.Status == http.StatusUnauthorized) {
				t.Errorf("%s token: %s %s refused: %v; its role allows it", role, r.Method, path, err)
			}
		}
		if role == adminapi.RoleReadOnly {
			if refusedChanges != mutating {
				t.Errorf("read-only token: %d routes that change something refused, want every one (%d)", refusedChanges, mutating)
			}
			if after := adminState(t, srv); !equalState(before, after) {
				t.Errorf("the read-only token changed something: %s", stateDiff(before, after))
			}
		}
		t.Logf("%s token: %d of %d routes refused", role, refused, len(routes))
	}
}

// stateDiff shows what differs between two adminStates.
func stateDiff(a, b map[string]string) string {
	var out []string
	for k := range a {
		if a[k] != b[k] {
			out = append(out, k+":\n  before "+a[k]+"\n  after  "+b[k])
		}
	}
	return strings.Join(out, "\n")
}

// equalState compares two adminStates, ignoring the admin tokens made
// for the test and the sessions' last-seen times.
func equalState(a, b map[string]string) bool {
	for k := range a {
		if k == "/admin-tokens" || k == "/sessions" {
			continue
		}
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

// TestAdminComputeTokenCannotLicenseOrPublish: a compute operator's token
// issues no licence, freezes none, publishes and withdraws no release, and
// rotates no key; it does cancel jobs' routes and read.
func TestAdminComputeTokenCannotLicenseOrPublish(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true})
	ctx := context.Background()
	c := adminTokenAs(t, srv, adminapi.RoleCompute, time.Time{})
	before := adminState(t, srv)
	for _, call := range []struct {
		method, path string
		body         any
		need         adminapi.Role
	}{
		{"POST", "/licenses", adminapi.CreateLicense{OrgID: server.DevOrg, ProductID: server.DevProduct, Kind: store.KindFloating, Seats: 1000}, adminapi.RoleLicenses},
		{"POST", "/licenses/" + server.DevLicense + "/freeze", nil, adminapi.RoleLicenses},
		{"POST", "/releases", adminapi.PublishRelease{ProductID: server.DevProduct, Platform: "linux-amd64", Version: "99.0.0", Forced: true}, adminapi.RoleReleases},
		{"DELETE", "/releases/" + server.DevProduct + "/linux-amd64/1.0.0", nil, adminapi.RoleReleases},
		{"POST", "/products/" + server.DevProduct + "/keys/rotate", nil, adminapi.RoleOwner},
		{"POST", "/tokens", adminapi.CreateToken{UserID: server.DevUser}, adminapi.RoleLicenses},
	} {
		e := apiErr(t, c.Do(ctx, call.method, call.path, call.body, nil), call.method+" "+call.path)
		if e.Status != http.StatusForbidden || !strings.Contains(e.Message, "role "+string(call.need)) {
			t.Errorf("compute token: %s %s: %v, want 403 naming role %s", call.method, call.path, e, call.need)
		}
	}
	if after := adminState(t, srv); !equalState(before, after) {
		t.Errorf("the compute token changed something: %s", stateDiff(before, after))
	}
	var ws []adminapi.WorkerInfo
	if err := c.Do(ctx, "GET", "/workers", nil, &ws); err != nil {
		t.Errorf("compute token cannot list workers: %v", err)
	}
	if err := c.Do(ctx, "POST", "/jobs/nope/cancel", nil, nil); apiErr(t, err, "cancel").Status != http.StatusNotFound {
		t.Errorf("compute token cancels a job: %v, want 404 (its role allows it; the job does not exist)", err)
	}
}

// TestAdminReleasesTokenCannotMakeTokens: a release pipeline's token makes
// no admin, API or worker token.
func TestAdminReleasesTokenCannotMakeTokens(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true})
	ctx := context.Background()
	c := adminTokenAs(t, srv, adminapi.RoleReleases, time.Time{})
	before := adminState(t, srv)
	for _, call := range []struct {
		path string
		body any
	}{
		{"/admin-tokens", adminapi.CreateAdminToken{Role: adminapi.RoleReleases}},
		{"/admin-tokens", adminapi.CreateAdminToken{Role: adminapi.RoleOwner}},
		{"/tokens", adminapi.CreateToken{UserID: server.DevUser}},
		{"/workers/tokens", adminapi.CreateWorkerToken{Name: "mine"}},
	} {
		var nt adminapi.NewAdminToken
		e := apiErr(t, c.Do(ctx, "POST", call.path, call.body, &nt), "POST "+call.path)
		if e.Status != http.StatusForbidden || e.Code != wire.CodeForbidden || nt.Secret != "" {
			t.Errorf("releases token: POST %s: %v, want 403 and no token", call.path, e)
		}
	}
	if after := adminState(t, srv); !equalState(before, after) || before["/admin-tokens"] != after["/admin-tokens"] {
		t.Errorf("the releases token made a token: %s", stateDiff(before, after))
	}
}

// TestAdminOnlyOwnerMakesOwnerTokens: no role but owner makes an owner
// token (or any admin token); an owner does, with an expiry, and the new
// owner token works.
func TestAdminOnlyOwnerMakesOwnerTokens(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	for _, role := range []adminapi.Role{adminapi.RoleLicenses, adminapi.RoleReleases, adminapi.RoleCompute, adminapi.RoleReadOnly} {
		c := adminTokenAs(t, srv, role, time.Time{})
		var nt adminapi.NewAdminToken
		e := apiErr(t, c.Do(ctx, "POST", "/admin-tokens", adminapi.CreateAdminToken{Role: adminapi.RoleOwner}, &nt), string(role))
		if e.Status != http.StatusForbidden || nt.Secret != "" || !strings.Contains(e.Message, "role owner") {
			t.Errorf("%s token makes an owner token: %v", role, e)
		}
	}
	expires := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	owner2 := adminTokenAs(t, srv, adminapi.RoleOwner, expires)
	var ts []adminapi.AdminToken
	if err := owner2.Do(ctx, "GET", "/admin-tokens", nil, &ts); err != nil {
		t.Fatalf("the new owner token: %v", err)
	}
	var seen bool
	for _, tk := range ts {
		seen = seen || (tk.Role == adminapi.RoleOwner && tk.Expires.Equal(expires))
	}
	if !seen {
		t.Errorf("admin tokens %+v: no owner token expiring %v", ts, expires)
	}
	// An expiry in the past is refused, not stored as a dead token.
	err := srv.Admin().Do(ctx, "POST", "/admin-tokens", adminapi.CreateAdminToken{Role: adminapi.RoleReadOnly, Expires: time.Now().Add(-time.Minute)}, nil)
	if e := apiErr(t, err, "past expiry"); e.Status != http.StatusBadRequest {
		t.Errorf("a token expiring in the past: %v, want 400", e)
	}
}

// TestAdminExpiredAndRevokedTokensRefused: a token past its expiry is
// refused 401 token_expired (after its secret is checked: a guess learns
// nothing), a revoked one 401 unauthorized, and the last owner token that
// works cannot be revoked.
func TestAdminExpiredAndRevokedTokensRefused(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	secret, id, hash := token.New(token.PrefixAdmin)
	if err := srv.Store().CreateToken(ctx, store.Token{ID: id, Kind: token.PrefixAdmin, Hash: hash, Role: string(adminapi.RoleOwner),
		Created: time.Now().Add(-48 * time.Hour), Expires: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	c := srv.Admin()
	c.Token = secret
	e := apiErr(t, c.Do(ctx, "GET", "/orgs", nil, nil), "expired token")
	if e.Status != http.StatusUnauthorized || e.Code != adminapi.CodeTokenExpired || !strings.Contains(e.Message, "expired") {
		t.Errorf("expired owner token: %v, want 401 %s", e, adminapi.CodeTokenExpired)
	}
	wrong, _, _ := strings.Cut(secret, "_"+id+"_")
	c.Token = wrong + "_" + id + "_" + strings.Repeat("A", 32)
	if e := apiErr(t, c.Do(ctx, "GET", "/orgs", nil, nil), "wrong secret"); e.Code != wire.CodeUnauthorized {
		t.Errorf("a wrong secret for an expired token's id: %v, want plain unauthorized", e)
	}

	ro := adminTokenAs(t, srv, adminapi.RoleReadOnly, time.Time{})
	var ts []adminapi.AdminToken
	if err := srv.Admin().Do(ctx, "GET", "/admin-tokens", nil, &ts); err != nil {
		t.Fatal(err)
	}
	var roID string
	var owners []string
	for _, tk := range ts {
		if tk.Role == adminapi.RoleReadOnly {
			roID = tk.ID
		}
		if tk.Role == adminapi.RoleOwner && (tk.Expires.IsZero() || tk.Expires.After(time.Now())) {
			owners = append(owners, tk.ID)
		}
	}
	if err := srv.Admin().Do(ctx, "DELETE", "/admin-tokens/"+roID, nil, nil); err != nil {
		t.Fatal(err)
	}
	if e := apiErr(t, ro.Do(ctx, "GET", "/orgs", nil, nil), "revoked token"); e.Status != http.StatusUnauthorized {
		t.Errorf("revoked token: %v, want 401", e)
	}
	// Revoke every other owner token; then the test's own is the last one
	// that works, and is refused.
	mine := srv.Admin()
	myID, _, _ := token.Parse(token.PrefixAdmin, mine.Token)
	for _, o := range owners {
		if o != myID {
			if err := mine.Do(ctx, "DELETE", "/admin-tokens/"+o, nil, nil); err != nil {
				t.Fatalf("revoke owner token %s: %v", o, err)
			}
		}
	}
	e = apiErr(t, mine.Do(ctx, "DELETE", "/admin-tokens/"+myID, nil, nil), "revoke the last owner token")
	if e.Status != http.StatusConflict || !strings.Contains(e.Message, "last owner token") {
		t.Errorf("revoking the last owner token: %v, want 409", e)
	}
	if err := mine.Do(ctx, "GET", "/orgs", nil, nil); err != nil {
		t.Errorf("the last owner token was revoked: %v", err)
	}
}

// iscctlBinary builds iscctl (or takes $ISCSDK_BUILD_DIR/bin/iscctl).
var iscctlBinary = sync.OnceValues(func() (string, error) {
	if dir := os.Getenv("ISCSDK_BUILD_DIR"); dir != "" {
		if p := filepath.Join(dir, "bin", "iscctl"); fileExists(p) {
			return p, nil
		}
	}
	dir, err := os.MkdirTemp("", "hostile-iscctl-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "iscctl")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/iscctl").CombinedOutput(); err != nil {
		return "", errors.New(string(out))
	}
	return bin, nil
})

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// iscctlResult is one run of iscctl.
type iscctlResult struct {
	code           int
	stdout, stderr string
}

func runISCCTL(t *testing.T, env []string, stdin string, args ...string) iscctlResult {
	t.Helper()
	bin, err := iscctlBinary()
	if err != nil {
		t.Fatalf("build iscctl: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "ISCSDK_WORKSPACE=" + t.TempDir()}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return iscctlResult{cmd.ProcessState.ExitCode(), out.String(), errb.String()}
}

// TestISCCTLTokenInput: --token works but warns on stderr (other users see
// a command line), as --user-token does; $ISCD_ADMIN_TOKEN, --token-file,
// --token-stdin and $ISCSDK_TOKEN do not warn; two ways at once is a usage error; a command refused for its
// role says which role it needs.
func TestISCCTLTokenInput(t *testing.T) {
	srv := servertest.Start(t)
	url := "ISCD_ADMIN_URL=" + srv.AdminURL
	const warning = "warning: --token puts the admin token on the command line"

	r := runISCCTL(t, []string{url}, "", "--token", srv.AdminToken, "org", "list")
	if r.code != 0 || !strings.Contains(r.stderr, warning) || !strings.Contains(r.stdout, server.DevOrg) {
		t.Errorf("--token: exit %d, stderr %q, stdout %q; want it to work and warn", r.code, r.stderr, r.stdout)
	}
	file := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(file, []byte(srv.AdminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, run := range map[string]iscctlResult{
		"environment":   runISCCTL(t, []string{url, "ISCD_ADMIN_TOKEN=" + srv.AdminToken}, "", "org", "list"),
		"--token-file":  runISCCTL(t, []string{url}, "", "--token-file", file, "org", "list"),
		"--token-stdin": runISCCTL(t, []string{url}, srv.AdminToken+"\n", "org", "list", "--token-stdin"),
	} {
		if run.code != 0 || strings.Contains(run.stderr, "warning") || !strings.Contains(run.stdout, server.DevOrg) {
			t.Errorf("%s: exit %d, stderr %q, stdout %q; want it to work without a warning", name, run.code, run.stderr, run.stdout)
		}
	}
	if r := runISCCTL(t, []string{url}, srv.AdminToken, "--token-stdin", "--token-file", file, "org", "list"); r.code != 2 {
		t.Errorf("two token sources: exit %d (%s), want 2", r.code, r.stderr)
	}
	if r := runISCCTL(t, []string{url}, "", "--token-stdin", "org", "list"); r.code != 1 || !strings.Contains(r.stderr, "no admin token") {
		t.Errorf("empty standard input: exit %d, %q", r.code, r.stderr)
	}

	// The user's API token on the command line: works, warns.
	r = runISCCTL(t, []string{"ISCSDK_PRODUCT=" + srv.Product}, "", "ls", "--endpoint", srv.Endpoint, "--user-token", srv.APIToken)
	if r.code != 0 || !strings.Contains(r.stderr, "warning: --user-token puts the API token on the command line") {
		t.Errorf("--user-token: exit %d, stderr %q; want it to work and warn", r.code, r.stderr)
	}
	r = runISCCTL(t, []string{"ISCSDK_PRODUCT=" + srv.Product, "ISCSDK_TOKEN=" + srv.APIToken}, "", "ls", "--endpoint", srv.Endpoint)
	if r.code != 0 || strings.Contains(r.stderr, "warning") {
		t.Errorf("$ISCSDK_TOKEN: exit %d, stderr %q; want it to work without a warning", r.code, r.stderr)
	}

	ro := adminTokenAs(t, srv, adminapi.RoleReadOnly, time.Time{})
	r = runISCCTL(t, []string{url, "ISCD_ADMIN_TOKEN=" + ro.Token}, "", "license", "freeze", server.DevLicense)
	if r.code != 1 || !strings.Contains(r.stderr, "needs an admin token with role licenses") {
		t.Errorf("read-only token freezing a licence: exit %d, stderr %q; want refused, naming role licenses", r.code, r.stderr)
	}
	if r := runISCCTL(t, nil, "", "help", "license", "freeze"); !strings.Contains(r.stdout, "role licenses") {
		t.Errorf("license freeze --help does not say the role it needs:\n%s", r.stdout)
	}
}

// nonLoopbackIP returns an address of this machine that is not loopback.
func nonLoopbackIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address")
	return ""
}

// TestISCCTLRefusesCleartextToAnotherMachine: iscctl sends no admin token
// over http:// and no API token over ws:// to a host that is not this
// machine (a listener there sees no request at all), says why, and does
// with --insecure.
func TestISCCTLRefusesCleartextToAnotherMachine(t *testing.T) {
	ip := nonLoopbackIP(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	var mu sync.Mutex
	var seen []string // Authorization headers that reached the listener
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("[]"))
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	requests := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }

	const tok = "isa_0123456789abcdef_secretsecretsecret"
	remote := "http://" + ln.Addr().String()
	r := runISCCTL(t, []string{"ISCD_ADMIN_URL=" + remote, "ISCD_ADMIN_TOKEN=" + tok}, "", "org", "list")
	if r.code != 1 || !strings.Contains(r.stderr, "refusing to send the admin token over plain http://") || !strings.Contains(r.stderr, "--insecure") {
		t.Errorf("http:// to %s: exit %d, stderr %q; want a refusal that says why and how", ip, r.code, r.stderr)
	}
	r = runISCCTL(t, []string{"ISCSDK_TOKEN=isk_0123456789abcdef_secret", "ISCSDK_PRODUCT=p"}, "", "ls", "--endpoint", "ws://"+ln.Addr().String()+"/v1/session")
	if r.code != 1 || !strings.Contains(r.stderr, "in clear") || !strings.Contains(r.stderr, "--insecure") {
		t.Errorf("ws:// to %s: exit %d, stderr %q; want a refusal", ip, r.code, r.stderr)
	}
	if got := requests(); len(got) != 0 {
		t.Fatalf("iscctl reached %s without --insecure: %q", ip, got)
	}

	r = runISCCTL(t, []string{"ISCD_ADMIN_URL=" + remote, "ISCD_ADMIN_TOKEN=" + tok}, "", "--insecure", "org", "list")
	if r.code != 0 {
		t.Errorf("--insecure: exit %d, stderr %q", r.code, r.stderr)
	}
	if got := requests(); len(got) != 1 || got[0] != "Bearer "+tok {
		t.Errorf("with --insecure the listener saw %q, want one request with the token", got)
	}
	// https:// and loopback http:// are not refused (the loopback one
	// reaches a real iscd in TestISCCTLTokenInput).
	r = runISCCTL(t, []string{"ISCD_ADMIN_URL=https://" + ln.Addr().String(), "ISCD_ADMIN_TOKEN=" + tok}, "", "org", "list")
	if strings.Contains(r.stderr, "refusing") {
		t.Errorf("https:// refused: %q", r.stderr)
	}
}
