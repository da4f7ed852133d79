package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// The scale group's keys, skipped together when PostgreSQL is absent.
var scaleKeys = []struct{ key, unit, baseline string }{
	{"license_rps_1_replica", "1/s", "licence requests answered per second by one iscd replica on PostgreSQL"},
	{"license_rps_3_replicas", "1/s", "the same with three replicas on the same PostgreSQL, the clients spread over them"},
	{"license_rps_ratio_3_vs_1", "x", "license_rps_3_replicas / license_rps_1_replica"},
	{"jobs_per_s_1_worker", "1/s", "trivial jobs per second through one `iscd worker`, iscd on PostgreSQL"},
	{"jobs_per_s_4_workers", "1/s", "the same with four workers"},
	{"jobs_per_s_ratio_4_vs_1", "x", "jobs_per_s_4_workers / jobs_per_s_1_worker"},
	{"replica_idle_session_rss_kib", "KiB", "RSS growth of an iscd replica on PostgreSQL / idle SDK sessions it holds; compare idle_session_rss_kib (embedded store)"},
}

// benchScale measures iscd scaled out on PostgreSQL (issue 9): licence
// requests per second with three replicas against one, trivial jobs per
// second with four workers against one, and the memory of idle sessions
// on a replica. The server is started here from Debian's binaries; the
// group is skipped, saying so, without them.
func benchScale(ctx context.Context, e *env, r *report) error {
	clients, window, jobs, sessions, sessionWindow := 60, 10*time.Second, 200, 10000, heartbeatEvery
	if e.opt.quick {
		clients, window, jobs, sessions, sessionWindow = 24, 3*time.Second, 80, 1000, 3*time.Second
	}
	pg, err := startPostgres(e.log)
	if errors.Is(err, errNoPostgres) {
		for _, k := range scaleKeys {
			r.skip(k.key, k.unit, k.baseline, err.Error())
		}
		return nil
	}
	if err != nil {
		return err
	}
	defer pg.stop()

	one, err := licenseRate(ctx, e, pg, 1, clients, window)
	if err != nil {
		return fmt.Errorf("licences, 1 replica: %w", err)
	}
	three, err := licenseRate(ctx, e, pg, 3, clients, window)
	if err != nil {
		return fmt.Errorf("licences, 3 replicas: %w", err)
	}
	r.add("license_rps_1_replica", one.rate, "1/s",
		fmt.Sprintf("licence requests (GetLicenseStringRequest → its LicenseVerify event) answered per second by one iscd on PostgreSQL, %d SDK clients each with one request outstanding, over %v", clients, window),
		one.detail)
	r.add("license_rps_3_replicas", three.rate, "1/s",
		fmt.Sprintf("the same with three iscd replicas on the same PostgreSQL, the %d clients spread evenly over them", clients),
		three.detail)
	r.add("license_rps_ratio_3_vs_1", three.rate/one.rate, "x",
		"license_rps_3_replicas / license_rps_1_replica; on a machine with fewer cores than processes the CPU, not iscd, sets it (the CPU use of every process is in the details)",
		fmt.Sprintf("CPU per request: 1 replica %s; 3 replicas %s; requests per CPU second of these processes %.0f and %.0f: ratio %.3f whatever share of the cores the run got",
			one.perRequest, three.perRequest, one.perCPU, three.perCPU, three.perCPU/one.perCPU))

	j1, j4, err := jobScale(ctx, e, pg, jobs)
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	r.add("jobs_per_s_1_worker", j1.rate, "1/s",
		fmt.Sprintf("trivial jobs (a command solver running `true`) per second through one `iscd worker --capacity 1`, one iscd on PostgreSQL, 16 Solve calls waiting at a time (%d jobs)", jobs),
		j1.detail)
	r.add("jobs_per_s_4_workers", j4.rate, "1/s", "the same through four `iscd worker --capacity 1` processes on the same iscd", j4.detail)
	r.add("jobs_per_s_ratio_4_vs_1", j4.rate/j1.rate, "x", "jobs_per_s_4_workers / jobs_per_s_1_worker",
		fmt.Sprintf("CPU per job: 1 worker %s; 4 workers %s; jobs per CPU second of these processes %.1f and %.1f: ratio %.3f",
			j1.perRequest, j4.perRequest, j1.perCPU, j4.perCPU, j4.perCPU/j1.perCPU))

	return replicaSessions(ctx, e, r, pg, sessions, sessionWindow)
}

// rateResult is one measured rate with the CPU each process used meanwhile.
type rateResult struct {
	rate       float64
	detail     string
	perRequest string  // CPU ms per request (or job) by process kind
	perCPU     float64 // requests (or jobs) per CPU second of the processes measured
}

