package server

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/jobs"
	"github.com/iscsdk/iscsdk/internal/solver/run"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
	"github.com/iscsdk/iscsdk/internal/worker"
)

// DevSolver is the dev product's solver: CalculiX, returning what a
// static analysis writes.
const DevSolver = "calculix"

// CalculiX is the reference command solver as the service knows it: ccx
// (a worker's `--solver calculix`, run.Presets) reads {stem}.inp and writes
// {stem}.dat (printed results), .frd (the result field), .sta and .cvg (the
// increments and their convergence).
func CalculiX(product string) store.Solver {
	return store.Solver{ProductID: product, Name: DevSolver, Kind: store.SolverCommand,
		Outputs:  []string{"*.dat", "*.frd", "*.sta", "*.cvg"},
		Progress: "calculix", TimeLimit: time.Hour, MaxOutput: 4 << 30, MaxAttempts: jobs.DefaultMaxAttempts}
}

// setupDevSolver gives the dev product the CalculiX solver, unless it has
// solvers already (an operator's are kept).
func (s *Server) setupDevSolver(ctx context.Context) error {
	have, err := s.store.Solvers(ctx, DevProduct)
	if err != nil || len(have) > 0 {
		return err
	}
	return s.store.PutSolver(ctx, CalculiX(DevProduct))
}

// runDevWorker runs dev mode's in-process compute worker until ctx ends:
// the same worker as `iscd worker`, connected over loopback with a fresh
// worker token. Without solvers configured, it runs CalculiX if ccx is on
// PATH; with none at all it does not start. Its job directories are
// outside the data directory (a temporary directory removed when it
// stops), and its solvers run in the same sandbox as `iscd worker`'s.
func (s *Server) runDevWorker(ctx context.Context) {
	cfg := s.cfg.DevWorker
	if len(cfg.Commands) == 0 && len(cfg.Plugins) == 0 {
		ccx, err := run.ParseCommand(run.Presets[DevSolver])
		if err != nil {
			s.log.Warn("dev worker not started: ccx (CalculiX) is not on PATH; solves wait for an `iscd worker`", "err", err)
			return
		}
		cfg.Commands = map[string]run.Command{DevSolver: ccx}
	}
	secret, id, hash := token.New(token.PrefixWorker)
	if err := s.store.CreateToken(ctx, store.Token{ID: id, Kind: token.PrefixWorker, Hash: hash, Name: "dev worker", Created: time.Now().UTC()}); err != nil {
		s.log.Error("dev worker token", "err", err)
		return
	}
	cfg.URL, cfg.Token = s.base, secret
	if cfg.Name == "" {
		cfg.Name = "dev"
	}
	if cfg.Dir == "" {
		// Never below the data directory: a job there is one path away
		// from the service's secrets (dev.env) and its store.
		dir, err := os.MkdirTemp("", "iscd-dev-worker-")
		if err != nil {
			s.log.Error("dev worker", "err", err)
			return
		}
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}
	if cfg.Logger == nil {
		cfg.Logger = s.log.With("component", "dev worker")
	}
	w, err := worker.New(cfg)
	if err != nil {
		s.log.Error("dev worker", "err", err)
		return
	}
	defer w.Close()
	if err := w.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Error("dev worker", "err", err)
	}
}
