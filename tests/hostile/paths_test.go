package hostile_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/manifest"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

// refusedPaths are cloud paths that some client could not create, or
// would show as another name: each with what the refusal must say.
var refusedPaths = []struct{ path, why string }{
	{"/CON", "Windows device name"},
	{"/parts/aux.prt", "Windows device name"},
	{"/parts/Nul.tar.gz", "Windows device name"},
	{"/COM1.step", "Windows device name"},
	{"/lpt9", "Windows device name"},
	{"/com¹.prt", "Windows device name"},
	{"/LPT³.inp", "Windows device name"},
	{"/a.prt:stream", `contains ':'`},
	{"/C:/x.prt", `contains ':'`},
	{"/bracket.", "ends in a dot or a space"},
	{"/bracket ", "ends in a dot or a space"},
	{"/dir./x.prt", "ends in a dot or a space"},
	{"/invoice\u202Etxt.exe", "bidirectional control U+202E"},
	{"/a\u2066b.prt", "bidirectional control U+2066"},
	{"/a\u2069.prt", "bidirectional control U+2069"},
	{"/a\u202Ab.prt", "bidirectional control U+202A"},
	{"/a\x01b.prt", "control character"},
	{"/a\u0085b.prt", "control character U+0085"},
	{"/what?.prt", "Windows does not allow"},
	{`/a\b.prt`, `contains '\\'`},
}

// rawSession is a client that speaks the session protocol itself,
// skipping every check the SDK makes.
type rawSession struct {
	t  *testing.T
	ws *websocket.Conn
	id uint64
}

