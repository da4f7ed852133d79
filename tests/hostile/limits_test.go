package hostile_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/chunker"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

// limitsISCD builds iscd (or takes $ISCSDK_BUILD_DIR/bin/iscd), for tests
// that watch an iscd process's memory.
func limitsISCD(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the iscd binary")
	}
	bin, err := limitsISCDBuild()
	if err != nil {
		t.Fatalf("build iscd: %v", err)
	}
	return bin
}

var limitsISCDBuild = sync.OnceValues(func() (string, error) {
	if dir := os.Getenv("ISCSDK_BUILD_DIR"); dir != "" {
		if p := filepath.Join(dir, "bin", "iscd"); statOK(p) {
			return p, nil
		}
	}
	dir, err := os.MkdirTemp("", "hostile-iscd-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "iscd")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/iscd").CombinedOutput(); err != nil {
		return "", errors.New(string(out))
	}
	return bin, nil
})

func statOK(p string) bool { _, err := os.Stat(p); return err == nil }

// memory is a process's resident set now and at its peak (VmRSS, VmHWM).
type memory struct{ rss, hwm int64 }

func readMemory(t *testing.T, pid int) memory {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var m memory
	for line := range strings.Lines(string(data)) {
		k, v, _ := strings.Cut(line, ":")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			m.rss = kb << 10
		case "VmHWM":
			m.hwm = kb << 10
		}
	}
	return m
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// dialSession opens a session connection with an API token and says
// hello, as a hostile client would, without the SDK.
func dialSession(endpoint, apiToken, product string) (*websocket.Conn, *http.Response, error) {
	ws, resp, err := websocket.DefaultDialer.Dial(endpoint, http.Header{"Authorization": {"Bearer " + apiToken}})
	if err != nil {
		return nil, resp, err
	}
	hello, _ := wire.Encode(&wire.Message{Type: wire.TypeHello, Hello: &wire.Hello{Protocol: wire.ProtocolVersion, Product: product}})
	if err := ws.WriteMessage(websocket.TextMessage, hello); err != nil {
		ws.Close()
		return nil, nil, err
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := ws.ReadMessage()
	if err == nil {
		m, derr := wire.Decode(msg)
		if derr != nil || m.Type != wire.TypeWelcome {
			err = fmt.Errorf("no welcome: %s", msg)
		}
	}
	ws.SetReadDeadline(time.Time{})
	if err != nil {
		ws.Close()
		return nil, nil, err
	}
	return ws, nil, nil
}

// floodCommit is a BinCommit frame of nearly 4 MiB: a manifest of
// ~119,000 chunks that iscd does not have, which it decodes and looks up
// before it answers missing_chunks.
func floodCommit(t *testing.T) []byte {
	t.Helper()
	header, _ := json.Marshal(wire.FilesCommit{Path: "/flood/big.prt"})
	build := func(n int) []byte {
		f := manifest.File{Path: "big.prt", Mode: 0o644}
		for i := range n {
			f.Chunks = append(f.Chunks, manifest.ChunkRef{ID: chunkstore.ID(sha256.Sum256([]byte(strconv.Itoa(i)))), Size: chunker.MaxSize})
			f.Size += chunker.MaxSize
		}
		b, err := manifest.Encode(manifest.New(f))
		if err != nil {
			t.Fatal(err)
		}
		frame, err := wire.EncodeFrame(wire.Frame{Kind: wire.BinCommit, ID: 1, Header: header, Payload: b})
		if err != nil {
			return nil
		}
		return frame
	}
	// Each chunk takes the same room: fill the frame to within one.
	one := len(build(2)) - len(build(1))
	n := (wire.MaxBinaryMessage - len(build(0))) / one
	frame := build(n)
	for ; frame == nil && n > 0; n-- { // the file's size takes a byte or two more
		frame = build(n - 1)
	}
	if frame == nil || len(frame) < wire.MaxBinaryMessage-one {
		t.Fatalf("flood frame of %d chunks: %d bytes", n, len(frame))
	}
	return frame
}

// Three API-token connections send 4 MiB commit frames as fast as iscd
// takes them, for 8 s: iscd's resident memory stays under 320 MiB, and
// after they close it comes back to within 48 MiB of where it started.
//
// The request bytes iscd holds are bounded per connection (8 MiB: two such
// frames) and for the process; past them it stops reading and TCP slows
// the clients down. Each commit holds ~35 MiB while its manifest is decoded
// and its 119,000 chunks are looked up: 3 × 2 × 35 MiB, and the garbage
// collector's headroom, give the peak bound (measured: 232 MiB). When they
// close, their requests' work is canceled and iscd returns the memory.
func TestCommitFloodMemory(t *testing.T) {
	const (
		peakBound  = 320 << 20
		afterBound = 48 << 20
		flood      = 8 * time.Second
	)
	bin := limitsISCD(t)
	iscd, err := servertest.StartBinary(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iscd.Stop)
	frame := floodCommit(t)
	start := readMemory(t, iscd.Pid)

	var sent, answered atomic.Int64
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, 3)
	for i := range conns {
		ws, _, err := dialSession(iscd.Env["ISCSDK_ENDPOINT"], iscd.Env["ISCSDK_TOKEN"], iscd.Env["ISCSDK_PRODUCT"])
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = ws
		wg.Go(func() { // answers are read and dropped
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
				answered.Add(1)
			}
		})
	}
	deadline := time.Now().Add(flood)
	var writers sync.WaitGroup
	for _, ws := range conns {
		writers.Go(func() {
			for time.Now().Before(deadline) {
				ws.SetWriteDeadline(deadline)
				if ws.WriteMessage(websocket.BinaryMessage, frame) != nil {
					return
				}
				sent.Add(1)
			}
		})
	}
	peak := start
	for time.Now().Before(deadline) {
		m := readMemory(t, iscd.Pid)
		peak.rss = max(peak.rss, m.rss)
		time.Sleep(100 * time.Millisecond) // sampling, not synchronisation
	}
	writers.Wait()
	during := readMemory(t, iscd.Pid)
	for _, ws := range conns {
		ws.Close()
	}
	wg.Wait()

	// iscd's memory comes back: poll until it is near the start, up to 30 s.
	var after memory
	for end := time.Now().Add(30 * time.Second); ; {
		after = readMemory(t, iscd.Pid)
		if after.rss-start.rss <= afterBound || time.Now().After(end) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("flood: %d frames of %s sent (%s), %d answers; iscd RSS start %s, peak %s (VmHWM %s), after %s",
		sent.Load(), mib(int64(len(frame))), mib(sent.Load()*int64(len(frame))), answered.Load(),
		mib(start.rss), mib(peak.rss), mib(during.hwm), mib(after.rss))
	if sent.Load() < 3 {
		t.Fatalf("only %d frames sent: the flood did not happen", sent.Load())
	}
	if during.hwm > peakBound {
		t.Errorf("iscd's peak RSS %s, over the %s bound", mib(during.hwm), mib(peakBound))
	}
	if after.rss-start.rss > afterBound {
		t.Errorf("iscd's RSS %s after the flood, %s over its start %s", mib(after.rss), mib(after.rss-start.rss), mib(start.rss))
	}
}

