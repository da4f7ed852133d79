package sdk_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/jobs"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/store/pgstore"
	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

// Two iscd replicas on one PostgreSQL database and one chunk store: a file
// saved through one opens through the other, a stale save through either
// is refused, and a licence's seats are counted across both.
func TestPostgresReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	chunks, err := chunkstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := servertest.StartConfig(t, server.Config{Database: dsn, Chunks: chunks})
	b := servertest.StartConfig(t, server.Config{Database: dsn, Chunks: chunks})
	ctx := context.Background()

	ca, cb := connect(t, config(t, a)), connect(t, config(t, b))
	data := randomBytes(7, 600<<10)
	local := writeTemp(t, "bracket.prt", data)
	if res, err := ca.SaveTo(ctx, local, "/pg/bracket.prt", 0, sdk.SaveOptions{}); err != nil || res.Version != 1 {
		t.Fatalf("save through A: %+v, %v", res, err)
	}
	open, err := cb.OpenFile(ctx, "/pg/bracket.prt", sdk.OpenOptions{})
	if err != nil {
		t.Fatalf("open through B: %v", err)
	}
	if got, err := os.ReadFile(open.MainFile); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("opened %d bytes (%v), want %d", len(got), err, len(data))
	}
	os.WriteFile(local, []byte("v2"), 0o644)
	if res, err := cb.SaveTo(ctx, local, "/pg/bracket.prt", 1, sdk.SaveOptions{}); err != nil || res.Version != 2 {
		t.Fatalf("save through B: %+v, %v", res, err)
	}
	_, err = ca.SaveTo(ctx, local, "/pg/bracket.prt", 1, sdk.SaveOptions{})
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeConflict {
		t.Fatalf("stale save through A: %v, want a conflict", err)
	}

	// One seat: a program on A holds it, one on B is refused until the
	// first shuts out.
	cfg, _ := customer(t, a, adminapi.CreateLicense{Seats: 1})
	onB := cfg
	onB.Endpoint, onB.Token = b.Endpoint, cfg.Token
	first, second := connect(t, cfg), connect(t, onB)
	if e := requestLicense(t, first, fp1); e.Params["Status"] != "success" {
		t.Fatalf("seat through A: %v", e.Params)
	}
	if e := requestLicense(t, second, fp2); e.Params["errorCode"] != "no_seat" {
		t.Fatalf("second machine through B on a 1-seat licence: %v", e.Params)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if e := requestLicense(t, second, fp2); e.Params["Status"] != "success" {
		t.Fatalf("seat through B after A's program shut out: %v", e.Params)
	}
}

// An event caused on one replica reaches a program connected to another
// as it is stored (PostgreSQL LISTEN/NOTIFY), in order.
func TestPostgresEventsAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := servertest.StartConfig(t, server.Config{Database: dsn})
	b := servertest.StartConfig(t, server.Config{Database: dsn})
	c := connect(t, config(t, a))
	id := c.SessionID()
	for _, text := range []string{"one", "two", "three"} {
		notice(t, b, id, text) // through B's admin API
	}
	for _, want := range []string{"one", "two", "three"} {
		e := next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventNotice })
		if e.Params["text"] != want {
			t.Fatalf("notice %q, want %q", e.Params["text"], want)
		}
	}
}

