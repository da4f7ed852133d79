package sdk_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
)

// randomBytes returns n pseudo-random bytes from seed: incompressible,
// like a real part's geometry blocks.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSaveAndOpenRoundTrip(t *testing.T) {
	srv := servertest.Start(t)
	a := connect(t, config(t, srv))
	b := connect(t, config(t, srv)) // another machine: another workspace
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty.prt", nil},
		{"one byte.prt", []byte{42}},
		{"零件 v2.prt", randomBytes(1, 300<<10)},
		{"big.prt", randomBytes(2, 5<<20)},
	} {
		local := writeTemp(t, tc.name, tc.data)
		cloud := "/projects/" + tc.name
		res, err := a.SaveTo(ctx, local, cloud, 0, sdk.SaveOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res.Version != 1 || res.Size != int64(len(tc.data)) {
			t.Fatalf("%s: %+v", tc.name, res)
		}
		open, err := b.OpenFile(ctx, cloud, sdk.OpenOptions{})
		if err != nil {
			t.Fatalf("open %s: %v", tc.name, err)
		}
		got, err := os.ReadFile(open.MainFile)
		if err != nil || !bytes.Equal(got, tc.data) {
			t.Fatalf("%s: opened %d bytes (%v), want %d", tc.name, len(got), err, len(tc.data))
		}
		if !filepath.IsAbs(open.MainFile) || filepath.Base(open.MainFile) != tc.name {
			t.Fatalf("mainFile %s", open.MainFile)
		}
	}
}

func TestAssemblyRoundTrip(t *testing.T) {
	srv := servertest.Start(t)
	a := connect(t, config(t, srv))
	b := connect(t, config(t, srv))
	asm := filepath.Join(t.TempDir(), "Gearbox")
	files := map[string][]byte{
		"Gearbox.asm":             []byte("assembly gearbox\nparts: shaft, 齿轮\n"),
		"parts/shaft.prt":         randomBytes(3, 100<<10),
		"parts/齿轮 large.prt":      randomBytes(4, 400<<10),
		"parts/deep/nested/n.prt": []byte("n"),
	}
	for rel, data := range files {
		p := filepath.Join(asm, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, data, 0o644)
	}
	ctx := context.Background()
	if _, err := a.SaveTo(ctx, asm, "/asm/Gearbox", 0, sdk.SaveOptions{Assembly: true}); err != nil {
		t.Fatal(err)
	}
	open, err := b.OpenFile(ctx, "/asm/Gearbox", sdk.OpenOptions{})
	if err != nil || !open.Assembly || filepath.Base(open.MainFile) != "Gearbox" {
		t.Fatalf("open: %+v %v", open, err)
	}
	for rel, data := range files {
		got, err := os.ReadFile(filepath.Join(open.MainFile, filepath.FromSlash(rel)))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: %v", rel, err)
		}
	}
}

// edit changes a few scattered bytes and inserts some.
func edit(data []byte) []byte {
	out := append([]byte(nil), data...)
	for _, at := range []int{len(out) / 7, len(out) / 3, len(out) * 5 / 6} {
		out[at] ^= 0xff
	}
	mid := len(out) / 2
	return append(out[:mid:mid], append([]byte("inserted text"), out[mid:]...)...)
}