// A cpuGroup is the processes of one kind whose CPU time is read.
type cpuGroup struct {
	name     string
	pids     func() []int
	children bool // count reaped children too (a worker's solvers, postgres's ended backends)
}

// cpuSnapshot reads each group's CPU time, then the whole machine's busy
// and total CPU time (all cores) from /proc/stat.
func cpuSnapshot(groups []cpuGroup) []time.Duration {
	out := make([]time.Duration, len(groups), len(groups)+2)
	busy, total := machineCPU()
	for i, g := range groups {
		for _, pid := range g.pids() {
			own, kids, err := procCPU(pid)
			if err != nil {
				continue // ended meanwhile: a parent's children time has it
			}
			out[i] += own
			if g.children {
				out[i] += kids
			}
		}
	}
	return append(out, busy, total)
}

// machineCPU is the CPU time all cores spent busy (not idle or waiting
// for I/O), and in all, since boot.
func machineCPU() (busy, total time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	var sum, idle int64
	for i, v := range f[1:9] {
		n, _ := strconv.ParseInt(v, 10, 64)
		sum += n
		if i == 3 || i == 4 {
			idle += n
		}
	}
	const hz = 100 // USER_HZ
	return time.Duration(sum-idle) * time.Second / hz, time.Duration(sum) * time.Second / hz
}

// describeCPU says how much CPU each group used over wall for n requests.
func describeCPU(groups []cpuGroup, before, after []time.Duration, wall time.Duration, n float64, what string) (detail, perRequest string, perCPU float64) {
	var parts, per []string
	var total time.Duration
	for i, g := range groups {
		d := after[i] - before[i]
		total += d
		parts = append(parts, fmt.Sprintf("%s %.2f s", g.name, d.Seconds()))
		per = append(per, fmt.Sprintf("%s %.2f", g.name, d.Seconds()*1000/n))
	}
	cores := runtime.NumCPU()
	g := len(groups)
	busy, all := after[g]-before[g], after[g+1]-before[g+1]
	machine := "unknown"
	if all > 0 {
		machine = fmt.Sprintf("%.0f %%", 100*busy.Seconds()/all.Seconds())
	}
	detail = fmt.Sprintf("CPU over the %.1f s: %s; these %.2f s = %.0f %% of %d cores; the machine busy %s (other processes %.2f s)", wall.Seconds(), strings.Join(parts, ", "),
		total.Seconds(), 100*total.Seconds()/wall.Seconds()/float64(cores), cores, machine, max(busy-total, 0).Seconds())
	perRequest = fmt.Sprintf("%s ms a %s (total %.2f)", strings.Join(per, ", "), what, total.Seconds()*1000/n)
	if total > 0 {
		perCPU = n / total.Seconds()
	}
	return detail, perRequest, perCPU
}

// procCPU is a process's user + system CPU time, and that of its reaped
// children, from /proc/PID/stat.
func procCPU(pid int) (own, children time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	var v [4]int64
	for i := range v {
		if v[i], err = strconv.ParseInt(f[11+i], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("bad /proc/%d/stat", pid)
		}
	}
	const hz = 100 // USER_HZ
	return time.Duration(v[0]+v[1]) * time.Second / hz, time.Duration(v[2]+v[3]) * time.Second / hz, nil
}

// startReplicas starts n `iscd serve --dev --db DSN` processes sharing
// one data directory (as replicas share the chunks' file system).
func startReplicas(e *env, name, dsn string, n int, args ...string) ([]*iscd, error) {
	data := filepath.Join(e.opt.tmp, name+"-iscd")
	var out []*iscd
	for range n {
		b, err := servertest.StartBinary(filepath.Join(e.opt.build, "bin", "iscd"), data, append([]string{"--db", dsn}, args...)...)
		if err != nil {
			for _, s := range out {
				s.Stop()
			}
			return nil, fmt.Errorf("start iscd --db: %w", err)
		}
		e.procs = append(e.procs, b)
		out = append(out, &iscd{Binary: b, data: data})
	}
	return out, nil
}

func replicaPids(rs []*iscd) func() []int {
	return func() []int {
		var p []int
		for _, s := range rs {
			p = append(p, s.Pid)
		}
		return p
	}
}

func selfPid() []int { return []int{os.Getpid()} }

