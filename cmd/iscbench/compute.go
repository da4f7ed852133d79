package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/solver/run"
	"github.com/iscsdk/iscsdk/sdk"
)

// benchCompute times a CalculiX solve through iscd against the same ccx
// run locally, and counts trivial jobs through one worker.
func benchCompute(ctx context.Context, e *env, r *report) error {
	runs, jobs := 5, 100
	if e.opt.quick {
		runs, jobs = 3, 30
	}
	dir := filepath.Join(e.opt.tmp, "compute")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s, err := e.startISCD("compute")
	if err != nil {
		return err
	}
	defer s.Stop()
	c, err := e.client(ctx, s, "solver")
	if err != nil {
		return err
	}
	defer c.Close()

	if _, err := exec.LookPath("ccx"); err != nil {
		r.skip("solve_overhead_ms", "ms", "GetSolution end to end - a local ccx run of the same model, median", "ccx not installed (apt-get install calculix-ccx)")
	} else if err := solveOverhead(ctx, e, r, s, c, dir, runs); err != nil {
		return err
	}
	if err := sandboxStart(r, dir); err != nil {
		return err
	}
	return jobRate(ctx, e, r, s, c, dir, jobs)
}

// startWorker defines solver on the product (CalculiX's outputs and
// progress when ccx), starts `iscd worker --solver solver=def ARGS...`
// (capacity 1) and waits until it has connected; stop ends it.
func startWorker(ctx context.Context, e *env, s *iscd, dir, solver, def string, args ...string) (stop func(), err error) {
	admin := s.admin()
	product := s.Env["ISCSDK_PRODUCT"]
	sv := adminapi.Solver{ProductID: product, Name: solver, Kind: "command", TimeLimitSeconds: 60, MaxAttempts: 1}
	if strings.HasPrefix(def, "ccx ") {
		sv.Outputs, sv.Progress = []string{"*.dat", "*.frd", "*.sta", "*.cvg"}, "calculix"
	}
	if err := admin.Do(ctx, http.MethodPut, "/products/"+product+"/solvers/"+solver, sv, nil); err != nil {
		return nil, fmt.Errorf("register the solver %s: %w", solver, err)
	}
	var tok adminapi.NewToken
	if err := admin.Do(ctx, http.MethodPost, "/workers/tokens", adminapi.CreateWorkerToken{Name: "iscbench " + solver}, &tok); err != nil {
		return nil, err
	}
	tokenFile := filepath.Join(dir, solver+".token")
	if err := os.WriteFile(tokenFile, []byte(tok.Secret+"\n"), 0o600); err != nil {
		return nil, err
	}
	wdir := filepath.Join(dir, "worker-"+solver)
	letSolversPass(e, dir)
	w := exec.CommandContext(ctx, filepath.Join(e.opt.build, "bin", "iscd"), append([]string{"worker", "--server", s.Env["ISCD_ADMIN_URL"],
		"--token-file", tokenFile, "--solver", solver + "=" + def, "--capacity", "1", "--name", "bench-" + solver, "--dir", wdir, "--log-level", "warn"}, args...)...)
	w.Stderr = e.log
	if err := w.Start(); err != nil {
		return nil, err
	}
	stop = func() { w.Process.Kill(); w.Wait() }
	for deadline := time.Now().Add(30 * time.Second); ; {
		var ws []adminapi.WorkerInfo
		if err := admin.Do(ctx, http.MethodGet, "/workers", nil, &ws); err != nil {
			stop()
			return nil, err
		}
		if slices.ContainsFunc(ws, func(x adminapi.WorkerInfo) bool { return slices.Contains(x.Solvers, solver) }) {
			return stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("the worker for %s did not connect within 30s", solver)
		}
		time.Sleep(50 * time.Millisecond) // polling another process's connection
	}
}

// letSolversPass makes dir and its parents up to the benchmark's
// temporary directory passable (0711): a root worker's solvers run as
// nobody, who must reach the job directories below dir.
func letSolversPass(e *env, dir string) {
	for d := dir; strings.HasPrefix(d, e.opt.tmp) && d != filepath.Dir(d); d = filepath.Dir(d) {
		os.Chmod(d, 0o711)
	}
}

