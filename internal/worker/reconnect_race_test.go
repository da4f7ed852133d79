//go:build linux

package worker_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/solver/run"
	"github.com/iscsdk/iscsdk/internal/worker"
	"github.com/iscsdk/iscsdk/sdk"
)

// A worker in this process (race detector on) whose link drops while its
// job runs reconnects and finishes the job: reconnecting, which learns the
// lease again, does not race with the job's renewals.
func TestInProcessWorkerReconnectsMidSolve(t *testing.T) {
	c := startComputeLease(t, 300*time.Millisecond)
	relay := servertest.StartRelay(t, c.Addr)
	putSolver(t, c.Server, adminapi.Solver{Name: "ticker", Kind: "command", Outputs: []string{"out.txt"}})
	ticker, err := run.ParseCommand(testCommands["ticker"])
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(worker.Config{URL: "http://" + relay.Addr(), Token: c.token, Name: "inproc",
		Commands: map[string]run.Command{"ticker": ticker}, Sandbox: run.SandboxConfig{Share: []string{shareDir}}, Dir: workerDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- w.Run(ctx) }()
	defer func() { stop(); <-ran }()

	model, args, pidFile, release := waiterModel(t)
	progress, done := solve(c.client(t), model, sdk.SolveOptions{Solver: "ticker", Args: args})
	nextProgress(t, progress, done, func(p sdk.SolveProgress) bool { return hasLine(p, "tick") })
	readPid(t, pidFile)
	for range 3 {
		before := c.connected(t, "inproc")
		relay.Cut(true) // the job runs on: renewals wait for the link
		relay.Cut(false)
		for tick := time.NewTicker(time.Millisecond); !c.connected(t, "inproc").After(before); <-tick.C {
		}
		for range 2 { // renewals on the new connection
			nextProgress(t, progress, done, func(p sdk.SolveProgress) bool { return hasLine(p, "tick") })
		}
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	result(t, done)
}

// connected is when the worker named name connected (zero: it is not).
func (c *compute) connected(t *testing.T, name string) time.Time {
	t.Helper()
	var workers []adminapi.WorkerInfo
	if err := c.Admin().Do(context.Background(), "GET", "/workers", nil, &workers); err != nil {
		t.Fatal(err)
	}
	for _, w := range workers {
		if w.Name == name {
			return w.Connected
		}
	}
	return time.Time{}
}