func dialRaw(t *testing.T, srv *servertest.Server) *rawSession {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(srv.Endpoint, http.Header{"Authorization": {"Bearer " + srv.APIToken}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	ws.SetReadDeadline(time.Now().Add(rawAnswerWait))
	b, _ := wire.Encode(&wire.Message{Type: wire.TypeHello, Hello: &wire.Hello{Protocol: wire.ProtocolVersion, Product: srv.Product}})
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.ReadMessage(); err != nil { // welcome
		t.Fatal(err)
	}
	return &rawSession{t: t, ws: ws}
}

// call sends a request and returns its answer.
func (r *rawSession) call(op string, body any) *wire.Message {
	r.t.Helper()
	r.id++
	b, _ := json.Marshal(body)
	m, _ := wire.Encode(&wire.Message{Type: wire.TypeRequest, ID: r.id, Op: op, Body: b})
	if err := r.ws.WriteMessage(websocket.TextMessage, m); err != nil {
		r.t.Fatal(err)
	}
	return r.await(r.id)
}

// frame sends a binary frame and returns its answer.
func (r *rawSession) frame(f wire.Frame) *wire.Message {
	r.t.Helper()
	r.id++
	f.ID = r.id
	b, err := wire.EncodeFrame(f)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		r.t.Fatal(err)
	}
	return r.await(r.id)
}

// rawAnswerWait bounds the wait for each answer (and the welcome). It is
// not a bound on the connection's life: that would bound how many
// requests a test may make in it, which a loaded machine answers slower
// (20,000 took over 30 s under load).
const rawAnswerWait = 30 * time.Second

func (r *rawSession) await(id uint64) *wire.Message {
	r.t.Helper()
	r.ws.SetReadDeadline(time.Now().Add(rawAnswerWait))
	for {
		kind, data, err := r.ws.ReadMessage()
		if err != nil {
			r.t.Fatalf("waiting for the answer to %d: %v", id, err)
		}
		if kind != websocket.TextMessage {
			continue
		}
		if m, err := wire.Decode(data); err == nil && m.Type == wire.TypeResult && m.ID == id {
			return m
		}
	}
}

// TestRefusedCloudPaths: each path is refused by the SDK before anything
// is sent, with the rule it breaks, and by iscd when a client skips the
// SDK (a commit of a real file, a stat and a listing): errorCode bad_path.
// Nothing is stored under any of them.
func TestRefusedCloudPaths(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	c, err := sdk.Init(ctx, sdk.Config{
		Endpoint: srv.Endpoint, Token: srv.APIToken, ProductID: srv.Product, AppVersion: "1.0.0",
		WorkspaceDir: t.TempDir(), ConnectTimeout: 10 * time.Second, CredentialsFile: filepath.Join(t.TempDir(), "none"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := filepath.Join(t.TempDir(), "part.prt")
	content := []byte("a part that any client can open\n")
	if err := os.WriteFile(local, content, 0o600); err != nil {
		t.Fatal(err)
	}

	raw := dialRaw(t, srv)
	id := chunkstore.Sum(content)
	if m := raw.frame(wire.Frame{Kind: wire.BinChunkPut, ChunkID: id, Payload: chunkstore.Encode(content)}); m.Error != nil {
		t.Fatalf("chunk: %+v", m.Error)
	}
	enc, err := manifest.Encode(manifest.New(manifest.File{Path: "part.prt", Size: int64(len(content)), Mode: 0o644, Hash: id,
		Chunks: []manifest.ChunkRef{{ID: id, Size: len(content)}}}))
	if err != nil {
		t.Fatal(err)
	}
	commit := func(p string) *wire.Message {
		h, _ := json.Marshal(wire.FilesCommit{Path: p})
		return raw.frame(wire.Frame{Kind: wire.BinCommit, Header: h, Payload: enc})
	}
	// The raw client can save: a name that looks like a device name but is
	// not one is taken.
	if m := commit("/parts/auxiliary.prt"); m.Error != nil {
		t.Fatalf("a valid path through the raw session: %+v", m.Error)
	}

	for _, tc := range refusedPaths {
		t.Run(strings.ToValidUTF8(tc.path, "?"), func(t *testing.T) {
			_, err := c.SaveTo(ctx, local, tc.path, 0, sdk.SaveOptions{})
			if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("SDK save to %q: %v, want an invalid argument that says %q", tc.path, err, tc.why)
			}
			if _, err := sdk.NewDesk(c).SaveAs(local, tc.path, false, nil); !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Errorf("SDK SaveAs %q: %v", tc.path, err)
			}
			if _, err := c.ListPage(ctx, tc.path, "", 0); !errors.Is(err, sdk.ErrInvalidArgument) {
				t.Errorf("SDK list %q: %v", tc.path, err)
			}
			for what, m := range map[string]*wire.Message{
				"commit": commit(tc.path),
				"stat":   raw.call(wire.OpFilesStat, wire.FilesVersion{Path: tc.path}),
				"list":   raw.call(wire.OpFilesList, wire.FilesList{Dir: tc.path}),
			} {
				if m.Error == nil || m.Error.Code != wire.CodeBadPath || !strings.Contains(m.Error.Message, tc.why) {
					t.Errorf("iscd, %s of %q: %+v %s; want bad_path saying %q", what, tc.path, m.Error, m.Body, tc.why)
				}
			}
		})
	}
	// What is stored: the one valid file.
	for _, dir := range []string{"/", "/parts"} {
		l, err := c.List(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range l.Files {
			if f.Path != "/parts/auxiliary.prt" {
				t.Errorf("stored under a refused path: %q", f.Path)
			}
		}
	}
}

// TestLargeFolderPaged: a folder of 1,100 long names, whose listing at
// once is more than the 1 MiB a message may be. Asked for at once (as a
// client before paging does) iscd answers too_large instead of dropping
// the answer; paged, the SDK and iscctl walk every name once, in order,
// and no page is over the message limit.
func TestLargeFolderPaged(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	c, err := sdk.Init(ctx, sdk.Config{
		Endpoint: srv.Endpoint, Token: srv.APIToken, ProductID: srv.Product, AppVersion: "1.0.0",
		WorkspaceDir: t.TempDir(), ConnectTimeout: 10 * time.Second, CredentialsFile: filepath.Join(t.TempDir(), "none"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	servertest.FillFolder(t, c, "/big", 1100)
	var want []string
	for i := range 1100 {
		want = append(want, "/big/"+servertest.LongName(i))
	}

	// At once: too_large, within the request's time, not silence.
	raw := dialRaw(t, srv)
	start := time.Now()
	m := raw.call(wire.OpFilesList, wire.FilesList{Dir: "/big"})
	if m.Error == nil || m.Error.Code != wire.CodeTooLarge || !strings.Contains(m.Error.Message, "pages") {
		t.Fatalf("the whole listing: %+v (%d bytes of body)", m.Error, len(m.Body))
	}
	t.Logf("unpaged files.list of 1,100 long names: %s in %v", m.Error.Message, time.Since(start).Round(time.Millisecond))

	// The largest page a client may ask for still fits: fewer entries.
	m = raw.call(wire.OpFilesList, wire.FilesList{Dir: "/big", Page: &wire.Page{Limit: wire.MaxPageLimit}})
	var l wire.FilesListing
	if m.Error != nil || json.Unmarshal(m.Body, &l) != nil || l.Next == "" || len(l.Files) == 0 || len(l.Files) >= 1000 {
		t.Fatalf("a page of at most 1,000: %+v, %d files, next %q", m.Error, len(l.Files), l.Next)
	}
	t.Logf("a page asked for 1,000 entries holds %d (%d bytes)", len(l.Files), len(m.Body))

	// The SDK, page by page.
	var got []string
	pages := 0
	for cursor := ""; ; pages++ {
		p, err := c.ListPage(ctx, "/big", cursor, 500)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range p.Files {
			got = append(got, f.Path)
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if pages != 2 || !slices.Equal(got, want) {
		t.Fatalf("SDK pages: %d files in %d pages, in order: %v", len(got), pages+1, slices.Equal(got, want))
	}
	if all, err := c.List(ctx, "/big"); err != nil || len(all.Files) != 1100 {
		t.Fatalf("SDK List: %d files, %v", len(all.Files), err)
	}

	// iscctl, following the command it prints after each page.
	env := []string{"ISCSDK_ENDPOINT=" + srv.Endpoint, "ISCSDK_TOKEN=" + srv.APIToken, "ISCSDK_PRODUCT=" + srv.Product,
		"ISCSDK_CREDENTIALS=" + filepath.Join(t.TempDir(), "none")}
	more := regexp.MustCompile(`more: iscctl ls /big --cursor '([^']*)'`)
	got = got[:0]
	args := []string{"ls", "/big", "--limit", "500", "--json"}
	for pages = 1; pages < 10; pages++ {
		r := runISCCTL(t, env, "", args...)
		var l sdk.Listing
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &l) != nil {
			t.Fatalf("iscctl %v: exit %d\n%s\n%s", args, r.code, r.stdout, r.stderr)
		}
		for _, f := range l.Files {
			got = append(got, f.Path)
		}
		m := more.FindStringSubmatch(r.stderr)
		if m == nil {
			break
		}
		args = []string{"ls", "/big", "--limit", "500", "--json", "--cursor", m[1]}
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("iscctl pages: %d files in %d pages, in order: %v", len(got), pages, slices.Equal(got, want))
	}
}
