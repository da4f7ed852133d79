// Command iscctl manages an iscd service through its admin API: orgs,
// users, API tokens, products, sessions, notices, licences, seats,
// licence signing keys, and compute (jobs, workers, solvers, usage). Its
// file commands (ls, put, get, history, lock,
// unlock) work on a user's cloud files over an SDK session.
//
//	iscctl [--url URL] [--token-file FILE | --token-stdin] [--json] <command> [flags]
//	iscctl help [command]
//
// The admin URL comes from --url or $ISCD_ADMIN_URL; the admin token from
// $ISCD_ADMIN_TOKEN, --token-file or --token-stdin (iscd serve --dev
// writes both to DATA/dev.env; otherwise the first admin token, an
// owner's, is in DATA/admin.token). --token works too but warns: other
// users see a command line. Each command needs an admin token of a role
// (its --help says which; docs/admin.md lists them): give it the least
// one. A plain http:// URL to another machine is refused unless
// --insecure.
// The file commands take the user's endpoint, API token and product from
// --endpoint, --user-token and --product, or $ISCSDK_ENDPOINT,
// $ISCSDK_TOKEN and $ISCSDK_PRODUCT, or the SDK's credentials file.
//
// Results go to stdout as aligned tables, or with --json as the API's JSON,
// indented; errors go to stderr. The exit code is 0 on success, 1 when the
// call fails and 2 when the command line is wrong.
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/sdk"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the call failed
	exitUsage = 2 // the command line is wrong
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// command is one iscctl command: the words that name it, what it takes and
// what it does.
type command struct {
	name    string // e.g. "org create"
	summary string
	about   string // more for the command's --help; optional
	args    []string
	flags   []flagSpec
	offline bool // needs no --url or --token
	// user: a user's command over an SDK session (the file commands): it
	// takes --endpoint, --user-token and --product.
	user bool
	// transfer: moves file content; it has no time limit and shows a
	// progress bar when stderr is a terminal.
	transfer bool
	// long: runs until it is done or Ctrl-C (jobs logs --follow), with
	// no time limit.
	long bool
	run  func(x *call) error
}

// flagSpec is a flag of a command: a string flag, or a boolean one when
// arg is "" (x.flags holds "true" or "").
type flagSpec struct {
	name, arg, usage string
	required         bool
}

// call is one run of a command: its parsed command line and where it writes.
type call struct {
	ctx    context.Context
	name   string // the command's, e.g. "license freeze"
	g      globals
	api    *adminapi.Client // made by the first call; see client
	flags  map[string]string
	args   []string
	stdout io.Writer
	stderr io.Writer
	term   bool // stderr is a terminal: progress bars are drawn
}