// sandboxStart times what the sandbox alone adds to starting a solver:
// /usr/bin/true run through internal/solver/run with and without it.
func sandboxStart(r *report, dir string) error {
	sb, err := run.NewSandbox(run.SandboxConfig{})
	if err != nil {
		r.skip("sandbox_start_ms", "ms", "a solver's start in the sandbox - without it", err.Error())
		return nil
	}
	jobs := filepath.Join(dir, "sandbox-start")
	if err := os.MkdirAll(jobs, 0o711); err != nil {
		return err
	}
	os.Chmod(dir, 0o711)
	const runs = 40
	var with, without []float64
	for i := range 2 * runs {
		job, err := os.MkdirTemp(jobs, "job-")
		if err != nil {
			return err
		}
		os.WriteFile(filepath.Join(job, "m.inp"), nil, 0o600)
		spec := run.Spec{Command: run.Command{Program: "/usr/bin/true"}, Main: "m.inp"}
		if i%2 == 0 {
			spec.Sandbox = sb
		}
		res := run.Run(context.Background(), job, spec, nil)
		if res.ErrorCode != "" {
			return fmt.Errorf("true in a job directory: %s", res.Error)
		}
		ms := float64(res.Wall.Microseconds()) / 1000
		if i%2 == 0 {
			with = append(with, ms)
		} else {
			without = append(without, ms)
		}
	}
	r.add("sandbox_start_ms", pct(with, 50)-pct(without, 50), "ms",
		"internal/solver/run running /usr/bin/true in a job directory in the sandbox (bubblewrap, prlimit, uid nobody under root) minus without it, medians of 40 alternating runs",
		fmt.Sprintf("in the sandbox %.1f ms, without %.1f ms (p90 %.1f and %.1f ms)", pct(with, 50), pct(without, 50), pct(with, 90), pct(without, 90)))
	return nil
}

// solveOverhead solves examples/data/beam.inp through iscd's dev worker
// (ccx, in the sandbox), through two `iscd worker` processes, one with the
// sandbox and one with --sandbox=off, and locally with ccx, interleaved,
// and reports the differences of the medians. The first solve of each
// (which uploads the model) is not counted.
func solveOverhead(ctx context.Context, e *env, r *report, s *iscd, c *sdk.Client, dir string, runs int) error {
	stopSandboxed, err := startWorker(ctx, e, s, dir, "calculix-sandboxed", "ccx -i {stem}")
	if err != nil {
		return err
	}
	defer stopSandboxed()
	stopBare, err := startWorker(ctx, e, s, dir, "calculix-unsandboxed", "ccx -i {stem}", "--sandbox=off")
	if err != nil {
		return err
	}
	defer stopBare()
	deck, err := os.ReadFile(filepath.Join(filepath.Dir(e.opt.include), "examples", "data", "beam.inp"))
	if err != nil {
		return err
	}
	model := filepath.Join(dir, "beam.inp")
	if err := os.WriteFile(model, deck, 0o644); err != nil {
		return err
	}
	var local, remote, onWorker, sandboxed, bare, sandboxedCCX, bareCCX []float64
	var first time.Duration
	var sent int64
	phases := map[string][]float64{} // ms from the start of Solve to each state
	// through times a solve on one of the `iscd worker` processes.
	through := func(solver string, total, ccx *[]float64) func(int) error {
		return func(i int) error {
			t := time.Now()
			res, err := c.Solve(ctx, model, sdk.SolveOptions{Solver: solver, ResultDir: filepath.Join(dir, fmt.Sprintf("%s-%d", solver, i+1))})
			if err != nil {
				return fmt.Errorf("solve on %s: %w", solver, err)
			}
			if i >= 0 {
				*total = append(*total, float64(time.Since(t).Milliseconds()))
				*ccx = append(*ccx, res.WallSeconds*1000)
			}
			return nil
		}
	}
	solve := func(i int) error {
		t := time.Now()
		seen := map[string]float64{}
		var mu sync.Mutex
		res, err := c.Solve(ctx, model, sdk.SolveOptions{Solver: "calculix", ResultDir: filepath.Join(dir, fmt.Sprintf("result-%d", i+1)),
			Progress: func(p sdk.SolveProgress) {
				mu.Lock()
				defer mu.Unlock()
				if _, ok := seen[p.State]; !ok {
					seen[p.State] = float64(time.Since(t).Microseconds()) / 1000
				}
			}})
		if err != nil {
			return fmt.Errorf("solve: %w", err)
		}
		d := time.Since(t)
		if i < 0 {
			first, sent = d, res.BytesSent
			return nil
		}
		remote = append(remote, float64(d.Milliseconds()))
		onWorker = append(onWorker, float64(d.Milliseconds())-res.WallSeconds*1000)
		mu.Lock()
		for k, v := range seen {
			phases[k] = append(phases[k], v)
		}
		mu.Unlock()
		return nil
	}
	ccx := func(i int) error {
		run := filepath.Join(dir, fmt.Sprintf("local-%d", i))
		if err := os.MkdirAll(run, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(run, "beam.inp"), deck, 0o644); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, "ccx", "-i", "beam")
		cmd.Dir = run
		cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1") // as the worker runs it with one core
		t := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("local ccx: %v: %s", err, out)
		}
		local = append(local, float64(time.Since(t).Milliseconds()))
		return nil
	}
	onSandboxed := through("calculix-sandboxed", &sandboxed, &sandboxedCCX)
	onBare := through("calculix-unsandboxed", &bare, &bareCCX)
	for _, warm := range []func(int) error{solve, onSandboxed, onBare} {
		if err := warm(-1); err != nil { // uploads the model, the workers' first lease: not counted
			return err
		}
	}
	for i := range runs {
		// Alternate the order: iscd's work after a solve must not land
		// on one of them alone.
		steps := []func(int) error{solve, ccx, onSandboxed, onBare}
		if i%2 == 1 {
			slices.Reverse(steps)
		}
		for _, step := range steps {
			if err := step(i); err != nil {
				return err
			}
		}
	}
	rm, lm := pct(remote, 50), pct(local, 50)
	r.add("solve_overhead_ms", rm-lm, "ms",
		"Solve (GetSolution's Go form) of examples/data/beam.inp end to end through iscd's worker, minus a local `ccx -i beam` of the same deck, medians",
		fmt.Sprintf("%d runs: through iscd %.0f ms, local ccx %.0f ms; the first solve (uploading %d bytes) %.0f ms", runs, rm, lm, sent, float64(first.Milliseconds())))
	r.add("solve_overhead_worker_ms", pct(onWorker, 50), "ms",
		"the same solves end to end minus the solver's run time the worker measured (SolveResult.WallSeconds), median: the overhead without a second, separately noisy ccx run",
		fmt.Sprintf("%d runs; medians from the start of Solve: queued at %.0f ms, running at %.0f ms, downloading at %.0f ms, done at %.0f ms; ccx on the worker %.0f ms",
			runs, pct(phases[sdk.SolveQueued], 50), pct(phases[sdk.SolveRunning], 50), pct(phases[sdk.SolveDownloading], 50), rm, rm-pct(onWorker, 50)))
	sm, bm := pct(sandboxed, 50), pct(bare, 50)
	r.add("solve_overhead_sandboxed_ms", sm-lm, "ms",
		"the same Solve through an `iscd worker` process (solvers in the sandbox, the default) minus the local ccx, medians",
		fmt.Sprintf("%d runs: through the worker %.0f ms (ccx in the sandbox %.0f ms as the worker measured it), local ccx %.0f ms", runs, sm, pct(sandboxedCCX, 50), lm))
	r.add("solve_overhead_nosandbox_ms", bm-lm, "ms",
		"the same Solve through an `iscd worker --sandbox=off` process minus the local ccx, medians (same run, interleaved)",
		fmt.Sprintf("%d runs: through the worker %.0f ms (ccx unconfined %.0f ms as the worker measured it), local ccx %.0f ms; the sandbox's share: %.0f ms end to end, %.0f ms of the solver's run",
			runs, bm, pct(bareCCX, 50), lm, sm-bm, pct(sandboxedCCX, 50)-pct(bareCCX, 50)))
	return nil
}

