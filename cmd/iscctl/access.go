package main

// Access: the admin token iscctl sends, where it comes from, where it may
// go, and the role each command needs.

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
)

// stdin is where --token-stdin reads the token.
var stdin io.Reader = os.Stdin

// maxTokenInput bounds what --token-file and --token-stdin read.
const maxTokenInput = 4 << 10

// commandRoles is the role each admin command needs: iscctl asks for no
// more than this (docs/admin.md lists it too). Commands not named here
// need no admin token (offline ones, and the file commands, which use a
// user's session; unlock --force needs licenses).
var commandRoles = map[string]adminapi.Role{
	"org create": adminapi.RoleLicenses, "org list": adminapi.RoleReadOnly,
	"user create": adminapi.RoleLicenses, "user list": adminapi.RoleReadOnly,
	"token create": adminapi.RoleLicenses, "token list": adminapi.RoleReadOnly, "token revoke": adminapi.RoleLicenses,
	"admin-token create": adminapi.RoleOwner, "admin-token list": adminapi.RoleOwner, "admin-token revoke": adminapi.RoleOwner,
	"product create": adminapi.RoleOwner, "product update": adminapi.RoleOwner, "product list": adminapi.RoleReadOnly,
	"session list": adminapi.RoleReadOnly, "session end": adminapi.RoleLicenses, "session disconnect": adminapi.RoleLicenses,
	"notice send":    adminapi.RoleLicenses,
	"license create": adminapi.RoleLicenses, "license list": adminapi.RoleReadOnly, "license show": adminapi.RoleReadOnly,
	"license freeze": adminapi.RoleLicenses, "license unfreeze": adminapi.RoleLicenses, "license release": adminapi.RoleLicenses,
	"license extend": adminapi.RoleLicenses,
	"license audit":  adminapi.RoleReadOnly, "audit": adminapi.RoleReadOnly,
	"seats list": adminapi.RoleReadOnly, "seats release": adminapi.RoleLicenses,
	"key export-public": adminapi.RoleReadOnly, "key rotate": adminapi.RoleOwner,
	"unlock":    adminapi.RoleLicenses, // with --force
	"jobs list": adminapi.RoleReadOnly, "jobs show": adminapi.RoleReadOnly, "jobs cancel": adminapi.RoleCompute,
	"jobs logs": adminapi.RoleReadOnly, "workers list": adminapi.RoleReadOnly,
	"worker token": adminapi.RoleCompute, "worker tokens": adminapi.RoleReadOnly, "worker revoke": adminapi.RoleCompute,
	"solver list": adminapi.RoleReadOnly, "solver set": adminapi.RoleCompute, "solver delete": adminapi.RoleCompute,
	"usage": adminapi.RoleReadOnly, "storage": adminapi.RoleReadOnly,
	"release publish": adminapi.RoleReleases, "release list": adminapi.RoleReadOnly, "release withdraw": adminapi.RoleReleases,
}

// roleText says which admin token a command needs, for its help.
func roleText(r adminapi.Role) string {
	switch r {
	case adminapi.RoleOwner:
		return "an owner's admin token"
	case adminapi.RoleReadOnly:
		return "an admin token of any role (read-only is enough)"
	}
	return fmt.Sprintf("an admin token with role %s (or owner)", r)
}

// tokenFlag is --token: it works, but says where the token can be seen.
type tokenFlag struct {
	v   *string
	set *bool
}

func (f tokenFlag) String() string {
	if f.v == nil {
		return ""
	}
	return *f.v
}

func (f tokenFlag) Set(s string) error { *f.v, *f.set = s, true; return nil }

func (g *globals) registerAccess(fs *flag.FlagSet) {
	fs.Var(tokenFlag{&g.token, &g.tokenOnCommandLine}, "token", "an admin token, isa_... (visible to other users in ps: prefer $ISCD_ADMIN_TOKEN, --token-file or --token-stdin)")
	fs.StringVar(&g.tokenFile, "token-file", g.tokenFile, "read the admin token from this file")
	fs.BoolVar(&g.tokenStdin, "token-stdin", g.tokenStdin, "read the admin token from standard input (its first line)")
	fs.BoolVar(&g.insecure, "insecure", g.insecure, "allow http:// (or ws://) to a host that is not this machine: the token crosses the network in clear")
}

// adminToken returns the admin token from --token-stdin, --token-file,
// --token or $ISCD_ADMIN_TOKEN, whichever is given (only one of the
// first three may be).
func (g *globals) adminToken() (string, error) {
	n := 0
	for _, given := range []bool{g.tokenStdin, g.tokenFile != "", g.tokenOnCommandLine} {
		if given {
			n++
		}
	}
	if n > 1 {
		return "", badFlag("give the admin token one way: --token-stdin, --token-file or --token")
	}
	switch {
	case g.tokenStdin:
		return readToken(stdin, "standard input")
	case g.tokenFile != "":
		f, err := os.Open(g.tokenFile)
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		defer f.Close()
		return readToken(f, g.tokenFile)
	}
	return strings.TrimSpace(g.token), nil
}

