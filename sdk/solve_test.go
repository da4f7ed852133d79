package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/jobs"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/solver/calculixtest"
	"github.com/iscsdk/iscsdk/internal/solver/run"
	"github.com/iscsdk/iscsdk/internal/solver/solvertest"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/internal/worker"
	"github.com/iscsdk/iscsdk/sdk"
)

// testSolvers are command solvers the compute tests define on the demo
// product beside CalculiX: their scripts do what a misbehaving solver does.
var testSolvers = []adminapi.Solver{
	{Name: "waiter", Kind: "command", Outputs: []string{"out.txt"}},
	{Name: "slow", Kind: "command", TimeLimitSeconds: 1},
	{Name: "big", Kind: "command", MaxOutput: 1 << 20},
}

// testCommands are what the dev worker runs for them.
var testCommands = map[string]string{
	"calculix": "ccx -i {stem}",
	// waits for a file the test creates (or is stopped); writes out.txt
	"waiter": `sh -c 'echo "waiting $ISCSDK_JOB_ATTEMPT"; echo $$ > "$1"; while [ ! -e "$2" ]; do sleep 0.02; done; echo done > out.txt' waiter {args}`,
	"slow":   `sh -c 'echo started; exec sleep 30'`,
	"big":    `sh -c 'while :; do head -c 65536 /dev/zero >> big.out; done'`,
	"count":  `sh -c 'wc -c < "$1" > out.txt' count {main}`,
}

// devWorker is a dev worker's configuration that runs the named
// testCommands, sharing shareDir (the waiter's files) with their sandbox.
func devWorker(t *testing.T, capacity int, names ...string) worker.Config {
	t.Helper()
	cmds := map[string]run.Command{}
	for _, n := range names {
		c, err := run.ParseCommand(testCommands[n])
		if err != nil {
			t.Fatalf("solver %s: %v", n, err)
		}
		cmds[n] = c
	}
	return worker.Config{Commands: cmds, Capacity: capacity, Sandbox: run.SandboxConfig{Share: []string{shareDir}}}
}

