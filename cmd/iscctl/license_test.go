package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/license"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
	"github.com/iscsdk/iscsdk/sdk"
)

// field returns the value of a "Label: value" line of license show.
func field(t *testing.T, out, label string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, label+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %q line in\n%s", label, out)
	return ""
}

func TestLicenses(t *testing.T) {
	_, env := start(t)
	ok(t, env, "org", "create", "--name", "Acme", "--id", "acme")

	// --product left out: iscd has one product, the demo's.
	r := ok(t, env, "license", "create", "--org", "acme", "--id", "acme-pro", "--edition", "pro", "--features", "solve, mesh,",
		"--seats", "3", "--effective", "2026-01-01", "--expires", "2030-01-01T12:00:00+02:00", "--grace", "7d", "--offline-grace", "1d12h")
	if got := table(t, r.stdout); len(got) != 2 || strings.Join(got[0], " ") != "ID ORG PRODUCT EDITION KIND SEATS STATUS EXPIRES" {
		t.Fatalf("license create printed\n%s", r.stdout)
	}
	if got := row(t, r.stdout, "acme-pro"); strings.Join(got[1:], " ") != "acme "+server.DevProduct+" pro floating 3 active 2030-01-01T10:00:00Z" {
		t.Errorf("license create row = %q", got)
	}

	before := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	trial := decodeJSON[store.License](t, ok(t, env, "--json", "license", "create", "--org", "acme", "--product", server.DevProduct,
		"--kind", "node-locked", "--seats", "2", "--expires", "+30d", "--trial").stdout)
	after := time.Now().Add(30 * 24 * time.Hour)
	if !strings.HasPrefix(trial.ID, "lic_") || trial.Kind != store.KindNodeLocked || trial.Seats != 2 || !trial.Trial || trial.Status != store.StatusActive {
		t.Errorf("license create --json = %+v", trial)
	}
	if trial.ExpiresAt.Before(before) || trial.ExpiresAt.After(after) {
		t.Errorf("--expires +30d gave %v, want between %v and %v", trial.ExpiresAt, before, after)
	}
	if trial.OfflineGrace != 24*time.Hour || trial.Grace != 0 || !trial.EffectiveAt.IsZero() {
		t.Errorf("defaults: offline grace %v, grace %v, effective %v", trial.OfflineGrace, trial.Grace, trial.EffectiveAt)
	}

	// list
	r = ok(t, env, "license", "list", "--org", "acme")
	if rows := table(t, r.stdout); len(rows) != 3 {
		t.Errorf("license list --org acme: want header + 2 licences, got\n%s", r.stdout)
	}
	if got := row(t, r.stdout, trial.ID); got[4] != "node-locked" || got[6] != "active,trial" {
		t.Errorf("license list row for the trial = %q", got)
	}
	r = ok(t, env, "license", "list", "--product", server.DevProduct)
	row(t, r.stdout, server.DevLicense)
	row(t, r.stdout, "acme-pro")
	if ls := decodeJSON[[]store.License](t, ok(t, env, "license", "list", "--json").stdout); len(ls) != 3 {
		t.Errorf("license list --json: %d licences, want 3 (demo-floating and acme's two)", len(ls))
	}
	if r := ok(t, env, "license", "list", "--org", server.DevOrg, "--product", "other"); r.stdout != "" || !strings.Contains(r.stderr, "no licences") {
		t.Errorf("empty license list: stdout %q, stderr %q", r.stdout, r.stderr)
	}

	// show
	r = ok(t, env, "license", "show", "acme-pro")
	for label, want := range map[string]string{
		"ID": "acme-pro", "Org": "acme", "Product": server.DevProduct, "Edition": "pro", "Features": "mesh, solve",
		"Kind": "floating", "Seats": "3 (0 in use)", "Status": "active", "Trial": "no",
		"Effective": "2026-01-01T00:00:00Z", "Expires": "2030-01-01T10:00:00Z", "Grace": "7d", "Offline grace": "1d12h",
	} {
		if got := field(t, r.stdout, label); got != want {
			t.Errorf("license show: %s is %q, want %q", label, got, want)
		}
	}
	if strings.Contains(r.stdout, "LEASE EXPIRES") {
		t.Errorf("license show prints a seats table for a licence with no seats in use:\n%s", r.stdout)
	}
	d := decodeJSON[adminapi.LicenseDetail](t, ok(t, env, "license", "show", "acme-pro", "--json").stdout)
	if l := d.License; l.ID != "acme-pro" || l.Seats != 3 || time.Duration(l.GraceSeconds)*time.Second != 7*24*time.Hour || time.Duration(l.OfflineGraceSeconds)*time.Second != 36*time.Hour || !slices.Equal(l.Features, []string{"mesh", "solve"}) || d.SeatsInUse == nil {
		t.Errorf("license show --json = %+v", d)
	}

	// freeze, unfreeze, release: each says where the licence stands, and
	// asking for the state it is in already changes nothing.
	for _, step := range []struct{ action, want string }{
		{"freeze", "frozen"}, {"freeze", "frozen"}, {"unfreeze", "active"}, {"freeze", "frozen"}, {"release", "released"}, {"release", "released"},
	} {
		if r := ok(t, env, "license", step.action, "acme-pro"); r.stdout != "licence acme-pro is "+step.want+"\n" {
			t.Errorf("license %s printed %q, want it %s", step.action, r.stdout, step.want)
		}
	}
	if got := field(t, ok(t, env, "license", "show", "acme-pro").stdout, "Status"); got != "released" {
		t.Errorf("license show after release: status %q", got)
	}
	if l := decodeJSON[store.License](t, ok(t, env, "--json", "license", "freeze", trial.ID).stdout); l.Status != store.StatusFrozen {
		t.Errorf("license freeze --json = %+v", l)
	}

	// audit: oldest first; --limit keeps the newest.
	r = ok(t, env, "license", "audit", "acme-pro")
	var events []string
	for _, r := range table(t, r.stdout)[1:] {
		events = append(events, r[1])
	}
	if want := []string{"created", "frozen", "active", "frozen", "released"}; !slices.Equal(events, want) {
		t.Errorf("license audit events = %q, want %q\n%s", events, want, r.stdout)
	}
	if got := table(t, ok(t, env, "license", "audit", "acme-pro", "--limit", "2").stdout); len(got) != 3 || got[1][1] != "frozen" || got[2][1] != "released" {
		t.Errorf("license audit --limit 2 = %q", got)
	}
	es := decodeJSON[[]store.AuditEntry](t, ok(t, env, "--json", "license", "audit", "acme-pro").stdout)
	// Each change names the admin token that made it.
	id, _, _ := token.Parse(token.PrefixAdmin, env["ISCD_ADMIN_TOKEN"])
	by := "by admin token " + id + " (dev)"
	if len(es) != 5 || es[0].Event != "created" || es[0].Detail != "floating, 3 seats, "+by || es[4].Detail != by {
		t.Errorf("license audit --json = %+v", es)
	}
}