// Three iscd processes on one PostgreSQL and one object store (versitygw),
// a program behind a load balancer (a relay) on replica A and another
// engineer's on the third: A is killed (SIGKILL) in the middle of a large
// save; the program reconnects through the relay to B, resumes its session
// there, and the save completes, once, sending again little more than what
// had not arrived; its licence seat moved with it; the other program's save
// through the third replica is seen through B.
func TestPostgresReplicaKilledMidSave(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the iscd binary")
	}
	dsn := pgtest.DSN(t)
	bin := buildIscd(t)
	data := t.TempDir()
	shared := append([]string{"--db", dsn}, servertest.S3Flags(t)...) // one PostgreSQL, one object store
	replica := func() *servertest.Binary {
		r, err := servertest.StartBinary(bin, data, shared...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Stop() })
		return r
	}
	a, b, third := replica(), replica(), replica()
	addr := func(r *servertest.Binary) string { return strings.TrimPrefix(r.Env["ISCD_ADMIN_URL"], "http://") }

	// Another engineer's program, connected to the third replica, saves
	// meanwhile.
	elsewhere := sdk.Config{Endpoint: third.Env["ISCSDK_ENDPOINT"], Token: third.Env["ISCSDK_TOKEN"], ProductID: third.Env["ISCSDK_PRODUCT"],
		WorkspaceDir: t.TempDir(), LogLevel: "off", CredentialsFile: filepath.Join(t.TempDir(), "none")}
	small := randomBytes(22, 300<<10)
	savedElsewhere := make(chan error, 1)
	go func() {
		_, err := connect(t, elsewhere).SaveTo(context.Background(), writeTemp(t, "bracket.prt", small), "/failover/bracket.prt", 0, sdk.SaveOptions{})
		savedElsewhere <- err
	}()

	lb := startProxy(t, addr(a))
	cfg := sdk.Config{Endpoint: lb.Endpoint(), Token: a.Env["ISCSDK_TOKEN"], ProductID: a.Env["ISCSDK_PRODUCT"],
		WorkspaceDir: t.TempDir(), LogLevel: "off", CredentialsFile: filepath.Join(t.TempDir(), "none")}
	c := connect(t, cfg)
	session := c.SessionID()
	if e := requestLicense(t, c, fp1); e.Params["Status"] != "success" {
		t.Fatalf("seat through A: %v", e.Params)
	}

	content := randomBytes(21, 24<<20)
	local := writeTemp(t, "big.prt", content)
	killed := false
	res, err := c.SaveTo(context.Background(), local, "/failover/big.prt", 0, sdk.SaveOptions{Progress: func(p sdk.Progress) {
		if !killed && p.BytesDone > p.BytesTotal*6/10 {
			killed = true
			lb.Retarget(addr(b)) // the load balancer's health check saw A go
			a.Kill()
		}
	}})
	if err != nil || !killed || res.Version != 1 {
		t.Fatalf("save across a replica's SIGKILL: %+v, %v (killed %v)", res, err, killed)
	}
	const inFlight = 8 * 256 << 10
	if res.BytesSent > int64(len(content))+inFlight {
		t.Errorf("sent %d bytes for %d", res.BytesSent, len(content))
	}
	if c.SessionID() != session {
		t.Errorf("session %s after the failover, want %s resumed", c.SessionID(), session)
	}
	vs, err := c.History(context.Background(), "/failover/big.prt")
	if err != nil || len(vs) != 1 {
		t.Fatalf("history through B: %+v, %v; want one version", vs, err)
	}
	// The program's seat moved with its session: asking again through B
	// takes no second seat.
	if e := requestLicense(t, c, fp1); e.Params["Status"] != "success" {
		t.Fatalf("seat through B: %v", e.Params)
	}
	admin := &adminapi.Client{BaseURL: b.Env["ISCD_ADMIN_URL"], Token: b.Env["ISCD_ADMIN_TOKEN"], HTTP: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
	var lic adminapi.LicenseDetail
	if err := admin.Do(context.Background(), "GET", "/licenses/"+server.DevLicense, nil, &lic); err != nil {
		t.Fatal(err)
	}
	if len(lic.SeatsInUse) != 1 || lic.SeatsInUse[0].SessionID != session {
		t.Errorf("seats in use after the failover: %+v; want the session's one", lic.SeatsInUse)
	}
	other := cfg
	other.Endpoint, other.WorkspaceDir = b.Env["ISCSDK_ENDPOINT"], t.TempDir()
	open, err := connect(t, other).OpenFile(context.Background(), "/failover/big.prt", sdk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(open.MainFile); !bytes.Equal(got, content) {
		t.Fatal("the file opened through B differs from the one saved")
	}
	if err := <-savedElsewhere; err != nil {
		t.Fatalf("the save through the third replica: %v", err)
	}
	if got, err := c.OpenFile(context.Background(), "/failover/bracket.prt", sdk.OpenOptions{}); err != nil {
		t.Fatal(err)
	} else if data, _ := os.ReadFile(got.MainFile); !bytes.Equal(data, small) {
		t.Fatal("the file saved through the third replica differs when opened through B")
	}
}

// A model solved across replicas: the program is connected to replica A,
// which has no worker; the only worker is connected to replica B. The job
// queued through A is leased through B, and its result, reported to B,
// reaches the program on A.
func TestPostgresJobAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	chunks, err := chunkstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := servertest.StartConfig(t, server.Config{Database: dsn, Chunks: chunks, NoDevWorker: true})
	servertest.StartConfig(t, server.Config{Database: dsn, Chunks: chunks, // B
		DevWorker: devWorker(t, 1, "count")})
	solver := adminapi.Solver{Name: "count", Kind: "command", Outputs: []string{"out.txt"}}
	if err := a.Admin().Do(context.Background(), "PUT", "/products/"+a.Product+"/solvers/count", solver, nil); err != nil {
		t.Fatal(err)
	}
	c := connect(t, config(t, a))
	model := writeTemp(t, "plate.inp", randomBytes(3, 100<<10))
	res, err := c.Solve(context.Background(), model, sdk.SolveOptions{Solver: "count"})
	if err != nil || res.Status != sdk.SolveSucceeded {
		t.Fatalf("solve through A with B's worker: %+v, %v", res, err)
	}
	out, err := os.ReadFile(filepath.Join(res.ResultDir, "out.txt"))
	if err != nil || strings.TrimSpace(string(out)) != "102400" {
		t.Fatalf("out.txt: %q, %v", out, err)
	}
}

