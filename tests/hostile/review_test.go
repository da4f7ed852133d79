package hostile_test

// A second look at the trust boundary (issue 13): attacks the boundary
// files above do not try. A customer holding one API token names another
// organisation's jobs, files, chunks and licence on every session op that
// takes an id; a hostile worker (or a solver that escaped its sandbox and
// took the worker's token) reports more solver time than it held the job,
// to bill a customer for it; a token of one kind is shown to an endpoint
// of another.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

// reviewConn speaks iscd's protocol itself (a session or a worker),
// skipping every check the SDK and the worker make.
type reviewConn struct {
	t      *testing.T
	ws     *websocket.Conn
	id     uint64
	events [][]byte // events read while waiting for answers
}

// reviewAnswerWait bounds the wait for each answer or event, not the
// connection's life (which would bound how much a test may do in it).
const reviewAnswerWait = 60 * time.Second

func reviewDial(t *testing.T, url, bearer string) *reviewConn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + bearer}})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { ws.Close() })
	ws.SetReadDeadline(time.Now().Add(reviewAnswerWait))
	return &reviewConn{t: t, ws: ws}
}

// reviewSession opens a session of product with an API token.
func reviewSession(t *testing.T, srv *servertest.Server, tok, product string) *reviewConn {
	t.Helper()
	c := reviewDial(t, srv.Endpoint, tok)
	b, _ := wire.Encode(&wire.Message{Type: wire.TypeHello, Hello: &wire.Hello{Protocol: wire.ProtocolVersion, Product: product}})
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if m, err := wire.Decode(data); err != nil || m.Type != wire.TypeWelcome {
		t.Fatalf("hello as %s: %s", product, data)
	}
	return c
}

func (c *reviewConn) call(op string, body any) *wire.Message {
	c.t.Helper()
	c.id++
	b, _ := json.Marshal(body)
	m, _ := wire.Encode(&wire.Message{Type: wire.TypeRequest, ID: c.id, Op: op, Body: b})
	if err := c.ws.WriteMessage(websocket.TextMessage, m); err != nil {
		c.t.Fatal(err)
	}
	return c.await(c.id)
}

func (c *reviewConn) frame(kind byte, header any, payload []byte) *wire.Message {
	c.t.Helper()
	c.id++
	f := wire.Frame{Kind: kind, ID: c.id, Payload: payload}
	if header != nil {
		f.Header, _ = json.Marshal(header)
	}
	b, err := wire.EncodeFrame(f)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Fatal(err)
	}
	return c.await(c.id)
}

func (c *reviewConn) chunk(data []byte) (chunkstore.ID, *wire.Message) {
	c.t.Helper()
	id := chunkstore.Sum(data)
	c.id++
	b, err := wire.EncodeFrame(wire.Frame{Kind: wire.BinChunkPut, ID: c.id, ChunkID: id, Payload: chunkstore.Encode(data)})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Fatal(err)
	}
	return id, c.await(c.id)
}

// await reads up to the answer to request id; binary answers come back as
// a message without error.
func (c *reviewConn) await(id uint64) *wire.Message {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(reviewAnswerWait))
	for {
		kind, data, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("waiting for the answer to %d: %v", id, err)
		}
		if kind == websocket.BinaryMessage {
			if f, err := wire.DecodeFrame(data); err == nil && f.ID == id {
				return &wire.Message{Type: wire.TypeResult, ID: id, Body: f.Payload}
			}
			continue
		}
		m, err := wire.Decode(data)
		switch {
		case err != nil:
		case m.Type == wire.TypeEvent:
			c.events = append(c.events, data)
		case m.Type == wire.TypeResult && m.ID == id:
			return m
		}
	}
}

// event returns the next event the connection receives, those read while
// waiting for answers first.
func (c *reviewConn) event() ([]byte, *wire.Message, error) {
	for {
		var data []byte
		if len(c.events) > 0 {
			data, c.events = c.events[0], c.events[1:]
		} else {
			var err error
			if _, data, err = c.ws.ReadMessage(); err != nil {
				return nil, nil, err
			}
		}
		if m, err := wire.Decode(data); err == nil && m.Type == wire.TypeEvent {
			return data, m, nil
		}
	}
}

func code(m *wire.Message) string {
	if m.Error == nil {
		return ""
	}
	return m.Error.Code
}

