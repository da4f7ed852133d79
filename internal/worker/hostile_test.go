//go:build linux

package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/transport"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

// rawWorker speaks the worker protocol (internal/wire/jobs.go) by hand,
// as a buggy or hostile worker would: nothing of package worker.
type rawWorker struct {
	t      *testing.T
	conn   *transport.Conn
	nextID uint64
}

func (c *compute) dialRaw(t *testing.T, hello wire.WorkerHello) (*rawWorker, wire.WorkerWelcome) {
	t.Helper()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+c.token)
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+c.Addr+wire.WorkerPath, h)
	if err != nil {
		t.Fatal(err)
	}
	w := &rawWorker{t: t, conn: transport.New(ws, transport.Options{})}
	t.Cleanup(func() { w.conn.Close(websocket.CloseNormalClosure, "") })
	var welcome wire.WorkerWelcome
	if err := w.call(wire.OpWorkerHello, hello, &welcome); err != nil {
		t.Fatalf("hello: %v", err)
	}
	return w, welcome
}

// answer reads up to the answer to request id, skipping pushed events.
func (w *rawWorker) answer(id uint64) *wire.Message {
	w.t.Helper()
	for {
		m, bin, err := w.conn.Read()
		if err != nil {
			w.t.Fatalf("read: %v", err)
		}
		if m == nil {
			w.t.Fatalf("unexpected binary frame (%d bytes)", len(bin))
		}
		if m.Type == wire.TypeEvent {
			continue
		}
		if m.ID != id {
			w.t.Fatalf("answer to %d, want %d: %+v", m.ID, id, m)
		}
		return m
	}
}

// call sends a request and decodes its result; a refusal is returned.
func (w *rawWorker) call(op string, body, out any) error {
	w.t.Helper()
	b, _ := json.Marshal(body)
	w.nextID++
	if err := w.conn.Send(context.Background(), &wire.Message{Type: wire.TypeRequest, ID: w.nextID, Op: op, Body: b}); err != nil {
		w.t.Fatal(err)
	}
	m := w.answer(w.nextID)
	if m.Error != nil {
		return m.Error
	}
	if out != nil {
		if err := json.Unmarshal(m.Body, out); err != nil {
			w.t.Fatal(err)
		}
	}
	return nil
}

// done sends a BinJobDone frame and returns iscd's refusal, if any.
func (w *rawWorker) done(h wire.JobDone, outputs []byte) error {
	w.t.Helper()
	hdr, _ := json.Marshal(h)
	w.nextID++
	b, err := wire.EncodeFrame(wire.Frame{Kind: wire.BinJobDone, ID: w.nextID, Header: hdr, Payload: outputs})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.conn.SendBinary(context.Background(), b); err != nil {
		w.t.Fatal(err)
	}
	if m := w.answer(w.nextID); m.Error != nil {
		return m.Error
	}
	return nil
}