// buildIscd builds the iscd binary into the test's temporary directory.
func buildIscd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "iscd")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/iscd").CombinedOutput(); err != nil {
		t.Fatalf("build iscd: %v\n%s", err, out)
	}
	return bin
}

// Three iscd processes on one PostgreSQL and one object store, a program
// and a worker process connected through a relay to replica A: A is killed
// (SIGKILL) while the worker runs the program's job's solver. Both
// reconnect through the relay to the third replica; the job
// ends once, succeeded (its first attempt, or a second after the first's
// lease lapsed: never two at once), and the result reaches the program.
func TestPostgresReplicaKilledMidSolve(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs iscd and a worker")
	}
	dsn := pgtest.DSN(t)
	bin := buildIscd(t)
	data := t.TempDir()
	shared := append([]string{"--db", dsn, "--job-lease", "2s"}, servertest.S3Flags(t)...)
	start := func() *servertest.Binary {
		r, err := servertest.StartBinary(bin, data, shared...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Stop() })
		return r
	}
	a, b, third := start(), start(), start()
	addr := func(r *servertest.Binary) string { return strings.TrimPrefix(r.Env["ISCD_ADMIN_URL"], "http://") }
	ctx := context.Background()
	admin := &adminapi.Client{BaseURL: b.Env["ISCD_ADMIN_URL"], Token: b.Env["ISCD_ADMIN_TOKEN"], HTTP: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
	// The solver says it runs (a line into a FIFO the test reads), then
	// waits for a file the test makes once A is gone.
	hold := adminapi.Solver{Name: "hold", Kind: "command", Outputs: []string{"out.txt"}, MaxAttempts: 3}
	holdCmd := `sh -c 'echo "attempt $ISCSDK_JOB_ATTEMPT" > out.txt; echo running > "$2"; while [ ! -e "$1" ]; do sleep 0.02; done; echo done >> out.txt' hold {args}`
	if err := admin.Do(ctx, "PUT", "/products/"+b.Env["ISCSDK_PRODUCT"]+"/solvers/hold", hold, nil); err != nil {
		t.Fatal(err)
	}
	var tok adminapi.NewToken
	if err := admin.Do(ctx, "POST", "/workers/tokens", adminapi.CreateWorkerToken{Name: "failover"}, &tok); err != nil {
		t.Fatal(err)
	}
	tokFile := filepath.Join(t.TempDir(), "worker.token")
	os.WriteFile(tokFile, []byte(tok.Secret), 0o600)

	// The release file and the FIFO are shared with the solver's sandbox;
	// a root worker's solver runs as nobody.
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	os.Chmod(filepath.Dir(dir), 0o711)
	lb := startProxy(t, addr(a))
	w := exec.Command(bin, "worker", "--server", "http://"+strings.TrimSuffix(strings.TrimPrefix(lb.Endpoint(), "ws://"), "/v1/session"),
		"--token-file", tokFile, "--solver", "hold="+holdCmd, "--sandbox-share", dir, "--name", "w1", "--dir", workerDir(t))
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Process.Signal(syscall.SIGTERM); w.Wait() })

	cfg := sdk.Config{Endpoint: lb.Endpoint(), Token: a.Env["ISCSDK_TOKEN"], ProductID: a.Env["ISCSDK_PRODUCT"],
		WorkspaceDir: t.TempDir(), LogLevel: "off", CredentialsFile: filepath.Join(t.TempDir(), "none")}
	c := connect(t, cfg)
	release, fifo := filepath.Join(dir, "release"), filepath.Join(dir, "running")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(fifo, 0o666) // past the umask: the solver writes it as nobody
	// Read and write: the solver's writes never wait for a reader.
	f, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	running := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(f)
		if sc.Scan() {
			close(running)
		}
		for sc.Scan() { // a second attempt's line
		}
	}()
	model := writeTemp(t, "model.inp", []byte("*HEADING\nfailover\n"))
	done := make(chan struct{})
	var res sdk.SolveResult
	go func() {
		defer close(done)
		res, err = c.Solve(ctx, model, sdk.SolveOptions{Solver: "hold", Args: []string{release, fifo}})
	}()
	select {
	case <-running: // the solver runs on the worker, connected to A
	case <-done:
		t.Fatalf("the solve ended before it ran: %+v, %v", res, err)
	}
	lb.Retarget(addr(third)) // the program and the worker come back through the third replica
	a.Kill()
	os.WriteFile(release, nil, 0o644)
	<-done
	if err != nil || res.Status != sdk.SolveSucceeded {
		t.Fatalf("solve across a replica's SIGKILL: %+v, %v", res, err)
	}
	out, _ := os.ReadFile(filepath.Join(res.ResultDir, "out.txt"))
	if !strings.HasSuffix(string(out), "done\n") {
		t.Fatalf("out.txt: %q", out)
	}
	var j store.Job
	if err := admin.Do(ctx, "GET", "/jobs/"+res.JobID, nil, &j); err != nil {
		t.Fatal(err)
	}
	if j.State != store.JobSucceeded || !strings.Contains(string(out), fmt.Sprintf("attempt %d", j.Attempt())) {
		t.Fatalf("job %+v; out.txt %q", j, out)
	}
	for i, at := range j.Attempts {
		last := i == len(j.Attempts)-1
		if (last && at.Outcome != store.JobSucceeded) || (!last && at.Outcome != "lost") {
			t.Fatalf("attempt %d: %+v; want lost attempts, then one that succeeded", i+1, at)
		}
	}
	t.Logf("attempts: %+v", j.Attempts)
}

