package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
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
	defer c.ShutOut()

	if _, err := exec.LookPath("ccx"); err != nil {
		r.skip("solve_overhead_ms", "ms", "GetSolution end to end - a local ccx run of the same model, median", "ccx not installed (apt-get install calculix-ccx)")
	} else if err := solveOverhead(ctx, e, r, c, dir, runs); err != nil {
		return err
	}
	return jobRate(ctx, e, r, s, c, dir, jobs)
}

// solveOverhead solves examples/data/beam.inp through iscd's dev worker
// (ccx) and locally with ccx, interleaved, and reports the difference of
// the medians. The first solve (which uploads the model) is not counted.
func solveOverhead(ctx context.Context, e *env, r *report, c *sdk.Client, dir string, runs int) error {
	deck, err := os.ReadFile(filepath.Join(filepath.Dir(e.opt.include), "examples", "data", "beam.inp"))
	if err != nil {
		return err
	}
	model := filepath.Join(dir, "beam.inp")
	if err := os.WriteFile(model, deck, 0o644); err != nil {
		return err
	}
	var local, remote, onWorker []float64
	var first time.Duration
	var sent int64
	phases := map[string][]float64{} // ms from the start of Solve to each state
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
	if err := solve(-1); err != nil { // uploads the model: not counted
		return err
	}
	for i := range runs {
		// Alternate which goes first: iscd's work after a solve must not
		// land on the local run alone.
		steps := []func(int) error{solve, ccx}
		if i%2 == 1 {
			steps[0], steps[1] = ccx, solve
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
	return nil
}

// jobRate registers a solver that runs `true`, starts one `iscd worker`
// (capacity 1) for it, and runs trivial jobs through it, 8 waiting at a
// time; the baseline is `true` run locally as fast as it goes.
func jobRate(ctx context.Context, e *env, r *report, s *iscd, c *sdk.Client, dir string, jobs int) error {
	admin := s.admin()
	product := s.Env["ISCSDK_PRODUCT"]
	if err := admin.Do(ctx, http.MethodPut, "/products/"+product+"/solvers/trivial",
		adminapi.Solver{ProductID: product, Name: "trivial", Kind: "command", TimeLimitSeconds: 60, MaxAttempts: 1}, nil); err != nil {
		return fmt.Errorf("register the trivial solver: %w", err)
	}
	var tok adminapi.NewToken
	if err := admin.Do(ctx, http.MethodPost, "/workers/tokens", adminapi.CreateWorkerToken{Name: "iscbench"}, &tok); err != nil {
		return err
	}
	tokenFile := filepath.Join(dir, "worker.token")
	if err := os.WriteFile(tokenFile, []byte(tok.Secret+"\n"), 0o600); err != nil {
		return err
	}
	w := exec.CommandContext(ctx, filepath.Join(e.opt.build, "bin", "iscd"), "worker", "--server", s.Env["ISCD_ADMIN_URL"],
		"--token-file", tokenFile, "--solver", "trivial=true", "--capacity", "1", "--name", "bench", "--dir", filepath.Join(dir, "worker"), "--log-level", "warn")
	w.Stderr = e.log
	if err := w.Start(); err != nil {
		return err
	}
	defer func() { w.Process.Kill(); w.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		var ws []adminapi.WorkerInfo
		if err := admin.Do(ctx, http.MethodGet, "/workers", nil, &ws); err != nil {
			return err
		}
		if slices.ContainsFunc(ws, func(x adminapi.WorkerInfo) bool { return slices.Contains(x.Solvers, "trivial") }) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the worker did not connect within 30s")
		}
		time.Sleep(50 * time.Millisecond) // polling another process's connection
	}
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