var commands = []command{
	{
		name: "org create", summary: "create an organisation",
		flags: []flagSpec{{"name", "N", "the organisation's name", true}, {"id", "ID", "its id (default: generated, org_...)", false}},
		run: func(x *call) error {
			var o adminapi.Org
			return x.do("POST", "/orgs", adminapi.CreateOrg{ID: x.flags["id"], Name: x.flags["name"]}, &o,
				func() { x.table("", orgHeader, [][]string{orgRow(o)}) })
		},
	},
	{
		name: "org list", summary: "list organisations",
		run: func(x *call) error {
			var orgs []adminapi.Org
			return x.do("GET", "/orgs", nil, &orgs, func() {
				x.table("organisations", orgHeader, rows(orgs, orgRow))
			})
		},
	},
	{
		name: "user create", summary: "create a user in an organisation",
		flags: []flagSpec{
			{"org", "O", "the organisation's id", true}, {"name", "N", "the user's name", true},
			{"email", "E", "the user's email address", false}, {"id", "ID", "the user's id (default: generated, usr_...)", false},
			{"role", "R", "user (default) or admin: an admin sees the organisation in the console", false},
		},
		run: func(x *call) error {
			var u adminapi.User
			req := adminapi.CreateUser{ID: x.flags["id"], OrgID: x.flags["org"], Name: x.flags["name"], Email: x.flags["email"], Role: x.flags["role"]}
			return x.do("POST", "/users", req, &u, func() { x.table("", userHeader, [][]string{userRow(u)}) })
		},
	},
	{
		name: "user list", summary: "list users with their role, department and status (also: iscctl users)",
		about: "Status: active, disabled (enable=false), revoked (the marketplace withdrew the authorisation),\n" +
			"deleted. A user with a USERNAME came from the marketplace's authSync.",
		flags: []flagSpec{{"org", "O", "only the users of this organisation", false}},
		run: func(x *call) error {
			var users []adminapi.User
			return x.do("GET", query("/users", "org", x.flags["org"]), nil, &users, func() {
				x.table("users", userHeader, rows(users, userRow))
			})
		},
	},
	{
		name: "token create", summary: "create a user's API token (shown once)",
		about: "The token is printed once, alone on stdout; iscd keeps only its hash.",
		flags: []flagSpec{{"user", "U", "the user's id", true}, {"name", "N", "what the token is for, e.g. a machine", false}},
		run: func(x *call) error {
			var t adminapi.NewToken
			return x.do("POST", "/tokens", adminapi.CreateToken{UserID: x.flags["user"], Name: x.flags["name"]}, &t, func() {
				fmt.Fprintln(x.stdout, t.Secret)
				fmt.Fprintf(x.stderr, "Created API token %s for user %s (org %s).\nCopy it now: it is not shown again.\n", t.ID, t.UserID, t.OrgID)
			})
		},
	},
	{
		name: "token list", summary: "list API tokens (never their secrets)",
		flags: []flagSpec{{"user", "U", "only this user's tokens", false}},
		run: func(x *call) error {
			var toks []adminapi.Token
			return x.do("GET", query("/tokens", "user", x.flags["user"]), nil, &toks, func() {
				x.table("tokens", []string{"ID", "USER", "ORG", "NAME", "CREATED", "STATUS"}, rows(toks, func(t adminapi.Token) []string {
					status := "active"
					if t.Revoked {
						status = "revoked"
					}
					return []string{t.ID, t.UserID, t.OrgID, t.Name, when(t.Created), status}
				}))
			})
		},
	},
	{
		name: "token revoke", summary: "revoke an API token", args: []string{"ID"},
		about: "Sessions already open stay open; the token opens no new ones.",
		run: func(x *call) error {
			return x.do("DELETE", "/tokens/"+url.PathEscape(x.args[0]), nil, nil, func() {
				fmt.Fprintf(x.stdout, "revoked token %s\n", x.args[0])
			})
		},
	},
	{
		name: "product create", summary: "register a product (a desktop program)",
		about: "Without --require-license nothing needs a licence until the marketplace first sells the product,\n" +
			"which makes it compute,files ('iscctl product update' changes it).",
		flags: []flagSpec{{"id", "P", "the product's id, as its programs send it", true}, {"name", "N", "the product's name", true},
			{"require-license", "USES", requireLicenseUsage, false}},
		run: func(x *call) error {
			gates, err := flagGates(x)
			if err != nil {
				return err
			}
			var p adminapi.Product
			req := adminapi.CreateProduct{ID: x.flags["id"], Name: x.flags["name"], RequireLicense: gates}
			return x.do("POST", "/products", req, &p, func() { x.table("", productHeader, [][]string{productRow(p)}) })
		},
	},
	{
		name: "product list", summary: "list products",
		run: func(x *call) error {
			var ps []adminapi.Product
			return x.do("GET", "/products", nil, &ps, func() { x.table("products", productHeader, rows(ps, productRow)) })
		},
	},
	{
		name: "session list", summary: "list sessions (connected or resumable)",
		flags: []flagSpec{{"product", "P", "only this product's sessions", false}, {"org", "O", "only this organisation's sessions", false}},
		run: func(x *call) error {
			var ss []adminapi.Session
			path := query(query("/sessions", "product", x.flags["product"]), "org", x.flags["org"])
			return x.do("GET", path, nil, &ss, func() {
				x.table("sessions", []string{"ID", "ORG", "USER", "PRODUCT", "APP", "DEVICE", "STATE", "LAST SEEN"}, rows(ss, func(s adminapi.Session) []string {
					state := "resumable"
					if s.Connected {
						state = "connected"
					}
					return []string{s.ID, s.OrgID, s.UserID, s.ProductID, shorten(s.AppVersion, 20), shorten(s.Device, 24), state, when(s.LastSeen)}
				}))
			})
		},
	},
	{
		name: "session end", summary: "end a session (the client is told)", args: []string{"ID"},
		run: func(x *call) error {
			return x.do("DELETE", "/sessions/"+url.PathEscape(x.args[0]), nil, nil, func() {
				fmt.Fprintf(x.stdout, "ended session %s\n", x.args[0])
			})
		},
	},
	{
		name: "session disconnect", summary: "drop a session's connection (it may resume)", args: []string{"ID"},
		about: "The connection is dropped as a network failure would drop it; the client reconnects and resumes.",
		run: func(x *call) error {
			return x.do("POST", "/sessions/"+url.PathEscape(x.args[0])+"/disconnect", nil, nil, func() {
				fmt.Fprintf(x.stdout, "disconnected session %s\n", x.args[0])
			})
		},
	},
	{
		name: "notice send", summary: "push a notice to matching sessions",
		about: "Without filters the notice goes to every session. Disconnected sessions get it when they resume.",
		flags: []flagSpec{
			{"product", "P", "only sessions of this product", false}, {"org", "O", "only sessions of this organisation", false},
			{"user", "U", "only sessions of this user", false}, {"session", "S", "only this session", false},
			{"title", "T", "the notice's title", false}, {"text", "X", "the notice's text", true},
		},
		run: func(x *call) error {
			req := adminapi.Notice{ProductID: x.flags["product"], OrgID: x.flags["org"], UserID: x.flags["user"],
				SessionID: x.flags["session"], Title: x.flags["title"], Text: x.flags["text"]}
			var sent adminapi.NoticeSent
			return x.do("POST", "/notices", req, &sent, func() {
				fmt.Fprintf(x.stdout, "notice sent to %d %s\n", sent.Sessions, plural(sent.Sessions, "session", "sessions"))
			})
		},
	},
	{
		name: "license create", summary: "give an organisation a licence for a product",
		about: "Dates are RFC 3339 (2026-01-02T15:04:05Z) or a day (2026-01-02, from 00:00 UTC); --expires also takes\n" +
			"+DURATION from now (+30d). Durations are Go's (36h, 90m) with a day unit: 7d, 1d12h.\n" +
			"A floating licence lets --seats sessions run at once; a node-locked one, --seats devices for good.",
		flags: []flagSpec{
			{"org", "O", "the organisation's id", true},
			{"product", "P", "the product's id (default: the only product)", false},
			{"id", "ID", "the licence's id (default: generated, lic_...)", false},
			{"edition", "E", "the edition, e.g. professional", false},
			{"features", "a,b", "the features it unlocks", false},
			{"kind", "floating|node-locked", "what the seats count: sessions at once (floating, the default) or devices", false},
			{"seats", "N", "how many sessions (floating) or devices (node-locked)", true},
			{"effective", "DATE", "when it starts (default: at once)", false},
			{"expires", "DATE", "when it ends (default: never)", false},
			{"grace", "DUR", "how long it stays usable after it expires", false},
			{"offline-grace", "DUR", "how long a lease stays usable while iscd is unreachable (default: 24h)", false},
			{"trial", "", "mark it as a trial licence", false},
		},
		run: createLicense,
	},
	{
		name: "license list", summary: "list licences",
		flags: []flagSpec{{"org", "O", "only this organisation's licences", false}, {"product", "P", "only licences for this product", false}},
		run: func(x *call) error {
			var ls []adminapi.License
			path := query(query("/licenses", "org", x.flags["org"]), "product", x.flags["product"])
			return x.do("GET", path, nil, &ls, func() { x.table("licences", licenseHeader, rows(ls, licenseRow)) })
		},
	},
	{
		name: "license show", summary: "show a licence and the seats in use", args: []string{"ID"},
		run: func(x *call) error {
			var d adminapi.LicenseDetail
			var err error
			if e := x.do("GET", "/licenses/"+url.PathEscape(x.args[0]), nil, &d, func() { err = x.showLicense(d) }); e != nil {
				return e
			}
			return err
		},
	},
	{
		name: "license freeze", summary: "suspend a licence (its sessions are told)", args: []string{"ID"},
		about: "A frozen licence verifies for nobody until it is unfrozen; its seats are kept.",
		run:   setLicenseStatus("freeze"),
	},
	{
		name: "license unfreeze", summary: "make a frozen licence usable again", args: []string{"ID"},
		run: setLicenseStatus("unfreeze"),
	},
	{
		name: "license extend", summary: "give a licence a new expiry, or another number of seats", args: []string{"ID"},
		about: "Sessions holding its seats learn the new terms at their next renewal. --expires never makes it perpetual.",
		flags: []flagSpec{{"expires", "TIME", "the new expiry: RFC 3339, a day, +DURATION from now, or never", false},
			{"seats", "N", "the new number of seats", false}},
		run: extendLicense,
	},
	{
		name: "license release", summary: "end a licence for good and free its seats", args: []string{"ID"},
		about: "A released licence cannot be unfrozen. Releasing it again changes nothing.",
		run:   setLicenseStatus("release"),
	},
	{
		name: "license audit", summary: "show what happened to a licence, oldest first", args: []string{"ID"},
		flags: []flagSpec{{"limit", "N", "only the last N entries (default 100, at most 10000)", false}},
		run: func(x *call) error {
			path := "/licenses/" + url.PathEscape(x.args[0]) + "/audit"
			if v := x.flags["limit"]; v != "" {
				n, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil || n < 1 || n > 10000 {
					return badFlag("--limit %q is not a number from 1 to 10000", v)
				}
				path = query(path, "limit", strconv.Itoa(n))
			}
			var es []adminapi.AuditEntry
			return x.do("GET", path, nil, &es, func() {
				x.table("audit entries", []string{"TIME", "EVENT", "SESSION", "USER", "DETAIL"}, rows(es, func(e adminapi.AuditEntry) []string {
					return []string{when(e.Time), e.Event, e.SessionID, e.UserID, e.Detail}
				}))
			})
		},
	},
	{
		name: "audit", summary: "show the audit log across licences, newest first",
		about: "What happened to every licence (created, issued, refused, seats, freezes, the marketplace's calls),\n" +
			"newest first, a page at a time (the next page's command is printed on stderr).",
		flags: []flagSpec{
			{"license", "L", "only this licence's entries", false},
			{"org", "O", "only this organisation's entries", false},
			{"limit", "N", fmt.Sprintf("entries per page (default %d, at most %d)", adminapi.DefaultAuditLimit, adminapi.MaxAuditLimit), false},
			{"cursor", "C", "the page after C (printed after the previous page)", false},
		},
		run: auditLog,
	},
	{
		name: "seats list", summary: "list who holds which seat: licence, session, user, device (also: iscctl seats)",
		about: "--json prints the API's seats (the users' ids, not their names). A named-user licence counts a\n" +
			"user's seats on several machines as one: the USERS column of 'license show' is what its seats limit.",
		flags: []flagSpec{{"license", "L", "only this licence's seats", false}},
		run:   seatHolders,
	},
	{
		name: "seats release", summary: "free a seat (the session holding it is told)", args: []string{"SEAT_ID"},
		about: "The session loses its licence; a node-locked device's binding is removed, so another device may take it.",
		run: func(x *call) error {
			return x.do("DELETE", "/seats/"+url.PathEscape(x.args[0]), nil, nil, func() {
				fmt.Fprintf(x.stdout, "released seat %s\n", x.args[0])
			})
		},
	},
	{
		name: "key export-public", summary: "print a product's licence public keys, one a line",
		about: "These are what a program compiles in to verify its licences offline (oldest first; keep them all).",
		flags: []flagSpec{{"product", "P", "the product's id", true}},
		run: func(x *call) error {
			var k adminapi.PublicKeys
			return x.do("GET", "/products/"+url.PathEscape(x.flags["product"])+"/keys", nil, &k, func() { x.lines(k.Keys) })
		},
	},
	{
		name: "key rotate", summary: "give a product a new licence signing key",
		about: "New licences are signed with the new key; documents signed with the old ones still verify where the\n" +
			"program has their public keys. It prints every public key, as export-public does.",
		flags: []flagSpec{{"product", "P", "the product's id", true}},
		run: func(x *call) error {
			var k adminapi.PublicKeys
			return x.do("POST", "/products/"+url.PathEscape(x.flags["product"])+"/keys/rotate", nil, &k, func() {
				x.lines(k.Keys)
				fmt.Fprintf(x.stderr, "Product %s signs new licences with the last key. Programs built with only the older keys\n"+
					"cannot verify those licences offline: ship the new key too.\n", k.ProductID)
			})
		},
	},
	{
		name: "ls", summary: "list a cloud folder: folders, then files", args: []string{"[DIR]"}, user: true,
		about: "DIR defaults to /. A file's path lists that file. Every page of a large folder is read,\n" +
			"unless --limit or --cursor asks for one page (the next page's command is printed on stderr).",
		flags: pageFlagSpecs,
		run:   listFiles,
	},
	{
		name: "put", summary: "save a local file or assembly folder to the cloud", args: []string{"LOCAL", "CLOUDPATH"},
		user: true, transfer: true,
		about: "Only the chunks the service lacks are sent. A CLOUDPATH ending in / is a folder: LOCAL's name is added.\n" +
			"Without --base the save goes on top of the cloud file's latest version (a new file if there is none);\n" +
			"with --base N it is refused with a conflict if anyone saved after version N.",
		flags: []flagSpec{
			{"assembly", "", "LOCAL is an assembly folder", false},
			{"checkin", "", "release your check-out of the file with this save", false},
			{"base", "N", "the version LOCAL was based on (0: a new cloud file)", false},
		},
		run: putFile,
	},
	{
		name: "get", summary: "download a cloud file or assembly", args: []string{"CLOUDPATH"}, user: true, transfer: true,
		about: "The download goes to the SDK's workspace ($ISCSDK_WORKSPACE), whose copy makes the next get of the\n" +
			"file fetch only what changed, and is then copied to --out: by default the file's name in the current\n" +
			"directory. An existing file there is replaced; an existing assembly folder is not.",
		flags: []flagSpec{
			{"out", "LOCAL", "where to write it; an existing folder gets the file's name inside", false},
			{"checkout", "", "check the file out first (an exclusive edit lock)", false},
		},
		run: getFile,
	},
	{
		name: "history", summary: "list a cloud file's versions, oldest first", args: []string{"CLOUDPATH"}, user: true,
		about: "Every page is read, unless --limit or --cursor asks for one (the next page's command is printed on stderr).",
		flags: pageFlagSpecs,
		run:   fileHistory,
	},
	{
		name: "lock", summary: "check a cloud file out: only you may save it", args: []string{"CLOUDPATH"}, user: true,
		run: lockFile,
	},
	{
		name: "unlock", summary: "check a cloud file in (release your check-out)", args: []string{"CLOUDPATH"}, user: true,
		about: "With --force an operator breaks anyone's check-out through the admin API (--url, --token).",
		flags: []flagSpec{
			{"force", "", "break the check-out whoever holds it (admin API; needs --org)", false},
			{"org", "O", "the file's organisation (with --force)", false},
		},
		run: unlockFile,
	},
	{
		name: "jobs list", summary: "list compute jobs, newest first",
		flags: []flagSpec{
			{"org", "O", "only this organisation's jobs", false},
			{"state", "S", "only jobs in this state: queued, running, succeeded, failed or canceled", false},
			{"limit", "N", "at most N jobs (default 100, at most 1000)", false},
			{"cursor", "C", "the jobs after C (printed after a full page)", false},
		},
		run: listJobs,
	},
	{
		name: "jobs show", summary: "show a job: its solver, limits, attempts and result", args: []string{"ID"},
		run: func(x *call) error {
			var j adminapi.Job
			return x.do("GET", "/jobs/"+url.PathEscape(x.args[0]), nil, &j, func() { x.showJob(j) })
		},
	},
	{
		name: "jobs cancel", summary: "cancel a job (a running one is stopped by its worker)", args: []string{"ID"},
		about: "A queued job ends canceled at once. A running one is stopped by its worker, which is told now, and ends\n" +
			"canceled; the owner's program gets the result. Canceling a job that has ended changes nothing.",
		run: func(x *call) error {
			var j adminapi.Job
			return x.do("POST", "/jobs/"+url.PathEscape(x.args[0])+"/cancel", nil, &j, func() {
				switch j.State {
				case adminapi.JobRunning:
					fmt.Fprintf(x.stdout, "job %s: cancel requested; worker %s stops it\n", j.ID, clean(j.Worker()))
				case adminapi.JobCanceled:
					fmt.Fprintf(x.stdout, "job %s is canceled\n", j.ID)
				default:
					fmt.Fprintf(x.stdout, "job %s had already ended: %s\n", j.ID, j.State)
				}
			})
		},
	},
	{
		name: "jobs logs", summary: "print a job's last solver output lines", args: []string{"ID"}, long: true,
		about: "iscd keeps the last 200 lines of a running job's solver output, and the last 40 of an ended one.\n" +
			"With --follow, new lines are printed as they come until the job ends (or Ctrl-C); its final state\n" +
			"goes to stderr.",
		flags: []flagSpec{{"follow", "", "keep printing new lines until the job ends", false}},
		run:   jobLogs,
	},
	{
		name: "workers list", summary: "list the compute workers connected to iscd",
		run: func(x *call) error {
			var ws []adminapi.WorkerInfo
			return x.do("GET", "/workers", nil, &ws, func() {
				x.table("workers connected", []string{"ID", "NAME", "SOLVERS", "CAPACITY", "RUNNING", "VERSION", "REMOTE", "CONNECTED"},
					rows(ws, func(w adminapi.WorkerInfo) []string {
						return []string{w.ID, w.Name, strings.Join(w.Solvers, ","), strconv.Itoa(w.Capacity), strconv.Itoa(len(w.Running)),
							w.Version, w.Remote, when(w.Connected)}
					}))
			})
		},
	},
	{
		name: "worker token", summary: "create a compute worker's token (shown once)",
		about: "The token is printed once, alone on stdout; iscd keeps only its hash. A worker reads it from\n" +
			"$ISCD_WORKER_TOKEN or --token-file: iscd worker --server URL --solver NAME.",
		flags: []flagSpec{{"name", "N", "what the token is for, e.g. a machine or a pool", false}},
		run: func(x *call) error {
			var t adminapi.NewToken
			return x.do("POST", "/workers/tokens", adminapi.CreateWorkerToken{Name: x.flags["name"]}, &t, func() {
				fmt.Fprintln(x.stdout, t.Secret)
				fmt.Fprintf(x.stderr, "Created worker token %s.\nCopy it now: it is not shown again. "+
					"A worker takes it from $ISCD_WORKER_TOKEN or --token-file.\n", t.ID)
			})
		},
	},
	{
		name: "worker tokens", summary: "list the compute workers' tokens",
		run: func(x *call) error {
			var ts []adminapi.Token
			return x.do("GET", "/workers/tokens", nil, &ts, func() {
				x.table("worker tokens", []string{"ID", "NAME", "CREATED", "REVOKED"}, rows(ts, func(t adminapi.Token) []string {
					return []string{t.ID, t.Name, when(t.Created), strconv.FormatBool(t.Revoked)}
				}))
			})
		},
	},
	{
		name: "worker revoke", summary: "revoke a compute worker's token", args: []string{"ID"},
		about: "The workers using it are disconnected at once and cannot come back; the jobs they ran are\n" +
			"queued again when their leases lapse.",
		run: func(x *call) error {
			return x.do("DELETE", "/workers/tokens/"+url.PathEscape(x.args[0]), nil, nil, func() {
				fmt.Fprintf(x.stdout, "revoked worker token %s\n", x.args[0])
			})
		},
	},
	{
		name: "solver list", summary: "list a product's solvers",
		flags: []flagSpec{{"product", "P", "the product's id", true}},
		run: func(x *call) error {
			var ss []adminapi.Solver
			return x.do("GET", "/products/"+url.PathEscape(x.flags["product"])+"/solvers", nil, &ss, func() {
				x.table("solvers", solverHeader, rows(ss, solverRow))
			})
		},
	},
	{
		name: "solver set", summary: "create or replace a product's solver",
		about: "The solver is replaced whole: flags left out take their defaults. What runs is each worker's to say:\n" +
			"iscd worker --solver NAME='PROGRAM ARGS...' names the program and its argument template, and\n" +
			"--plugin NAME=LIBRARY a plugin's library; the service keeps the outputs, limits and progress parser.\n" +
			"Sizes take B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024).",
		flags: []flagSpec{
			{"product", "P", "the product's id", true},
			{"name", "N", "the solver's name, as workers announce it (e.g. calculix)", true},
			{"kind", "command|plugin", "a program the workers run (the default), or a native plugin they load", false},
			{"outputs", "a,b", "patterns of the files returned, e.g. '*.dat,*.frd' (default: every file the solver made)", false},
			{"progress", "PARSER", "the parser that turns solver output into percent: calculix (default: none)", false},
			{"time-limit", "DUR", "the most a job may run, e.g. 1h, 90m, 2d (default: 1h)", false},
			{"max-output", "SIZE", "the most a job may return, e.g. 4GiB (default: 4GiB)", false},
			{"max-attempts", "N", "runs before a job whose worker keeps dying fails, 1 to 100 (default: 3)", false},
		},
		run: setSolver,
	},
	{
		name: "solver delete", summary: "delete a product's solver",
		about: "Jobs already submitted keep the solver as it was; new solves cannot use it.",
		flags: []flagSpec{{"product", "P", "the product's id", true}, {"name", "N", "the solver's name", true}},
		run: func(x *call) error {
			path := "/products/" + url.PathEscape(x.flags["product"]) + "/solvers/" + url.PathEscape(x.flags["name"])
			return x.do("DELETE", path, nil, nil, func() {
				fmt.Fprintf(x.stdout, "deleted solver %s of product %s\n", x.flags["name"], x.flags["product"])
			})
		},
	},
	{
		name: "usage", summary: "show an organisation's solver time, per record and per licence",
		about: "Each finished attempt that ran a solver is a record, metered against the licence its session held.\n" +
			"HOURS is what a marketplace usage push reports: each record's solver time in hours, rounded up to\n" +
			"0.0001. Dates are RFC 3339 or a day (2026-01-02, from 00:00 UTC); the default is the last 30 days.\n" +
			"With --json, the records in the marketplace's shape: {\"usage_records\": [...]}.",
		flags: []flagSpec{
			{"org", "O", "the organisation's id", true},
			{"from", "DATE", "records that ended at or after this (default: 30 days ago)", false},
			{"to", "DATE", "records that ended before this (default: now)", false},
		},
		run: showUsage,
	},
	{
		name: "storage", summary: "show what an organisation's cloud files hold, and what dedup saves",
		about: "LOGICAL is every version of every file as saved; STORED the distinct chunks they are made of\n" +
			"(before compression).",
		flags: []flagSpec{{"org", "O", "the organisation's id", true}},
		run: func(x *call) error {
			var st adminapi.Storage
			return x.do("GET", query("/files/storage", "org", x.flags["org"]), nil, &st, func() {
				x.table("", []string{"ORG", "VERSIONS", "LOGICAL", "CHUNKS", "STORED"}, [][]string{{st.OrgID, strconv.Itoa(st.Versions),
					size(st.LogicalBytes), strconv.Itoa(st.StoredChunks), size(st.StoredBytes)}})
			})
		},
	},
	{
		name: "version", summary: "print iscctl's version", offline: true,
		run: func(x *call) error {
			if x.g.json {
				return x.printJSON(map[string]string{"version": sdk.Version})
			}
			_, err := fmt.Fprintln(x.stdout, "iscctl", sdk.Version)
			return err
		},
	},
}