// Ending sessions through one replica's admin API reaches programs
// connected to another: an operator ends a session, a token is revoked.
func TestPostgresSessionEndAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := servertest.StartConfig(t, server.Config{Database: dsn})
	b := servertest.StartConfig(t, server.Config{Database: dsn})
	ctx := context.Background()
	kicked := func(c *sdk.Client, text string) {
		t.Helper()
		e := next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventServiceClosed })
		if e.Params["reason"] != "kicked" || !strings.Contains(e.Params["message"], text) {
			t.Fatalf("service closed: %v; want kicked, %q", e.Params, text)
		}
	}

	c := connect(t, config(t, a))
	next(t, c, isState(sdk.StateConnected))
	if err := b.Admin().Do(ctx, "DELETE", "/sessions/"+c.SessionID(), nil, nil); err != nil {
		t.Fatal(err)
	}
	kicked(c, "operator")

	cfg, _ := customer(t, a, adminapi.CreateLicense{})
	d := connect(t, cfg)
	next(t, d, isState(sdk.StateConnected))
	id, _, _ := strings.Cut(strings.TrimPrefix(cfg.Token, "isk_"), "_")
	if err := b.Admin().Do(ctx, "DELETE", "/tokens/"+id, nil, nil); err != nil {
		t.Fatal(err)
	}
	kicked(d, "revoked")
	e := next(t, d, func(e sdk.Event) bool {
		return e.Type == sdk.EventConnectionState && strings.Contains(e.Params["error"], "unauthorized")
	})
	if e.Params["state"] != sdk.StateDisconnected {
		t.Fatalf("reconnect with the revoked token: %v", e.Params)
	}
}

