//go:build linux

package worker_test

// These tests run `iscd worker` as real processes, built with
// CGO_ENABLED=0 as workers ship, against an iscd on loopback: a worker
// killed with SIGKILL mid-solve, iscd restarted with jobs queued, the
// example native plugin loaded through purego, and hostile workers
// speaking the worker protocol by hand (hostile_test.go).

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/jobs"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/solver/solvertest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/sdk"
)

// lease is the job lease of the tests' iscd: a killed worker's job is
// queued again about this long after its last renewal.
const lease = time.Second

// waitFor bounds every wait of these tests for something to happen.
const waitFor = 30 * time.Second

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
	// shareDir is shared with every test solver's sandbox
	// (--sandbox-share): the waiter's pid and release files are there.
	shareDir string
)

func TestMain(m *testing.M) {
	var err error
	if shareDir, err = os.MkdirTemp("", "iscd-worker-share-"); err != nil {
		panic(err)
	}
	os.Chmod(shareDir, 0o777) // a root worker's solvers run as nobody
	code := servertest.Main(m)
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.RemoveAll(shareDir)
	os.Exit(code)
}

// iscdBinary builds cmd/iscd once with CGO_ENABLED=0, as workers ship: the
// worker is pure Go, native solver plugins included (purego loads them; it
// still links the system's libc and libdl dynamically, without cgo).
func iscdBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds iscd and runs worker processes")
	}
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "iscd-worker-test-"); binErr != nil {
			return
		}
		os.Chmod(binDir, 0o755) // it hosts plugin solves in the sandbox, as nobody under root
		binPath = filepath.Join(binDir, "iscd")
		cmd := exec.Command("go", "build", "-o", binPath, "../../cmd/iscd")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("CGO_ENABLED=0 go build ./cmd/iscd: %v\n%s", err, out)
			return
		}
		info, err := buildinfo.ReadFile(binPath)
		if err != nil {
			binErr = err
			return
		}
		for _, kv := range info.Settings {
			if kv.Key == "CGO_ENABLED" && kv.Value != "0" {
				binErr = fmt.Errorf("iscd was built with CGO_ENABLED=%s", kv.Value)
			}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// testSolvers are the command solvers the tests define on the demo product.
var testSolvers = []adminapi.Solver{
	{Name: "waiter", Kind: "command", Outputs: []string{"out.txt"}},
	{Name: "quick", Kind: "command", Outputs: []string{"out.txt"}},
}

// testCommands are what the tests' workers run for them (--solver NAME=DEF).
var testCommands = map[string]string{
	// writes its pid, says so, and waits until the file named by its
	// second argument exists; writes out.txt
	"waiter": `sh -c 'echo $$ > "$1"; echo "waiting $ISCSDK_JOB_ATTEMPT"; while [ ! -e "$2" ]; do sleep 0.02; done; echo "done $ISCSDK_JOB_ATTEMPT" > out.txt' waiter {args}`,
	// solves at once
	"quick":  `sh -c 'echo solving; wc -c < "$1" > out.txt' quick {main}`,
	"ticker": `sh -c 'echo $$ > "$1"; while [ ! -e "$2" ]; do echo tick; sleep 0.05; done; echo done > out.txt' ticker {args}`,
	"bigout": `sh -c 'head -c 64000000 /dev/urandom > out.bin'`,
}

// compute is an iscd without a worker of its own, with a worker token.
type compute struct {
	*servertest.Server
	token string // a worker token's secret
}

func startCompute(t *testing.T) *compute { return startComputeLease(t, lease) }

func startComputeLease(t *testing.T, lease time.Duration) *compute {
	t.Helper()
	iscdBinary(t)
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true, Jobs: jobs.Config{Lease: lease}})
	for _, s := range testSolvers {
		putSolver(t, srv, s)
	}
	var tok adminapi.NewToken
	if err := srv.Admin().Do(context.Background(), "POST", "/workers/tokens", adminapi.CreateWorkerToken{Name: t.Name()}, &tok); err != nil {
		t.Fatalf("worker token: %v", err)
	}
	return &compute{Server: srv, token: tok.Secret}
}

func putSolver(t *testing.T, srv *servertest.Server, s adminapi.Solver) {
	t.Helper()
	if err := srv.Admin().Do(context.Background(), "PUT", "/products/"+srv.Product+"/solvers/"+s.Name, s, nil); err != nil {
		t.Fatalf("solver %s: %v", s.Name, err)
	}
}