// aliases are commands said in one word: iscctl users is iscctl user list.
var aliases = map[string]string{"users": "user list", "seats": "seats list"}

var (
	orgHeader     = []string{"ID", "NAME", "CREATED"}
	userHeader    = []string{"ID", "ORG", "USERNAME", "NAME", "EMAIL", "ROLE", "DEPARTMENT", "STATUS"}
	productHeader = []string{"ID", "NAME", "LICENCE NEEDED FOR", "CREATED"}
)

func orgRow(o adminapi.Org) []string { return []string{o.ID, o.Name, when(o.Created)} }
func userRow(u adminapi.User) []string {
	return []string{u.ID, u.OrgID, u.UserName, u.Name, u.Email, cmp.Or(u.Role, "user"), u.Department, userStatus(u)}
}
func productRow(p adminapi.Product) []string {
	return []string{p.ID, p.Name, gatesText(p.RequireLicense), when(p.Created)}
}

// run is iscctl with its environment passed in; it returns the exit code.
func run(args []string, env func(string) string, stdout, stderr io.Writer) int {
	g := globals{url: env("ISCD_ADMIN_URL"), token: env("ISCD_ADMIN_TOKEN"), user: userConfig(env)}
	fs := flag.NewFlagSet("iscctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "iscctl: %v\nRun 'iscctl help' for usage.\n", err)
		return exitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		usage(stderr)
		return exitUsage
	}
	if rest[0] == "help" {
		return help(rest[1:], stdout, stderr)
	}
	c, rest, err := find(rest)
	if err != nil {
		fmt.Fprintf(stderr, "iscctl: %v\nRun 'iscctl help' for the list of commands.\n", err)
		return exitUsage
	}
	x, err := c.parse(rest, g)
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.help(stdout)
		return exitOK
	case err != nil:
		c.misused(stderr, err)
		return exitUsage
	}
	x.stdout, x.stderr = stdout, stderr
	x.name = c.name
	if x.g.tokenOnCommandLine {
		fmt.Fprint(stderr, "iscctl: warning: --token puts the admin token on the command line, where other users of this machine\n"+
			"can read it (ps, /proc, shell history); use $ISCD_ADMIN_TOKEN, --token-file FILE or --token-stdin\n")
	}
	if x.g.userTokenOnCommandLine {
		fmt.Fprint(stderr, "iscctl: warning: --user-token puts the API token on the command line, where other users of this machine\n"+
			"can read it (ps, /proc, shell history); use $ISCSDK_TOKEN or the credentials file ($ISCSDK_CREDENTIALS)\n")
	}
	x.term = !x.g.json && isTerminal(stderr)
	var cancel context.CancelFunc
	if c.transfer || c.long {
		// A transfer takes as long as the file needs; Ctrl-C ends it
		// cleanly (no partial version, no half-written file).
		x.ctx, cancel = signal.NotifyContext(context.Background(), os.Interrupt)
	} else {
		x.ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	}
	defer cancel()
	if err := c.run(x); err != nil {
		var bad usageError
		if errors.As(err, &bad) {
			c.misused(stderr, err)
			return exitUsage
		}
		fmt.Fprintf(stderr, "iscctl: %v\n", err)
		if hint := hint(err, x); hint != "" {
			fmt.Fprintf(stderr, "hint: %s\n", hint)
		}
		return exitError
	}
	return exitOK
}