// holdSeat connects the demo user's program and takes a seat of the demo
// licence, as a vendor's program does at start.
func holdSeat(t *testing.T, srv *servertest.Server) *sdk.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := sdk.Init(ctx, sdk.Config{
		Endpoint: srv.Endpoint, Token: srv.APIToken, ProductID: srv.Product, AppVersion: "1.0",
		WorkspaceDir: t.TempDir(), CredentialsFile: filepath.Join(t.TempDir(), "none"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	id, err := sdk.NewDesk(c).GetLicenseStringRequest("", nil)
	if err != nil {
		t.Fatal(err)
	}
	e := nextEvent(ctx, t, c, func(e sdk.Event) bool { return e.Type == sdk.EventLicenseVerify && e.RequestID == id })
	if e.Params["Status"] != "success" || e.Params["licenseId"] != server.DevLicense {
		t.Fatalf("licence request answered %v", e.Params)
	}
	return c
}

// nextEvent returns the client's next event that keep wants.
func nextEvent(ctx context.Context, t *testing.T, c *sdk.Client, keep func(sdk.Event) bool) sdk.Event {
	t.Helper()
	for {
		e, err := c.PollEvent(ctx)
		if err != nil {
			t.Fatalf("waiting for an event: %v", err)
		}
		if keep(e) {
			return e
		}
	}
}

// license extend: a new expiry or number of seats, what the console's
// Extend button does; the audit log says what changed.
func TestLicenseExtend(t *testing.T) {
	_, env := start(t)
	ok(t, env, "org", "create", "--name", "Acme", "--id", "acme")
	ok(t, env, "license", "create", "--org", "acme", "--id", "acme-pro", "--seats", "3", "--expires", "2030-01-01")
	if got := row(t, ok(t, env, "license", "extend", "acme-pro", "--expires", "2031-06-30", "--seats", "5").stdout, "acme-pro"); got[5] != "5" || got[7] != "2031-06-30T00:00:00Z" {
		t.Errorf("license extend row = %q", got)
	}
	if got := row(t, ok(t, env, "license", "extend", "acme-pro", "--expires", "never").stdout, "acme-pro"); got[7] != "never" {
		t.Errorf("license extend --expires never: %q", got)
	}
	es := decodeJSON[[]adminapi.AuditEntry](t, ok(t, env, "--json", "license", "audit", "acme-pro").stdout)
	// Each entry names the admin token that made the change.
	id, _, _ := token.Parse(token.PrefixAdmin, env["ISCD_ADMIN_TOKEN"])
	by := "by admin token " + id + " (dev)"
	if len(es) != 3 || es[1].Detail != "seats 3 -> 5, expires 2030-01-01T00:00:00Z -> 2031-06-30T00:00:00Z, "+by ||
		es[2].Detail != "expires 2031-06-30T00:00:00Z -> never, "+by {
		t.Errorf("the audit of extensions: %+v", es)
	}
	fails(t, env, exitUsage, []string{"--expires or --seats"}, "license", "extend", "acme-pro")
	fails(t, env, exitUsage, []string{"--seats \"0\""}, "license", "extend", "acme-pro", "--seats", "0")
	fails(t, env, exitError, []string{"licence nope not found"}, "license", "extend", "nope", "--seats", "2")
}

func TestSeats(t *testing.T) {
	srv, env := start(t)
	if r := ok(t, env, "seats", "list"); r.stdout != "" || !strings.Contains(r.stderr, "no seats in use") {
		t.Errorf("seats list with nobody connected: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	c := holdSeat(t, srv)

	r := ok(t, env, "seats", "list")
	rows := table(t, r.stdout)
	if len(rows) != 2 || strings.Join(rows[0], " ") != "ID LICENSE SESSION USER USERNAME NAME DEPARTMENT DEVICE ACQUIRED LEASE EXPIRES" {
		t.Fatalf("seats list printed\n%s", r.stdout)
	}
	seat := rows[1][0]
	if got := rows[1]; got[1] != server.DevLicense || got[2] != c.SessionID() || got[3] != server.DevUser {
		t.Errorf("seats list row = %q, want licence %s, session %s, user %s", got, server.DevLicense, c.SessionID(), server.DevUser)
	}
	seats := decodeJSON[[]store.Seat](t, ok(t, env, "--json", "seats", "list", "--license", server.DevLicense).stdout)
	if len(seats) != 1 || seats[0].ID != seat || seats[0].LeaseExpires.IsZero() {
		t.Errorf("seats list --json --license = %+v", seats)
	}
	fails(t, env, exitError, []string{"licence other not found", "HTTP 404"}, "seats", "list", "--license", "other")
	r = ok(t, env, "license", "show", server.DevLicense)
	if got := field(t, r.stdout, "Seats"); got != "5 (1 in use)" {
		t.Errorf("license show: Seats %q", got)
	}
	if got := row(t, r.stdout[strings.Index(r.stdout, "\n\n")+2:], seat); got[2] != c.SessionID() {
		t.Errorf("license show seat row = %q", got)
	}

	// An operator frees the seat; the program is told.
	if r := ok(t, env, "seats", "release", seat); r.stdout != "released seat "+seat+"\n" {
		t.Errorf("seats release printed %q", r.stdout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	nextEvent(ctx, t, c, func(e sdk.Event) bool {
		return e.Type == sdk.EventLicenseState && e.Params["state"] == sdk.LicenseReleased && e.Params["licenseId"] == server.DevLicense
	})
	if r := ok(t, env, "seats", "list"); r.stdout != "" {
		t.Errorf("seats list after release printed %q", r.stdout)
	}
	fails(t, env, exitError, []string{"seat " + seat + " not found", "HTTP 404"}, "seats", "release", seat)
	var events []string
	for _, r := range table(t, ok(t, env, "license", "audit", server.DevLicense).stdout)[1:] {
		events = append(events, r[1])
	}
	if !slices.Contains(events, "seat-released") {
		t.Errorf("license audit %s does not record the release: %q", server.DevLicense, events)
	}
}

func TestKeys(t *testing.T) {
	srv, env := start(t)
	r := ok(t, env, "key", "export-public", "--product", srv.Product)
	keys, err := license.ParsePublicKeys(r.stdout)
	if err != nil {
		t.Fatalf("key export-public printed what ParsePublicKeys rejects: %v\n%s", err, r.stdout)
	}
	if len(keys) != 1 || keys[0].Product != srv.Product || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("key export-public printed %q", r.stdout)
	}
	old := strings.TrimSpace(r.stdout)
	if k := decodeJSON[adminapi.PublicKeys](t, ok(t, env, "--json", "key", "export-public", "--product", srv.Product).stdout); k.ProductID != srv.Product || !slices.Equal(k.Keys, []string{old}) {
		t.Errorf("key export-public --json = %+v", k)
	}

	r = ok(t, env, "key", "rotate", "--product", srv.Product)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 2 || lines[0] != old {
		t.Fatalf("key rotate printed %q, want the old key then a new one", r.stdout)
	}
	if keys, err := license.ParsePublicKeys(r.stdout); err != nil || len(keys) != 2 || keys[1].Product != srv.Product {
		t.Errorf("ParsePublicKeys after rotate = %v, %v", keys, err)
	}
	if !strings.Contains(r.stderr, "ship the new key") {
		t.Errorf("key rotate does not say to ship the new key: %q", r.stderr)
	}
	if got := ok(t, env, "key", "export-public", "--product", srv.Product).stdout; got != r.stdout {
		t.Errorf("key export-public after rotate printed %q, rotate printed %q", got, r.stdout)
	}
	if k := decodeJSON[adminapi.PublicKeys](t, ok(t, env, "key", "rotate", "--product", srv.Product, "--json").stdout); len(k.Keys) != 3 {
		t.Errorf("key rotate --json = %+v, want 3 keys", k)
	}
}

func TestLicenseErrors(t *testing.T) {
	_, env := start(t)
	ok(t, env, "license", "create", "--org", server.DevOrg, "--id", "gone", "--seats", "1")
	ok(t, env, "license", "release", "gone")
	create := func(extra ...string) []string {
		return append([]string{"license", "create", "--org", server.DevOrg, "--seats", "1"}, extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		msgs []string
	}{
		{"show unknown licence", []string{"license", "show", "nope"}, exitError, []string{"licence nope not found", "HTTP 404"}},
		{"freeze unknown licence", []string{"license", "freeze", "nope"}, exitError, []string{"licence nope not found", "HTTP 404"}},
		{"release unknown licence", []string{"license", "release", "nope"}, exitError, []string{"licence nope not found", "HTTP 404"}},
		{"unfreeze a released licence", []string{"license", "unfreeze", "gone"}, exitError, []string{"licence gone was released", "HTTP 409"}},
		{"freeze a released licence", []string{"license", "freeze", "gone"}, exitError, []string{"licence gone was released", "HTTP 409"}},
		{"release an unknown seat", []string{"seats", "release", "nope"}, exitError, []string{"seat nope not found", "HTTP 404"}},
		{"keys of an unknown product", []string{"key", "export-public", "--product", "nope"}, exitError, []string{"product nope not found", "HTTP 404"}},
		{"rotate an unknown product", []string{"key", "rotate", "--product", "nope"}, exitError, []string{"product nope not found", "HTTP 404"}},
		{"keys without a product", []string{"key", "export-public"}, exitUsage, []string{"--product is required"}},
		{"licence of an unknown org", create("--org", "nope"), exitError, []string{"not found", "HTTP 404"}},
		{"duplicate licence", create("--id", "gone"), exitError, []string{"already exists", "HTTP 409"}},
		{"too many seats", create("--seats", "100001"), exitError, []string{"seats must be 1 to 100000", "HTTP 400"}},
		{"missing seats", []string{"license", "create", "--org", "demo"}, exitUsage, []string{"--seats is required"}},
		{"seats not a number", create("--seats", "many"), exitUsage, []string{`--seats "many" is not a number of seats`, "usage: iscctl license create"}},
		{"no seats", create("--seats", "0"), exitUsage, []string{`--seats "0" is not a number of seats`}},
		{"bad kind", create("--kind", "dongle"), exitUsage, []string{`--kind "dongle": want floating or node-locked`}},
		{"no such day", create("--expires", "2026-02-30"), exitUsage, []string{`--expires "2026-02-30" is not an RFC 3339 time`, "+DURATION"}},
		{"time without zone", create("--effective", "2026-01-01T10:00:00"), exitUsage, []string{`--effective "2026-01-01T10:00:00" is not an RFC 3339 time`}},
		{"relative effective", create("--effective", "+3d"), exitUsage, []string{`--effective "+3d" is not`}},
		{"relative expiry in the past", create("--expires", "+-1d"), exitUsage, []string{"must be a positive duration"}},
		{"expiry before start", create("--effective", "2027-01-01", "--expires", "2026-06-01"), exitUsage, []string{"--expires 2026-06-01T00:00:00Z is not after --effective 2027-01-01T00:00:00Z"}},
		{"grace in weeks", create("--grace", "1w"), exitUsage, []string{`--grace "1w" is not a duration`}},
		{"negative grace", create("--grace", "-1h"), exitUsage, []string{`--grace "-1h" is negative`}},
		{"fractional offline grace", create("--offline-grace", "1.5s"), exitUsage, []string{"not a whole number of seconds"}},
		{"bad audit limit", []string{"license", "audit", "gone", "--limit", "0"}, exitUsage, []string{`--limit "0" is not a number from 1 to 10000`}},
		{"missing licence id", []string{"license", "show"}, exitUsage, []string{"want ID"}},
		{"trial takes no value", create("--trial=maybe"), exitUsage, []string{"invalid boolean value"}},
	} {
		t.Run(tc.name, func(t *testing.T) { fails(t, env, tc.code, tc.msgs, tc.args...) })
	}

	// A bad value is a wrong command line even where no service is set up.
	fails(t, map[string]string{}, exitUsage, []string{`--seats "x"`}, "license", "create", "--org", "o", "--seats", "x")

	// With a second product, --product must be given.
	ok(t, env, "product", "create", "--id", "cad", "--name", "CAD")
	fails(t, env, exitUsage, []string{"--product is required: iscd has 2 products (cad, " + server.DevProduct + ")"}, create()...)
	if r := ok(t, env, "license", "list", "--org", server.DevOrg); len(table(t, r.stdout)) != 3 {
		t.Errorf("a failed create made a licence:\n%s", r.stdout)
	}
}

func TestDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"7d": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "0d": 0, "90m": 90 * time.Minute, "0": 0, "2d30m15s": 48*time.Hour + 30*time.Minute + 15*time.Second,
	} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "1.5d", "-1d", "1d-1h", "1dd", "99999999d", "1w", "h7d"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		}
	}
	for d, want := range map[time.Duration]string{
		0: "0s", 7 * 24 * time.Hour: "7d", 36 * time.Hour: "1d12h", time.Hour: "1h", 90 * time.Minute: "1h30m",
		24*time.Hour + 30*time.Second: "1d30s", 1500 * time.Millisecond: "1.5s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := parseDuration(formatDuration(d)); err != nil || back != d {
			t.Errorf("parseDuration(formatDuration(%v)) = %v, %v", d, back, err)
		}
	}
}

// iscctl audit: the audit log across licences, newest first, one
// organisation's or one licence's, a page at a time with the next page's
// command on stderr.
func TestAuditLog(t *testing.T) {
	_, env := start(t)
	ok(t, env, "org", "create", "--name", "Acme", "--id", "acme")
	ok(t, env, "license", "create", "--org", "acme", "--id", "acme-pro", "--seats", "1")
	ok(t, env, "license", "freeze", "acme-pro")
	ok(t, env, "license", "freeze", server.DevLicense)
	ok(t, env, "license", "unfreeze", "acme-pro")
	// columns: TIME LICENCE ORG EVENT ... (the time is one word)
	lines := func(out string) []string {
		var got []string
		for _, r := range table(t, out)[1:] {
			got = append(got, r[1]+" "+r[2]+" "+r[3])
		}
		return got
	}
	r := ok(t, env, "audit")
	if got := table(t, r.stdout)[0]; strings.Join(got, " ") != "TIME LICENCE ORG EVENT SESSION USER DETAIL" {
		t.Fatalf("audit's header: %q", got)
	}
	if got := lines(r.stdout); len(got) < 4 || !slices.Equal(got[:4], []string{"acme-pro acme active", server.DevLicense + " " + server.DevOrg + " frozen", "acme-pro acme frozen", "acme-pro acme created"}) {
		t.Errorf("audit, newest first:\n%s", r.stdout)
	}
	if got := lines(ok(t, env, "audit", "--org", "acme").stdout); !slices.Equal(got, []string{"acme-pro acme active", "acme-pro acme frozen", "acme-pro acme created"}) {
		t.Errorf("audit --org acme: %q", got)
	}
	r = ok(t, env, "audit", "--license", "acme-pro", "--limit", "2")
	if got := lines(r.stdout); !slices.Equal(got, []string{"acme-pro acme active", "acme-pro acme frozen"}) {
		t.Errorf("audit --license acme-pro --limit 2: %q", got)
	}
	more, found := strings.CutPrefix(strings.TrimSpace(r.stderr), "more: iscctl audit --license 'acme-pro' --limit 2 --cursor '")
	if !found || !strings.HasSuffix(more, "'") {
		t.Fatalf("audit's next page on stderr: %q", r.stderr)
	}
	r = ok(t, env, "audit", "--license", "acme-pro", "--limit", "2", "--cursor", strings.TrimSuffix(more, "'"))
	if got := lines(r.stdout); !slices.Equal(got, []string{"acme-pro acme created"}) || strings.Contains(r.stderr, "more:") {
		t.Errorf("audit's second page: %q, stderr %q", got, r.stderr)
	}
	page := decodeJSON[adminapi.AuditLog](t, ok(t, env, "--json", "audit", "--org", server.DevOrg, "--limit", "1").stdout)
	if len(page.Entries) != 1 || page.Entries[0].Event != "frozen" || page.Entries[0].LicenseID != server.DevLicense || page.Next == "" {
		t.Errorf("audit --json: %+v", page)
	}
	fails(t, env, exitUsage, []string{`--limit "0" is not a number from 1 to 1000`}, "audit", "--limit", "0")
	fails(t, env, exitError, []string{"org nowhere not found"}, "audit", "--org", "nowhere")
	fails(t, env, exitError, []string{"licence gone not found"}, "audit", "--license", "gone")
	fails(t, env, exitError, []string{`cursor "x": not one this list gave`}, "audit", "--cursor", "x")
	if got := lines(ok(t, env, "audit", "--license", "acme-pro", "--org", server.DevOrg).stdout); len(got) != 0 {
		t.Errorf("audit of acme's licence in another organisation: %q", got)
	}
}