func TestResaveSendsOnlyTheChange(t *testing.T) {
	srv := servertest.Start(t)
	a := connect(t, config(t, srv))
	b := connect(t, config(t, srv))
	ctx := context.Background()
	data := randomBytes(5, 8<<20)
	local := writeTemp(t, "model.prt", data)
	first, err := a.SaveTo(ctx, local, "/model.prt", 0, sdk.SaveOptions{})
	if err != nil || first.BytesSent < int64(len(data)) {
		t.Fatalf("first save: %+v %v", first, err)
	}
	if _, err := b.OpenFile(ctx, "/model.prt", sdk.OpenOptions{}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(local, edit(data), 0o644)
	second, err := a.SaveTo(ctx, local, "/model.prt", 1, sdk.SaveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first save sent %d bytes, the re-save %d (%d of %d chunks)", first.BytesSent, second.BytesSent, second.ChunksSent, second.ChunksTotal)
	if second.Version != 2 || second.BytesSent > int64(len(data))/10 {
		t.Fatalf("re-save sent %d bytes of %d", second.BytesSent, len(data))
	}
	open, err := b.OpenFile(ctx, "/model.prt", sdk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("re-open fetched %d bytes, reused %d of %d chunks", open.BytesFetched, open.ChunksReused, open.ChunksTotal)
	if open.Version != 2 || open.BytesFetched > int64(len(data))/10 {
		t.Fatalf("re-open fetched %d bytes", open.BytesFetched)
	}
	got, _ := os.ReadFile(open.MainFile)
	if !bytes.Equal(got, edit(data)) {
		t.Fatal("re-opened content differs")
	}
}

func TestConflictAndCheckOut(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	a := connect(t, config(t, srv))
	b := connect(t, colleague(t, srv))
	local := writeTemp(t, "p.prt", []byte("v1"))
	if _, err := a.SaveTo(ctx, local, "/p.prt", 0, sdk.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	// Both start from version 1; a saves first; b's save is refused.
	os.WriteFile(local, []byte("v2 by a"), 0o644)
	if _, err := a.SaveTo(ctx, local, "/p.prt", 1, sdk.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	bLocal := writeTemp(t, "p.prt", []byte("v2 by b"))
	_, err := b.SaveTo(ctx, bLocal, "/p.prt", 1, sdk.SaveOptions{})
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeConflict {
		t.Fatalf("stale save: %v", err)
	}
	if got, _ := os.ReadFile(bLocal); string(got) != "v2 by b" {
		t.Fatal("the refused save touched the local file")
	}

	// The compatible calls: OpenOnly cannot be saved back; OpenAndCheckout can.
	open := func(c *sdk.Client, typ int) sdk.Event {
		id, err := sdk.NewDesk(c).OpenCloudPath("/p.prt", typ, json.RawMessage(`{"k":1}`))
		if err != nil {
			t.Fatal(err)
		}
		return next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventOpenCloudFile && e.RequestID == id })
	}
	save := func(c *sdk.Client, path string) sdk.Event {
		id, err := sdk.NewDesk(c).Save(path, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		return next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventSaveResult && e.RequestID == id })
	}
	e := open(a, sdk.OpenOnly)
	if e.Params["status"] != "success" || e.Params["workState"] != "CHECKIN" || e.Params["openType"] != "OpenOnly" || e.Params["assembly"] != "false" {
		t.Fatalf("OpenOnly: %v", e.Params)
	}
	if e := save(a, e.Params["mainFile"]); e.Params["status"] != "failed" || e.Params["errorCode"] != "checked_in" {
		t.Fatalf("save of a checked-in file: %v", e.Params)
	}
	e = open(a, sdk.OpenAndCheckout)
	if e.Params["workState"] != "CHECKOUT" || e.Params["version"] != "2" {
		t.Fatalf("OpenAndCheckout: %v", e.Params)
	}
	main := e.Params["mainFile"]
	os.WriteFile(main, []byte("v3 by a, checked out"), 0o644)
	if e := save(a, main); e.Params["status"] != "success" || e.Params["version"] != "3" || e.Params["cloudPath"] != "/p.prt" {
		t.Fatalf("save of a checked-out file: %v", e.Params)
	}
	// Checked out by a: b, a colleague, cannot save or check it out.
	_, err = b.SaveTo(ctx, bLocal, "/p.prt", 3, sdk.SaveOptions{})
	if !errors.As(err, &we) || we.Code != wire.CodeLocked {
		t.Fatalf("save of a file checked out by another: %v", err)
	}
	if _, err := b.OpenFile(ctx, "/p.prt", sdk.OpenOptions{Checkout: true}); !errors.As(err, &we) || we.Code != wire.CodeLocked {
		t.Fatalf("check-out of a file checked out by another: %v", err)
	}
	if e := save(a, bLocal); e.Params["errorCode"] != "not_from_cloud" {
		t.Fatalf("save of a file from elsewhere: %v", e.Params)
	}
	if e := save(a, filepath.Join(t.TempDir(), "missing.prt")); e.Params["errorCode"] != "not_from_cloud" && e.Params["errorCode"] != "missing_file" {
		t.Fatalf("save of a missing file: %v", e.Params)
	}
}

// colleague makes another user of the demo organisation.
func colleague(t *testing.T, srv *servertest.Server) sdk.Config {
	t.Helper()
	var user store.User
	var tok adminapi.NewToken
	a := srv.Admin()
	if err := a.Do(context.Background(), "POST", "/users", adminapi.CreateUser{OrgID: server.DevOrg, Name: "colleague"}, &user); err != nil {
		t.Fatal(err)
	}
	if err := a.Do(context.Background(), "POST", "/tokens", adminapi.CreateToken{UserID: user.ID}, &tok); err != nil {
		t.Fatal(err)
	}
	cfg := config(t, srv)
	cfg.Token = tok.Secret
	return cfg
}

// A connection dropped in the middle of a save: the save resumes by itself
// and sends (almost) nothing twice: at most the chunks that were in flight.
func TestSaveResumesAfterADroppedConnection(t *testing.T) {
	srv := servertest.Start(t)
	p := startProxy(t, srv.Addr)
	cfg := config(t, srv)
	cfg.Endpoint = p.Endpoint()
	a := connect(t, cfg)
	// Chunks go up in rounds of 16 MiB: cut after two rounds were sent.
	data := randomBytes(9, 40<<20)
	local := writeTemp(t, "big.prt", data)
	cut := false
	res, err := a.SaveTo(context.Background(), local, "/resume/big.prt", 0, sdk.SaveOptions{Progress: func(pr sdk.Progress) {
		if !cut && pr.BytesDone > pr.BytesTotal*7/10 {
			cut = true
			p.Cut(true)  // the network fails half-way...
			p.Cut(false) // ...and comes back: the SDK reconnects
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !cut {
		t.Fatal("the connection was never cut")
	}
	next(t, a, isState(sdk.StateDisconnected)) // it really dropped
	const inFlight = 8 * 256 << 10             // the upload window of the largest chunks
	t.Logf("sent %d bytes for a %d-byte file across the drop", res.BytesSent, len(data))
	if res.BytesSent > int64(len(data))+inFlight {
		t.Fatalf("sent %d bytes: more than the file plus one window", res.BytesSent)
	}
	b := connect(t, config(t, srv))
	open, err := b.OpenFile(context.Background(), "/resume/big.prt", sdk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(open.MainFile); !bytes.Equal(got, data) || open.Version != 1 {
		t.Fatalf("the resumed save's version is wrong (version %d)", open.Version)
	}
}

// A save-as onto an existing cloud file first asks which version it is
// at; the connection dropping while that question waits for its answer
// (a replica restarting) does not fail the save: it is asked again on the
// next connection, like the rest of the save.
func TestSaveAsSurvivesADropWhileAskingTheVersion(t *testing.T) {
	srv := servertest.Start(t)
	p := startProxy(t, srv.Addr)
	cfg := config(t, srv)
	cfg.Endpoint = p.Endpoint()
	a := connect(t, cfg)
	next(t, a, isState(sdk.StateConnected))
	ctx := context.Background()
	if _, err := a.SaveTo(ctx, writeTemp(t, "one.prt", randomBytes(11, 64<<10)), "/drop/part.prt", 0, sdk.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	second := randomBytes(12, 64<<10)
	local := writeTemp(t, "two.prt", second)
	p.Stall(true) // the service's answers wait...
	select {
	case <-p.Up():
	default:
	}
	var res sdk.SaveResult
	done := make(chan error, 1)
	go func() {
		var err error
		res, err = a.SaveAs(ctx, local, "/drop/part.prt", sdk.SaveOptions{})
		done <- err
	}()
	<-p.Up()    // ...the question has gone to the service...
	p.Cut(true) // ...and the link drops before its answer comes back
	p.Cut(false)
	if err := <-done; err != nil {
		t.Fatalf("save-as across a dropped connection: %v", err)
	}
	if res.Version != 2 {
		t.Fatalf("saved as version %d, want 2 (a new version of the cloud file)", res.Version)
	}
	open, err := connect(t, config(t, srv)).OpenFile(ctx, "/drop/part.prt", sdk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(open.MainFile); !bytes.Equal(got, second) {
		t.Fatal("the cloud file does not hold the second save")
	}
}

func TestFileWrittenDuringSaveIsRefused(t *testing.T) {
	srv := servertest.Start(t)
	a := connect(t, config(t, srv))
	local := writeTemp(t, "busy.prt", randomBytes(10, 4<<20))
	written := false
	_, err := a.SaveTo(context.Background(), local, "/busy.prt", 0, sdk.SaveOptions{Progress: func(sdk.Progress) {
		if !written {
			written = true
			f, _ := os.OpenFile(local, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("the program is still writing")
			f.Close()
		}
	}})
	if !errors.Is(err, sdk.ErrFileChanged) {
		t.Fatalf("err = %v, want ErrFileChanged", err)
	}
	if _, err := a.OpenFile(context.Background(), "/busy.prt", sdk.OpenOptions{}); err == nil {
		t.Fatal("a half-changed file became a version")
	}
}

func TestSaveBadInput(t *testing.T) {
	srv := servertest.Start(t)
	a := connect(t, config(t, srv))
	ctx := context.Background()
	if _, err := a.SaveTo(ctx, filepath.Join(t.TempDir(), "missing.prt"), "/m.prt", 0, sdk.SaveOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	for _, bad := range []string{"/../x.prt", "x.prt", "/a/./b", "/a\\b"} {
		if _, err := a.SaveTo(ctx, writeTemp(t, "f", nil), bad, 0, sdk.SaveOptions{}); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("cloud path %q: %v", bad, err)
		}
	}
	dir := t.TempDir()
	if _, err := a.SaveTo(ctx, dir, "/empty-asm", 0, sdk.SaveOptions{Assembly: true}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("empty assembly: %v", err)
	}
	var we *wire.Error
	if _, err := a.OpenFile(ctx, "/nothing/here.prt", sdk.OpenOptions{}); !errors.As(err, &we) || we.Code != wire.CodeNotFound {
		t.Fatalf("open of a missing cloud file: %v", err)
	}
}

func TestListHistoryAndLocks(t *testing.T) {
	srv := servertest.Start(t)
	a := connect(t, config(t, srv))
	b := connect(t, colleague(t, srv))
	ctx := context.Background()
	local := writeTemp(t, "p.prt", []byte("v1"))
	a.SaveTo(ctx, local, "/proj/p.prt", 0, sdk.SaveOptions{})
	a.SaveTo(ctx, local, "/proj/sub/q.prt", 0, sdk.SaveOptions{})
	os.WriteFile(local, []byte("version two"), 0o644)
	a.SaveTo(ctx, local, "/proj/p.prt", 1, sdk.SaveOptions{})

	l, err := b.List(ctx, "/proj")
	if err != nil || len(l.Files) != 1 || l.Files[0].Path != "/proj/p.prt" || l.Files[0].Version != 2 || len(l.Folders) != 1 || l.Folders[0] != "/proj/sub" {
		t.Fatalf("list: %+v %v", l, err)
	}
	h, err := b.History(ctx, "/proj/p.prt")
	if err != nil || len(h) != 2 || h[1].Number != 2 || h[1].Size != int64(len("version two")) {
		t.Fatalf("history: %+v %v", h, err)
	}
	if fi, err := a.CheckOut(ctx, "/proj/p.prt"); err != nil || !fi.LockedByMe {
		t.Fatalf("check-out: %+v %v", fi, err)
	}
	if fi, err := b.Stat(ctx, "/proj/p.prt"); err != nil || fi.LockedBy == "" || fi.LockedByMe {
		t.Fatalf("stat by a colleague: %+v %v", fi, err)
	}
	var we *wire.Error
	if _, err := b.CheckIn(ctx, "/proj/p.prt"); !errors.As(err, &we) || we.Code != wire.CodeLocked {
		t.Fatalf("check-in by a colleague: %v", err)
	}
	if fi, err := a.CheckIn(ctx, "/proj/p.prt"); err != nil || fi.LockedBy != "" {
		t.Fatalf("check-in: %+v %v", fi, err)
	}
}

// fullDisk is a chunk store whose disk fills up after limit chunks.
type fullDisk struct {
	chunkstore.Store
	mu    sync.Mutex
	limit int
}

func (f *fullDisk) Put(ctx context.Context, org string, id chunkstore.ID, enc []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.limit == 0 {
		return fmt.Errorf("write chunk %s: %w", id, chunkstore.ErrNoSpace)
	}
	f.limit--
	return f.Store.Put(ctx, org, id, enc)
}

func TestServerDiskFullFailsCleanly(t *testing.T) {
	dir, err := chunkstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.StartConfig(t, server.Config{Chunks: &fullDisk{Store: dir, limit: 20}})
	a := connect(t, config(t, srv))
	local := writeTemp(t, "big.prt", randomBytes(11, 8<<20))
	_, err = a.SaveTo(context.Background(), local, "/full.prt", 0, sdk.SaveOptions{})
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeStorageFull {
		t.Fatalf("save onto a full disk: %v", err)
	}
	if _, err := a.Stat(context.Background(), "/full.prt"); !errors.As(err, &we) || we.Code != wire.CodeNotFound {
		t.Fatalf("a version exists after a failed save: %v", err)
	}
}

// iscd killed (stopped) in the middle of a save and started again on the
// same data: the save completes, and only what was missing is sent.
func TestSaveSurvivesAnIscdRestart(t *testing.T) {
	srv := servertest.Start(t)
	a := connect(t, config(t, srv))
	data := randomBytes(12, 40<<20)
	local := writeTemp(t, "big.prt", data)
	restarted := false
	res, err := a.SaveTo(context.Background(), local, "/restart/big.prt", 0, sdk.SaveOptions{Progress: func(pr sdk.Progress) {
		if !restarted && pr.BytesDone > pr.BytesTotal*7/10 {
			restarted = true
			srv.Restart()
		}
	}})
	if err != nil || !restarted {
		t.Fatalf("save across a restart: %v (restarted %v)", err, restarted)
	}
	const inFlight = 8 * 256 << 10
	if res.BytesSent > int64(len(data))+inFlight {
		t.Fatalf("sent %d bytes for %d", res.BytesSent, len(data))
	}
	open, err := connect(t, config(t, srv)).OpenFile(context.Background(), "/restart/big.prt", sdk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(open.MainFile); !bytes.Equal(got, data) {
		t.Fatal("content differs after the restart")
	}
}

func zipOf(t *testing.T, entries map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for name, content := range entries {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(content))
	}
	w.Close()
	return writeTemp(t, "asm.zip", buf.Bytes())
}

func TestZippedAssemblyOpensAsAFolder(t *testing.T) {
	srv := servertest.Start(t)
	a := connect(t, config(t, srv))
	ctx := context.Background()
	if _, err := a.SaveTo(ctx, zipOf(t, map[string]string{"Pump.asm": "asm", "parts/impeller.prt": "blade", "parts/螺栓.prt": "bolt"}), "/z/Pump.zip", 0, sdk.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	open, err := a.OpenFile(ctx, "/z/Pump.zip", sdk.OpenOptions{})
	if err != nil || !open.Assembly || filepath.Base(open.MainFile) != "Pump" {
		t.Fatalf("open: %+v %v", open, err)
	}
	if b, err := os.ReadFile(filepath.Join(open.MainFile, "parts", "螺栓.prt")); err != nil || string(b) != "bolt" {
		t.Fatalf("unpacked part: %q %v", b, err)
	}

	// A zip whose entries climb out of the folder is refused, and nothing
	// lands outside it.
	a.SaveTo(ctx, zipOf(t, map[string]string{"ok.prt": "ok", "../../escape.txt": "evil"}), "/z/Evil.zip", 0, sdk.SaveOptions{})
	id, _ := sdk.NewDesk(a).OpenCloudPath("/z/Evil.zip", sdk.OpenOnly, nil)
	e := next(t, a, func(e sdk.Event) bool { return e.Type == sdk.EventOpenCloudFile && e.RequestID == id })
	if e.Params["status"] != "failed" || e.Params["errorCode"] != "bad_archive" {
		t.Fatalf("zip-slip archive: %v", e.Params)
	}
	// Evil's folder would be files/z/Evil: "../../escape.txt" is files/escape.txt.
	if _, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(open.MainFile)), "escape.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a zip entry escaped its folder")
	}
}

// Re-opening a file whose local copy was edited and never saved does not
// overwrite the edits.
func TestOpenKeepsUnsavedLocalChanges(t *testing.T) {
	srv := servertest.Start(t)
	a := connect(t, config(t, srv))
	ctx := context.Background()
	a.SaveTo(ctx, writeTemp(t, "p.prt", []byte("v1")), "/keep/p.prt", 0, sdk.SaveOptions{})
	open, err := a.OpenFile(ctx, "/keep/p.prt", sdk.OpenOptions{Checkout: true})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(open.MainFile, []byte("edited by the engineer, not saved"), 0o644) // the program crashed here
	_, err = a.OpenFile(ctx, "/keep/p.prt", sdk.OpenOptions{Checkout: true})
	if !errors.Is(err, sdk.ErrLocalChanges) {
		t.Fatalf("re-open over unsaved edits: %v", err)
	}
	if b, _ := os.ReadFile(open.MainFile); string(b) != "edited by the engineer, not saved" {
		t.Fatal("the edits were overwritten")
	}
	// Saved, they are the cloud's too, and opening is fine again.
	if _, err := a.SaveTo(ctx, open.MainFile, "/keep/p.prt", 1, sdk.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.OpenFile(ctx, "/keep/p.prt", sdk.OpenOptions{Checkout: true}); err != nil {
		t.Fatalf("re-open after the save: %v", err)
	}
}

// A file whose local copy is gone opens from the workspace's chunk cache:
// nothing is fetched again.
func TestOpenUsesTheChunkCache(t *testing.T) {
	srv := servertest.Start(t)
	a := connect(t, config(t, srv))
	ctx := context.Background()
	data := randomBytes(13, 2<<20)
	a.SaveTo(ctx, writeTemp(t, "c.prt", data), "/cache/c.prt", 0, sdk.SaveOptions{})
	b := connect(t, config(t, srv))
	first, err := b.OpenFile(ctx, "/cache/c.prt", sdk.OpenOptions{})
	if err != nil || first.BytesFetched == 0 {
		t.Fatalf("first open: %+v %v", first, err)
	}
	os.Remove(first.MainFile) // the engineer deleted the local copy
	again, err := b.OpenFile(ctx, "/cache/c.prt", sdk.OpenOptions{})
	if err != nil || again.BytesFetched != 0 || again.ChunksReused != again.ChunksTotal {
		t.Fatalf("open from the cache: %+v %v", again, err)
	}
	if got, _ := os.ReadFile(again.MainFile); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
}

// Re-opening an assembly brings the folder to the new version: a part the
// new version dropped goes (unless edited locally), a part the engineer
// added stays, and a part edited and never saved stops the open.
func TestReopenedAssemblyFollowsTheCloud(t *testing.T) {
	srv := servertest.Start(t)
	a := connect(t, config(t, srv))
	b := connect(t, config(t, srv))
	ctx := context.Background()
	asm := filepath.Join(t.TempDir(), "Pump")
	os.MkdirAll(filepath.Join(asm, "parts"), 0o755)
	os.WriteFile(filepath.Join(asm, "Pump.asm"), []byte("v1"), 0o644)
	os.WriteFile(filepath.Join(asm, "parts", "old.prt"), []byte("old part"), 0o644)
	if _, err := a.SaveTo(ctx, asm, "/asm/Pump", 0, sdk.SaveOptions{Assembly: true}); err != nil {
		t.Fatal(err)
	}
	open, err := b.OpenFile(ctx, "/asm/Pump", sdk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(open.MainFile, "parts", "mine.prt"), []byte("added by b"), 0o644)

	// a drops old.prt and saves version 2.
	os.Remove(filepath.Join(asm, "parts", "old.prt"))
	os.WriteFile(filepath.Join(asm, "Pump.asm"), []byte("v2"), 0o644)
	if _, err := a.SaveTo(ctx, asm, "/asm/Pump", 1, sdk.SaveOptions{Assembly: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.OpenFile(ctx, "/asm/Pump", sdk.OpenOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(open.MainFile, "parts", "old.prt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a part the new version dropped is still in the folder")
	}
	if got, _ := os.ReadFile(filepath.Join(open.MainFile, "parts", "mine.prt")); string(got) != "added by b" {
		t.Fatal("the engineer's new part was removed")
	}
	if got, _ := os.ReadFile(filepath.Join(open.MainFile, "Pump.asm")); string(got) != "v2" {
		t.Fatal("the main file is not version 2")
	}
	// b edits the main file and does not save: re-opening stops.
	os.WriteFile(filepath.Join(open.MainFile, "Pump.asm"), []byte("b's unsaved edit"), 0o644)
	if _, err := b.OpenFile(ctx, "/asm/Pump", sdk.OpenOptions{}); !errors.Is(err, sdk.ErrLocalChanges) {
		t.Fatalf("re-open over an unsaved edit: %v", err)
	}
}
