//go:build linux

package worker_test

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// bigModel writes an incompressible model of n MiB: 16 chunks a MiB for
// a worker to fetch.
func bigModel(t *testing.T, n int) string {
	model := filepath.Join(t.TempDir(), "big.inp")
	data := make([]byte, n<<20)
	rand.Read(data)
	if err := os.WriteFile(model, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return model
}

func checkBigResult(t *testing.T, res sdk.SolveResult, n int) {
	t.Helper()
	out, err := os.ReadFile(filepath.Join(res.ResultDir, "out.txt"))
	if err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(n<<20) {
		t.Fatalf("out.txt %q %v: the solver saw a different model", out, err)
	}
}

// A link between worker and iscd that drops while the worker fetches a
// job's inputs costs a reconnect, not the job: the worker fetches again
// and the solve succeeds on its first attempt.
func TestInputsFetchSurvivesADroppedLink(t *testing.T) {
	c := startComputeLease(t, 5*time.Second)
	relay := servertest.StartRelay(t, c.Addr)
	w := c.startWorker(t, "flaky-link", "--solver", "quick", "--server", "http://"+relay.Addr())
	progress, done := solve(c.client(t), bigModel(t, 32), sdk.SolveOptions{Solver: "quick"})
	nextProgress(t, progress, done, func(p sdk.SolveProgress) bool { return p.State == sdk.SolveRunning })
	for tick := time.NewTicker(time.Millisecond); !strings.Contains(w.log.String(), `"msg":"job started"`); <-tick.C {
	}
	relay.Cut(true) // the worker is fetching the inputs now
	relay.Cut(false)
	res := result(t, done)
	if res.Attempts != 1 {
		t.Errorf("the job ran %d times, want once", res.Attempts)
	}
	checkBigResult(t, res, 32)
}

// A lease whose answer is lost with the link never reached the worker: when
// it reconnects (saying what it runs), iscd queues the job again at once
// instead of waiting for the lease to lapse (10 minutes here: the test
// would time out).
func TestLeaseLostInTransitIsQueuedAgainAtOnce(t *testing.T) {
	c := startComputeLease(t, 10*time.Minute)
	relay := servertest.StartRelay(t, c.Addr)
	w := c.startWorker(t, "flaky-link", "--solver", "quick", "--server", "http://"+relay.Addr())
	for tick := time.NewTicker(time.Millisecond); !strings.Contains(w.log.String(), `"msg":"worker connected"`); <-tick.C {
	}
	relay.Stall(true) // the worker's lease request waits; its answer will not get through
	progress, done := solve(c.client(t), bigModel(t, 1), sdk.SolveOptions{Solver: "quick"})
	nextProgress(t, progress, done, func(p sdk.SolveProgress) bool { return p.State == sdk.SolveRunning })
	relay.Cut(true) // the link drops with the answer in it
	relay.Cut(false)
	res := result(t, done)
	if res.Attempts != 2 {
		t.Errorf("attempts %d, want 2 (the first never reached the worker)", res.Attempts)
	}
	checkBigResult(t, res, 1)
}
