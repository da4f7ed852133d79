package hostile_test

// Jobs confined to their directory, and what a job may ask a worker to
// run: a deck that includes files outside its job, a solver that tries to
// read, write or connect outside it, a solver definition or a job that
// names a program or an option, and where the dev worker keeps its jobs.
// Each runs against the iscd binary (its dev worker, a real worker, runs
// CalculiX) and, for the hostile solver, an `iscd worker` process.

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/solver/calculixtest"
	"github.com/iscsdk/iscsdk/internal/transport"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

// sandboxISCD runs the iscd binary in dev mode with its own data
// directory and temporary directory (where its dev worker's jobs go), and
// returns it with a client of its demo organisation.
func sandboxISCD(t *testing.T) (iscd *servertest.Binary, data, tmp string, c *sdk.Client) {
	t.Helper()
	calculixtest.Need(t)
	bin := limitsISCD(t)
	data, tmp = t.TempDir(), t.TempDir()
	// A root worker's solvers run as nobody, who must pass through the
	// temporary directory's parents to reach its jobs.
	for _, d := range []string{tmp, filepath.Dir(tmp)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("TMPDIR", tmp)
	iscd, err := servertest.StartBinary(bin, data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iscd.Stop)
	c, err = sdk.Init(context.Background(), sdk.Config{Endpoint: iscd.Env["ISCSDK_ENDPOINT"], Token: iscd.Env["ISCSDK_TOKEN"],
		ProductID: iscd.Env["ISCSDK_PRODUCT"], AppVersion: "1.0.0", ConnectTimeout: 10 * time.Second, LogLevel: "off",
		WorkspaceDir: t.TempDir(), CredentialsFile: filepath.Join(t.TempDir(), "none")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return iscd, data, tmp, c
}

func sandboxAdmin(iscd *servertest.Binary) *adminapi.Client {
	return &adminapi.Client{BaseURL: iscd.Env["ISCD_ADMIN_URL"], Token: iscd.Env["ISCD_ADMIN_TOKEN"], HTTP: http.DefaultClient}
}

// secrets are the values of dev.env: tokens, keys, URLs.
func secrets(t *testing.T, data string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "dev.env"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if _, v, ok := strings.Cut(line, "="); ok && len(strings.Trim(v, `"' `)) >= 16 {
			out = append(out, strings.Trim(v, `"' `))
		}
	}
	if len(out) < 3 {
		t.Fatalf("dev.env holds %d secrets: the test would prove nothing", len(out))
	}
	return out
}

// everything is what a solve brought back: its result and every file of
// its result folder.
func everything(t *testing.T, res sdk.SolveResult, progress []string) string {
	t.Helper()
	var b strings.Builder
	j, _ := json.Marshal(res)
	b.Write(j)
	b.WriteString(strings.Join(progress, "\n"))
	if res.ResultDir != "" {
		filepath.WalkDir(res.ResultDir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				data, _ := os.ReadFile(p)
				b.Write(data)
			}
			return nil
		})
	}
	return b.String()
}

// solveCollecting solves model and returns the result, the error and every
// log line the progress carried.
func solveCollecting(c *sdk.Client, model string, opt sdk.SolveOptions) (sdk.SolveResult, error, []string) {
	var mu sync.Mutex
	var lines []string
	opt.Progress = func(p sdk.SolveProgress) {
		mu.Lock()
		lines = append(lines, p.Log...)
		mu.Unlock()
	}
	res, err := c.Solve(context.Background(), model, opt)
	mu.Lock()
	defer mu.Unlock()
	return res, err, lines
}

// A CalculiX deck that *INCLUDEs the data directory's dev.env (API and
// admin tokens), /etc/passwd, or a relative path climbing out of its job
// brings back not a byte of them: the solver cannot see those files, and
// says it cannot open the include.
func TestSandboxIncludeOutsideTheJobLeaksNothing(t *testing.T) {
	_, data, _, c := sandboxISCD(t)
	secret := secrets(t, data)
	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Skip("no /etc/passwd")
	}
	rootLine, _, _ := strings.Cut(string(passwd), "\n")
	deck, err := os.ReadFile("../../examples/data/beam.inp")
	if err != nil {
		t.Fatal(err)
	}
	for _, include := range []string{filepath.Join(data, "dev.env"), "/etc/passwd", "../../../../../../etc/passwd"} {
		t.Run(include, func(t *testing.T) {
			model := filepath.Join(t.TempDir(), "beam.inp")
			os.WriteFile(model, append([]byte("*INCLUDE,INPUT="+include+"\n"), deck...), 0o644)
			res, err, lines := solveCollecting(c, model, sdk.SolveOptions{Solver: "calculix"})
			got := everything(t, res, lines)
			for _, s := range append(secret, rootLine) {
				if strings.Contains(got, s) {
					t.Fatalf("the result carries %.12q... of %s", s, include)
				}
			}
			// CalculiX says so and carries on (its exit status is 0).
			if !strings.Contains(got, "cannot open file "+include) {
				t.Fatalf("solve with *INCLUDE,INPUT=%s: %v, %+v; want CalculiX saying it cannot open the file", include, err, res)
			}
		})
	}
}

