package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/solver/calculixtest"
	solverrun "github.com/iscsdk/iscsdk/internal/solver/run"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/worker"
	"github.com/iscsdk/iscsdk/sdk"
)

func init() { followEvery = 50 * time.Millisecond }

// computeEnv returns the admin environment of srv.
func computeEnv(srv *servertest.Server) map[string]string {
	return map[string]string{"ISCD_ADMIN_URL": srv.AdminURL, "ISCD_ADMIN_TOKEN": srv.AdminToken}
}

// client opens the demo user's SDK session on srv.
func client(t *testing.T, srv *servertest.Server) *sdk.Client {
	t.Helper()
	c, err := sdk.Init(context.Background(), sdk.Config{Endpoint: srv.Endpoint, Token: srv.APIToken, ProductID: srv.Product,
		WorkspaceDir: t.TempDir(), ConnectTimeout: 5 * time.Second, CredentialsFile: filepath.Join(t.TempDir(), "none")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var beam = filepath.Join("..", "..", "examples", "data", "beam.inp")

// solving starts a solve of beam.inp with solver and returns its job id
// once the service reports the job in state (queued or running; for
// running, once a line of solver output came), and the solve's outcome.
func solving(t *testing.T, c *sdk.Client, solver, state string) (string, <-chan error) {
	t.Helper()
	id := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		sent := false
		res, err := c.Solve(context.Background(), beam, sdk.SolveOptions{Solver: solver, Progress: func(p sdk.SolveProgress) {
			if !sent && p.State == state && (state != sdk.SolveRunning || len(p.Log) > 0) {
				sent = true
				id <- p.JobID
			}
		}})
		if err == nil || res.Status != sdk.SolveCanceled {
			err = fmt.Errorf("solve ended %q, want canceled: %w", res.Status, err)
		} else {
			err = nil
		}
		done <- err
	}()
	select {
	case j := <-id:
		return j, done
	case err := <-done:
		t.Fatalf("the solve ended before it was %s: %v", state, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("the job was not %s within 30 s", state)
	}
	return "", nil
}

func TestJobsAndUsageAfterARealSolve(t *testing.T) {
	calculixtest.Need(t)
	srv, env := start(t) // dev mode: the CalculiX solver and a worker in iscd
	c := client(t, srv)
	res, err := c.Solve(context.Background(), beam, sdk.SolveOptions{})
	if err != nil {
		t.Fatalf("solve: %v (%+v)", err, res)
	}
	id := res.JobID

	// jobs list and show
	r := ok(t, env, "jobs", "list")
	if got := table(t, r.stdout); strings.Join(got[0], " ") != "ID ORG USER SOLVER MODEL STATE ATTEMPT WORKER CREATED WALL" {
		t.Fatalf("jobs list printed\n%s", r.stdout)
	}
	if got := row(t, r.stdout, id); strings.Join(got[1:7], " ") != server.DevOrg+" "+server.DevUser+" calculix beam.inp succeeded 1" {
		t.Errorf("jobs list row = %q", got)
	}
	js := decodeJSON[[]store.Job](t, ok(t, env, "jobs", "list", "--org", server.DevOrg, "--state", "succeeded", "--limit", "5", "--json").stdout)
	if len(js) != 1 || js[0].ID != id {
		t.Fatalf("jobs list --state succeeded --json = %+v", js)
	}
	job := js[0]
	if r := ok(t, env, "jobs", "list", "--state", "queued"); r.stdout != "" || !strings.Contains(r.stderr, "no jobs") {
		t.Errorf("jobs list --state queued: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	r = ok(t, env, "jobs", "show", id)
	for label, want := range map[string]string{"ID": id, "State": "succeeded", "Solver": "calculix (command)", "Model": "beam.inp",
		"Licence": server.DevLicense, "Exit code": "0", "Attempts": "1 of 3", "Wall time": seconds(job.WallSeconds) + " s"} {
		if got := field(t, r.stdout, label); got != want {
			t.Errorf("jobs show: %s is %q, want %q", label, got, want)
		}
	}
	if got := row(t, r.stdout, "1"); got[len(got)-1] != "succeeded" {
		t.Errorf("jobs show: attempt row %q", got)
	}

	// logs: the solver's last lines, as kept with the job; --follow on an
	// ended job prints them and says how it ended.
	if len(job.LogTail) == 0 {
		t.Fatal("the job kept no solver output")
	}
	want := strings.Join(job.LogTail, "\n") + "\n"
	if r := ok(t, env, "jobs", "logs", id); r.stdout != want {
		t.Errorf("jobs logs printed\n%s\nwant\n%s", r.stdout, want)
	}
	if r := ok(t, env, "jobs", "logs", id, "--follow"); r.stdout != want || r.stderr != "job "+id+" succeeded\n" {
		t.Errorf("jobs logs --follow: stdout\n%s\nstderr %q", r.stdout, r.stderr)
	}
	if r := ok(t, env, "jobs", "cancel", id); r.stdout != "job "+id+" had already ended: succeeded\n" {
		t.Errorf("jobs cancel of an ended job printed %q", r.stdout)
	}

	// usage: one record, the job's solver time.
	r = ok(t, env, "usage", "--org", server.DevOrg)
	sn := id + "-1"
	got := row(t, r.stdout, sn)
	if got[1] != server.DevLicense || got[2] != server.DevUser || got[3] != "calculix" || got[6] != seconds(job.WallSeconds) {
		t.Errorf("usage record = %q, want licence %s, seconds %s", got, server.DevLicense, seconds(job.WallSeconds))
	}
	if job.WallSeconds <= 0 || got[7] == "0.0000" {
		t.Errorf("usage of a real solve: %v s, %s h", job.WallSeconds, got[7])
	}
	if tot := row(t, r.stdout, server.DevLicense); strings.Join(tot[1:], " ") != "1 "+seconds(job.WallSeconds)+" "+got[7] {
		t.Errorf("usage total = %q", tot)
	}
	push := decodeJSON[struct {
		Records []adminapi.UsageRecord `json:"usage_records"`
	}](t, ok(t, env, "usage", "--org", server.DevOrg, "--json").stdout)
	stamp := regexp.MustCompile(`^\d{8}T\d{6}Z$`)
	if len(push.Records) != 1 {
		t.Fatalf("usage --json: %+v", push)
	}
	if u := push.Records[0]; u.MeteringSN != sn || u.InstanceID != server.DevLicense || u.UsageValue <= 0 ||
		!stamp.MatchString(u.BeginTime) || !stamp.MatchString(u.EndTime) || u.RecordTime != u.EndTime {
		t.Errorf("usage --json record = %+v", u)
	}
	if r := ok(t, env, "usage", "--org", server.DevOrg, "--from", "2020-01-01", "--to", "2020-02-01"); r.stdout != "" || !strings.Contains(r.stderr, "no usage for org "+server.DevOrg) {
		t.Errorf("usage of an empty range: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if r := ok(t, env, "usage", "--org", "nobody", "--json"); strings.Join(strings.Fields(r.stdout), "") != `{"usage_records":[]}` {
		t.Errorf("empty usage --json = %q", r.stdout)
	}

	// workers and solvers: the dev worker runs CalculiX.
	if got := row(t, ok(t, env, "workers", "list").stdout, job.Worker()); got[1] != "dev" || got[2] != "calculix" || got[4] != "0" {
		t.Errorf("workers list row = %q", got)
	}
	if got := row(t, ok(t, env, "solver", "list", "--product", server.DevProduct).stdout, "calculix"); got[1] != "command" || got[2] != "*.dat,*.frd,*.sta,*.cvg" || got[3] != "calculix" {
		t.Errorf("solver list row = %q", got)
	}
}

func TestCancelAQueuedJob(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true}) // the job waits: no worker
	env := computeEnv(srv)
	c := client(t, srv)
	id, done := solving(t, c, "calculix", sdk.SolveQueued)

	if r := ok(t, env, "workers", "list"); r.stdout != "" || !strings.Contains(r.stderr, "no workers connected") {
		t.Errorf("workers list without workers: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if got := row(t, ok(t, env, "jobs", "list", "--state", "queued").stdout, id); got[5] != "queued" || got[6] != "0" {
		t.Errorf("queued job listed as %q", got)
	}
	if got := field(t, ok(t, env, "jobs", "show", id).stdout, "Attempts"); got != "0 of 3" {
		t.Errorf("jobs show of a queued job: attempts %q", got)
	}
	// Follow the job's logs while it is canceled: following ends with it.
	follow := make(chan result, 1)
	go func() {
		var out, errOut strings.Builder
		code := run([]string{"jobs", "logs", "--follow", id}, func(k string) string { return env[k] }, &out, &errOut)
		follow <- result{code, out.String(), errOut.String()}
	}()
	if r := ok(t, env, "jobs", "cancel", id); r.stdout != "job "+id+" is canceled\n" {
		t.Errorf("jobs cancel printed %q", r.stdout)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if f := <-follow; f.code != exitOK || f.stdout != "" || f.stderr != "job "+id+" canceled\n" {
		t.Errorf("jobs logs --follow of a canceled queued job: %+v", f)
	}
	j := decodeJSON[store.Job](t, ok(t, env, "jobs", "show", id, "--json").stdout)
	if j.State != store.JobCanceled || j.Attempt() != 0 {
		t.Errorf("canceled job = %+v", j)
	}
	if r := ok(t, env, "usage", "--org", server.DevOrg); !strings.Contains(r.stderr, "no usage") {
		t.Errorf("a job that never ran is billed:\n%s", r.stdout)
	}
}

func TestCancelARunningJobAndFollowItsLogs(t *testing.T) {
	spin, err := solverrun.ParseCommand(`sh -c 'echo "spinning {stem}"; exec sleep 60'`)
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.StartConfig(t, server.Config{DevWorker: worker.Config{Commands: map[string]solverrun.Command{"spin": spin}}})
	env := computeEnv(srv)
	ok(t, env, "solver", "set", "--product", srv.Product, "--name", "spin")
	c := client(t, srv)
	id, done := solving(t, c, "spin", sdk.SolveRunning)

	if r := ok(t, env, "jobs", "logs", id); r.stdout != "spinning beam\n" {
		t.Errorf("jobs logs of a running job printed %q", r.stdout)
	}
	busy := false
	for _, w := range table(t, ok(t, env, "workers", "list").stdout)[1:] {
		busy = busy || (w[1] == "dev" && w[2] == "spin" && w[4] == "1")
	}
	if !busy {
		t.Errorf("workers list does not show the dev worker running one job")
	}
	follow := make(chan result, 1)
	go func() {
		var out, errOut strings.Builder
		code := run([]string{"jobs", "logs", id, "--follow"}, func(k string) string { return env[k] }, &out, &errOut)
		follow <- result{code, out.String(), errOut.String()}
	}()
	r := ok(t, env, "jobs", "cancel", id)
	if !strings.HasPrefix(r.stdout, "job "+id+": cancel requested; worker ") {
		t.Errorf("jobs cancel of a running job printed %q", r.stdout)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if f := <-follow; f.code != exitOK || !strings.HasPrefix(f.stdout, "spinning beam\n") || f.stderr != "job "+id+" canceled\n" {
		t.Errorf("jobs logs --follow of a canceled running job: %+v", f)
	}
	if got := field(t, ok(t, env, "jobs", "show", id).stdout, "State"); got != "canceled" {
		t.Errorf("jobs show after cancel: state %q", got)
	}
}

func TestSolverCommands(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true})
	env := computeEnv(srv)
	p := srv.Product

	r := ok(t, env, "solver", "set", "--product", p, "--name", "spin",
		"--outputs", "out/*.txt, *.log", "--progress", "calculix", "--time-limit", "1d12h", "--max-output", "4GiB", "--max-attempts", "5")
	if got := table(t, r.stdout); len(got) != 2 || strings.Join(got[0], " ") != "NAME KIND OUTPUTS PROGRESS TIME LIMIT MAX OUTPUT ATTEMPTS" {
		t.Fatalf("solver set printed\n%s", r.stdout)
	}
	ok(t, env, "solver", "set", "--product", p, "--name", "heat", "--kind", "plugin")
	ss := decodeJSON[[]adminapi.Solver](t, ok(t, env, "solver", "list", "--product", p, "--json").stdout)
	byName := map[string]adminapi.Solver{}
	for _, s := range ss {
		byName[s.Name] = s
	}
	spin := byName["spin"]
	if !slices.Equal(spin.Outputs, []string{"out/*.txt", "*.log"}) ||
		spin.Progress != "calculix" || spin.TimeLimitSeconds != 36*3600 || spin.MaxOutput != 4<<30 || spin.MaxAttempts != 5 || spin.Kind != "command" {
		t.Errorf("solver set stored %+v", spin)
	}
	if heat := byName["heat"]; heat.Kind != "plugin" || heat.MaxAttempts != 3 {
		t.Errorf("plugin solver stored %+v", heat)
	}
	if _, ok := byName["calculix"]; !ok || len(ss) != 3 {
		t.Errorf("solver list --json = %+v, want calculix, heat and spin", ss)
	}
	r = ok(t, env, "solver", "list", "--product", p)
	if got := row(t, r.stdout, "heat"); strings.Join(got[1:], " ") != "plugin (all) - 1h (default) 4.0 GiB (default) 3" {
		t.Errorf("solver list row for heat = %q", got)
	}
	// Set again: replaced whole, the flags left out take their defaults.
	ok(t, env, "solver", "set", "--product", p, "--name", "spin")
	ss = decodeJSON[[]adminapi.Solver](t, ok(t, env, "solver", "list", "--product", p, "--json").stdout)
	for _, s := range ss {
		if s.Name == "spin" && (s.MaxAttempts != 3 || s.Outputs != nil) {
			t.Errorf("solver set replaced spin with %+v, want the defaults", s)
		}
	}

	// Refused: nothing changes.
	for _, tc := range []struct {
		name string
		args []string
		code int
		msgs []string
	}{
		{"output pattern with ..", []string{"--name", "evil", "--outputs", "*.dat,../../etc/*"}, exitError,
			[]string{`output pattern "../../etc/*" is not a relative path pattern inside the job's directory`, "HTTP 400"}},
		{"output pattern with .. inside", []string{"--name", "evil", "--outputs", "out/../../x"}, exitError,
			[]string{`output pattern "out/../../x"`}},
		{"absolute output pattern", []string{"--name", "evil", "--outputs", "/etc/passwd"}, exitError,
			[]string{`output pattern "/etc/passwd"`}},
		{"unknown progress parser", []string{"--name", "evil", "--progress", "abaqus"}, exitError,
			[]string{`progress must be "" or "calculix"`}},
		{"unknown product", []string{"--product", "nope", "--name", "x"}, exitError, []string{"nope", "HTTP 404"}},
		// What runs is the worker's to say: the service takes no command.
		{"a command", []string{"--name", "evil", "--command", "/bin/sh -c 'id > /tmp/pwned'"}, exitUsage, []string{"command"}},
		{"unknown kind", []string{"--name", "evil", "--kind", "docker"}, exitUsage, []string{`--kind "docker": want command or plugin`}},
		{"bad time limit", []string{"--name", "evil", "--time-limit", "forever"}, exitUsage, []string{`--time-limit "forever" is not a duration`}},
		{"bad size", []string{"--name", "evil", "--max-output", "4XB"}, exitUsage, []string{`--max-output "4XB" is not a size`}},
		{"fractional bytes", []string{"--name", "evil", "--max-output", "0.5B"}, exitUsage, []string{`--max-output "0.5B"`}},
		{"too many attempts", []string{"--name", "evil", "--max-attempts", "1000"}, exitUsage, []string{"from 1 to 100"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"solver", "set"}, tc.args...)
			if !slices.Contains(tc.args, "--product") {
				args = append(args, "--product", p)
			}
			fails(t, env, tc.code, tc.msgs, args...)
		})
	}
	if r := ok(t, env, "solver", "list", "--product", p); strings.Contains(r.stdout, "evil") {
		t.Errorf("a refused solver was stored:\n%s", r.stdout)
	}

	// delete
	if r := ok(t, env, "solver", "delete", "--product", p, "--name", "heat"); r.stdout != "deleted solver heat of product "+p+"\n" {
		t.Errorf("solver delete printed %q", r.stdout)
	}
	fails(t, env, exitError, []string{"heat", "HTTP 404"}, "solver", "delete", "--product", p, "--name", "heat")
	if r := ok(t, env, "solver", "list", "--product", p); strings.Contains(r.stdout, "heat") {
		t.Errorf("deleted solver still listed:\n%s", r.stdout)
	}
}

func TestWorkerToken(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true})
	env := computeEnv(srv)
	r := ok(t, env, "worker", "token", "--name", "gpu pool")
	secret := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(secret, "isw_") || strings.Count(r.stdout, "\n") != 1 || strings.Contains(r.stderr, secret) {
		t.Fatalf("worker token: stdout %q, stderr %q; want the isw_ token alone on stdout", r.stdout, r.stderr)
	}
	// The token opens the worker endpoint (a plain GET is then refused
	// only for not being a WebSocket); a wrong one does not.
	for _, tc := range []struct {
		tok  string
		want int
	}{{secret, http.StatusBadRequest}, {secret + "x", http.StatusUnauthorized}, {srv.APIToken, http.StatusUnauthorized}} {
		req, _ := http.NewRequest("GET", srv.AdminURL+"/v1/worker", nil)
		req.Header.Set("Authorization", "Bearer "+tc.tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET /v1/worker with %.8s...: HTTP %d, want %d", tc.tok, resp.StatusCode, tc.want)
		}
	}
	nt := decodeJSON[struct {
		adminapi.NewToken
		Hash string `json:"hash"` // adminapi.Token has none: a hash in the answer lands here
	}](t, ok(t, env, "--json", "worker", "token").stdout)
	if !strings.HasPrefix(nt.Secret, "isw_"+nt.ID+"_") || nt.Hash != "" {
		t.Errorf("worker token --json = %+v", nt)
	}
	if r := ok(t, env, "worker", "tokens"); !strings.Contains(r.stdout, "gpu pool") || !strings.Contains(r.stdout, nt.ID) || strings.Contains(r.stdout, "isw_") {
		t.Errorf("worker tokens:\n%s", r.stdout)
	}

	// A revoked token opens nothing, and its connected workers are cut off.
	wk, err := worker.New(worker.Config{URL: srv.AdminURL, Token: nt.Secret, Name: "w", Commands: map[string]solverrun.Command{"calculix": {Program: "/usr/bin/true"}},
		NoSandbox: true, Dir: t.TempDir()}) // runs no job
	if err != nil {
		t.Fatal(err)
	}
	defer wk.Close()
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- wk.Run(ctx) }()
	defer func() { stop(); <-ran }()
	for tick := time.NewTicker(10 * time.Millisecond); len(srv.Jobs().Workers()) == 0; <-tick.C {
	}
	ok(t, env, "worker", "revoke", nt.ID)
	for tick := time.NewTicker(10 * time.Millisecond); len(srv.Jobs().Workers()) != 0; <-tick.C {
	}
	req, _ := http.NewRequest("GET", srv.AdminURL+"/v1/worker", nil)
	req.Header.Set("Authorization", "Bearer "+nt.Secret)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a revoked worker token: %v %v", resp.Status, err)
	}
	fails(t, env, exitError, []string{"HTTP 404"}, "worker", "revoke", srv.APIToken[4:20]) // an API token is not a worker token
}