// Connections per API token and per organisation are capped: the one past
// a cap is refused with HTTP 429, errorCode too_many_connections and a
// message saying which, and a connection that closes makes room.
func TestConnectionCaps(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true, Limits: server.Limits{MaxConnsPerToken: 2, MaxConnsPerOrg: 3}})
	var other adminapi.NewToken
	if err := srv.Admin().Do(context.Background(), "POST", "/tokens", adminapi.CreateToken{UserID: server.DevUser, Name: "second"}, &other); err != nil {
		t.Fatal(err)
	}
	open := func(tok string) *websocket.Conn {
		t.Helper()
		ws, _, err := dialSession(srv.Endpoint, tok, srv.Product)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		return ws
	}
	refused := func(tok, why string) {
		t.Helper()
		ws, resp, err := dialSession(srv.Endpoint, tok, srv.Product)
		if err == nil {
			ws.Close()
			t.Fatalf("a connection past the %s cap was accepted", why)
		}
		if resp == nil {
			t.Fatalf("past the %s cap: %v, want HTTP 429", why, err)
		}
		defer resp.Body.Close()
		var body struct{ Error wire.Error }
		json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != http.StatusTooManyRequests || body.Error.Code != wire.CodeTooManyConnections || !strings.Contains(body.Error.Message, why) {
			t.Fatalf("past the %s cap: HTTP %d %+v", why, resp.StatusCode, body.Error)
		}
	}
	first := open(srv.APIToken)
	open(srv.APIToken)
	refused(srv.APIToken, "token")
	open(other.Secret)
	refused(other.Secret, "organisation")

	// A program through the SDK is told why.
	_, err := sdk.Init(context.Background(), sdk.Config{Endpoint: srv.Endpoint, Token: other.Secret, ProductID: srv.Product,
		AppVersion: "1.0.0", ConnectTimeout: 10 * time.Second, LogLevel: "off",
		WorkspaceDir: t.TempDir(), CredentialsFile: filepath.Join(t.TempDir(), "none")})
	if err == nil || !strings.Contains(err.Error(), "connections open") {
		t.Fatalf("sdk.Init past the organisation's cap: %v", err)
	}

	first.Close()
	// The slot comes back once iscd has seen the close.
	for end := time.Now().Add(10 * time.Second); ; {
		ws, _, err := dialSession(srv.Endpoint, other.Secret, srv.Product)
		if err == nil {
			ws.Close()
			break
		}
		if time.Now().After(end) {
			t.Fatalf("after a close: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A request whose client goes away stops: its handler's context ends with
// the connection. (Before, handlers ran on context.Background(): a flood's
// commits went on looking up chunks long after their client had closed.)
func TestRequestEndsWithConnection(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true})
	ws, ended := slowRequest(t, srv)
	gone := time.Now()
	ws.Close() // no goodbye: the client is gone
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the request ended with %v, want context.Canceled", err)
		}
		t.Logf("the request stopped %v after its connection closed", time.Since(gone))
	case <-time.After(10 * time.Second):
		t.Fatal("the request still runs 10 s after its connection closed")
	}
}