// A session ended or a token revoked while a replica does not hear the
// others (its listening connection to PostgreSQL lost: the kick sent then
// is never heard) is ended there when it listens again: it checks the
// sessions connected to it against the store. The test ends a session and
// revokes a token in the database without a kick, as one sent during the
// outage would be lost, then cuts the listening connection.
func TestPostgresKickMissedWhileNotListening(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := servertest.StartConfig(t, server.Config{Database: dsn})
	ctx := context.Background()
	c := connect(t, config(t, a))
	next(t, c, isState(sdk.StateConnected))
	cfg, _ := customer(t, a, adminapi.CreateLicense{})
	d := connect(t, cfg)
	next(t, d, isState(sdk.StateConnected))

	db := openStore(t, dsn)
	if err := db.DeleteSession(ctx, c.SessionID()); err != nil {
		t.Fatal(err)
	}
	id, _, _ := strings.Cut(strings.TrimPrefix(cfg.Token, "isk_"), "_")
	if err := db.RevokeToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	cutListening(t, dsn)
	if e := next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventServiceClosed }); e.Params["reason"] != "kicked" {
		t.Fatalf("the ended session: %v", e.Params)
	}
	next(t, d, func(e sdk.Event) bool { return e.Type == sdk.EventSignInRequired })
}

// A program that reconnects while iscd's database is out of reach is told
// to try again, not to sign in: a token that could not be checked is not a
// token refused. When the database is back, it reconnects.
func TestPostgresOutageIsNotASignOut(t *testing.T) {
	dsn := pgtest.DSN(t)
	srv := servertest.StartConfig(t, server.Config{Database: dsn})
	p := startProxy(t, srv.Addr)
	cfg, _ := customer(t, srv, adminapi.CreateLicense{})
	cfg.Endpoint = p.Endpoint()
	c := connect(t, cfg)
	next(t, c, isState(sdk.StateConnected))

	// The database is closed to connections from another one (PostgreSQL
	// refuses it from inside), and iscd's are ended.
	ctx := context.Background()
	acfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := acfg.Database
	db := pgx.Identifier{name}.Sanitize()
	acfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(ctx, acfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS false"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(ctx, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS true") })
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
		t.Fatal(err)
	}
	p.Cut(true)
	p.Cut(false)
	signInAsked := false
	e := next(t, c, func(e sdk.Event) bool {
		signInAsked = signInAsked || e.Type == sdk.EventSignInRequired
		return e.Type == sdk.EventConnectionState && e.Params["state"] == sdk.StateDisconnected && e.Params["attempt"] != ""
	})
	if !strings.Contains(e.Params["error"], "cannot check tokens now") || signInAsked {
		t.Fatalf("reconnecting while the database is out of reach: %v (sign-in asked: %v)", e.Params, signInAsked)
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS true"); err != nil {
		t.Fatal(err)
	}
	next(t, c, func(e sdk.Event) bool {
		signInAsked = signInAsked || e.Type == sdk.EventSignInRequired
		return e.Type == sdk.EventConnectionState && e.Params["state"] == sdk.StateConnected
	})
	if signInAsked {
		t.Fatal("the program was asked to sign in again")
	}
}