// licenseRate starts n replicas on a fresh database, gives the demo
// organisation a licence with a seat for every client, connects the
// clients round-robin to the replicas and counts the licence requests
// answered over window, each client asking again as soon as it has its
// answer.
func licenseRate(ctx context.Context, e *env, pg *postgres, n, clients int, window time.Duration) (rateResult, error) {
	var res rateResult
	dsn, err := pg.newDatabase(ctx)
	if err != nil {
		return res, err
	}
	rs, err := startReplicas(e, fmt.Sprintf("scale-license-%d", n), dsn, n)
	if err != nil {
		return res, err
	}
	defer func() {
		for _, s := range rs {
			s.Stop()
		}
	}()
	// The demo licence has 5 seats; this one, expiring later, is tried first.
	if err := rs[0].admin().Do(ctx, http.MethodPost, "/licenses", adminapi.CreateLicense{ID: "bench-floating", OrgID: server.DevOrg,
		ProductID: rs[0].Env["ISCSDK_PRODUCT"], Kind: "floating", Seats: clients + 10, ExpiresAt: time.Now().AddDate(2, 0, 0)}, nil); err != nil {
		return res, fmt.Errorf("create the licence: %w", err)
	}
	cs := make([]*sdk.Client, clients)
	ws := filepath.Join(e.opt.tmp, fmt.Sprintf("scale-license-%d-ws", n))
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	slots := make(chan struct{}, 8)
	for i := range clients {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			s := rs[i%n]
			c, err := sdk.Init(ctx, sdk.Config{Endpoint: s.Env["ISCSDK_ENDPOINT"], Token: s.Env["ISCSDK_TOKEN"], ProductID: s.Env["ISCSDK_PRODUCT"],
				AppVersion: "iscbench-scale", WorkspaceDir: ws, LogLevel: "off", CredentialsFile: filepath.Join(ws, "no-credentials"), ConnectTimeout: time.Minute})
			cs[i] = c
			errs <- err
		}()
	}
	wg.Wait()
	defer func() {
		var wg sync.WaitGroup
		for _, c := range cs {
			if c != nil {
				wg.Go(func() { c.Close() })
			}
		}
		wg.Wait()
	}()
	close(errs)
	for err := range errs {
		if err != nil {
			return res, fmt.Errorf("connect: %w", err)
		}
	}

	run, stop := context.WithCancel(ctx)
	defer stop()
	var done atomic.Int64
	var failed atomic.Pointer[error]
	for _, c := range cs {
		wg.Go(func() {
			for run.Err() == nil {
				id, err := sdk.NewDesk(c).GetLicenseStringRequest("", nil)
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				for {
					ev, err := c.PollEvent(run)
					if err != nil {
						if run.Err() == nil {
							failed.CompareAndSwap(nil, &err)
						}
						return
					}
					if ev.Type != sdk.EventLicenseVerify || ev.RequestID != id {
						continue
					}
					if ev.Params["Status"] != "success" {
						err := fmt.Errorf("licence refused: %s: %s", ev.Params["errorCode"], ev.Params["errorMsg"])
						failed.CompareAndSwap(nil, &err)
						return
					}
					done.Add(1)
					break
				}
			}
		})
	}
	defer wg.Wait()
	defer stop()
	// Warm up: every client has its seat (the first grant of a session
	// takes it; the next ones find it) before the window opens.
	for done.Load() < int64(2*clients) && failed.Load() == nil {
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return res, err
		}
	}
	groups := []cpuGroup{
		{name: "iscd", pids: replicaPids(rs)},
		{name: "postgres", pids: pg.pids, children: true},
		{name: "clients", pids: selfPid},
	}
	sampled, sampling := context.WithCancel(ctx)
	waits := make(chan string, 1)
	go func() { waits <- sampleBackends(sampled, dsn) }()
	t, n0, cpu0 := time.Now(), done.Load(), cpuSnapshot(groups)
	err = sleepCtx(ctx, window)
	wall, n1, cpu1 := time.Since(t), done.Load(), cpuSnapshot(groups)
	sampling()
	backends := <-waits
	if err != nil {
		return res, err
	}
	perReplica := make([]string, len(rs))
	stop()
	if p := failed.Load(); p != nil {
		return res, *p
	}
	count := float64(n1 - n0)
	res.rate = count / wall.Seconds()
	cpu, per, perCPU := describeCPU(groups, cpu0, cpu1, wall, count, "request")
	res.perCPU = perCPU
	for i := range rs {
		own, _, _ := procCPU(rs[i].Pid)
		perReplica[i] = fmt.Sprintf("%.1f", own.Seconds())
	}
	res.detail = fmt.Sprintf("%.0f requests in %.1f s, %d clients; %s; each replica's CPU since its start: %s s; %s", count, wall.Seconds(), clients, cpu, strings.Join(perReplica, ", "), backends)
	res.perRequest = per
	fmt.Fprintf(e.log, "   %d replica(s): %.0f requests/s; %s; %s\n", n, res.rate, cpu, backends)
	return res, nil
}