// readToken reads a token: the first line, without spaces around it.
func readToken(r io.Reader, from string) (string, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxTokenInput))
	sc.Buffer(make([]byte, 0, 512), maxTokenInput)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return "", fmt.Errorf("read the admin token from %s: %w", from, err)
		}
		return "", fmt.Errorf("no admin token in %s", from)
	}
	tok := strings.TrimSpace(sc.Text())
	if tok == "" {
		return "", fmt.Errorf("no admin token on the first line of %s", from)
	}
	return tok, nil
}

// checkAdminURL refuses to send a token in clear to another machine.
func checkAdminURL(raw string, insecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("admin URL %q is not an http:// or https:// URL (--url, $ISCD_ADMIN_URL)", raw)
	}
	if u.Scheme == "http" && !insecure && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("refusing to send the admin token over plain http:// to %s: anyone on the network path could read it "+
			"and use it. Use https://, or --insecure if this network is trusted", u.Host)
	}
	return u, nil
}

// isLoopback reports whether host is this machine (no name is looked up:
// only localhost and loopback addresses count).
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// forbiddenHint is the hint for a call refused for the token's role.
func forbiddenHint(x *call, name string) string {
	need, ok := commandRoles[name]
	if !ok {
		return ""
	}
	return fmt.Sprintf("'iscctl %s' needs %s; an owner makes one with 'iscctl admin-token create --role %s'", name, roleText(need), need)
}

var adminTokenHeader = []string{"ID", "ROLE", "NAME", "CREATED", "EXPIRES", "STATUS", "USER"}

func adminTokenRow(t adminapi.AdminToken) []string {
	status := "active"
	switch {
	case t.Revoked:
		status = "revoked"
	case !t.Expires.IsZero() && !time.Now().Before(t.Expires):
		status = "expired"
	}
	expires := when(t.Expires)
	if expires == "" {
		expires = "never"
	}
	return []string{t.ID, string(t.Role), t.Name, when(t.Created), expires, status, t.UserID}
}

// flagGates reads --require-license: a comma list of compute and files,
// or none. Unset is nil.
func flagGates(x *call) (*adminapi.LicenseGates, error) {
	v := strings.TrimSpace(x.flags["require-license"])
	if v == "" {
		return nil, nil
	}
	g := &adminapi.LicenseGates{}
	if v == "none" {
		return g, nil
	}
	for _, use := range strings.Split(v, ",") {
		switch strings.TrimSpace(use) {
		case "compute":
			g.Compute = true
		case "files":
			g.Files = true
		default:
			return nil, badFlag("--require-license %q: want compute, files, compute,files or none", v)
		}
	}
	return g, nil
}

func gatesText(g *adminapi.LicenseGates) string {
	if g == nil {
		return "undecided"
	}
	var uses []string
	if g.Compute {
		uses = append(uses, "compute")
	}
	if g.Files {
		uses = append(uses, "files")
	}
	if len(uses) == 0 {
		return "none"
	}
	return strings.Join(uses, ",")
}

const requireLicenseUsage = "what needs an active licence of the product: compute, files, compute,files or none"