// A request still running when iscd stops is canceled, and the stop does
// not wait for its work.
func TestRequestEndsWithShutdown(t *testing.T) {
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true})
	_, ended := slowRequest(t, srv)
	stopped := make(chan struct{})
	go func() { srv.Stop(); close(stopped) }()
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the request ended with %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request still runs 10 s after iscd began to stop")
	}
	<-stopped
}

// slowRequest sends srv, over a session connection of its own, a request
// whose handler would work for a minute unless its context ends, and
// returns once the handler runs; ended says how it ended.
func slowRequest(t *testing.T, srv *servertest.Server) (*websocket.Conn, <-chan error) {
	t.Helper()
	started := make(chan struct{}, 1)
	ended := make(chan error, 1)
	session.Handle(srv.Hub(), "test.slow", func(ctx context.Context, _ session.Caller, _ struct{}) (any, error) {
		started <- struct{}{}
		select {
		case <-ctx.Done():
			ended <- ctx.Err()
			return nil, ctx.Err()
		case <-time.After(time.Minute):
			ended <- nil
			return "done", nil
		}
	})
	ws, _, err := dialSession(srv.Endpoint, srv.APIToken, srv.Product)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	req, _ := wire.Encode(&wire.Message{Type: wire.TypeRequest, ID: 2, Op: "test.slow", Body: json.RawMessage("{}")})
	if err := ws.WriteMessage(websocket.TextMessage, req); err != nil {
		t.Fatal(err)
	}
	<-started
	return ws, ended
}