// sampleBackends reads what iscd's PostgreSQL connections are doing every
// 20 ms until ctx ends, and says how many were, on average, running a
// statement, waiting for a lock (the licence's row: seat transactions run
// one at a time), waiting for the disk, or idle inside a transaction
// (waiting for iscd's next statement or COMMIT).
func sampleBackends(ctx context.Context, dsn string) string {
	conn, err := pgx.Connect(context.WithoutCancel(ctx), dsn)
	if err != nil {
		return "backends not sampled: " + err.Error()
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int
	var sum [4]float64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if n == 0 {
				return "backends not sampled"
			}
			return fmt.Sprintf("iscd's PostgreSQL connections, mean of %d samples: %.1f running, %.1f waiting for a lock, %.1f for the disk (IO), %.1f idle in a transaction (waiting for iscd)",
				n, sum[0]/float64(n), sum[1]/float64(n), sum[2]/float64(n), sum[3]/float64(n))
		case <-tick.C:
		}
		var v [4]int
		err := conn.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE state = 'active' AND wait_event_type IS DISTINCT FROM 'Lock' AND wait_event_type IS DISTINCT FROM 'IO'),
			count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock'),
			count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'IO'),
			count(*) FILTER (WHERE state = 'idle in transaction')
			FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND datname = current_database()`).Scan(&v[0], &v[1], &v[2], &v[3])
		if err != nil {
			continue // ctx ended mid-query
		}
		n++
		for i := range v {
			sum[i] += float64(v[i])
		}
	}
}

// jobScale runs trivial jobs through one iscd on PostgreSQL with one
// worker process, then with four, and counts them per second.
func jobScale(ctx context.Context, e *env, pg *postgres, jobs int) (one, four rateResult, err error) {
	dsn, err := pg.newDatabase(ctx)
	if err != nil {
		return one, four, err
	}
	rs, err := startReplicas(e, "scale-jobs", dsn, 1)
	if err != nil {
		return one, four, err
	}
	s := rs[0]
	defer s.Stop()
	admin := s.admin()
	product := s.Env["ISCSDK_PRODUCT"]
	if err := admin.Do(ctx, http.MethodPut, "/products/"+product+"/solvers/trivial",
		adminapi.Solver{ProductID: product, Name: "trivial", Kind: "command", TimeLimitSeconds: 60, MaxAttempts: 1}, nil); err != nil {
		return one, four, fmt.Errorf("register the trivial solver: %w", err)
	}
	var tok adminapi.NewToken
	if err := admin.Do(ctx, http.MethodPost, "/workers/tokens", adminapi.CreateWorkerToken{Name: "iscbench-scale"}, &tok); err != nil {
		return one, four, err
	}
	dir := filepath.Join(e.opt.tmp, "scale-jobs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return one, four, err
	}
	tokenFile := filepath.Join(dir, "worker.token")
	if err := os.WriteFile(tokenFile, []byte(tok.Secret+"\n"), 0o600); err != nil {
		return one, four, err
	}
	c, err := e.client(ctx, s, "scale-jobs")
	if err != nil {
		return one, four, err
	}
	defer c.Close()
	model := filepath.Join(dir, "trivial.inp")
	if err := os.WriteFile(model, []byte("*HEADING\ntrivial\n"), 0o644); err != nil {
		return one, four, err
	}

	var workers []*exec.Cmd
	defer func() {
		for _, w := range workers {
			w.Process.Kill()
			w.Wait()
		}
	}()
	letSolversPass(e, dir)
	run := func(n int) (rateResult, error) {
		var res rateResult
		for len(workers) < n {
			i := len(workers)
			w := exec.CommandContext(ctx, filepath.Join(e.opt.build, "bin", "iscd"), "worker", "--server", s.Env["ISCD_ADMIN_URL"],
				"--token-file", tokenFile, "--solver", "trivial=true", "--capacity", "1", "--name", fmt.Sprintf("bench-%d", i),
				"--dir", filepath.Join(dir, fmt.Sprintf("worker-%d", i)), "--log-level", "warn")
			w.Stderr = e.log
			if err := w.Start(); err != nil {
				return res, err
			}
			workers = append(workers, w)
		}
		for deadline := time.Now().Add(30 * time.Second); ; {
			var ws []adminapi.WorkerInfo
			if err := admin.Do(ctx, http.MethodGet, "/workers", nil, &ws); err != nil {
				return res, err
			}
			if len(slices.DeleteFunc(ws, func(x adminapi.WorkerInfo) bool { return !slices.Contains(x.Solvers, "trivial") })) >= n {
				break
			}
			if time.Now().After(deadline) {
				return res, fmt.Errorf("%d workers did not connect within 30s", n)
			}
			time.Sleep(50 * time.Millisecond) // polling other processes' connections
		}
		solve := func(name string) error {
			res, err := c.Solve(ctx, model, sdk.SolveOptions{Solver: "trivial", ResultDir: filepath.Join(dir, name)})
			if err != nil {
				return fmt.Errorf("trivial job: %w (%+v)", err, res)
			}
			return nil
		}
		// One job a worker first: the model's upload, each worker's first
		// lease and cache.
		var wg sync.WaitGroup
		errs := make(chan error, jobs+n)
		for i := range n {
			wg.Go(func() { errs <- solve(fmt.Sprintf("warm-%d-%d", n, i)) })
		}
		wg.Wait()
		groups := []cpuGroup{
			{name: "iscd", pids: replicaPids(rs)},
			{name: "postgres", pids: pg.pids, children: true},
			{name: "workers", children: true, pids: func() []int {
				p := make([]int, len(workers))
				for i, w := range workers {
					p[i] = w.Process.Pid
				}
				return p
			}},
			{name: "client", pids: selfPid},
		}
		t, cpu0 := time.Now(), cpuSnapshot(groups)
		slots := make(chan struct{}, 16)
		for i := range jobs {
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				errs <- solve(fmt.Sprintf("job-%d-%d", n, i))
			})
		}
		wg.Wait()
		wall, cpu1 := time.Since(t), cpuSnapshot(groups)
		close(errs)
		for err := range errs {
			if err != nil {
				return res, err
			}
		}
		res.rate = float64(jobs) / wall.Seconds()
		cpu, per, perCPU := describeCPU(groups, cpu0, cpu1, wall, float64(jobs), "job")
		res.perCPU = perCPU
		res.detail = fmt.Sprintf("%d jobs in %.2f s; %s", jobs, wall.Seconds(), cpu)
		res.perRequest = per
		fmt.Fprintf(e.log, "   %d worker(s): %.1f jobs/s; %s\n", n, res.rate, cpu)
		return res, nil
	}
	if one, err = run(1); err != nil {
		return one, four, err
	}
	four, err = run(4)
	return one, four, err
}

// replicaSessions connects n idle SDK sessions to one iscd on PostgreSQL
// and reads its memory growth, as the sessions group does for the
// embedded store.
func replicaSessions(ctx context.Context, e *env, r *report, pg *postgres, n int, window time.Duration) error {
	dsn, err := pg.newDatabase(ctx)
	if err != nil {
		return err
	}
	rs, err := startReplicas(e, "scale-sessions", dsn, 1, noConnCaps...)
	if err != nil {
		return err
	}
	s := rs[0]
	defer s.Stop()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	res, err := measureIdle(ctx, e, s.Pid, n, window, func(i, count int) *exec.Cmd {
		cmd := exec.CommandContext(ctx, self, "sessions", strconv.Itoa(count), filepath.Join(e.opt.tmp, fmt.Sprintf("scale-sessions-ws-%d", i)))
		cmd.Env = os.Environ()
		for k, v := range s.Env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		return cmd
	})
	if err != nil {
		return fmt.Errorf("idle sessions on PostgreSQL: %w", err)
	}
	embedded := "the sessions group did not run"
	if f := r.Figures["idle_session_rss_kib"]; f != nil && f.Value != nil {
		embedded = fmt.Sprintf("embedded store %.1f KiB (idle_session_rss_kib, this run)", *f.Value)
	}
	cpu := fmt.Sprintf("iscd CPU %.2f %% of a core per 1,000 sessions over %v", res.cpuPer1000, window)
	if window < heartbeatEvery {
		cpu = fmt.Sprintf("CPU not read: %v is shorter than a heartbeat interval", window)
	}
	r.add("replica_idle_session_rss_kib", res.rssPerConn, "KiB",
		fmt.Sprintf("iscd on PostgreSQL: RSS growth / idle SDK sessions it holds (%d, all connected and kept); baseline: the embedded store's idle_session_rss_kib", n),
		fmt.Sprintf("%d sessions held, connected in %.1f s; iscd %.0f -> %.0f MiB; %s; %s",
			n, res.connect.Seconds(), res.rss0/1024, res.rss1/1024, embedded, cpu))
	return nil
}