// usageError is a mistake on the command line that a command finds itself,
// such as a flag's value that does not parse: iscctl reports it as it
// reports a bad flag, with exit code 2. Commands check their flags before
// their first call, so a usage error never follows a change.
type usageError struct{ error }

// badFlag returns a usageError about a flag.
func badFlag(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// globals are the flags every command takes, before or after its name.
type globals struct {
	url, token string
	// tokenOnCommandLine: --token was given (iscctl warns);
	// tokenFile, tokenStdin: the other ways (access.go).
	tokenOnCommandLine bool
	tokenFile          string
	tokenStdin         bool
	insecure           bool // http:// or ws:// to another machine
	json               bool
	user               sdk.Config // the file commands' session

	userTokenOnCommandLine bool // --user-token was given (iscctl warns)
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.url, "url", g.url, "the admin API's base URL, e.g. http://127.0.0.1:7400 ($ISCD_ADMIN_URL)")
	g.registerAccess(fs)
	fs.BoolVar(&g.json, "json", g.json, "print the API's JSON instead of a table")
}

// find returns the command named by the first words of args and the
// arguments after its name.
func find(args []string) (*command, []string, error) {
	if name, ok := aliases[args[0]]; ok && (len(args) == 1 || strings.HasPrefix(args[1], "-")) {
		args = append(strings.Fields(name), args[1:]...)
	}
	var subs []string
	for i := range commands {
		c := &commands[i]
		group, sub, _ := strings.Cut(c.name, " ")
		if group != args[0] {
			continue
		}
		if sub == "" {
			return c, args[1:], nil
		}
		if n := strings.Count(sub, " ") + 1; len(args) > n && strings.Join(args[1:1+n], " ") == sub {
			return c, args[1+n:], nil // n > 1: "release key generate"
		}
		subs = append(subs, sub)
	}
	switch {
	case len(subs) == 0:
		return nil, nil, fmt.Errorf("unknown command %q", args[0])
	case len(args) == 1 || strings.HasPrefix(args[1], "-"):
		return nil, nil, fmt.Errorf("%s needs a subcommand: %s", args[0], strings.Join(subs, ", "))
	}
	return nil, nil, fmt.Errorf("unknown command %q (%s takes: %s)", args[0]+" "+args[1], args[0], strings.Join(subs, ", "))
}