func (c *compute) client(t *testing.T) *sdk.Client {
	t.Helper()
	cl, err := sdk.Init(context.Background(), sdk.Config{Endpoint: c.Endpoint, Token: c.APIToken, ProductID: c.Product,
		WorkspaceDir: t.TempDir(), ConnectTimeout: 5 * time.Second, CredentialsFile: filepath.Join(t.TempDir(), "none"), LogLevel: "off"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// job is the job as iscd's admin API shows it.
func (c *compute) job(t *testing.T, id string) store.Job {
	t.Helper()
	var j store.Job
	if err := c.Admin().Do(context.Background(), "GET", "/jobs/"+id, nil, &j); err != nil {
		t.Fatalf("job %s: %v", id, err)
	}
	return j
}

// workerProc is an `iscd worker` process.
type workerProc struct {
	name string
	cmd  *exec.Cmd
	log  *syncBuffer
	once sync.Once
}

// startWorker runs `iscd worker --name NAME ARGS...` against c; the test's
// end stops it (SIGTERM) and shows its log if the test failed. A --solver
// naming one of testCommands runs it, sharing shareDir with its sandbox.
func (c *compute) startWorker(t *testing.T, name string, args ...string) *workerProc {
	t.Helper()
	args = slices.Clone(args)
	for i := 1; i < len(args); i++ {
		if def, ok := testCommands[args[i]]; ok && args[i-1] == "--solver" {
			args[i] += "=" + def
		}
	}
	args = append([]string{"worker", "--server", "http://" + c.Addr, "--name", name, "--dir", workerDir(t), "--log-level", "debug",
		"--sandbox-share", shareDir}, args...)
	cmd := exec.Command(iscdBinary(t), args...)
	cmd.Env = append(os.Environ(), "ISCD_WORKER_TOKEN="+c.token)
	w := &workerProc{name: name, cmd: cmd, log: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = w.log, w.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("worker %s:\n%s", name, w.log.String())
		}
	})
	return w
}

// stop signals the worker and waits for it to exit.
func (w *workerProc) stop(sig syscall.Signal) {
	w.once.Do(func() {
		w.cmd.Process.Signal(sig)
		w.cmd.Wait()
	})
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// solve runs c.Solve in the background, passing its progress to the
// returned channel; the result comes on the other.
type solveOutcome struct {
	res sdk.SolveResult
	err error
}

func solve(cl *sdk.Client, model string, opt sdk.SolveOptions) (<-chan sdk.SolveProgress, <-chan solveOutcome) {
	progress := make(chan sdk.SolveProgress, 4096)
	done := make(chan solveOutcome, 1)
	opt.Progress = func(p sdk.SolveProgress) {
		select {
		case progress <- p:
		default: // the test stopped listening
		}
	}
	go func() {
		res, err := cl.Solve(context.Background(), model, opt)
		done <- solveOutcome{res, err}
	}()
	return progress, done
}

// nextProgress waits for a progress report that keep accepts.
func nextProgress(t *testing.T, progress <-chan sdk.SolveProgress, done <-chan solveOutcome, keep func(sdk.SolveProgress) bool) sdk.SolveProgress {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case p := <-progress:
			if keep(p) {
				return p
			}
		case r := <-done:
			t.Fatalf("the solve ended while waiting for progress: %v %+v", r.err, r.res)
		case <-timeout:
			t.Fatal("no such progress within", waitFor)
		}
	}
}

func result(t *testing.T, done <-chan solveOutcome) sdk.SolveResult {
	t.Helper()
	select {
	case r := <-done:
		if r.err != nil || r.res.Status != sdk.SolveSucceeded {
			t.Fatalf("solve: %v %+v", r.err, r.res)
		}
		return r.res
	case <-time.After(waitFor):
		t.Fatal("no result within", waitFor)
	}
	panic("unreachable")
}

func hasLine(p sdk.SolveProgress, line string) bool {
	for _, l := range p.Log {
		if l == line {
			return true
		}
	}
	return false
}