func init() {
	roles := make([]string, len(adminapi.Roles))
	for i, r := range adminapi.Roles {
		roles[i] = string(r)
	}
	commands = append(commands,
		command{
			name: "admin-token create", summary: "create an admin token with a role (shown once), or grant a user the role",
			about: "Roles: " + strings.Join(roles, ", ") + " (docs/admin.md says what each may do). The token is printed once,\n" +
				"alone on stdout; iscd keeps only its hash. --expires takes a duration from now (30d, 12h), +DURATION,\n" +
				"an RFC 3339 time or a day (2026-01-02).\n" +
				"With --user, no token is made: the user is granted the role in the web console, which they sign into\n" +
				"through iscd's browser sign-in (their organisation's identity provider). Grant users of your own\n" +
				"organisation only: whoever runs the user's identity provider can then sign in with the role.\n" +
				"A user holds one grant at a time; 'admin-token list' shows it, 'admin-token revoke' ends it.",
			flags: []flagSpec{
				{"role", "ROLE", "what the token may do: " + strings.Join(roles, ", "), true},
				{"expires", "WHEN", "when it stops working, e.g. 30d (default: never)", false},
				{"name", "N", "what the token is for, e.g. a person or a pipeline", false},
				{"user", "USER_ID", "grant the role to this user in the web console instead of making a token", false},
			},
			run: func(x *call) error {
				role, err := adminapi.ParseRole(strings.TrimSpace(x.flags["role"]))
				if err != nil {
					return badFlag("--role: %v", err)
				}
				expires, err := flagExpiry(x, time.Now())
				if err != nil {
					return err
				}
				var t adminapi.NewAdminToken
				req := adminapi.CreateAdminToken{Role: role, Name: x.flags["name"], Expires: expires, UserID: strings.TrimSpace(x.flags["user"])}
				if req.UserID != "" {
					return x.do("POST", "/admin-tokens", req, &t.AdminToken, func() {
						x.table("", adminTokenHeader, [][]string{adminTokenRow(t.AdminToken)})
						fmt.Fprintf(x.stderr, "Granted role %s to user %s (grant %s): they sign into the web console through the browser "+
							"sign-in. No token was made. 'iscctl admin-token revoke %s' ends the grant.\n", t.Role, t.UserID, t.ID, t.ID)
					})
				}
				return x.do("POST", "/admin-tokens", req, &t, func() {
					fmt.Fprintln(x.stdout, t.Secret)
					until := "never expires"
					if !t.Expires.IsZero() {
						until = "expires " + when(t.Expires)
					}
					fmt.Fprintf(x.stderr, "Created admin token %s with role %s; it %s.\nCopy it now: it is not shown again. "+
						"Give it to iscctl with $ISCD_ADMIN_TOKEN, --token-file or --token-stdin.\n", t.ID, t.Role, until)
				})
			},
		},
		command{
			name: "admin-token list", summary: "list admin tokens and operator grants (never a secret)",
			run: func(x *call) error {
				var ts []adminapi.AdminToken
				return x.do("GET", "/admin-tokens", nil, &ts, func() { x.table("admin tokens", adminTokenHeader, rows(ts, adminTokenRow)) })
			},
		},
		command{
			name: "admin-token revoke", summary: "revoke an admin token or operator grant", args: []string{"ID"},
			about: "It stops working at once (a grant's console sessions end at their next request). The last owner\n" +
				"token that works cannot be revoked: create another first.",
			run: func(x *call) error {
				return x.do("DELETE", "/admin-tokens/"+url.PathEscape(x.args[0]), nil, nil, func() {
					fmt.Fprintf(x.stdout, "revoked admin token %s\n", x.args[0])
				})
			},
		},
		command{
			name: "product update", summary: "change a product's name or licence gates", args: []string{"ID"},
			about: "--require-license says what an organisation needs an active licence of the product for: compute\n" +
				"(solves), files (cloud files), both, or none. Without one, or with a frozen one, those calls are\n" +
				"refused (license_required, license_frozen) and a frozen licence's running jobs are canceled.",
			flags: []flagSpec{
				{"name", "N", "the product's new name", false},
				{"require-license", "USES", requireLicenseUsage, false},
			},
			run: func(x *call) error {
				gates, err := flagGates(x)
				if err != nil {
					return err
				}
				req := adminapi.UpdateProduct{RequireLicense: gates}
				if v := x.flags["name"]; v != "" {
					req.Name = &v
				}
				if req.Name == nil && req.RequireLicense == nil {
					return badFlag("nothing to change: give --name or --require-license")
				}
				var p adminapi.Product
				return x.do("PATCH", "/products/"+url.PathEscape(x.args[0]), req, &p,
					func() { x.table("", productHeader, [][]string{productRow(p)}) })
			},
		},
	)
	// Keep each group together in the usage, where its first command is
	// (product update after product create), admin-token after token.
	first := map[string]int{}
	for i, c := range commands {
		group, _, _ := strings.Cut(c.name, " ")
		if _, ok := first[group]; !ok {
			first[group] = i
		}
	}
	first["admin-token"] = first["token"]
	rank := func(c command) int { group, _, _ := strings.Cut(c.name, " "); return first[group] }
	slices.SortStableFunc(commands, func(a, b command) int { return rank(a) - rank(b) })
}

// flagExpiry reads --expires: a duration from now (30d), +DURATION, or a
// date. Unset is the zero time (never).
func flagExpiry(x *call, now time.Time) (time.Time, error) {
	v := strings.TrimSpace(x.flags["expires"])
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := parseDuration(v); err == nil {
		if d <= 0 {
			return time.Time{}, badFlag("--expires %q: want a positive duration", v)
		}
		return now.Add(d).UTC().Truncate(time.Second), nil
	}
	return flagTime(x, "expires", now, true)
}

var errNoToken = errors.New("no admin token: set $ISCD_ADMIN_TOKEN, --token-file FILE or --token-stdin (iscd writes the first one, an owner's, to DATA/admin.token)")