// evilManifest is an outputs manifest naming one empty file at path, which
// manifest.Encode refuses to write: it is encoded with a harmless name of
// the same length, then the name is replaced.
func evilManifest(t *testing.T, path string) []byte {
	t.Helper()
	f, err := manifest.Build(context.Background(), strings.NewReader(""), func(manifest.Chunk) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	f.Path = strings.Repeat("q", len(path))
	enc, err := manifest.Encode(manifest.New(f))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(enc, []byte(f.Path)) != 1 {
		t.Fatal("placeholder not unique in the encoding")
	}
	return bytes.Replace(enc, []byte(f.Path), []byte(path), 1)
}

// A hostile worker leases a job: outputs named outside the job's directory
// are refused and do not finish the job; the worker then goes silent, loses
// its lease, and an honest worker runs the job again. The hostile worker's
// late report is refused too, and the client gets the honest result.
func TestHostileWorkerIsRefusedAndLosesItsLease(t *testing.T) {
	c := startCompute(t)
	cl := c.client(t)
	hostile, welcome := c.dialRaw(t, wire.WorkerHello{Name: "hostile", Solvers: []string{"quick"}, Capacity: 1})
	if welcome.LeaseMS != lease.Milliseconds() {
		t.Fatalf("welcome %+v", welcome)
	}

	model := filepath.Join(t.TempDir(), "m.inp")
	if err := os.WriteFile(model, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, done := solve(cl, model, sdk.SolveOptions{Solver: "quick"})
	var l wire.JobLease
	if err := hostile.call(wire.OpWorkerLease, wire.WorkerLease{WaitMS: waitFor.Milliseconds()}, &l); err != nil || l.ID == "" {
		t.Fatalf("lease: %v %+v", err, l)
	}

	for _, evil := range []string{"../evil", "a/../../evil", "/etc/evil", `..\evil`} {
		err := hostile.done(wire.JobDone{ID: l.ID, Attempt: l.Attempt, State: store.JobSucceeded}, evilManifest(t, evil))
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != wire.CodeBadRequest || !strings.Contains(we.Message, "outputs manifest") {
			t.Fatalf("done with output %q: %v, want bad_request naming the outputs manifest", evil, err)
		}
	}
	if j := c.job(t, l.ID); j.State != store.JobRunning || j.Attempt() != 1 || !strings.HasSuffix(j.Worker(), "/hostile") {
		t.Fatalf("after the refused reports the job is %s, attempt %d on %s", j.State, j.Attempt(), j.Worker())
	}

	// The hostile worker never renews: the job runs elsewhere.
	c.startWorker(t, "honest", "--solver", "quick")
	res := result(t, done)
	if res.Attempts != 2 {
		t.Fatalf("result of attempt %d, want 2", res.Attempts)
	}
	if out, _ := os.ReadFile(filepath.Join(res.ResultDir, "out.txt")); strings.TrimSpace(string(out)) != "10" {
		t.Fatalf("out.txt %q", out)
	}
	j := c.job(t, l.ID)
	if len(j.Attempts) != 2 || j.Attempts[0].Outcome != "lost" || !strings.HasSuffix(j.Attempts[1].Worker, "/honest") {
		t.Fatalf("attempts %+v", j.Attempts)
	}

	// iscd no longer counts the job as the hostile worker's.
	var workers []adminapi.WorkerInfo
	if err := c.Admin().Do(context.Background(), "GET", "/workers", nil, &workers); err != nil {
		t.Fatal(err)
	}
	for _, w := range workers {
		if w.Name == "hostile" && len(w.Running) > 0 {
			t.Errorf("the hostile worker still runs %v after losing its lease", w.Running)
		}
	}

	// Too late: its lease is gone, for a report and a renewal alike.
	err := hostile.done(wire.JobDone{ID: l.ID, Attempt: l.Attempt, State: store.JobFailed, ExitCode: 1}, nil)
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != "lease_lost" {
		t.Fatalf("late done: %v, want lease_lost", err)
	}
	if err := hostile.call(wire.OpWorkerRenew, wire.JobProgress{ID: l.ID, Attempt: l.Attempt}, nil); !errors.As(err, &we) || we.Code != "lease_lost" {
		t.Fatalf("late renew: %v, want lease_lost", err)
	}
	if after := c.job(t, l.ID); after.State != store.JobSucceeded || after.Attempt() != 2 || after.ExitCode != 0 {
		t.Fatalf("the late report changed the job: %+v", after)
	}
}

// A worker asking for more jobs than the capacity it announced gets none
// until one of its jobs ends: a greedy or buggy worker cannot hoard the
// queue (each hoarded job would wait for its lease to lapse, and fail
// after its attempts).
func TestWorkerGetsNoMoreJobsThanItsCapacity(t *testing.T) {
	c := startCompute(t)
	cl := c.client(t)
	greedy, _ := c.dialRaw(t, wire.WorkerHello{Name: "greedy", Solvers: []string{"quick"}, Capacity: 1})
	var dones []<-chan solveOutcome
	for i := range 2 {
		model := filepath.Join(t.TempDir(), "m.inp")
		if err := os.WriteFile(model, []byte(strings.Repeat("y", i+1)), 0o600); err != nil {
			t.Fatal(err)
		}
		progress, done := solve(cl, model, sdk.SolveOptions{Solver: "quick"})
		nextProgress(t, progress, done, func(p sdk.SolveProgress) bool { return p.State == sdk.SolveQueued })
		dones = append(dones, done)
	}
	var first wire.JobLease
	if err := greedy.call(wire.OpWorkerLease, wire.WorkerLease{WaitMS: waitFor.Milliseconds()}, &first); err != nil || first.ID == "" {
		t.Fatalf("lease: %v %+v", err, first)
	}
	var second wire.JobLease
	if err := greedy.call(wire.OpWorkerLease, wire.WorkerLease{WaitMS: 300}, &second); err != nil || second.ID != "" {
		t.Fatalf("a second lease at capacity 1: %v %+v, want none", err, second)
	}

	// A lease request waiting at capacity gets the next job once the
	// worker's job ends.
	greedy.nextID++
	leaseID := greedy.nextID
	body, _ := json.Marshal(wire.WorkerLease{WaitMS: waitFor.Milliseconds()})
	if err := greedy.conn.Send(context.Background(), &wire.Message{Type: wire.TypeRequest, ID: leaseID, Op: wire.OpWorkerLease, Body: body}); err != nil {
		t.Fatal(err)
	}
	hdr, _ := json.Marshal(wire.JobDone{ID: first.ID, Attempt: first.Attempt, State: store.JobFailed, ExitCode: 3, ErrorCode: wire.CodeSolverFailed, Error: "no"})
	greedy.nextID++
	doneID := greedy.nextID
	frame, _ := wire.EncodeFrame(wire.Frame{Kind: wire.BinJobDone, ID: doneID, Header: hdr})
	if err := greedy.conn.SendBinary(context.Background(), frame); err != nil {
		t.Fatal(err)
	}
	var next wire.JobLease
	for range 2 {
		m, _, err := greedy.conn.Read()
		if err != nil || m == nil || m.Error != nil {
			t.Fatalf("answer: %v %+v", err, m)
		}
		if m.ID == leaseID {
			if err := json.Unmarshal(m.Body, &next); err != nil {
				t.Fatal(err)
			}
		}
	}
	if next.ID == "" || next.ID == first.ID {
		t.Fatalf("after its job ended the waiting lease got %+v", next)
	}
	// The first job's owner hears it failed; the other job is the greedy
	// worker's now.
	select {
	case r := <-dones[0]:
		if r.res.JobID != first.ID || r.res.Status != sdk.SolveFailed || r.res.ExitCode != 3 {
			t.Fatalf("result %+v", r.res)
		}
	case r := <-dones[1]:
		if r.res.JobID != first.ID || r.res.Status != sdk.SolveFailed || r.res.ExitCode != 3 {
			t.Fatalf("result %+v", r.res)
		}
	case <-time.After(waitFor):
		t.Fatal("no result")
	}
}

// A worker's requests are decoded as a session's are, before any handler
// runs: a body of the wrong shape is bad_request naming the op, too many
// chunk ids too_large, a frame's bad header bad_request; none of them
// ends the connection.
func TestWorkerRequestsDecodedOnce(t *testing.T) {
	c := startCompute(t)
	w, _ := c.dialRaw(t, wire.WorkerHello{Name: "sloppy", Solvers: []string{"quick"}, Capacity: 1})
	var we *wire.Error
	if err := w.call(wire.OpWorkerHave, json.RawMessage(`{"ids":5}`), nil); !errors.As(err, &we) || we.Code != wire.CodeBadRequest || !strings.HasPrefix(we.Message, "worker.have: ") {
		t.Fatalf("a have with a number for ids: %v", err)
	}
	ids := make([]string, wire.MaxHaveBatch+1)
	for i := range ids {
		ids[i] = strings.Repeat("0", 64)
	}
	if err := w.call(wire.OpWorkerHave, wire.WorkerHave{IDs: ids}, nil); !errors.As(err, &we) || we.Code != wire.CodeTooLarge {
		t.Fatalf("a have of %d ids: %v", len(ids), err)
	}
	if err := w.call("worker.nosuch", struct{}{}, nil); !errors.As(err, &we) || we.Code != wire.CodeUnknownOp {
		t.Fatalf("an unknown op: %v", err)
	}
	w.nextID++
	b, err := wire.EncodeFrame(wire.Frame{Kind: wire.BinJobDone, ID: w.nextID, Header: []byte(`[1]`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.conn.SendBinary(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if m := w.answer(w.nextID); m.Error == nil || m.Error.Code != wire.CodeBadRequest || !strings.Contains(m.Error.Message, "header") {
		t.Fatalf("a done frame with a bad header: %+v", m.Error)
	}
	var l wire.JobLease
	if err := w.call(wire.OpWorkerLease, wire.WorkerLease{}, &l); err != nil || l.ID != "" {
		t.Fatalf("a lease with no job queued after the refusals: %+v, %v", l, err)
	}
}