func reviewID(t *testing.T) string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// reviewProduct registers a product that requires no licence, with one
// solver that no worker of the service runs unless the test's does.
func reviewProduct(t *testing.T, srv *servertest.Server, id, solver string) {
	t.Helper()
	a, ctx := srv.Admin(), context.Background()
	if err := a.Do(ctx, "POST", "/products", adminapi.CreateProduct{ID: id, Name: id}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Do(ctx, "PUT", "/products/"+id+"/solvers/"+solver, adminapi.Solver{Kind: "command"}, nil); err != nil {
		t.Fatal(err)
	}
}

// reviewOrg makes an organisation with one user and returns its API token.
func reviewOrg(t *testing.T, srv *servertest.Server, org string) string {
	t.Helper()
	a, ctx := srv.Admin(), context.Background()
	if err := a.Do(ctx, "POST", "/orgs", adminapi.CreateOrg{ID: org, Name: org}, nil); err != nil {
		t.Fatal(err)
	}
	var u store.User
	if err := a.Do(ctx, "POST", "/users", adminapi.CreateUser{OrgID: org, Name: "user of " + org}, &u); err != nil {
		t.Fatal(err)
	}
	var nt adminapi.NewToken
	if err := a.Do(ctx, "POST", "/tokens", adminapi.CreateToken{UserID: u.ID}, &nt); err != nil {
		t.Fatal(err)
	}
	return nt.Secret
}

// reviewInputs stores data as a model through c and returns the inputs
// manifest of a job (or a save) of it, and its chunk.
func reviewInputs(t *testing.T, c *reviewConn, name string, data []byte) ([]byte, chunkstore.ID) {
	t.Helper()
	id, m := c.chunk(data)
	if m.Error != nil {
		t.Fatalf("chunk: %+v", m.Error)
	}
	enc, err := manifest.Encode(manifest.New(manifest.File{Path: name, Size: int64(len(data)), Mode: 0o644, Hash: id,
		Chunks: []manifest.ChunkRef{{ID: id, Size: len(data)}}}))
	if err != nil {
		t.Fatal(err)
	}
	return enc, id
}

// TestReviewOtherOrganisationsIDs: organisation A saves a model and
// queues a job of it; a user of organisation B, who learnt every id (the
// job's, the file's path, the chunk's hash, A's licence), names them on
// every session op that takes one. Each answers as if the thing did not
// exist (not_found, missing_chunks, a taken job id), nothing of A's comes
// back, and A's job and file are as they were.
func TestReviewOtherOrganisationsIDs(t *testing.T) {
	srv := servertest.Start(t)
	reviewProduct(t, srv, "review-idle", "idle")
	a := reviewSession(t, srv, srv.APIToken, "review-idle")
	secret := []byte("** organisation A's model " + reviewID(t) + "\n*NODE\n1,0,0,0\n")
	inputs, chunk := reviewInputs(t, a, "a.inp", secret)
	if m := a.frame(wire.BinCommit, wire.FilesCommit{Path: "/review/a.inp"}, inputs); m.Error != nil {
		t.Fatalf("A's save: %+v", m.Error)
	}
	job := reviewID(t)
	if m := a.frame(wire.BinJobSubmit, wire.JobSubmit{ID: job, Main: "a.inp"}, inputs); m.Error != nil {
		t.Fatalf("A's job: %+v", m.Error)
	}

	bTok := reviewOrg(t, srv, "review-b")
	b := reviewSession(t, srv, bTok, "review-idle")
	bDev := reviewSession(t, srv, bTok, srv.Product) // for A's licence, which is of the dev product
	ref := wire.JobRef{ID: job}
	for _, tc := range []struct {
		what string
		m    *wire.Message
		want string
	}{
		{"jobs.get", b.call(wire.OpJobsGet, ref), wire.CodeNotFound},
		{"jobs.manifest", b.call(wire.OpJobsManifest, ref), wire.CodeNotFound},
		{"jobs.cancel", b.call(wire.OpJobsCancel, ref), wire.CodeNotFound},
		{"a submit under A's job id", b.frame(wire.BinJobSubmit, wire.JobSubmit{ID: job, Main: "a.inp"}, inputs), wire.CodeConflict},
		{"a submit of A's chunk", b.frame(wire.BinJobSubmit, wire.JobSubmit{ID: reviewID(t), Main: "a.inp"}, inputs), wire.CodeMissingChunks},
		{"a save of A's chunk", b.frame(wire.BinCommit, wire.FilesCommit{Path: "/mine.inp"}, inputs), wire.CodeMissingChunks},
		{"files.chunk of A's chunk", b.call(wire.OpFilesChunk, wire.FilesChunk{ID: chunk.String()}), wire.CodeNotFound},
		{"files.open", b.call(wire.OpFilesOpen, wire.FilesOpen{Path: "/review/a.inp"}), wire.CodeNotFound},
		{"files.open with check-out", b.call(wire.OpFilesOpen, wire.FilesOpen{Path: "/review/a.inp", Checkout: true}), wire.CodeNotFound},
		{"files.manifest", b.call(wire.OpFilesManifest, wire.FilesVersion{Path: "/review/a.inp", Version: 1}), wire.CodeNotFound},
		{"files.stat", b.call(wire.OpFilesStat, wire.FilesVersion{Path: "/review/a.inp"}), wire.CodeNotFound},
		{"files.history", b.call(wire.OpFilesHistory, wire.FilesVersion{Path: "/review/a.inp"}), wire.CodeNotFound},
		{"files.lock", b.call(wire.OpFilesLock, wire.FilesVersion{Path: "/review/a.inp"}), wire.CodeNotFound},
		{"license.renew of A's licence", bDev.call(wire.OpLicenseRenew, wire.LicenseRef{LicenseID: server.DevLicense}), wire.CodeNotFound},
		{"license.notify into A's audit", bDev.call(wire.OpLicenseNotify, wire.LicenseNotify{LicenseID: server.DevLicense, Message: "B was here"}), wire.CodeNotFound},
	} {
		if got := code(tc.m); got != tc.want {
			t.Errorf("%s by organisation B: %s %s, want %s", tc.what, got, tc.m.Body, tc.want)
		}
		if strings.Contains(string(tc.m.Body), job) || strings.Contains(string(tc.m.Body), "organisation A") {
			t.Errorf("%s by organisation B answered A's data: %s", tc.what, tc.m.Body)
		}
	}
	// Nothing of A's in what B may list and ask about.
	if m := b.call(wire.OpFilesHave, wire.FilesHave{IDs: []string{chunk.String()}}); !strings.Contains(string(m.Body), chunk.String()) {
		t.Errorf("files.have says organisation B holds A's chunk: %+v %s", m.Error, m.Body)
	}
	for op, body := range map[string]any{wire.OpJobsList: wire.JobsList{}, wire.OpFilesList: wire.FilesList{Dir: "/review"}} {
		if m := b.call(op, body); strings.Contains(string(m.Body), job) || strings.Contains(string(m.Body), "a.inp") {
			t.Errorf("%s by organisation B shows A's: %s", op, m.Body)
		}
	}
	// A's job is still queued and A's file is as saved, not checked out.
	var info wire.JobInfo
	if m := a.call(wire.OpJobsGet, ref); m.Error != nil || json.Unmarshal(m.Body, &info) != nil || info.State != store.JobQueued {
		t.Errorf("A's job after B's attempts: %+v %s, want queued", m.Error, m.Body)
	}
	var entry wire.FileInfo
	if m := a.call(wire.OpFilesStat, wire.FilesVersion{Path: "/review/a.inp"}); m.Error != nil || json.Unmarshal(m.Body, &entry) != nil ||
		entry.Version != 1 || entry.LockedBy != "" {
		t.Errorf("A's file after B's attempts: %+v %s, want version 1, not checked out", m.Error, m.Body)
	}
}

// reviewWorker connects a hand-made worker that runs solver.
func reviewWorker(t *testing.T, srv *servertest.Server, solver string) *reviewConn {
	t.Helper()
	var wt adminapi.NewToken
	if err := srv.Admin().Do(context.Background(), "POST", "/workers/tokens", adminapi.CreateWorkerToken{Name: "hostile"}, &wt); err != nil {
		t.Fatal(err)
	}
	w := reviewDial(t, strings.Replace(srv.Endpoint, wire.Path, wire.WorkerPath, 1), wt.Secret)
	if m := w.call(wire.OpWorkerHello, wire.WorkerHello{Name: "hostile", Solvers: []string{solver}, Capacity: 1}); m.Error != nil {
		t.Fatalf("worker hello: %+v", m.Error)
	}
	return w
}

// reviewLeased submits a job through the session c and has the worker w
// lease it.
func reviewLeased(t *testing.T, c, w *reviewConn) (string, wire.JobLease) {
	t.Helper()
	inputs, _ := reviewInputs(t, c, "m.inp", []byte("*NODE\n1,0,0,0\n"))
	job := reviewID(t)
	if m := c.frame(wire.BinJobSubmit, wire.JobSubmit{ID: job, Main: "m.inp"}, inputs); m.Error != nil {
		t.Fatalf("submit: %+v", m.Error)
	}
	var lease wire.JobLease
	for lease.ID == "" {
		m := w.call(wire.OpWorkerLease, wire.WorkerLease{WaitMS: 10000})
		if m.Error != nil || json.Unmarshal(m.Body, &lease) != nil {
			t.Fatalf("lease: %+v %s", m.Error, m.Body)
		}
	}
	if lease.ID != job {
		t.Fatalf("leased %s, want %s", lease.ID, job)
	}
	return job, lease
}

// TestReviewWorkerCannotBillMoreThanItHeld: a worker (hostile, or a solver
// that escaped its sandbox with the worker's token) leases a customer's
// job and ends it at once, claiming 10^7 s of solver time. The customer's
// job and the usage iscd meters (what the marketplace bills) say at most
// the time the attempt was held on iscd's own clock.
func TestReviewWorkerCannotBillMoreThanItHeld(t *testing.T) {
	srv := servertest.Start(t)
	reviewProduct(t, srv, "review-bill", "fake")
	a, ctx := srv.Admin(), context.Background()
	w := reviewWorker(t, srv, "fake")
	start := time.Now()
	c := reviewSession(t, srv, srv.APIToken, "review-bill")
	job, lease := reviewLeased(t, c, w)
	const claimed = 1e7
	if m := w.frame(wire.BinJobDone, wire.JobDone{ID: job, Attempt: lease.Attempt, State: store.JobSucceeded,
		WallSeconds: claimed, CPUSeconds: claimed}, nil); m.Error != nil {
		t.Fatalf("done: %+v", m.Error)
	}
	held := time.Since(start).Seconds()

	var info wire.JobInfo
	if m := c.call(wire.OpJobsGet, wire.JobRef{ID: job}); m.Error != nil || json.Unmarshal(m.Body, &info) != nil {
		t.Fatalf("jobs.get: %+v", m.Error)
	}
	if info.WallSeconds > held || info.WallSeconds < 0 {
		t.Errorf("the customer's job shows %.0f s of solver time; the worker held it %.3f s", info.WallSeconds, held)
	}
	var usage adminapi.Usage
	if err := a.Do(ctx, "GET", "/usage?org="+server.DevOrg, nil, &usage); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(usage.Raw, func(u adminapi.Metered) bool { return u.JobID == job })
	switch {
	case i < 0:
		// Nothing metered is within the bound too, but then the test
		// would not show the bound: the attempt ran, on iscd's clock.
		t.Fatalf("no usage metered for job %s: %+v", job, usage.Raw)
	case usage.Raw[i].SolverSeconds > held:
		t.Errorf("iscd meters %.0f s of solver time for job %s (billed to the customer); the worker held it %.3f s",
			usage.Raw[i].SolverSeconds, job, held)
	}
	t.Logf("claimed %.0f s, held %.3f s: the job shows %.3f s, usage %.3f s", float64(claimed), held, info.WallSeconds, usage.Raw[max(i, 0)].SolverSeconds)
}

// TestReviewTokenKindsStayApart: each endpoint takes one kind of token. An
// API, admin, worker or resume token, as it is and with its prefix changed
// to the endpoint's kind (a secret is checked against the kind its record
// was made as), is refused with 401 everywhere but its own endpoint.
func TestReviewTokenKindsStayApart(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	var wt adminapi.NewToken
	if err := srv.Admin().Do(ctx, "POST", "/workers/tokens", adminapi.CreateWorkerToken{Name: "kinds"}, &wt); err != nil {
		t.Fatal(err)
	}
	s := reviewDial(t, srv.Endpoint, srv.APIToken)
	b, _ := wire.Encode(&wire.Message{Type: wire.TypeHello, Hello: &wire.Hello{Protocol: wire.ProtocolVersion, Product: srv.Product}})
	s.ws.WriteMessage(websocket.TextMessage, b)
	_, data, err := s.ws.ReadMessage()
	welcome, derr := wire.Decode(data)
	if err != nil || derr != nil || welcome.Welcome == nil || welcome.Welcome.ResumeToken == "" {
		t.Fatalf("welcome: %s %v %v", data, err, derr)
	}
	tokens := map[string]string{"API": srv.APIToken, "admin": srv.AdminToken, "worker": wt.Secret, "resume": welcome.Welcome.ResumeToken}
	worker := strings.Replace(srv.Endpoint, wire.Path, wire.WorkerPath, 1)
	endpoints := []struct {
		name, prefix, own string
		status            func(tok string) int
	}{
		{"/v1/session", "isk_", "API", func(tok string) int { return reviewUpgrade(srv.Endpoint, tok) }},
		{"/v1/worker", "isw_", "worker", func(tok string) int { return reviewUpgrade(worker, tok) }},
		{"/admin/v1", "isa_", "admin", func(tok string) int {
			req, _ := http.NewRequest("GET", srv.AdminURL+adminapi.Prefix+"/orgs", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return 0
			}
			resp.Body.Close()
			return resp.StatusCode
		}},
	}
	for _, ep := range endpoints {
		for kind, tok := range tokens {
			forms := map[string]string{"as it is": tok}
			if _, rest, ok := strings.Cut(tok, "_"); ok && !strings.HasPrefix(tok, ep.prefix) {
				forms["re-prefixed "+ep.prefix] = ep.prefix + rest
			}
			for form, bearer := range forms {
				got := ep.status(bearer)
				want := http.StatusUnauthorized
				if kind == ep.own && form == "as it is" {
					want = http.StatusSwitchingProtocols
					if ep.prefix == "isa_" {
						want = http.StatusOK
					}
				}
				if got != want {
					t.Errorf("%s with the %s token %s: HTTP %d, want %d", ep.name, kind, form, got, want)
				}
			}
		}
	}
}

// reviewUpgrade asks for a WebSocket at url with bearer and returns the
// HTTP status of the answer (101 when it is upgraded).
func reviewUpgrade(url, bearer string) int {
	ws, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + bearer}})
	if err == nil {
		ws.Close()
	}
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// TestReviewPickerClosesWhenTheLicenceFreezes: a picker link minted while
// the organisation's licence was active shows nothing once the licence is
// frozen (the product requires a licence for cloud files): not the folder's
// names, not a pick. Unfrozen, the same link works again.
func TestReviewPickerClosesWhenTheLicenceFreezes(t *testing.T) {
	srv := servertest.Start(t)
	c := reviewSession(t, srv, srv.APIToken, srv.Product)
	name := "secret-" + reviewID(t)[:8] + ".prt"
	inputs, _ := reviewInputs(t, c, name, []byte("a part"))
	if m := c.frame(wire.BinCommit, wire.FilesCommit{Path: "/" + name}, inputs); m.Error != nil {
		t.Fatalf("save: %+v", m.Error)
	}
	var opened wire.PickerOpened
	if m := c.call(wire.OpPickerOpen, wire.PickerOpen{Mode: wire.PickerModeOpen, RequestID: 1}); m.Error != nil || json.Unmarshal(m.Body, &opened) != nil {
		t.Fatalf("picker.open: %+v", m.Error)
	}
	base := strings.Replace(strings.TrimSuffix(srv.Endpoint, wire.Path), "ws://", "http://", 1)
	get := func() (int, string) {
		t.Helper()
		resp, err := http.Get(base + opened.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String()
	}
	form := func(nonce string) int {
		t.Helper()
		body := url.Values{"nonce": {nonce}, "path": {"/" + name}, "action": {"open"}}.Encode()
		req, _ := http.NewRequest("POST", base+opened.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	status, page := get()
	nonce := regexp.MustCompile(`name="nonce" value="([^"]+)"`).FindStringSubmatch(page)
	if status != http.StatusOK || !strings.Contains(page, name) || nonce == nil {
		t.Fatalf("the picker with an active licence: %d, the file shown: %v, a form: %v", status, strings.Contains(page, name), nonce != nil)
	}
	licence := func(action string) {
		t.Helper()
		if err := srv.Admin().Do(context.Background(), "POST", "/licenses/"+server.DevLicense+"/"+action, nil, nil); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
	}
	licence("freeze")
	if status, page := get(); status != http.StatusForbidden || strings.Contains(page, name) {
		t.Errorf("the picker of a frozen licence: HTTP %d, the file's name shown: %v; want 403 and no name", status, strings.Contains(page, name))
	}
	if status := form(nonce[1]); status != http.StatusForbidden {
		t.Errorf("a pick through the picker of a frozen licence: HTTP %d, want 403", status)
	}
	licence("unfreeze") // the link was not used up by the refused pick
	if status, page := get(); status != http.StatusOK || !strings.Contains(page, name) {
		t.Errorf("the picker once unfrozen: %d, the file shown: %v", status, strings.Contains(page, name))
	}
}

// TestReviewWorkerOutputsBeyondTheLimit: a worker ends a job with outputs
// far over the solver's limit (one stored chunk repeated: a few bytes of
// manifest name gigabytes), saying the job failed or succeeded. The job
// fails with output_limit either way, and what the customer's program
// downloads is within the limit: the small files (the solver's log), not
// the big one.
func TestReviewWorkerOutputsBeyondTheLimit(t *testing.T) {
	srv := servertest.Start(t)
	const limit = 1 << 20
	a, ctx := srv.Admin(), context.Background()
	if err := a.Do(ctx, "POST", "/products", adminapi.CreateProduct{ID: "review-out", Name: "review-out"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Do(ctx, "PUT", "/products/review-out/solvers/fake", adminapi.Solver{Kind: "command", MaxOutput: limit}, nil); err != nil {
		t.Fatal(err)
	}
	w := reviewWorker(t, srv, "fake")
	c := reviewSession(t, srv, srv.APIToken, "review-out")
	for _, claim := range []string{store.JobFailed, store.JobSucceeded} {
		job, lease := reviewLeased(t, c, w)
		put := func(data []byte) manifest.ChunkRef {
			id := chunkstore.Sum(data)
			if m := w.frame(wire.BinJobChunk, wire.JobChunk{ID: job, Attempt: lease.Attempt, Chunk: id.String()}, chunkstore.Encode(data)); m.Error != nil {
				t.Fatalf("output chunk: %+v", m.Error)
			}
			return manifest.ChunkRef{ID: id, Size: len(data)}
		}
		logRef := put([]byte("solver log of " + job))
		block := make([]byte, 200<<10)
		rand.Read(block)
		big := put(block)
		bigFile := manifest.File{Path: "big.frd", Mode: 0o644, Hash: big.ID}
		for range 40 { // 8 MB, eight times the limit
			bigFile.Chunks = append(bigFile.Chunks, big)
			bigFile.Size += int64(big.Size)
		}
		enc, err := manifest.Encode(manifest.New(bigFile,
			manifest.File{Path: "solver.log", Mode: 0o644, Hash: logRef.ID, Size: int64(logRef.Size), Chunks: []manifest.ChunkRef{logRef}}))
		if err != nil {
			t.Fatal(err)
		}
		if m := w.frame(wire.BinJobDone, wire.JobDone{ID: job, Attempt: lease.Attempt, State: claim, WallSeconds: 0.01}, enc); m.Error != nil {
			t.Fatalf("done: %+v", m.Error)
		}
		var info wire.JobInfo
		if m := c.call(wire.OpJobsGet, wire.JobRef{ID: job}); m.Error != nil || json.Unmarshal(m.Body, &info) != nil {
			t.Fatalf("jobs.get: %+v", m.Error)
		}
		if info.State != store.JobFailed || info.ErrorCode != "output_limit" {
			t.Errorf("a job whose worker claimed %s with 8 MB of outputs over a 1 MiB limit ended %s %q", claim, info.State, info.ErrorCode)
		}
		m := c.call(wire.OpJobsManifest, wire.JobRef{ID: job})
		var files []string
		var size int64
		if m.Error == nil {
			out, err := manifest.Decode(m.Body)
			if err != nil {
				t.Fatalf("outputs manifest: %v", err)
			}
			for _, f := range out.Files {
				files, size = append(files, f.Path), size+f.Size
			}
		}
		if size > limit || !slices.Equal(files, []string{"solver.log"}) || info.OutputSize != size || info.OutputFiles != len(files) {
			t.Errorf("claimed %s: the customer's program would download %v, %d bytes (the job says %d files, %d bytes); want solver.log alone, within the %d-byte limit",
				claim, files, size, info.OutputFiles, info.OutputSize, limit)
		}
	}
}

// reviewWorkerProcess runs an `iscd worker` process with --sandbox=off
// and the solver flag given (NAME=PROGRAM ARGS) for srv, and returns an
// SDK client of the demo organisation.
func reviewWorkerProcess(t *testing.T, srv *servertest.Server, solver string) *sdk.Client {
	t.Helper()
	var wt adminapi.NewToken
	if err := srv.Admin().Do(context.Background(), "POST", "/workers/tokens", adminapi.CreateWorkerToken{Name: "review"}, &wt); err != nil {
		t.Fatal(err)
	}
	w := exec.Command(mustISCD(t), "worker", "--server", "http://"+srv.Addr, "--name", "review", "--dir", t.TempDir(), "--sandbox=off",
		"--solver", solver)
	w.Env = append(os.Environ(), "ISCD_WORKER_TOKEN="+wt.Secret)
	var wlog strings.Builder
	w.Stderr = &wlog // read after Wait only
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.Process.Signal(syscall.SIGTERM)
		w.Wait()
		if t.Failed() {
			t.Logf("worker:\n%s", wlog.String())
		}
	})
	c, err := sdk.Init(context.Background(), sdk.Config{Endpoint: srv.Endpoint, Token: srv.APIToken, ProductID: srv.Product, AppVersion: "1.0.0",
		WorkspaceDir: t.TempDir(), ConnectTimeout: 5 * time.Second, CredentialsFile: filepath.Join(t.TempDir(), "none"), LogLevel: "off"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestReviewJobCannotTakeMoreCoresThanTheWorkerHas: a customer asks for
// the most cores a job may (1,024) on a worker of this machine. Its solver
// is given at most the worker's CPUs (OMP_NUM_THREADS), so a job billed by
// its solver time cannot take the CPU of the other organisations' jobs on
// the same worker by running a thousand threads.
func TestReviewJobCannotTakeMoreCoresThanTheWorkerHas(t *testing.T) {
	srv := servertest.Start(t)
	a, ctx := srv.Admin(), context.Background()
	if err := a.Do(ctx, "PUT", "/products/"+srv.Product+"/solvers/threads", adminapi.Solver{Kind: "command", Outputs: []string{"threads.txt"}}, nil); err != nil {
		t.Fatal(err)
	}
	// Outside the sandbox: what is tested is what the solver is told.
	c := reviewWorkerProcess(t, srv, `threads=sh -c 'echo "$OMP_NUM_THREADS" > threads.txt' threads {main}`)
	model := filepath.Join(t.TempDir(), "m.inp")
	os.WriteFile(model, []byte("*NODE\n1,0,0,0\n"), 0o644)
	res, err := c.Solve(ctx, model, sdk.SolveOptions{Solver: "threads", Cores: 1024})
	if err != nil {
		t.Fatalf("solve: %v %+v", err, res)
	}
	b, err := os.ReadFile(filepath.Join(res.ResultDir, "threads.txt"))
	if err != nil {
		t.Fatal(err)
	}
	threads, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || threads < 1 || threads > runtime.NumCPU() {
		t.Errorf("a job that asked for 1,024 cores ran with OMP_NUM_THREADS=%q on a worker of %d CPUs", strings.TrimSpace(string(b)), runtime.NumCPU())
	}
}

// TestReviewWorkerCannotWedgeTheCustomersSession: a worker ends a job with
// 200 log lines of 4 KiB of '<' and a 64 KiB error, 900 KB of header,
// which iscd's JSON writes as \u003c: six times larger than a message may
// be. The job's result still reaches the customer's session as an event
// (it did not: an event too large to send stopped the session's events for
// good, at every resume too), a later event follows it, and jobs.get
// answers.
func TestReviewWorkerCannotWedgeTheCustomersSession(t *testing.T) {
	srv := servertest.Start(t)
	reviewProduct(t, srv, "review-wedge", "fake")
	w := reviewWorker(t, srv, "fake")
	c := reviewSession(t, srv, srv.APIToken, "review-wedge")
	job, lease := reviewLeased(t, c, w)
	tail := make([]string, wire.MaxJobLogLines)
	for i := range tail {
		tail[i] = strings.Repeat("<", 4<<10)
	}
	var hdr bytes.Buffer
	enc := json.NewEncoder(&hdr)
	enc.SetEscapeHTML(false) // a worker writes its JSON as it likes
	enc.Encode(wire.JobDone{ID: job, Attempt: lease.Attempt, State: store.JobFailed, ExitCode: 1,
		ErrorCode: "solver_failed", Error: strings.Repeat("<", 64<<10), LogTail: tail, WallSeconds: 0.01})
	w.id++
	frame, err := wire.EncodeFrame(wire.Frame{Kind: wire.BinJobDone, ID: w.id, Header: bytes.TrimSpace(hdr.Bytes())})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		t.Fatal(err)
	}
	t.Logf("done answered: %+v", w.await(w.id).Error)
	var info wire.JobInfo
	if m := c.call(wire.OpJobsGet, wire.JobRef{ID: job}); m.Error != nil || json.Unmarshal(m.Body, &info) != nil || info.State != store.JobFailed {
		t.Errorf("jobs.get of the job: %+v, %s", m.Error, info.State)
	}
	// A notice after the result: the session's events go on.
	if err := srv.Admin().Do(context.Background(), "POST", "/notices", adminapi.Notice{OrgID: server.DevOrg, Title: "review", Text: "after the job"}, nil); err != nil {
		t.Fatal(err)
	}
	c.ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	gotResult := false
	for {
		data, m, err := c.event()
		if err != nil {
			t.Fatalf("the session's events stopped (result seen: %v): %v", gotResult, err)
		}
		if m.Event.Operate == wire.OperateJobResult && m.Event.Params["jobId"] == job {
			gotResult = true
			if len(data) > 256<<10 {
				t.Errorf("the job's result event is %d bytes", len(data))
			}
		}
		if gotResult && strings.Contains(string(data), "after the job") {
			break
		}
	}
}

// TestReviewSymlinksInOutputsBringNothingBack: a solver leaves symbolic
// links among its outputs, to a file of the worker's machine (as if it
// held the worker's secrets), to /etc/passwd, and a folder linked to /etc.
// The worker reads its outputs outside any sandbox, as its own user: it
// returns the solver's real files only, and not a byte of what the links
// point to.
func TestReviewSymlinksInOutputsBringNothingBack(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	if err := srv.Admin().Do(ctx, "PUT", "/products/"+srv.Product+"/solvers/links", adminapi.Solver{Kind: "command"}, nil); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "worker-secret")
	marker := "worker secret " + reviewID(t)
	os.WriteFile(secret, []byte(marker), 0o600)
	script := "ln -s " + secret + " secret.frd; ln -s /etc/passwd passwd.dat; ln -s /etc etc; mkdir d; ln -s " + secret + " d/s.txt; echo real > real.txt"
	c := reviewWorkerProcess(t, srv, "links=sh -c '"+script+"' links {main}")
	model := filepath.Join(t.TempDir(), "m.inp")
	os.WriteFile(model, []byte("*NODE\n1,0,0,0\n"), 0o644)
	res, err := c.Solve(ctx, model, sdk.SolveOptions{Solver: "links"})
	if err != nil {
		t.Fatalf("solve: %v %+v", err, res)
	}
	var names []string
	filepath.WalkDir(res.ResultDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(res.ResultDir, p)
		names = append(names, filepath.ToSlash(rel))
		if b, _ := os.ReadFile(p); strings.Contains(string(b), marker) || strings.Contains(string(b), "root:x:0:0") {
			t.Errorf("%s brought back what a link pointed to: %.80q", rel, b)
		}
		return nil
	})
	slices.Sort(names)
	if !slices.Equal(names, []string{"real.txt", "solver.log"}) {
		t.Errorf("the result folder holds %v, want the solver's real file and its log", names)
	}
}