var escapeBuild = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hostile-escape-")
	if err != nil {
		return "", err
	}
	os.Chmod(dir, 0o755) // a solver's installation: readable by the sandbox's user
	bin := filepath.Join(dir, "escape")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/escape")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New(string(out))
	}
	return bin, nil
})

// A solver that tries to read the data directory's secrets and the
// machine's files, write beside its job and into a world-writable folder,
// reach this test and iscd over TCP, and see the machine's processes,
// fails at each, on an `iscd worker` process (running as root in CI: its
// solver runs as nobody) whose token is not in the solver's environment
// either.
func TestSandboxSolverCannotReachOutsideItsJob(t *testing.T) {
	iscd, data, _, c := sandboxISCD(t)
	escape, err := escapeBuild()
	if err != nil {
		t.Fatalf("build the escape solver: %v", err)
	}
	admin := sandboxAdmin(iscd)
	ctx := context.Background()
	product := iscd.Env["ISCSDK_PRODUCT"]
	if err := admin.Do(ctx, "PUT", "/products/"+product+"/solvers/escape", adminapi.Solver{Name: "escape", Kind: "command", Outputs: []string{"out.txt"}}, nil); err != nil {
		t.Fatal(err)
	}
	var tok adminapi.NewToken
	if err := admin.Do(ctx, "POST", "/workers/tokens", adminapi.CreateWorkerToken{Name: "sandbox test"}, &tok); err != nil {
		t.Fatal(err)
	}
	w := startSandboxWorker(t, iscd, limitsISCD(t), tok.Secret, "sandboxed", "--solver", "escape="+escape+" {main}")

	// Something listens on this machine's loopback: the solver must not
	// reach it (no network), nor iscd.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var reached atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			reached.Add(1)
			conn.Close()
		}
	}()
	adminURL, _ := url.Parse(iscd.Env["ISCD_ADMIN_URL"])
	open := t.TempDir()
	os.Chmod(open, 0o777) // not even permissions stand in the way
	os.Chmod(filepath.Dir(open), 0o755)
	attempts := []string{
		"read " + filepath.Join(data, "dev.env"),
		"read /etc/passwd",
		"read /etc/shadow",
		"read /proc/" + strconv.Itoa(iscd.Pid) + "/environ",      // iscd's, tokens and all
		"read /proc/" + strconv.Itoa(w.Process.Pid) + "/environ", // the worker's
		"write " + filepath.Join(open, "escaped"),
		"write /usr/escaped",
		"write ../escaped",
		"connect " + ln.Addr().String(),
		"connect " + adminURL.Host,
		"procs",
	}
	model := filepath.Join(t.TempDir(), "attempts.inp")
	os.WriteFile(model, []byte(strings.Join(attempts, "\n")+"\n"), 0o644)
	res, err, lines := solveCollecting(c, model, sdk.SolveOptions{Solver: "escape"})
	if err != nil || res.Status != sdk.SolveSucceeded {
		t.Fatalf("solve: %v %+v", err, res)
	}
	out, err := os.ReadFile(filepath.Join(res.ResultDir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	report := string(out)
	t.Logf("the escape solver's report:\n%s", report)
	if strings.Contains(report, "LEAKED") {
		t.Fatalf("the solver got out of its job:\n%s", report)
	}
	for _, a := range attempts[:len(attempts)-1] {
		if !strings.Contains(report, "blocked "+a) {
			t.Errorf("no 'blocked %s' in the report", a)
		}
	}
	if !strings.Contains(report, "procs 1\n") && !strings.Contains(report, "procs 2\n") {
		t.Errorf("the solver sees the machine's processes: %s", report)
	}
	got := everything(t, res, lines)
	for _, s := range append(secrets(t, data), tok.Secret) {
		if strings.Contains(got, s) {
			t.Fatalf("the result carries a secret (%.12q...)", s)
		}
	}
	if _, err := os.Stat(filepath.Join(open, "escaped")); err == nil {
		t.Fatal("the solver wrote outside its job")
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("the solver connected to this machine's loopback %d times", n)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

// The service holds no command to give a worker: a solver definition
// naming a program is refused whole, and a job's arguments never become a
// program or an option (a template without {args} takes none).
func TestSandboxNothingFromTheServiceBecomesAProgram(t *testing.T) {
	iscd, _, tmp, c := sandboxISCD(t)
	admin := sandboxAdmin(iscd)
	ctx := context.Background()
	product := iscd.Env["ISCSDK_PRODUCT"]
	marker := filepath.Join(tmp, "pwned")
	body := map[string]any{"name": "calculix", "kind": "command", "command": []string{"/bin/sh", "-c", "touch " + marker}}
	err := admin.Do(ctx, "PUT", "/products/"+product+"/solvers/calculix", body, nil)
	if err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("a solver naming a program: %v, want HTTP 400", err)
	}
	var ss []adminapi.Solver
	if err := admin.Do(ctx, "GET", "/products/"+product+"/solvers", nil, &ss); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(ss); strings.Contains(string(b), "/bin/sh") {
		t.Fatalf("the refused definition was stored: %s", b)
	}

	// Arguments to CalculiX, whose template (the worker's) has no {args}:
	// refused by the worker; nothing ran.
	model := filepath.Join(t.TempDir(), "beam.inp")
	deck, _ := os.ReadFile("../../examples/data/beam.inp")
	os.WriteFile(model, deck, 0o644)
	res, err := c.Solve(ctx, model, sdk.SolveOptions{Solver: "calculix", Args: []string{"/bin/sh", "touch " + marker}})
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeBadArgument {
		t.Fatalf("arguments for a solver that takes none: %v %+v, want bad_argument", err, res)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a program named by the service or a job ran")
	}
}

// A model named like an option (-o, -something) is refused by the SDK
// before anything is sent, and by the service from a client that skips
// the SDK's check, with errorCode bad_argument; so is an argument that
// begins with '-'.
func TestSandboxModelNamedLikeAnOptionIsRefused(t *testing.T) {
	iscd, _, _, c := sandboxISCD(t)
	ctx := context.Background()
	for _, name := range []string{"-o", "-something.inp", "--help"} {
		model := filepath.Join(t.TempDir(), name)
		os.WriteFile(model, []byte("*HEADING\n"), 0o644)
		res, err := c.Solve(ctx, model, sdk.SolveOptions{Solver: "calculix"})
		var we *wire.Error
		if !errors.Is(err, sdk.ErrInvalidArgument) || !errors.As(err, &we) || we.Code != wire.CodeBadArgument || res.JobID != "" {
			t.Errorf("Solve(%s): %v %+v, want bad_argument before submitting", name, err, res)
		}
		if _, err := sdk.NewDesk(c).GetSolution(model, "", nil); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("GetSolution(%s): %v, want ErrInvalidArgument", name, err)
		}
	}

	// A client of its own: the service refuses it.
	ws, _, err := dialSession(iscd.Env["ISCSDK_ENDPOINT"], iscd.Env["ISCSDK_TOKEN"], iscd.Env["ISCSDK_PRODUCT"])
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for i, sub := range []wire.JobSubmit{
		{ID: strings.Repeat("a", 32), Solver: "calculix", Main: "-o"},
		{ID: strings.Repeat("b", 32), Solver: "calculix", Main: "beam.inp", Args: []string{"x", "-o"}},
	} {
		hdr, _ := json.Marshal(sub)
		payload, err := manifest.Encode(manifest.New(manifest.File{Path: sub.Main, Mode: 0o644}))
		if err != nil {
			t.Fatal(err)
		}
		frame, err := wire.EncodeFrame(wire.Frame{Kind: wire.BinJobSubmit, ID: uint64(i + 1), Header: hdr, Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
			t.Fatal(err)
		}
		if code := answerCode(t, ws, uint64(i+1)); code != wire.CodeBadArgument {
			t.Errorf("submit %+v: answered %q, want bad_argument", sub, code)
		}
	}
	var jobs []json.RawMessage
	if err := sandboxAdmin(iscd).Do(ctx, "GET", "/jobs", nil, &jobs); err == nil && len(jobs) != 0 {
		t.Errorf("refused submissions made %d jobs", len(jobs))
	}
}

// answerCode reads ws until the answer to request id and returns its
// error code ("" for success).
func answerCode(t *testing.T, ws *websocket.Conn, id uint64) string {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer ws.SetReadDeadline(time.Time{})
	for {
		kind, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("no answer to request %d: %v", id, err)
		}
		if kind != websocket.TextMessage {
			continue
		}
		m, err := wire.Decode(msg)
		if err != nil || m.ID != id || m.Type != wire.TypeResult {
			continue
		}
		if m.Error != nil {
			return m.Error.Code
		}
		return ""
	}
}

// The dev worker's job directories are outside the data directory: while
// a solve runs, its model is in a job below the temporary directory and
// nowhere below the data directory (whose dev.env holds the tokens).
func TestSandboxDevWorkerJobsAreOutsideTheDataDir(t *testing.T) {
	_, data, tmp, c := sandboxISCD(t)
	model := filepath.Join(t.TempDir(), "long-running-model.inp")
	os.WriteFile(model, []byte(calculixtest.EndlessDeck), 0o644)
	id, err := sdk.NewDesk(c).GetSolution(model, `{"solver":"calculix"}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	servertest.NextEvent(t, c, func(e sdk.Event) bool {
		return e.Type == sdk.EventSolutionProgress && e.RequestID == id && e.Params["state"] == "running" && e.Params["log"] != ""
	})
	find := func(root string) []string {
		var found []string
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Name() == filepath.Base(model) {
				found = append(found, p)
			}
			return nil
		})
		return found
	}
	if got := find(data); len(got) != 0 {
		t.Fatalf("the running job's model is below the data directory: %v", got)
	}
	if got := find(tmp); len(got) != 1 || !strings.Contains(got[0], "iscd-dev-worker-") {
		t.Fatalf("the running job's model in the temporary directory: %v, want one job directory of the dev worker", got)
	}
	if err := sdk.NewDesk(c).Cancel(id); err != nil {
		t.Fatal(err)
	}
	servertest.NextEvent(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSolutionResult && e.RequestID == id })
}

// A compromised service hands an `iscd worker` process leases that name a
// program (the old "command" field: /bin/sh), a solver the worker does not
// run, options as arguments, arguments for a template without {args}, and
// a model named -o. The worker runs none of it: each attempt ends
// solver_start or bad_argument, and the one well-formed lease runs the
// worker's own program, not the lease's.
func TestSandboxALeaseNamingAProgramIsNotRun(t *testing.T) {
	bin := limitsISCD(t)
	marker := filepath.Join(t.TempDir(), "pwned")
	sh := []string{"/bin/sh", "-c", "touch " + marker}
	leases := []map[string]any{
		{"solver": "sh", "command": sh, "main": "m.inp"},
		{"solver": "quick", "command": sh, "main": "m.inp", "args": []string{"-c", "touch " + marker}},
		{"solver": "noargs", "main": "m.inp", "args": []string{"/bin/sh"}},
		{"solver": "quick", "main": "-o"},
		{"solver": "quick", "command": sh, "main": "m.inp", "args": []string{"x"}},
	}
	want := []string{"solver_start", wire.CodeBadArgument, wire.CodeBadArgument, wire.CodeBadArgument, ""}
	for i, l := range leases {
		l["id"], l["attempt"], l["kind"] = strings.Repeat(string(rune('a'+i)), 32), 1, "command"
		l["cores"], l["timeLimitSeconds"], l["maxOutput"] = 1, 60, 1<<20
	}
	done := make(chan wire.JobDone, len(leases))
	next := make(chan map[string]any, len(leases))
	for _, l := range leases {
		next <- l
	}
	up := websocket.Upgrader{}
	fake := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conn := transport.New(ws, transport.Options{})
		defer conn.Close(websocket.CloseNormalClosure, "")
		answer := func(id uint64, body any) {
			b, _ := json.Marshal(body)
			conn.Send(r.Context(), &wire.Message{Type: wire.TypeResult, ID: id, Body: b})
		}
		for {
			m, raw, err := conn.Read()
			if err != nil {
				return
			}
			if m == nil {
				f, err := wire.DecodeFrame(raw)
				if err != nil {
					return
				}
				if f.Kind == wire.BinJobDone {
					var d wire.JobDone
					json.Unmarshal(f.Header, &d)
					done <- d
				}
				answer(f.ID, map[string]any{})
				continue
			}
			switch m.Op {
			case wire.OpWorkerHello:
				answer(m.ID, wire.WorkerWelcome{WorkerID: "fake/w", LeaseMS: 30000})
			case wire.OpWorkerLease:
				go func(id uint64) {
					select {
					case l := <-next:
						answer(id, l)
					case <-conn.Done():
					}
				}(m.ID)
			case wire.OpWorkerManifest:
				b, _ := manifest.Encode(manifest.New(manifest.File{Path: "m.inp", Mode: 0o644}))
				frame, _ := wire.EncodeFrame(wire.Frame{Kind: wire.BinManifest, ID: m.ID, Payload: b})
				conn.SendBinary(r.Context(), frame)
			case wire.OpWorkerHave:
				answer(m.ID, wire.FilesHave{IDs: []string{}})
			default: // renew, release
				answer(m.ID, wire.JobRenewed{})
			}
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go fake.Serve(ln)
	defer fake.Close()

	workDir := t.TempDir()
	os.Chmod(filepath.Dir(workDir), 0o711)
	// Without the sandbox, so that the marker would appear if the lease's
	// program ran: what is tested here is what runs, not where.
	w := exec.Command(bin, "worker", "--server", "http://"+ln.Addr().String(), "--name", "w", "--dir", workDir, "--sandbox=off",
		"--solver", `quick=sh -c 'echo ran > out.txt' quick {args}`, "--solver", `noargs=sh -c 'echo ran > out.txt'`)
	w.Env = append(os.Environ(), "ISCD_WORKER_TOKEN=isw_fake_token")
	var wlog strings.Builder
	w.Stderr = &lockedWriter{w: &wlog}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		w.Process.Signal(syscall.SIGTERM)
		w.Wait()
		if t.Failed() {
			t.Logf("worker:\n%s", wlog.String())
		}
	}()
	for i := range leases {
		select {
		case d := <-done:
			t.Logf("lease %v: %s %s %q", leases[i], d.State, d.ErrorCode, d.Error)
			if d.ID != leases[i]["id"] || d.ErrorCode != want[i] || (want[i] == "") != (d.State == wire.JobSucceeded) {
				t.Errorf("lease %v ended %+v, want errorCode %q", leases[i], d, want[i])
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no result for lease %v", leases[i])
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the lease's program ran")
	}
}

// Fail closed: a worker that cannot build the sandbox (here: no bubblewrap
// on its PATH) does not start, saying why, unless its operator says
// --sandbox=off, which it logs as an error before it runs anything.
func TestSandboxWorkerWithoutOneRefusesToStart(t *testing.T) {
	bin := limitsISCD(t)
	workDir := t.TempDir()
	os.Chmod(filepath.Dir(workDir), 0o711)
	args := []string{"worker", "--server", "http://127.0.0.1:1", "--dir", workDir, "--solver", "t=/usr/bin/true"}
	env := []string{"PATH=" + t.TempDir(), "ISCD_WORKER_TOKEN=isw_x_y"}

	cmd := exec.Command(bin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(string(out), "bubblewrap") || !strings.Contains(string(out), "--sandbox=off") {
		t.Fatalf("a worker without bubblewrap: %v\n%s", err, out)
	}

	cmd = exec.Command(bin, append(args, "--sandbox=off")...)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	first := make([]byte, 4096)
	n, _ := stderr.Read(first) // the first log line
	if line := string(first[:n]); !strings.Contains(line, `"level":"ERROR"`) || !strings.Contains(line, "WITHOUT A SANDBOX") {
		t.Fatalf("--sandbox=off: the first log line is %q, want the loud error", line)
	}
}

var escapePluginBuild = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hostile-escape-plugin-")
	if err != nil {
		return "", err
	}
	os.Chmod(dir, 0o755) // a solver's installation: readable by the sandbox's user
	lib := filepath.Join(dir, "libescape.so")
	cmd := exec.Command("gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-I../../include",
		"testdata/escapeplugin/escape.c", "-o", lib)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New(string(out))
	}
	return lib, nil
})

// A native plugin is confined as a command is: an `iscd worker` process
// runs its solve in the sandbox through its plugin host, where a hostile
// plugin reads neither the data directory's secrets, the machine's files
// nor iscd's environment, writes nothing outside its job, and does not
// find the worker's token in its environment (the worker was given it
// in $ISCD_WORKER_TOKEN).
func TestSandboxPluginCannotReachOutsideItsJob(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc to build the hostile plugin")
	}
	iscd, data, _, c := sandboxISCD(t)
	lib, err := escapePluginBuild()
	if err != nil {
		t.Fatalf("build the escape plugin: %v", err)
	}
	admin := sandboxAdmin(iscd)
	ctx := context.Background()
	product := iscd.Env["ISCSDK_PRODUCT"]
	if err := admin.Do(ctx, "PUT", "/products/"+product+"/solvers/escape-plugin", adminapi.Solver{Name: "escape-plugin", Kind: "plugin", Outputs: []string{"out.txt"}}, nil); err != nil {
		t.Fatal(err)
	}
	var tok adminapi.NewToken
	if err := admin.Do(ctx, "POST", "/workers/tokens", adminapi.CreateWorkerToken{Name: "plugin sandbox test"}, &tok); err != nil {
		t.Fatal(err)
	}
	// The worker's binary hosts the plugin's solve in the sandbox: the
	// sandbox's user must be able to run it.
	bin := limitsISCD(t)
	os.Chmod(filepath.Dir(bin), 0o755)
	w := startSandboxWorker(t, iscd, bin, tok.Secret, "plugins", "--plugin", "escape-plugin="+lib)
	open := t.TempDir()
	os.Chmod(open, 0o777)
	os.Chmod(filepath.Dir(open), 0o755)
	attempts := []string{
		"read " + filepath.Join(data, "dev.env"),
		"read /etc/passwd",
		"read /proc/" + strconv.Itoa(iscd.Pid) + "/environ",
		"read /proc/" + strconv.Itoa(w.Process.Pid) + "/environ",
		"write " + filepath.Join(open, "escaped"),
		"write /escaped",
	}
	model := filepath.Join(t.TempDir(), "attempts.txt")
	os.WriteFile(model, []byte(strings.Join(attempts, "\n")+"\n"), 0o644)
	res, err, lines := solveCollecting(c, model, sdk.SolveOptions{Solver: "escape-plugin"})
	if err != nil || res.Status != sdk.SolveSucceeded {
		t.Fatalf("solve: %v %+v", err, res)
	}
	out, err := os.ReadFile(filepath.Join(res.ResultDir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	report := string(out)
	t.Logf("the escape plugin's report:\n%s", report)
	if strings.Contains(report, "LEAKED") {
		t.Fatalf("the plugin got out of its job:\n%s", report)
	}
	for _, a := range attempts {
		if !strings.Contains(report, "blocked "+a) {
			t.Errorf("no 'blocked %s' in the report", a)
		}
	}
	got := everything(t, res, lines)
	for _, s := range append(secrets(t, data), tok.Secret) {
		if strings.Contains(got, s) {
			t.Fatalf("the result carries a secret (%.12q...)", s)
		}
	}
	if _, err := os.Stat(filepath.Join(open, "escaped")); err == nil {
		t.Fatal("the plugin wrote outside its job")
	}
}

// startSandboxWorker runs `iscd worker --name NAME ARGS...` against iscd
// with the worker token tok and waits until it has connected; it fails
// the test if the worker exits first, showing its log.
func startSandboxWorker(t *testing.T, iscd *servertest.Binary, bin, tok, name string, args ...string) *exec.Cmd {
	t.Helper()
	workDir := t.TempDir()
	os.Chmod(filepath.Dir(workDir), 0o711)
	w := exec.Command(bin, append([]string{"worker", "--server", iscd.Env["ISCD_ADMIN_URL"], "--name", name, "--dir", workDir}, args...)...)
	w.Env = append(os.Environ(), "ISCD_WORKER_TOKEN="+tok)
	wlog := &lockedWriter{w: &strings.Builder{}}
	w.Stderr = wlog
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- w.Wait() }()
	t.Cleanup(func() {
		w.Process.Signal(syscall.SIGTERM)
		<-exited
		if t.Failed() {
			t.Logf("worker %s:\n%s", name, wlog.String())
		}
	})
	admin := sandboxAdmin(iscd)
	tick := time.NewTicker(20 * time.Millisecond) // another process's connection: polled
	defer tick.Stop()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		var ws []adminapi.WorkerInfo
		if err := admin.Do(context.Background(), "GET", "/workers", nil, &ws); err != nil {
			t.Fatal(err)
		}
		for _, x := range ws {
			if x.Name == name {
				return w
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("worker %s exited: %v\n%s", name, err, wlog.String())
		case <-tick.C:
		}
	}
	t.Fatalf("worker %s did not connect within 30 s", name)
	return nil
}