// waiterModel makes a model for the waiter solver and returns it, its
// arguments, its pid file and the file that releases it.
func waiterModel(t *testing.T) (model string, args []string, pidFile, release string) {
	dir, err := os.MkdirTemp(shareDir, "waiter-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	t.Cleanup(func() { os.RemoveAll(dir) })
	model = filepath.Join(dir, "model.inp")
	if err := os.WriteFile(model, []byte("model "+t.Name()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pidFile, release = filepath.Join(dir, "solver.pid"), filepath.Join(dir, "release")
	return model, []string{pidFile, release}, pidFile, release
}

// waitExit waits until process pid has exited (a zombie counts) and
// reports whether it did within d. It watches a pidfd: no polling.
func waitExit(t *testing.T, pid int, d time.Duration) bool {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return true // gone and reaped
	}
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(d.Milliseconds()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("poll pidfd: %v", err)
		}
		return n > 0
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

// readPid returns the machine's pid of the solver that wrote pidFile
// (the pid it wrote is its sandbox's).
func readPid(t *testing.T, pidFile string) int {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
		t.Fatalf("pid file %q: %v", b, err)
	}
	pid := solvertest.Pid(pidFile)
	if pid == 0 {
		t.Fatalf("no process runs with %s in its command line", pidFile)
	}
	return pid
}

// A worker killed with SIGKILL in the middle of a long solve: its solver
// dies with it, iscd queues the job again when the lease lapses, the other
// worker runs it (attempt 2), and the client gets one result: success.
func TestWorkerKilledMidSolveJobRunsElsewhere(t *testing.T) {
	c := startCompute(t)
	cl := c.client(t)
	workers := map[string]*workerProc{}
	for _, name := range []string{"w1", "w2"} {
		workers[name] = c.startWorker(t, name, "--solver", "waiter")
	}
	model, args, pidFile, release := waiterModel(t)
	progress, done := solve(cl, model, sdk.SolveOptions{Solver: "waiter", Args: args})

	first := nextProgress(t, progress, done, func(p sdk.SolveProgress) bool { return hasLine(p, "waiting 1") })
	var victim, survivor *workerProc
	for name, w := range workers {
		if strings.HasSuffix(first.Worker, "/"+name) {
			victim = w
		} else {
			survivor = w
		}
	}
	if first.Attempt != 1 || victim == nil {
		t.Fatalf("first attempt %d on worker %q", first.Attempt, first.Worker)
	}
	solverPid := readPid(t, pidFile)

	killed := time.Now()
	victim.stop(syscall.SIGKILL)
	if !waitExit(t, solverPid, 5*time.Second) {
		t.Fatalf("the killed worker's solver (pid %d) still runs", solverPid)
	}
	solverGone := time.Since(killed)

	second := nextProgress(t, progress, done, func(p sdk.SolveProgress) bool { return hasLine(p, "waiting 2") })
	rerun := time.Since(killed)
	if second.Attempt != 2 || !strings.HasSuffix(second.Worker, "/"+survivor.name) {
		t.Fatalf("second attempt %d on %q, want 2 on %s", second.Attempt, second.Worker, survivor.name)
	}
	t.Logf("SIGKILL to the solver's exit: %v; to the re-run on %s: %v (lease %v)", solverGone, survivor.name, rerun, lease)

	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	res := result(t, done)
	if res.Attempts != 2 {
		t.Fatalf("result of attempt %d, want 2", res.Attempts)
	}
	if out, _ := os.ReadFile(filepath.Join(res.ResultDir, "out.txt")); string(out) != "done 2\n" {
		t.Fatalf("out.txt %q", out)
	}

	// One result: the lost attempt ended nothing, and only the second was
	// recorded and metered.
	j := c.job(t, res.JobID)
	if j.State != store.JobSucceeded || len(j.Attempts) != 2 || j.Attempts[0].Outcome != "lost" ||
		j.Attempts[1].Outcome != store.JobSucceeded || !strings.HasSuffix(j.Attempts[1].Worker, "/"+survivor.name) {
		t.Fatalf("job %+v", j)
	}
	var usage adminapi.Usage
	if err := c.Admin().Do(context.Background(), "GET", "/usage?org="+j.OrgID, nil, &usage); err != nil {
		t.Fatal(err)
	}
	var sns []string
	for _, u := range usage.Raw {
		if u.JobID == j.ID {
			sns = append(sns, u.SN)
		}
	}
	if len(sns) != 1 || sns[0] != j.ID+"-2" {
		t.Fatalf("usage records of the job: %v, want one of attempt 2", sns)
	}
}

// iscd restarted with jobs queued and no worker: the clients resume their
// sessions, a worker started afterwards runs the jobs, and the results
// arrive.
func TestJobsQueuedAcrossAnIscdRestart(t *testing.T) {
	c := startComputeLease(t, 10*time.Second) // no lease lapses here: a late renewal under load must not re-run a job
	cl := c.client(t)
	const n = 3
	var dones []<-chan solveOutcome
	var ids []string
	for i := range n {
		model := filepath.Join(t.TempDir(), fmt.Sprintf("model%d.inp", i))
		if err := os.WriteFile(model, bytes.Repeat([]byte("x"), 100+i), 0o600); err != nil {
			t.Fatal(err)
		}
		progress, done := solve(cl, model, sdk.SolveOptions{Solver: "quick"})
		p := nextProgress(t, progress, done, func(p sdk.SolveProgress) bool { return p.State == sdk.SolveQueued })
		dones, ids = append(dones, done), append(ids, p.JobID)
	}

	c.Restart()
	for _, id := range ids {
		if j := c.job(t, id); j.State != store.JobQueued {
			t.Fatalf("after the restart job %s is %s", id, j.State)
		}
	}
	c.startWorker(t, "after-restart", "--solver", "quick")
	for i, done := range dones {
		res := result(t, done)
		if res.Attempts != 1 {
			t.Errorf("job %s: attempt %d", res.JobID, res.Attempts)
		}
		if out, _ := os.ReadFile(filepath.Join(res.ResultDir, "out.txt")); strings.TrimSpace(string(out)) != strconv.Itoa(100+i) {
			t.Errorf("job %d out.txt %q", i, out)
		}
	}
}

// The example native plugin (examples/solver-plugin) loaded through purego
// by the CGO_ENABLED=0 worker: progress with percent, and the plate's
// centre at 25 degrees.
func TestPluginSolverInAPureGoWorker(t *testing.T) {
	build := os.Getenv("ISCSDK_BUILD_DIR")
	if build == "" {
		t.Skip("ISCSDK_BUILD_DIR is not set: run `make plugin` and set it to the build directory (make test does) to load build/lib/libheat_solver.so")
	}
	lib := filepath.Join(build, "lib", "libheat_solver.so")
	if _, err := os.Stat(lib); err != nil {
		t.Fatalf("%v: run `make plugin` first", err)
	}
	// The lease of production: the test's one-second lease (for tests
	// of lapsed leases) was lost under load while the fine grid solved
	// (a renewal more than two thirds of a second late), the job ran
	// again, and its percent went back to 0.
	c := startComputeLease(t, jobs.DefaultLease)
	putSolver(t, c.Server, adminapi.Solver{Name: "heat", Kind: "plugin", Outputs: []string{"result.csv", "summary.txt"}})
	c.startWorker(t, "plugin", "--plugin", "heat="+lib)
	cl := c.client(t)

	// plate.heat as shipped, and a finer grid of the same plate: its solve
	// lasts long enough for progress between the start and the end.
	plate, err := os.ReadFile(filepath.Join("..", "..", "examples", "solver-plugin", "plate.heat"))
	if err != nil {
		t.Fatal(err)
	}
	fine := filepath.Join(t.TempDir(), "fine.heat")
	fineModel := strings.NewReplacer("nx 41", "nx 401", "ny 41", "ny 401", "max_iterations 20000", "max_iterations 200000").Replace(string(plate))
	if err := os.WriteFile(fine, []byte(fineModel), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, model := range []string{filepath.Join("..", "..", "examples", "solver-plugin", "plate.heat"), fine} {
		progress, done := solve(cl, model, sdk.SolveOptions{Solver: "heat"})
		var percents []float64
		var lines int
		for {
			p := nextProgress(t, progress, done, func(p sdk.SolveProgress) bool { return true })
			if p.State == sdk.SolveRunning {
				if p.Percent >= 0 {
					percents = append(percents, p.Percent)
				}
				lines += len(p.Log)
			}
			if p.State == sdk.SolveDownloading {
				break
			}
		}
		res := result(t, done)
		between := 0
		for i, p := range percents {
			if p > 0 && p < 100 {
				between++
			}
			if i > 0 && p < percents[i-1] {
				t.Errorf("%s: percent went back: %v", model, percents)
				break
			}
		}
		if len(percents) == 0 || percents[len(percents)-1] != 100 || lines == 0 || (model == fine && between == 0) {
			t.Fatalf("%s: running progress: percents %v, %d log lines", model, percents, lines)
		}
		summary, err := os.ReadFile(filepath.Join(res.ResultDir, "summary.txt"))
		if err != nil {
			t.Fatalf("result files %v: %v", res.Files, err)
		}
		center := math.NaN()
		for _, line := range strings.Split(string(summary), "\n") {
			if v, ok := strings.CutPrefix(line, "center_temperature "); ok {
				center, _ = strconv.ParseFloat(v, 64)
			}
		}
		if math.Abs(center-25) > 1e-6 {
			t.Fatalf("%s: center_temperature %v, want 25\n%s", model, center, summary)
		}
		if _, err := os.Stat(filepath.Join(res.ResultDir, "result.csv")); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: percent reports %v, %d log lines, wall %.3fs", filepath.Base(model), percents, lines, res.WallSeconds)
	}
}

// Cancel of a solve running on a worker process: the solver stops and the
// result says canceled.
func TestCancelStopsTheSolverOnAWorkerProcess(t *testing.T) {
	c := startComputeLease(t, 10*time.Second) // the cancel is pushed to the worker, not heard at a renewal
	cl := c.client(t)
	c.startWorker(t, "w", "--solver", "waiter")
	model, args, pidFile, _ := waiterModel(t)
	id, err := sdk.NewDesk(cl).GetSolution(model, `{"solver":"waiter","args":["`+args[0]+`","`+args[1]+`"]}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	servertest.NextEvent(t, cl, func(e sdk.Event) bool {
		return e.Type == sdk.EventSolutionProgress && e.RequestID == id && strings.Contains(e.Params["log"], "waiting 1")
	})
	pid := readPid(t, pidFile)
	asked := time.Now()
	if err := sdk.NewDesk(cl).Cancel(id); err != nil {
		t.Fatal(err)
	}
	if !waitExit(t, pid, waitFor) {
		t.Fatalf("the solver (pid %d) still runs %v after the cancel", pid, waitFor)
	}
	stopped := time.Since(asked)
	e := servertest.NextEvent(t, cl, func(e sdk.Event) bool { return e.Type == sdk.EventSolutionResult && e.RequestID == id })
	if e.Params["status"] != "canceled" {
		t.Fatalf("result %+v", e.Params)
	}
	t.Logf("cancel to the solver's exit: %v; to the canceled result: %v", stopped, time.Since(asked))
}

// iscd restarted while a worker process runs a job: the worker keeps the
// solver running, reconnects and renews, and the same attempt finishes.
func TestJobRunningAcrossAnIscdRestart(t *testing.T) {
	c := startComputeLease(t, 10*time.Second) // the restart is well within a lease
	cl := c.client(t)
	c.startWorker(t, "w", "--solver", "waiter")
	model, args, pidFile, release := waiterModel(t)
	progress, done := solve(cl, model, sdk.SolveOptions{Solver: "waiter", Args: args})
	nextProgress(t, progress, done, func(p sdk.SolveProgress) bool { return hasLine(p, "waiting 1") })
	pid := readPid(t, pidFile)

	c.Restart()
	if waitExit(t, pid, 0) {
		t.Fatal("the solver stopped when iscd restarted")
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	res := result(t, done)
	if res.Attempts != 1 {
		t.Fatalf("result of attempt %d, want 1", res.Attempts)
	}
	if out, _ := os.ReadFile(filepath.Join(res.ResultDir, "out.txt")); string(out) != "done 1\n" {
		t.Fatalf("out.txt %q", out)
	}
}

// A worker whose token iscd refuses stops, saying why, instead of
// retrying for ever.
func TestWorkerWithARefusedTokenStops(t *testing.T) {
	c := startCompute(t)
	for _, tok := range []string{"isw_nosuchtoken", "not a token"} {
		cmd := exec.Command(iscdBinary(t), "worker", "--server", "http://"+c.Addr, "--solver", "quick="+testCommands["quick"], "--dir", workerDir(t))
		cmd.Env = append(os.Environ(), "ISCD_WORKER_TOKEN="+tok)
		out, err := runFor(cmd, waitFor)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "refused the worker token") {
			t.Fatalf("worker with token %q: %v\n%s", tok, err, out)
		}
	}
}

// runFor runs cmd, killing it after d, and returns its combined output.
func runFor(cmd *exec.Cmd, d time.Duration) ([]byte, error) {
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	timer := time.AfterFunc(d, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	return []byte(out.String()), err
}