// parse parses a command's flags and arguments; flags may come before,
// between or after the arguments.
func (c *command) parse(args []string, g globals) (*call, error) {
	fs := flag.NewFlagSet("iscctl "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	g.register(fs)
	if c.user {
		g.registerUser(fs)
	}
	vals := map[string]*string{}
	bools := map[string]*bool{}
	for _, f := range c.flags {
		if f.arg == "" {
			bools[f.name] = fs.Bool(f.name, false, f.usage)
		} else {
			vals[f.name] = fs.String(f.name, "", f.usage)
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	optional := 0 // arguments shown as [ARG] may be left out
	for _, a := range c.args {
		if strings.HasPrefix(a, "[") {
			optional++
		}
	}
	if len(pos) < len(c.args)-optional || len(pos) > len(c.args) {
		if len(c.args) == 0 {
			return nil, fmt.Errorf("unexpected argument %q", pos[0])
		}
		return nil, fmt.Errorf("want %s, got %d arguments", strings.Join(c.args, " "), len(pos))
	}
	for i, a := range pos {
		// An id is one path segment of the API's URL; "." and ".." would
		// name another endpoint. (Paths are the file commands' to check.)
		if !c.user && (a == "" || a == "." || a == "..") {
			return nil, fmt.Errorf("%q is not a valid %s", a, c.args[i])
		}
	}
	x := &call{g: g, flags: map[string]string{}, args: pos}
	x.g.user.AllowInsecure = x.g.user.AllowInsecure || x.g.insecure
	for _, f := range c.flags {
		if b := bools[f.name]; b != nil {
			if *b {
				x.flags[f.name] = "true"
			}
			continue
		}
		v := strings.TrimSpace(*vals[f.name])
		if f.required && v == "" {
			return nil, fmt.Errorf("--%s is required", f.name)
		}
		x.flags[f.name] = *vals[f.name]
	}
	return x, nil
}

// client returns the API client, made on first use: a command checks its
// own flags first, so that a wrong command line is reported as one (exit
// 2) even where no service is set up.
func (x *call) client() (*adminapi.Client, error) {
	if x.api == nil {
		api, err := x.newClient()
		if err != nil {
			return nil, err
		}
		x.api = api
	}
	return x.api, nil
}

// newClient checks the admin URL and token and returns an API client.
func (x *call) newClient() (*adminapi.Client, error) {
	raw := strings.TrimSpace(x.g.url)
	if raw == "" {
		return nil, errors.New("no admin URL: set --url or $ISCD_ADMIN_URL (e.g. http://127.0.0.1:7400)")
	}
	if _, err := checkAdminURL(raw, x.g.insecure); err != nil {
		return nil, err
	}
	tok, err := x.g.adminToken()
	if err != nil {
		return nil, err
	}
	if tok == "" {
		return nil, errNoToken
	}
	hc := &http.Client{
		Timeout: 30 * time.Second,
		// The admin API never redirects. Following one could send a
		// DELETE to another endpoint, or turn a POST into a GET.
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			return fmt.Errorf("iscd redirected to %s; is --url right?", req.URL.Redacted())
		},
	}
	return &adminapi.Client{BaseURL: raw, Token: tok, HTTP: hc}, nil
}

// hint suggests a fix for a failed call, or returns "".
func hint(err error, x *call) string {
	var apiErr *adminapi.Error
	var netErr *net.OpError
	switch {
	case errors.As(err, &apiErr) && apiErr.Code == adminapi.CodeTokenExpired:
		return "an owner makes a new admin token with 'iscctl admin-token create'"
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized:
		if tok, _ := x.g.adminToken(); strings.HasPrefix(tok, "isk_") {
			return "that is a user's API token (isk_...); the admin API takes an admin token (isa_...)"
		}
		return "check $ISCD_ADMIN_TOKEN, --token-file or --token-stdin"
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusForbidden:
		return forbiddenHint(x, x.name)
	case errors.As(err, &netErr):
		return fmt.Sprintf("is iscd running at %s? (--url, $ISCD_ADMIN_URL)", x.g.url)
	}
	return x.fileHint(err)
}

// do calls the API. With --json it prints the reply as the API sent it,
// indented; otherwise it decodes the reply into out and calls human. out
// is nil for calls that answer with no body.
func (x *call) do(method, path string, body, out any, human func()) error {
	api, err := x.client()
	if err != nil {
		return err
	}
	if out == nil {
		if err := api.Do(x.ctx, method, path, body, nil); err != nil {
			return err
		}
		if !x.g.json {
			human()
		}
		return nil
	}
	var raw json.RawMessage
	if err := api.Do(x.ctx, method, path, body, &raw); err != nil {
		return err
	}
	if x.g.json {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return fmt.Errorf("%s %s: reply is not JSON: %w", method, path, err)
		}
		buf.WriteByte('\n')
		_, err := x.stdout.Write(buf.Bytes())
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode reply: %w", method, path, err)
	}
	human()
	return nil
}

func (x *call) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = x.stdout.Write(append(b, '\n'))
	return err
}