// startCompute starts iscd whose dev worker runs CalculiX and the test
// solvers, and a client of it.
func startCompute(t *testing.T) (*servertest.Server, *sdk.Client) {
	t.Helper()
	calculixtest.Need(t)
	srv := servertest.StartConfig(t, server.Config{DevWorker: devWorker(t, 2, "calculix", "waiter", "slow", "big")})
	putSolvers(t, srv)
	c, err := sdk.Init(context.Background(), config(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c
}

func putSolvers(t *testing.T, srv *servertest.Server) {
	t.Helper()
	for _, s := range testSolvers {
		if err := srv.Admin().Do(context.Background(), "PUT", "/products/"+srv.Product+"/solvers/"+s.Name, s, nil); err != nil {
			t.Fatalf("solver %s: %v", s.Name, err)
		}
	}
}

func TestSolveCalculixMatchesALocalRunAndSendsNothingTwice(t *testing.T) {
	_, c := startCompute(t)
	deck := filepath.Join("..", "examples", "data", "beam.inp")
	var mu sync.Mutex
	states := map[string]bool{}
	var lastPct float64 = -1
	res, err := c.Solve(context.Background(), deck, sdk.SolveOptions{Solver: "calculix", Progress: func(p sdk.SolveProgress) {
		mu.Lock()
		defer mu.Unlock()
		states[p.State] = true
		if p.Percent >= 0 {
			lastPct = p.Percent
		}
	}})
	if err != nil {
		t.Fatalf("solve: %v (%+v)", err, res)
	}
	for _, s := range []string{sdk.SolveUploading, sdk.SolveQueued, sdk.SolveRunning, sdk.SolveDownloading} {
		if !states[s] {
			t.Errorf("no %s progress (saw %v)", s, states)
		}
	}
	if lastPct != 100 {
		t.Errorf("last percent %v, want 100", lastPct)
	}
	if res.Status != sdk.SolveSucceeded || res.ExitCode != 0 || res.BytesSent == 0 || res.WallSeconds <= 0 {
		t.Fatalf("result %+v", res)
	}
	got, err := os.ReadFile(filepath.Join(res.ResultDir, "beam.dat"))
	if err != nil {
		t.Fatalf("result files %v: %v", res.Files, err)
	}
	if want := calculixtest.LocalDat(t, deck); !bytes.Equal(got, want) {
		t.Fatalf("beam.dat from the cloud (%d bytes) differs from a local ccx run (%d bytes)", len(got), len(want))
	}
	for _, f := range []string{"beam.frd", "beam.sta", "solver.log"} {
		if _, err := os.Stat(filepath.Join(res.ResultDir, f)); err != nil {
			t.Errorf("result %s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(res.ResultDir, "beam.inp")); err == nil {
		t.Error("the input deck came back as an output")
	}

	again, err := c.Solve(context.Background(), deck, sdk.SolveOptions{Solver: "calculix"})
	if err != nil {
		t.Fatal(err)
	}
	if again.BytesSent != 0 || again.ChunksSent != 0 {
		t.Fatalf("the same model solved again sent %d bytes in %d chunks, want 0", again.BytesSent, again.ChunksSent)
	}
	if again.JobID == res.JobID || again.ResultDir == res.ResultDir {
		t.Fatal("the second solve reused the first's job or result folder")
	}
}

func TestSolveFailuresSayWhy(t *testing.T) {
	_, c := startCompute(t)
	ctx := context.Background()
	dir := t.TempDir()
	bad := filepath.Join(dir, "broken.inp")
	os.WriteFile(bad, []byte("*NODE\n1, 0, 0, 0\n*STEP\n*STATIC\n*CLOAD\nNOSUCHSET, 3, -1.\n*END STEP\n"), 0o600)

	for _, tc := range []struct {
		name, model, solver string
		code                string
		wantLog             string
	}{
		{"unknown solver", bad, "abaqus", wire.CodeUnknownSolver, ""},
		{"several solvers, none named", bad, "", wire.CodeNoSolver, ""},
		{"the solver rejects the model", bad, "calculix", wire.CodeSolverFailed, "ERROR"},
		{"time limit", bad, "slow", wire.CodeTimeLimit, "started"},
		{"output limit", bad, "big", wire.CodeOutputLimit, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.Solve(ctx, tc.model, sdk.SolveOptions{Solver: tc.solver})
			var we *wire.Error
			if !errors.As(err, &we) || we.Code != tc.code {
				t.Fatalf("error %v (%+v), want code %s", err, res, tc.code)
			}
			if tc.wantLog != "" && !strings.Contains(strings.Join(res.LogTail, "\n")+res.Error, tc.wantLog) {
				t.Fatalf("the failure does not show the solver's output %q: %+v", tc.wantLog, res)
			}
		})
	}
	t.Run("missing model", func(t *testing.T) {
		if _, err := c.Solve(ctx, filepath.Join(dir, "nope.inp"), sdk.SolveOptions{}); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("input outside the model's folder", func(t *testing.T) {
		_, err := c.Solve(ctx, bad, sdk.SolveOptions{Solver: "calculix", Inputs: []string{"../etc/passwd"}})
		if !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("arguments for a solver that takes none", func(t *testing.T) {
		_, err := c.Solve(ctx, bad, sdk.SolveOptions{Solver: "calculix", Args: []string{"evil"}})
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != wire.CodeBadArgument {
			t.Fatalf("err %v", err)
		}
	})
}

// waiterModel makes a model for the waiter solver and returns it, the
// arguments naming its pid file and release file, and the paths of both.
func waiterModel(t *testing.T) (model string, args []string, pidFile, release string) {
	dir, err := os.MkdirTemp(shareDir, "waiter-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777) // a root worker's solvers run as nobody
	t.Cleanup(func() { os.RemoveAll(dir) })
	model = filepath.Join(dir, "model.inp")
	os.WriteFile(model, []byte("model "+t.Name()+"\n"), 0o600)
	pidFile, release = filepath.Join(dir, "solver.pid"), filepath.Join(dir, "release")
	return model, []string{pidFile, release}, pidFile, release
}

// solveWaiting has c solve a waiter model, which waits until it is
// stopped, and returns the request's id, the solver's pid and the
// progress event that says it waits (its jobId).
func solveWaiting(t *testing.T, c *sdk.Client, comeBack json.RawMessage) (id uint64, pid string, waiting sdk.Event) {
	t.Helper()
	model, args, pidFile, _ := waiterModel(t)
	id, err := sdk.NewDesk(c).GetSolution(model, `{"solver":"waiter","args":["`+args[0]+`","`+args[1]+`"]}`, comeBack)
	if err != nil {
		t.Fatal(err)
	}
	waiting = servertest.NextEvent(t, c, func(e sdk.Event) bool {
		return e.Type == sdk.EventSolutionProgress && e.RequestID == id && strings.Contains(e.Params["log"], "waiting")
	})
	return id, solverPid(t, pidFile), waiting
}

func TestGetSolutionCancelStopsTheSolver(t *testing.T) {
	_, c := startCompute(t)
	id, pid, _ := solveWaiting(t, c, []byte(`{"tag":7}`))
	if err := sdk.NewDesk(c).Cancel(id); err != nil {
		t.Fatal(err)
	}
	e := servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSolutionResult && e.RequestID == id })
	if e.Params["status"] != "canceled" || string(e.ComeBack) != `{"tag":7}` {
		t.Fatalf("result %+v", e)
	}
	if processAlive(pid) {
		t.Fatalf("the solver (pid %s) still runs after the canceled result", pid)
	}
	if err := sdk.NewDesk(c).Cancel(id); !errors.Is(err, sdk.ErrUnknownRequest) {
		t.Fatalf("cancel of a finished request: %v", err)
	}
}

// workerDir is a fresh directory for a worker's jobs: a root worker's
// solvers run as nobody, who must be able to pass through its parent.
func workerDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

// solverPid is the machine's pid of the running waiter given pidFile (the
// pid it writes there is its sandbox's).
func solverPid(t *testing.T, pidFile string) string {
	t.Helper()
	pid := solvertest.Pid(pidFile)
	if pid == 0 {
		t.Fatalf("no solver runs with %s", pidFile)
	}
	return strconv.Itoa(pid)
}

// processAliveNow reports whether a process exists and is not a zombie.
func processAliveNow(pid string) bool {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// processAlive reports whether pid still runs 5 seconds from now: a process that
// was sent SIGKILL ends at once, but its exit need not have completed when
// its pipe closed.
func processAlive(pid string) bool {
	for deadline := time.Now().Add(5 * time.Second); processAliveNow(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return true
		}
	}
	return false
}

func TestSolveResultArrivesAfterTheClientReconnects(t *testing.T) {
	srv, _ := startCompute(t)
	p := startProxy(t, srv.Addr)
	cfg := config(t, srv)
	cfg.Endpoint = p.Endpoint()
	c, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	model, args, _, release := waiterModel(t)
	done := solveWhileRunning(c, model, args)
	p.Cut(true) // the engineer's network is gone while the solver runs
	servertest.NextEvent(t, c, func(e sdk.Event) bool {
		return e.Type == sdk.EventConnectionState && e.Params["state"] != "connected"
	})
	os.WriteFile(release, nil, 0o600) // the solver finishes meanwhile
	p.Cut(false)
	r := <-done
	if r.err != nil || r.res.Status != sdk.SolveSucceeded {
		t.Fatalf("after reconnecting: %v %+v", r.err, r.res)
	}
	if out, _ := os.ReadFile(filepath.Join(r.res.ResultDir, "out.txt")); string(out) != "done\n" {
		t.Fatalf("out.txt %q", out)
	}
}

// A program that shuts out while its solve runs cancels the job: its
// result would reach no one, and the worker's machine is freed.
func TestShutOutCancelsSolvesInProgress(t *testing.T) {
	srv, c := startCompute(t)
	_, pid, e := solveWaiting(t, c, nil)
	job := e.Params["jobId"]
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var state string
	deadline := time.Now().Add(15 * time.Second)
	for tick := time.NewTicker(20 * time.Millisecond); time.Now().Before(deadline); <-tick.C {
		var j struct {
			State string `json:"state"`
		}
		if err := srv.Admin().Do(context.Background(), "GET", "/jobs/"+job, nil, &j); err != nil {
			t.Fatal(err)
		}
		if state = j.State; state == "canceled" {
			break
		}
	}
	if state != "canceled" {
		t.Fatalf("job %s is %s after the client shut out, want canceled", job, state)
	}
	if processAlive(pid) {
		t.Fatalf("the solver (pid %s) still runs", pid)
	}
}

// A result whose event was lost (the program's session was ended while its
// job ran, as when it sleeps past its resume window) still reaches the
// solve: it asks for its job now and then.
func TestSolveLearnsAResultWhoseEventWasLost(t *testing.T) {
	defer sdk.SetSolvePoll(100 * time.Millisecond)()
	srv, c := startCompute(t)
	model, args, _, release := waiterModel(t)
	done := solveWhileRunning(c, model, args)
	old := c.SessionID()
	if err := srv.Admin().Do(context.Background(), "DELETE", "/sessions/"+old, nil, nil); err != nil {
		t.Fatal(err)
	}
	servertest.NextEvent(t, c, func(e sdk.Event) bool {
		return e.Type == sdk.EventConnectionState && e.Params["state"] == "connected" && e.Params["session"] != old
	})
	os.WriteFile(release, nil, 0o600) // the job ends; its events go to the ended session
	r := <-done
	if r.err != nil || r.res.Status != sdk.SolveSucceeded {
		t.Fatalf("solve: %v %+v", r.err, r.res)
	}
	if b, _ := os.ReadFile(filepath.Join(r.res.ResultDir, "out.txt")); string(b) != "done\n" {
		t.Fatalf("out.txt %q", b)
	}
}

// solveOutcome is how a solve in the background ended.
type solveOutcome struct {
	res sdk.SolveResult
	err error
}

// solveWhileRunning starts a solve of model with the waiter solver in the
// background and returns once its solver runs (its first output line
// arrived); the outcome comes on the channel.
func solveWhileRunning(c *sdk.Client, model string, args []string) <-chan solveOutcome {
	running := make(chan struct{})
	var once sync.Once
	done := make(chan solveOutcome, 1)
	go func() {
		res, err := c.Solve(context.Background(), model, sdk.SolveOptions{Solver: "waiter", Args: args, Progress: func(p sdk.SolveProgress) {
			if p.State == sdk.SolveRunning && len(p.Log) > 0 {
				once.Do(func() { close(running) })
			}
		}})
		done <- solveOutcome{res, err}
	}()
	select {
	case <-running:
	case r := <-done: // ended before it ran: the caller's checks say why
		done <- r
	}
	return done
}

// An organisation's jobs waiting at once are bounded: a program in a loop
// cannot fill the queue. The job past the bound is refused, the ones before
// it are kept.
func TestSolveQueueQuota(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true, Jobs: jobs.Config{MaxWaiting: 2}})
	putSolvers(t, srv)
	c, err := sdk.Init(context.Background(), config(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	model, args, _, _ := waiterModel(t)
	for i := range 3 {
		id, err := sdk.NewDesk(c).GetSolution(model, `{"solver":"waiter","args":["`+args[0]+`","`+args[1]+`"]}`, nil)
		if err != nil {
			t.Fatal(err)
		}
		e := servertest.NextEvent(t, c, func(e sdk.Event) bool {
			return e.RequestID == id && (e.Params["state"] == "queued" || e.Type == sdk.EventSolutionResult)
		})
		if i < 2 && e.Params["state"] != "queued" {
			t.Fatalf("job %d: %v, want queued", i+1, e.Params)
		}
		if i == 2 && (e.Params["status"] != "failed" || e.Params["errorCode"] != wire.CodeQuota) {
			t.Fatalf("job 3: %v, want failed with %s", e.Params, wire.CodeQuota)
		}
	}
	var js []struct {
		State string `json:"state"`
	}
	if err := srv.Admin().Do(context.Background(), "GET", "/jobs", nil, &js); err != nil || len(js) != 2 {
		t.Fatalf("jobs %v %v, want the two first, queued", js, err)
	}
}