// A commit whose client has gone stops asking the chunk store about its
// chunks: the work of a 119,000-chunk manifest ends with its connection,
// not after the last question. The chunks are in iscd's own directory
// store; after its first 100 answers it holds each question until the
// request gives up, as an object store far away would take its time.
// Before requests ended with their connections, such a commit went on
// asking to the end (and any number of them could be left running).
func TestAbandonedCommitStopsAskingTheStore(t *testing.T) {
	const answered = 100
	dir, err := chunkstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	slow := &slowChunks{Store: dir, answered: answered, reached: make(chan struct{}), ended: make(chan error, 1)}
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true, Chunks: slow})
	frame := floodCommit(t)
	ws, _, err := dialSession(srv.Endpoint, srv.APIToken, srv.Product)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		t.Fatal(err)
	}
	select {
	case <-slow.reached:
	case <-time.After(30 * time.Second):
		t.Fatalf("the commit asked the store %d times in 30 s", slow.asked.Load())
	}
	gone := time.Now()
	ws.Close() // no goodbye: the client is gone
	select {
	case err := <-slow.ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the commit's question ended with %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the commit still waits for the store 10 s after its connection closed")
	}
	stopped := time.Since(gone)
	srv.Stop() // waits until every request's handler has returned
	// What was asked before the drop, and at most the questions in flight
	// (16 at once) and one more each as they end.
	asked := slow.asked.Load()
	if asked > answered+2*16+1 {
		t.Fatalf("the abandoned commit asked the store %d times (of its ~119,000 chunks)", asked)
	}
	t.Logf("the commit stopped %v after its connection closed, having asked the store %d times", stopped, asked)
}

// slowChunks answers the first answered questions of Has from its store,
// then holds each until the asking request's context ends.
type slowChunks struct {
	chunkstore.Store
	answered int64
	asked    atomic.Int64
	once     sync.Once
	reached  chan struct{} // closed at the first question held
	ended    chan error    // why the first held question ended
}

func (s *slowChunks) Has(ctx context.Context, org string, id chunkstore.ID) (bool, error) {
	if s.asked.Add(1) <= s.answered {
		return s.Store.Has(ctx, org, id)
	}
	s.once.Do(func() { close(s.reached) })
	<-ctx.Done()
	select {
	case s.ended <- ctx.Err():
	default:
	}
	return false, ctx.Err()
}