// table prints rows under header, aligned. what names the rows for the
// "no ..." message that replaces an empty table; it goes to stderr so that
// stdout stays empty.
func (x *call) table(what string, header []string, rows [][]string) {
	if len(rows) == 0 && what != "" {
		fmt.Fprintf(x.stderr, "no %s\n", what)
		return
	}
	tw := tabwriter.NewWriter(x.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		for i, cell := range r {
			r[i] = clean(cell)
		}
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func rows[T any](items []T, row func(T) []string) [][]string {
	out := make([][]string, len(items))
	for i, it := range items {
		out[i] = row(it)
	}
	return out
}

// clean makes a cell safe for a terminal table: names and device strings
// come from users and clients, and may hold tabs, newlines or escape
// sequences. An empty cell shows as "-".
func clean(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// shorten cuts s to n runes; --json shows it whole.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// query adds key=value to path unless value is empty.
func query(path, key, value string) string {
	if value == "" {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + url.QueryEscape(key) + "=" + url.QueryEscape(value)
}

// misused reports a wrong command line for c.
func (c *command) misused(w io.Writer, err error) {
	fmt.Fprintf(w, "iscctl %s: %v\nusage: iscctl %s\nRun 'iscctl %s --help' for its flags.\n", c.name, err, c.synopsis(), c.name)
}

func (c *command) synopsis() string {
	parts := []string{c.name}
	for _, f := range c.flags {
		flag := strings.TrimSpace("--" + f.name + " " + f.arg)
		if f.required {
			parts = append(parts, flag)
		} else {
			parts = append(parts, "["+flag+"]")
		}
	}
	return strings.Join(append(parts, c.args...), " ")
}

const globalHelp = `
global flags (before or after the command):
  --url URL          the admin API's base URL, e.g. http://127.0.0.1:7400 ($ISCD_ADMIN_URL)
  --token-file FILE  read the admin token (isa_...) from FILE; else $ISCD_ADMIN_TOKEN
  --token-stdin      read the admin token from standard input
  --token TOKEN      the admin token on the command line: works, but other users can see it (warns)
  --insecure         allow http:// (ws://) to another machine: the token crosses the network in clear
  --json             print the API's JSON instead of a table

Exit status: 0 on success, 1 when the call fails, 2 when the command line is wrong.
`

func usage(w io.Writer) {
	fmt.Fprint(w, "usage: iscctl [--url URL] [--token-file FILE | --token-stdin] [--json] <command> [flags]\n\n"+
		"Manage an iscd service through its admin API, and a user's cloud files.\n\ncommands:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	fmt.Fprintf(tw, "  help [COMMAND]\tshow this help, or a command's\n")
	tw.Flush()
	fmt.Fprint(w, globalHelp)
	fmt.Fprint(w, "The file commands (ls, put, get, history, lock, unlock) use a user's session: see 'iscctl ls --help'.\n")
	fmt.Fprint(w, "Run 'iscctl <command> --help' for a command's flags.\n")
}

func (c *command) help(w io.Writer) {
	fmt.Fprintf(w, "usage: iscctl %s\n\n%s.\n", c.synopsis(), upperFirst(c.summary))
	if c.about != "" {
		fmt.Fprintf(w, "%s\n", c.about)
	}
	if len(c.flags) > 0 {
		fmt.Fprint(w, "\nflags:\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, f := range c.flags {
			req := ""
			if f.required {
				req = " (required)"
			}
			fmt.Fprintf(tw, "  %s\t%s%s\n", strings.TrimSpace("--"+f.name+" "+f.arg), f.usage, req)
		}
		tw.Flush()
	}
	if role, ok := commandRoles[c.name]; ok {
		needs := "It needs " + roleText(role) + "."
		if c.user {
			needs = "With --force it needs " + roleText(role) + "."
		}
		fmt.Fprintf(w, "\n%s\n", needs)
	}
	switch {
	case c.user:
		fmt.Fprint(w, userHelp)
	case !c.offline:
		fmt.Fprint(w, globalHelp)
	}
}

// help runs "iscctl help [command]".
func help(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stdout)
		return exitOK
	}
	c, rest, err := find(args)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("unknown command %q", strings.Join(args, " "))
	}
	if err != nil {
		fmt.Fprintf(stderr, "iscctl help: %v\nRun 'iscctl help' for the list of commands.\n", err)
		return exitUsage
	}
	c.help(stdout)
	return exitOK
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