func TestComputeErrors(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true})
	env := computeEnv(srv)
	missing := strings.Repeat("ab", 16)
	for _, tc := range []struct {
		name string
		args []string
		code int
		msgs []string
	}{
		{"unknown job", []string{"jobs", "show", missing}, exitError, []string{missing, "not found", "HTTP 404"}},
		{"cancel unknown job", []string{"jobs", "cancel", missing}, exitError, []string{"HTTP 404"}},
		{"logs of unknown job", []string{"jobs", "logs", missing}, exitError, []string{"HTTP 404"}},
		{"follow unknown job", []string{"jobs", "logs", "--follow", missing}, exitError, []string{"HTTP 404"}},
		{"follow with --json", []string{"jobs", "logs", "--follow", "--json", missing}, exitUsage, []string{"--follow", "no --json"}},
		{"bad state", []string{"jobs", "list", "--state", "done"}, exitUsage, []string{`--state "done": want one of queued, running, succeeded, failed, canceled`}},
		{"bad limit", []string{"jobs", "list", "--limit", "0"}, exitUsage, []string{"from 1 to 1000"}},
		{"usage without org", []string{"usage"}, exitUsage, []string{"--org is required"}},
		{"usage bad date", []string{"usage", "--org", "o", "--from", "yesterday"}, exitUsage, []string{`--from "yesterday" is not an RFC 3339 time`}},
		{"usage to before from", []string{"usage", "--org", "o", "--from", "2026-02-01", "--to", "2026-01-01"}, exitUsage, []string{"is not after --from"}},
		{"solver list without product", []string{"solver", "list"}, exitUsage, []string{"--product is required"}},
		{"jobs without subcommand", []string{"jobs"}, exitUsage, []string{"jobs needs a subcommand: list, show, cancel, logs"}},
	} {
		t.Run(tc.name, func(t *testing.T) { fails(t, env, tc.code, tc.msgs, tc.args...) })
	}
}