// A cancel and a worker token's revocation made while the worker's replica
// did not hear the others reach the worker when it listens again.
func TestPostgresComputeNoticesMissedWhileNotListening(t *testing.T) {
	dsn := pgtest.DSN(t)
	long := jobs.Config{Lease: 10 * time.Minute} // only the recheck can explain a cancel's arrival
	b := servertest.StartConfig(t, server.Config{Database: dsn, Jobs: long, DevWorker: devWorker(t, 1, "waiter")})
	putSolvers(t, b)
	c := connect(t, config(t, b))
	id, pid, _ := solveWaiting(t, c, nil)
	ctx := context.Background()
	var running []store.Job
	if err := b.Admin().Do(ctx, "GET", "/jobs?state=running", nil, &running); err != nil || len(running) != 1 {
		t.Fatalf("running jobs: %v %v", running, err)
	}
	db := openStore(t, dsn)
	if _, err := jobs.CancelJob(ctx, db, running[0].ID, "", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	cutListening(t, dsn)
	if e := next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSolutionResult && e.RequestID == id }); e.Params["status"] != "canceled" {
		t.Fatalf("result %v", e.Params)
	}
	if processAlive(pid) {
		t.Fatalf("the canceled solver (pid %s) still runs", pid)
	}

	var toks []store.Token
	if err := b.Admin().Do(ctx, "GET", "/workers/tokens", nil, &toks); err != nil || len(toks) != 1 {
		t.Fatalf("worker tokens: %v %v", toks, err)
	}
	if err := db.RevokeToken(ctx, toks[0].ID); err != nil {
		t.Fatal(err)
	}
	cutListening(t, dsn)
	for tick := time.NewTicker(10 * time.Millisecond); len(b.Jobs().Workers()) != 0; <-tick.C {
	}
}

// openStore opens the test's database as iscd's store does, for changes
// made behind the replicas' backs.
func openStore(t *testing.T, dsn string) *pgstore.DB {
	t.Helper()
	db, err := pgstore.Open(context.Background(), dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// cutListening ends the replicas' listening connections to PostgreSQL
// (they connect again): what was sent on its channels until then is lost.
func cutListening(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var cut int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`).Scan(&cut); err != nil || cut == 0 {
		t.Fatalf("cut the listening connections: %d cut, %v", cut, err)
	}
}

// A cancel asked through replica A reaches the worker connected to replica
// B at once (the leases here last 10 minutes: a worker that heard only at
// its next renewal would stop long after the test gave up), and a worker
// token revoked through A disconnects its worker on B.
func TestPostgresCancelAndRevokeAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	chunks, err := chunkstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	long := jobs.Config{Lease: 10 * time.Minute}
	a := servertest.StartConfig(t, server.Config{Database: dsn, Chunks: chunks, NoDevWorker: true, Jobs: long})
	b := servertest.StartConfig(t, server.Config{Database: dsn, Chunks: chunks, Jobs: long,
		DevWorker: devWorker(t, 1, "waiter")})
	putSolvers(t, a)
	c := connect(t, config(t, a))
	id, pid, _ := solveWaiting(t, c, nil)
	if err := sdk.NewDesk(c).Cancel(id); err != nil {
		t.Fatal(err)
	}
	if e := next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSolutionResult && e.RequestID == id }); e.Params["status"] != "canceled" {
		t.Fatalf("result %v", e.Params)
	}
	if processAlive(pid) {
		t.Fatalf("the solver (pid %s) on B's worker still runs", pid)
	}

	var toks []store.Token
	if err := a.Admin().Do(context.Background(), "GET", "/workers/tokens", nil, &toks); err != nil || len(toks) != 1 {
		t.Fatalf("worker tokens: %v %v", toks, err)
	}
	if len(b.Jobs().Workers()) != 1 {
		t.Fatal("B's worker is not connected")
	}
	if err := a.Admin().Do(context.Background(), "DELETE", "/workers/tokens/"+toks[0].ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	for tick := time.NewTicker(10 * time.Millisecond); len(b.Jobs().Workers()) != 0; <-tick.C {
	}
}
