package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
)

// createLicense runs "license create". Every flag is checked before the
// first call, so a typo creates nothing.
func createLicense(x *call) error {
	now := time.Now()
	req := adminapi.CreateLicense{
		ID: x.flags["id"], OrgID: x.flags["org"], ProductID: x.flags["product"], Edition: x.flags["edition"],
		Kind: strings.TrimSpace(x.flags["kind"]), Trial: x.flags["trial"] != "",
	}
	for _, f := range strings.Split(x.flags["features"], ",") {
		if f = strings.TrimSpace(f); f != "" {
			req.Features = append(req.Features, f)
		}
	}
	if req.Kind != "" && req.Kind != adminapi.KindFloating && req.Kind != adminapi.KindNodeLocked {
		return badFlag("--kind %q: want %s or %s", req.Kind, adminapi.KindFloating, adminapi.KindNodeLocked)
	}
	seats, err := strconv.Atoi(strings.TrimSpace(x.flags["seats"]))
	if err != nil || seats < 1 {
		return badFlag("--seats %q is not a number of seats (1 or more)", x.flags["seats"])
	}
	req.Seats = seats
	if req.EffectiveAt, err = flagTime(x, "effective", now, false); err != nil {
		return err
	}
	if req.ExpiresAt, err = flagTime(x, "expires", now, true); err != nil {
		return err
	}
	if !req.ExpiresAt.IsZero() && !req.EffectiveAt.IsZero() && !req.ExpiresAt.After(req.EffectiveAt) {
		return badFlag("--expires %s is not after --effective %s", when(req.ExpiresAt), when(req.EffectiveAt))
	}
	if req.GraceSeconds, err = flagSeconds(x, "grace"); err != nil {
		return err
	}
	if req.OfflineGraceSeconds, err = flagSeconds(x, "offline-grace"); err != nil {
		return err
	}
	if req.ProductID == "" {
		if req.ProductID, err = soleProduct(x); err != nil {
			return err
		}
	}
	var l adminapi.License
	return x.do("POST", "/licenses", req, &l, func() { x.table("", licenseHeader, [][]string{licenseRow(l)}) })
}

// soleProduct returns the id of iscd's only product, for a --product left
// out; with more than one, the operator must say which.
func soleProduct(x *call) (string, error) {
	api, err := x.client()
	if err != nil {
		return "", err
	}
	var ps []adminapi.Product
	if err := api.Do(x.ctx, "GET", "/products", nil, &ps); err != nil {
		return "", err
	}
	switch len(ps) {
	case 0:
		return "", fmt.Errorf("iscd has no products; register one with 'iscctl product create'")
	case 1:
		return ps[0].ID, nil
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return "", badFlag("--product is required: iscd has %d products (%s)", len(ps), strings.Join(ids, ", "))
}

// setLicenseStatus returns the run of "license freeze|unfreeze|release".
// iscd answers a licence already in the wanted state as a success, so the
// message states the licence's status, not that it changed.
func setLicenseStatus(action string) func(x *call) error {
	return func(x *call) error {
		var l adminapi.License
		return x.do("POST", "/licenses/"+url.PathEscape(x.args[0])+"/"+action, nil, &l, func() {
			fmt.Fprintf(x.stdout, "licence %s is %s\n", l.ID, strings.ToLower(l.Status))
		})
	}
}

// extendLicense runs "license extend".
func extendLicense(x *call) error {
	var req adminapi.UpdateLicense
	switch v := strings.TrimSpace(x.flags["expires"]); v {
	case "":
	case "never":
		req.ExpiresAt = &time.Time{}
	default:
		t, err := flagTime(x, "expires", time.Now(), true)
		if err != nil {
			return err
		}
		req.ExpiresAt = &t
	}
	if v := x.flags["seats"]; v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return badFlag("--seats %q is not a number of seats (1 or more)", v)
		}
		req.Seats = &n
	}
	if req.ExpiresAt == nil && req.Seats == nil {
		return badFlag("say what changes: --expires or --seats")
	}
	var l adminapi.License
	return x.do("PATCH", "/licenses/"+url.PathEscape(x.args[0]), req, &l, func() { x.table("", licenseHeader, [][]string{licenseRow(l)}) })
}

var (
	licenseHeader = []string{"ID", "ORG", "PRODUCT", "EDITION", "KIND", "SEATS", "STATUS", "EXPIRES"}
	seatHeader    = []string{"ID", "LICENSE", "SESSION", "USER", "DEVICE", "ACQUIRED", "LEASE EXPIRES"}
)

func licenseRow(l adminapi.License) []string {
	return []string{l.ID, l.OrgID, l.ProductID, l.Edition, l.Kind, strconv.Itoa(l.Seats), status(l), expires(l.ExpiresAt)}
}

func seatRow(s adminapi.Seat) []string {
	return []string{s.ID, s.LicenseID, s.SessionID, s.UserID, shorten(s.Device, 24), when(s.Acquired), when(s.LeaseExpires)}
}

// status is a licence's status in the lower case of iscctl's tables, with
// a trial marked: "active", "frozen,trial".
func status(l adminapi.License) string {
	s := strings.ToLower(l.Status)
	if l.Trial {
		s += ",trial"
	}
	return s
}

func expires(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return when(t)
}