// Six API-token connections ask for a stored chunk again and again, 32
// requests at a time (as many as may be in flight), and never read the
// answers: iscd queues at most 4 MiB of answers per connection (then the
// handlers wait, then it stops reading the requests), so it grows by under
// 128 MiB (measured: 75 MiB; each connection also holds its 32 requests'
// answers waiting for room), and its memory comes back after they close.
// Before, a connection's queue held 256 answers, 256 chunks: iscd grew by
// 178 MiB here, and by as much again for every six more connections.
func TestUnreadAnswersMemory(t *testing.T) {
	const (
		growthBound = 128 << 20
		afterBound  = 48 << 20
		flood       = 5 * time.Second
	)
	bin := limitsISCD(t)
	iscd, err := servertest.StartBinary(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iscd.Stop)
	endpoint, tok, product := iscd.Env["ISCSDK_ENDPOINT"], iscd.Env["ISCSDK_TOKEN"], iscd.Env["ISCSDK_PRODUCT"]

	// A file of incompressible bytes: its chunks are as large as chunks get.
	c, err := sdk.Init(context.Background(), sdk.Config{Endpoint: endpoint, Token: tok, ProductID: product,
		AppVersion: "1.0.0", ConnectTimeout: 10 * time.Second, LogLevel: "off",
		WorkspaceDir: t.TempDir(), CredentialsFile: filepath.Join(t.TempDir(), "none")})
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "noise.bin")
	noise := make([]byte, 4<<20)
	for i := range noise {
		noise[i] = byte(sha256.Sum256([]byte{byte(i), byte(i >> 8), byte(i >> 16)})[0])
	}
	if err := os.WriteFile(local, noise, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SaveTo(context.Background(), local, "/unread/noise.bin", 0, sdk.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	ws, _, err := dialSession(endpoint, tok, product)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := wire.Encode(&wire.Message{Type: wire.TypeRequest, ID: 2, Op: wire.OpFilesManifest, Body: json.RawMessage(`{"path":"/unread/noise.bin"}`)})
	ws.WriteMessage(websocket.TextMessage, req)
	var chunk manifest.ChunkRef
	for chunk.Size == 0 {
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		kind, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if kind != websocket.BinaryMessage {
			continue
		}
		f, err := wire.DecodeFrame(msg)
		if err != nil {
			t.Fatal(err)
		}
		m, err := manifest.Decode(f.Payload)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range m.Files[0].Chunks {
			if ch.Size > chunk.Size {
				chunk = ch
			}
		}
	}
	ws.Close()

	start := readMemory(t, iscd.Pid)
	var asked atomic.Int64
	deadline := time.Now().Add(flood)
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, 6)
	for i := range conns {
		ws, _, err := dialSession(endpoint, tok, product)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = ws
		wg.Go(func() {
			for id := uint64(2); time.Now().Before(deadline); id++ {
				req, _ := wire.Encode(&wire.Message{Type: wire.TypeRequest, ID: id, Op: wire.OpFilesChunk,
					Body: json.RawMessage(`{"id":"` + chunk.ID.String() + `"}`)})
				ws.SetWriteDeadline(deadline)
				if ws.WriteMessage(websocket.TextMessage, req) != nil {
					return
				}
				asked.Add(1)
				if id%32 == 0 {
					time.Sleep(20 * time.Millisecond) // pacing the attack, not synchronisation
				}
			}
		})
	}
	wg.Wait()
	during := readMemory(t, iscd.Pid)
	for _, ws := range conns {
		ws.Close()
	}
	var after memory
	for end := time.Now().Add(30 * time.Second); ; {
		after = readMemory(t, iscd.Pid)
		if after.rss-start.rss <= afterBound || time.Now().After(end) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("%d requests for a chunk of %s, answers unread; iscd RSS start %s, peak (VmHWM) %s, after %s",
		asked.Load(), mib(int64(chunk.Size)), mib(start.rss), mib(during.hwm), mib(after.rss))
	if grew := during.hwm - start.rss; grew > growthBound {
		t.Errorf("iscd grew by %s with unread answers, over the %s bound", mib(grew), mib(growthBound))
	}
	if after.rss-start.rss > afterBound {
		t.Errorf("iscd's RSS %s after the clients left, %s over its start", mib(after.rss), mib(after.rss-start.rss))
	}
}

// A client that sends half its headers, or holds a keep-alive connection
// idle, is cut off at the deadline; a session's WebSocket lives on past
// every HTTP deadline (it has its own: pings and pongs).
func TestHTTPDeadlines(t *testing.T) {
	const d = time.Second
	srv := servertest.StartConfig(t, server.Config{NoDevWorker: true,
		Limits: server.Limits{ReadHeaderTimeout: d, ReadTimeout: d, WriteTimeout: d, IdleTimeout: d}})
	ws, _, err := dialSession(srv.Endpoint, srv.APIToken, srv.Product)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()

	// closedAfter writes what to a new connection and returns when iscd
	// closed it, reading (and dropping) what it answers.
	closedAfter := func(what string) time.Duration {
		start := time.Now()
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, what)
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		io.Copy(io.Discard, c)
		return time.Since(start)
	}
	if took := closedAfter("GET /healthz HTTP/1.1\r\nHost: x\r\n"); took < d/2 || took > 5*d {
		t.Errorf("half the headers: closed after %v, want about %v", took, d)
	}
	if took := closedAfter("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); took < d/2 || took > 5*d {
		t.Errorf("an idle keep-alive connection: closed after %v, want about %v", took, d)
	}
	if took := closedAfter("POST /admin/v1/orgs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + srv.AdminToken +
		"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":"); took < d/2 || took > 5*d {
		t.Errorf("a stalled admin body: closed after %v, want about %v", took, d)
	}

	// The session, open since before, still answers.
	req, _ := wire.Encode(&wire.Message{Type: wire.TypeRequest, ID: 2, Op: wire.OpPing, Body: json.RawMessage(`{}`)})
	if err := ws.WriteMessage(websocket.TextMessage, req); err != nil {
		t.Fatalf("the session after %v of HTTP deadlines: %v", 3*d, err)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("the session after the HTTP deadlines: %v", err)
		}
		if m, err := wire.Decode(msg); err == nil && m.Type == wire.TypeResult && m.ID == 2 {
			break
		}
	}
}