// jobRate registers a solver that runs `true`, starts one `iscd worker`
// (capacity 1) for it, and runs trivial jobs through it, 8 waiting at a
// time; the baseline is `true` run locally as fast as it goes.
func jobRate(ctx context.Context, e *env, r *report, s *iscd, c *sdk.Client, dir string, jobs int) error {
	stop, err := startWorker(ctx, e, s, dir, "trivial", "true")
	if err != nil {
		return err
	}
	defer stop()
	model := filepath.Join(dir, "trivial.inp")
	if err := os.WriteFile(model, []byte("*HEADING\ntrivial\n"), 0o644); err != nil {
		return err
	}
	solve := func(i int) error {
		res, err := c.Solve(ctx, model, sdk.SolveOptions{Solver: "trivial", ResultDir: filepath.Join(dir, fmt.Sprintf("trivial-%d", i))})
		if err != nil {
			return fmt.Errorf("trivial job: %w (%+v)", err, res)
		}
		return nil
	}
	if err := solve(-1); err != nil { // the model's upload, the worker's first lease
		return err
	}
	t := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, jobs)
	slots := make(chan struct{}, 8)
	for i := range jobs {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			errs <- solve(i)
		}()
	}
	wg.Wait()
	elapsed := time.Since(t)
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	const localRuns = 200
	t = time.Now()
	for range localRuns {
		if err := exec.CommandContext(ctx, "true").Run(); err != nil {
			return err
		}
	}
	local := localRuns / time.Since(t).Seconds()
	r.add("jobs_per_s", float64(jobs)/elapsed.Seconds(), "1/s",
		"trivial jobs (a command solver running `true`) completed per second through one `iscd worker --capacity 1`, 8 Solve calls waiting at a time; baseline: `true` run locally",
		fmt.Sprintf("%d jobs in %.2fs; locally %.0f runs/s", jobs, elapsed.Seconds(), local))
	return nil
}