// showLicense prints a licence's fields, one a line, then its seats.
func (x *call) showLicense(d adminapi.LicenseDetail) error {
	l := d.License
	trial := "no"
	if l.Trial {
		trial = "yes"
	}
	fields := [][2]string{
		{"ID", l.ID}, {"Org", l.OrgID}, {"Product", l.ProductID}, {"Edition", l.Edition},
		{"Features", strings.Join(l.Features, ", ")}, {"Kind", l.Kind},
		{"Seats", fmt.Sprintf("%d (%d in use)", l.Seats, len(d.SeatsInUse))},
		{"Status", strings.ToLower(l.Status)}, {"Trial", trial},
		{"Effective", when(l.EffectiveAt)}, {"Expires", expires(l.ExpiresAt)},
		{"Grace", formatDuration(time.Duration(l.GraceSeconds) * time.Second)}, {"Offline grace", formatDuration(time.Duration(l.OfflineGraceSeconds) * time.Second)},
		{"Created", when(l.Created)}, {"Updated", when(l.Updated)},
	}
	// Marketplace bookkeeping, only on licences that came from an order.
	for _, f := range [][2]string{{"Instance", l.InstanceID}, {"Order", l.OrderID}, {"Order line", l.OrderLineID}, {"Licence code", l.LicenseCode}} {
		if f[1] != "" {
			fields = append(fields, f)
		}
	}
	tw := tabwriter.NewWriter(x.stdout, 0, 0, 2, ' ', 0)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], clean(f[1]))
	}
	tw.Flush()
	if len(d.SeatsInUse) > 0 {
		fmt.Fprintln(x.stdout)
		x.table("", seatHeader, rows(d.SeatsInUse, seatRow))
	}
	return nil
}

// lines prints each of ss on a line of its own.
func (x *call) lines(ss []string) {
	for _, s := range ss {
		fmt.Fprintln(x.stdout, clean(s))
	}
}

// flagTime reads a date flag: RFC 3339, a day (2006-01-02, 00:00 UTC), or
// with relative set "+DURATION" from now. Unset is the zero time.
func flagTime(x *call, name string, now time.Time, relative bool) (time.Time, error) {
	v := strings.TrimSpace(x.flags[name])
	if v == "" {
		return time.Time{}, nil
	}
	if rest, ok := strings.CutPrefix(v, "+"); ok && relative {
		d, err := parseDuration(rest)
		if err != nil || d <= 0 {
			return time.Time{}, badFlag("--%s %q: +DURATION must be a positive duration such as +30d or +12h", name, v)
		}
		return now.Add(d).UTC().Truncate(time.Second), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	want := "an RFC 3339 time (2026-01-02T15:04:05Z) or a day (2026-01-02)"
	if relative {
		want += " or +DURATION (+30d)"
	}
	return time.Time{}, badFlag("--%s %q is not %s", name, v, want)
}

// flagSeconds reads a duration flag as whole seconds, as the API takes
// it; unset is 0.
func flagSeconds(x *call, name string) (int64, error) {
	v := strings.TrimSpace(x.flags[name])
	if v == "" {
		return 0, nil
	}
	d, err := parseDuration(v)
	switch {
	case err != nil:
		return 0, badFlag("--%s %q is not a duration such as 7d, 36h or 1d12h", name, v)
	case d < 0:
		return 0, badFlag("--%s %q is negative", name, v)
	case d%time.Second != 0:
		return 0, badFlag("--%s %q is not a whole number of seconds", name, v)
	}
	return int64(d / time.Second), nil
}

// maxDays bounds the day unit so that a duration cannot overflow.
const maxDays = 100 * 366

// parseDuration is time.ParseDuration with a leading day unit: "7d",
// "1d12h". A day is 24 hours.
func parseDuration(s string) (time.Duration, error) {
	days, rest, ok := strings.Cut(s, "d")
	if !ok {
		return time.ParseDuration(s)
	}
	n, err := strconv.ParseUint(days, 10, 32)
	if err != nil || n > maxDays {
		return 0, fmt.Errorf("bad number of days in %q", s)
	}
	d := time.Duration(n) * 24 * time.Hour
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil || r < 0 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		d += r
	}
	return d, nil
}

// formatDuration writes d as parseDuration reads it, days first and
// without zero units: 7d, 1d12h, 90m, 0.
func formatDuration(d time.Duration) string {
	if d <= 0 {
		return d.String()
	}
	var s string
	if days := d / (24 * time.Hour); days > 0 {
		s = strconv.FormatInt(int64(days), 10) + "d"
		d -= days * 24 * time.Hour
	}
	if d > 0 {
		r := d.String() // e.g. 12h0m0s, 1h30m0s, 1.5s
		if strings.HasSuffix(r, "m0s") {
			r = strings.TrimSuffix(r, "0s")
		}
		if strings.HasSuffix(r, "h0m") {
			r = strings.TrimSuffix(r, "0m")
		}
		s += r
	}
	return s
}

// auditLog prints a page of the audit log across licences, newest first
// (GET /admin/v1/audit), and the command of the next page on stderr.
func auditLog(x *call) error {
	path := query(query("/audit", "license", x.flags["license"]), "org", x.flags["org"])
	cmd := "audit"
	for _, f := range []string{"license", "org"} {
		if v := x.flags[f]; v != "" {
			cmd += " --" + f + " " + shellQuote(v)
		}
	}
	if v := strings.TrimSpace(x.flags["limit"]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > adminapi.MaxAuditLimit {
			return badFlag("--limit %q is not a number from 1 to %d", v, adminapi.MaxAuditLimit)
		}
		path = query(path, "limit", strconv.Itoa(n))
		cmd += " --limit " + strconv.Itoa(n)
	}
	path = query(path, "cursor", x.flags["cursor"])
	var page adminapi.AuditLog
	return x.do("GET", path, nil, &page, func() {
		defer x.morePages(cmd, page.Next)
		x.table("audit entries", []string{"TIME", "LICENCE", "ORG", "EVENT", "SESSION", "USER", "DETAIL"}, rows(page.Entries, func(e adminapi.AuditEntry) []string {
			return []string{when(e.Time), e.LicenseID, e.OrgID, e.Event, e.SessionID, e.UserID, e.Detail}
		}))
	})
}
