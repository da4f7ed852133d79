package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/chunkstore"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// statWindow is the racy window of the clients of these tests: files
// written more than this before a save are trusted by their stat.
const statWindow = 20 * time.Millisecond

// statClient is a client whose stat cache trusts stamps statWindow old.
func statClient(t *testing.T, cfg sdk.Config) *sdk.Client {
	c := connect(t, cfg)
	c.SetStatClock(time.Now, statWindow)
	return c
}

// settle waits until the files written so far are older than statWindow.
func settle() {
	for until := time.Now().Add(statWindow + 5*time.Millisecond); time.Now().Before(until); {
		time.Sleep(time.Millisecond)
	}
}

// sameStampEdit changes one byte of path in place and sets its
// modification time back: size and mtime are what they were.
func sameStampEdit(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	data[len(data)/2] ^= 0xff
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(data[len(data)/2:len(data)/2+1], int64(len(data)/2))
	f.Close()
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// cloudContent opens cloudPath in a fresh workspace and returns its content.
func cloudContent(t *testing.T, srv *servertest.Server, cloudPath string) []byte {
	t.Helper()
	c := connect(t, config(t, srv))
	res, err := c.OpenFile(context.Background(), cloudPath, sdk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(res.MainFile)
	return b
}

func mustSave(t *testing.T, c *sdk.Client, local, cloud string, base int, opt sdk.SaveOptions) sdk.SaveResult {
	t.Helper()
	res, err := c.SaveTo(context.Background(), local, cloud, base, opt)
	if err != nil {
		t.Fatalf("save %d of %s: %v", base+1, cloud, err)
	}
	return res
}

func TestResaveReadsOnlyWhatChanged(t *testing.T) {
	srv := servertest.Start(t)
	cfg := config(t, srv)
	a := statClient(t, cfg)
	dir := t.TempDir()
	for i := range 20 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("part%02d.prt", i)), randomBytes(uint64(100+i), 50<<10), 0o644)
	}
	settle()
	asm := sdk.SaveOptions{Assembly: true}
	if r := mustSave(t, a, dir, "/asm", 0, asm); r.FilesRead != 20 {
		t.Fatalf("cold save read %d files of 20", r.FilesRead)
	}
	r := mustSave(t, a, dir, "/asm", 1, asm)
	if r.FilesRead != 0 || r.ChunksSent != 0 || r.ChunksTotal == 0 || r.Size != 20*50<<10 {
		t.Fatalf("unchanged re-save: %+v", r)
	}
	edited := filepath.Join(dir, "part07.prt")
	os.WriteFile(edited, randomBytes(7, 60<<10), 0o644)
	settle()
	if r := mustSave(t, a, dir, "/asm", 2, asm); r.FilesRead != 1 || r.ChunksSent == 0 {
		t.Fatalf("re-save after one edit: %+v", r)
	}
	// The cache survives a restart of the program.
	a.Close()
	b := statClient(t, cfg)
	if r := mustSave(t, b, dir, "/asm", 3, asm); r.FilesRead != 0 || r.Version != 4 {
		t.Fatalf("re-save after a restart: %+v", r)
	}
	// Every version holds what the folder held.
	o := connect(t, config(t, srv))
	res, err := o.OpenFile(context.Background(), "/asm", sdk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		name := fmt.Sprintf("part%02d.prt", i)
		want, _ := os.ReadFile(filepath.Join(dir, name))
		if got, _ := os.ReadFile(filepath.Join(res.MainFile, name)); !bytes.Equal(got, want) {
			t.Fatalf("%s differs in the cloud", name)
		}
	}
}

// Edits that keep a file's size and modification time are seen: by the
// change time or inode outside the racy window, by the hash inside it.
func TestStatCacheSeesEditsThatKeepSizeAndTime(t *testing.T) {
	srv := servertest.Start(t)
	for i, tc := range []struct {
		name   string
		settle bool // the save is outside the racy window of the writes
		edit   func(t *testing.T, path string)
	}{
		{"in place within the granularity", false, sameStampEdit},
		{"in place outside the granularity", true, sameStampEdit},
		{"replaced by rename", true, func(t *testing.T, path string) {
			st, _ := os.Stat(path)
			data, _ := os.ReadFile(path)
			data[0] ^= 0xff
			tmp := path + ".tmp"
			os.WriteFile(tmp, data, 0o644)
			os.Chtimes(tmp, st.ModTime(), st.ModTime())
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated and rewritten", true, func(t *testing.T, path string) {
			st, _ := os.Stat(path)
			data, _ := os.ReadFile(path)
			data[len(data)-1] ^= 0xff
			os.Truncate(path, 0)
			f, _ := os.OpenFile(path, os.O_WRONLY, 0)
			f.Write(data)
			f.Close()
			os.Chtimes(path, st.ModTime(), st.ModTime())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t, config(t, srv))
			if tc.settle {
				c.SetStatClock(time.Now, statWindow)
			}
			local := writeTemp(t, "part.prt", randomBytes(uint64(20+i), 300<<10))
			cloud := "/stamp/" + tc.name
			if tc.settle {
				settle()
				mustSave(t, c, local, cloud, 0, sdk.SaveOptions{})
				if r := mustSave(t, c, local, cloud, 1, sdk.SaveOptions{}); r.FilesRead != 0 {
					t.Fatalf("an unchanged file was read: %+v", r)
				}
			} else {
				mustSave(t, c, local, cloud, 0, sdk.SaveOptions{})
				mustSave(t, c, local, cloud, 1, sdk.SaveOptions{})
			}
			tc.edit(t, local)
			want, _ := os.ReadFile(local)
			r := mustSave(t, c, local, cloud, 2, sdk.SaveOptions{})
			if r.FilesRead != 1 || r.ChunksSent == 0 {
				t.Fatalf("the edit was not read: %+v", r)
			}
			if got := cloudContent(t, srv, cloud); !bytes.Equal(got, want) {
				t.Fatal("the cloud does not hold the edit")
			}
		})
	}
}

func TestStatCacheAfterAClockJump(t *testing.T) {
	srv := servertest.Start(t)
	c := statClient(t, config(t, srv))
	local := writeTemp(t, "part.prt", randomBytes(12, 100<<10))
	settle()
	mustSave(t, c, local, "/jump.prt", 0, sdk.SaveOptions{})
	if r := mustSave(t, c, local, "/jump.prt", 1, sdk.SaveOptions{}); r.FilesRead != 0 {
		t.Fatalf("an unchanged file was read: %+v", r)
	}
	// The clock goes back an hour: stamps recorded since may repeat, the
	// cache is not trusted.
	c.SetStatClock(func() time.Time { return time.Now().Add(-time.Hour) }, statWindow)
	if r := mustSave(t, c, local, "/jump.prt", 2, sdk.SaveOptions{}); r.FilesRead != 1 {
		t.Fatalf("after the clock went back the cache was trusted: %+v", r)
	}
}

func TestStatCacheOfAnotherWorkspaceOrVersion(t *testing.T) {
	srv := servertest.Start(t)
	cfgA, cfgB := config(t, srv), config(t, srv)
	a := statClient(t, cfgA)
	local := writeTemp(t, "part.prt", randomBytes(13, 100<<10))
	settle()
	mustSave(t, a, local, "/shared.prt", 0, sdk.SaveOptions{})
	if r := mustSave(t, a, local, "/shared.prt", 1, sdk.SaveOptions{}); r.FilesRead != 0 {
		t.Fatalf("an unchanged file was read: %+v", r)
	}
	// Workspace A's cache copied into workspace B is not B's.
	caches, _ := filepath.Glob(filepath.Join(cfgA.WorkspaceDir, "stat", "*"))
	if len(caches) == 0 {
		t.Fatal("no stat cache in the workspace")
	}
	for _, p := range caches {
		b, _ := os.ReadFile(p)
		os.MkdirAll(filepath.Join(cfgB.WorkspaceDir, "stat"), 0o700)
		os.WriteFile(filepath.Join(cfgB.WorkspaceDir, "stat", filepath.Base(p)), b, 0o600)
	}
	b := statClient(t, cfgB)
	if r := mustSave(t, b, local, "/shared.prt", 2, sdk.SaveOptions{}); r.FilesRead != 1 {
		t.Fatalf("another workspace's cache was trusted: %+v", r)
	}
	// A cache written by another version of the SDK is not trusted.
	for _, p := range caches {
		raw, _ := os.ReadFile(p)
		var m map[string]any
		json.Unmarshal(raw, &m)
		m["sdk"] = "0.0.1"
		raw, _ = json.Marshal(m)
		os.WriteFile(p, raw, 0o600)
	}
	if r := mustSave(t, a, local, "/shared.prt", 3, sdk.SaveOptions{}); r.FilesRead != 1 {
		t.Fatalf("another version's cache was trusted: %+v", r)
	}
}

func TestFileChangedDuringItsSave(t *testing.T) {
	srv := servertest.Start(t)
	c := statClient(t, config(t, srv))
	local := writeTemp(t, "busy.prt", randomBytes(14, 4<<20))
	settle()
	mustSave(t, c, local, "/busy.prt", 0, sdk.SaveOptions{})
	// An edit is being saved when the program writes again, keeping size
	// and modification time: the save is refused, the next one reads it.
	os.WriteFile(local, randomBytes(15, 4<<20), 0o644)
	written := false
	_, err := c.SaveTo(context.Background(), local, "/busy.prt", 1, sdk.SaveOptions{Progress: func(sdk.Progress) {
		if !written {
			written = true
			sameStampEdit(t, local)
		}
	}})
	if !errors.Is(err, sdk.ErrFileChanged) {
		t.Fatalf("err = %v, want ErrFileChanged", err)
	}
	want, _ := os.ReadFile(local)
	if r := mustSave(t, c, local, "/busy.prt", 1, sdk.SaveOptions{}); r.FilesRead != 1 {
		t.Fatalf("the file changed during the refused save was not read: %+v", r)
	}
	if got := cloudContent(t, srv, "/busy.prt"); !bytes.Equal(got, want) {
		t.Fatal("the cloud does not hold the file's last content")
	}
}

func TestReopenVerifiesLocalFilesByStat(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	author := connect(t, config(t, srv))
	reader := statClient(t, config(t, srv))
	data := randomBytes(16, 2<<20)
	local := writeTemp(t, "model.prt", data)
	mustSave(t, author, local, "/model.prt", 0, sdk.SaveOptions{})
	if _, err := reader.OpenFile(ctx, "/model.prt", sdk.OpenOptions{}); err != nil {
		t.Fatal(err)
	}
	// The file was just written: its stat proves nothing until the racy
	// window has passed, the next open hashes it (and records it again).
	settle()
	for _, read := range []int{1, 0} {
		again, err := reader.OpenFile(ctx, "/model.prt", sdk.OpenOptions{})
		if err != nil || again.FilesRead != read || again.BytesFetched != 0 {
			t.Fatalf("re-open of the same version: %+v %v", again, err)
		}
	}
	os.WriteFile(local, edit(data), 0o644)
	mustSave(t, author, local, "/model.prt", 1, sdk.SaveOptions{})
	next, err := reader.OpenFile(ctx, "/model.prt", sdk.OpenOptions{})
	if err != nil || next.FilesRead != 0 || next.ChunksReused < next.ChunksTotal-5 {
		t.Fatalf("re-open of the next version: %+v %v", next, err)
	}
	if got, _ := os.ReadFile(next.MainFile); !bytes.Equal(got, edit(data)) {
		t.Fatal("re-opened content differs")
	}
	// A local edit that keeps size and time is still the engineer's work.
	settle()
	sameStampEdit(t, next.MainFile)
	os.WriteFile(local, data, 0o644)
	mustSave(t, author, local, "/model.prt", 2, sdk.SaveOptions{})
	if _, err := reader.OpenFile(ctx, "/model.prt", sdk.OpenOptions{}); !errors.Is(err, sdk.ErrLocalChanges) {
		t.Fatalf("err = %v, want ErrLocalChanges", err)
	}
}

// The service lost chunks of the version a stat cache vouches for (a
// store restored from an older backup): the commit is refused, the SDK
// reads the files and sends them, and the version is whole.
func TestResaveAfterTheServiceLostChunks(t *testing.T) {
	dir, err := chunkstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.StartConfig(t, server.Config{Chunks: dir})
	c := statClient(t, config(t, srv))
	data := randomBytes(40, 300<<10)
	local := writeTemp(t, "part.prt", data)
	settle()
	mustSave(t, c, local, "/lost.prt", 0, sdk.SaveOptions{})
	if r := mustSave(t, c, local, "/lost.prt", 1, sdk.SaveOptions{}); r.FilesRead != 0 || r.ChunksSent != 0 {
		t.Fatalf("an unchanged file was read or sent: %+v", r)
	}
	st, err := chunkstore.GC(context.Background(), dir, server.DevOrg, func(chunkstore.ID) bool { return false }, time.Now().Add(time.Hour))
	if err != nil || st.Deleted == 0 {
		t.Fatalf("losing the chunks: %+v %v", st, err)
	}
	r := mustSave(t, c, local, "/lost.prt", 2, sdk.SaveOptions{})
	if r.FilesRead != 1 || r.ChunksSent == 0 {
		t.Fatalf("the re-save after the loss: %+v", r)
	}
	if got := cloudContent(t, srv, "/lost.prt"); !bytes.Equal(got, data) {
		t.Fatal("the version after the loss differs")
	}
}

// A file edited since its last save is chunked whole, but the chunks its
// last version had are not encoded again: the service holds them. When it
// no longer does (the versions that held them were collected), the commit
// says so and the save reads and sends the file whole: nothing is lost.
func TestResaveOfAnEditedFileAfterTheServiceLostChunks(t *testing.T) {
	dir, err := chunkstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.StartConfig(t, server.Config{Chunks: dir})
	c := statClient(t, config(t, srv))
	data := randomBytes(41, 2<<20)
	local := writeTemp(t, "frame.prt", data)
	cold := mustSave(t, c, local, "/edited.prt", 0, sdk.SaveOptions{})

	copy(data[1<<20:], "7.25e+01") // 8 bytes in the middle
	edit := func() {
		t.Helper()
		if err := os.WriteFile(local, data, 0o644); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(time.Duration(len(data)) * time.Nanosecond) // another stamp, whatever the clock's grain
		if err := os.Chtimes(local, later, later); err != nil {
			t.Fatal(err)
		}
	}
	edit()
	r := mustSave(t, c, local, "/edited.prt", 1, sdk.SaveOptions{})
	if r.FilesRead != 1 || r.ChunksSent == 0 || r.ChunksSent > 3 {
		t.Fatalf("the re-save of an 8-byte edit: %+v (the cold save sent %d chunks)", r, cold.ChunksSent)
	}

	st, err := chunkstore.GC(context.Background(), dir, server.DevOrg, func(chunkstore.ID) bool { return false }, time.Now().Add(time.Hour))
	if err != nil || st.Deleted == 0 {
		t.Fatalf("losing the chunks: %+v %v", st, err)
	}
	copy(data[1<<19:], "1.50e+02")
	edit()
	r = mustSave(t, c, local, "/edited.prt", 2, sdk.SaveOptions{})
	if r.ChunksSent < cold.ChunksSent-1 {
		t.Fatalf("the re-save after the loss sent %d chunks, the file has about %d: %+v", r.ChunksSent, cold.ChunksSent, r)
	}
	if got := cloudContent(t, srv, "/edited.prt"); !bytes.Equal(got, data) {
		t.Fatal("the version after the loss differs from the file")
	}
}

// statSnapshots lists the snapshots in a workspace's stat cache.
func statSnapshots(t *testing.T, cfg sdk.Config) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(cfg.WorkspaceDir, "stat"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// What is gone leaves the stat cache: a part deleted from an assembly at
// its next save; a file or folder deleted or moved, a snapshot copied
// from another workspace and a file that is no snapshot at the next sweep.
// What remains is still trusted: nothing is read that did not change.
func TestStatCacheForgetsWhatIsGone(t *testing.T) {
	srv := servertest.Start(t)
	cfg := config(t, srv)
	c := statClient(t, cfg)
	c.SetStatBounds(0, 0, -1) // a sweep at every save
	dir := t.TempDir()
	asm := filepath.Join(dir, "Frame")
	os.Mkdir(asm, 0o755)
	for i, name := range []string{"Frame.asm", "bolt.prt", "plate.prt"} {
		os.WriteFile(filepath.Join(asm, name), randomBytes(uint64(50+i), 20<<10), 0o644)
	}
	single := filepath.Join(dir, "single.prt")
	os.WriteFile(single, randomBytes(53, 20<<10), 0o644)
	moved := filepath.Join(dir, "Moved")
	os.Mkdir(moved, 0o755)
	os.WriteFile(filepath.Join(moved, "Moved.asm"), randomBytes(54, 20<<10), 0o644)
	settle()
	asmOpt := sdk.SaveOptions{Assembly: true}
	mustSave(t, c, asm, "/gone/Frame", 0, asmOpt)
	mustSave(t, c, single, "/gone/single.prt", 0, sdk.SaveOptions{})
	mustSave(t, c, moved, "/gone/Moved", 0, asmOpt)
	if n := len(statSnapshots(t, cfg)); n != 3 {
		t.Fatalf("%d snapshots for 3 saved roots", n)
	}

	// A part deleted: its entry goes with the next save, the others are
	// not read.
	os.Remove(filepath.Join(asm, "plate.prt"))
	if r := mustSave(t, c, asm, "/gone/Frame", 1, asmOpt); r.FilesRead != 0 {
		t.Fatalf("re-save after a part was deleted read %d files", r.FilesRead)
	}
	if got := c.StatCacheFiles(asm); !slices.Equal(got, []string{"Frame.asm", "bolt.prt"}) {
		t.Fatalf("the cache holds %v for the assembly", got)
	}

	// A file deleted, a folder moved away, a snapshot of another
	// workspace (its folder copied) and a stray file: the next sweep
	// removes them, whatever root is saved.
	os.Remove(single)
	os.Rename(moved, moved+" old")
	other := config(t, srv)
	o := statClient(t, other)
	kept := filepath.Join(dir, "kept.prt")
	os.WriteFile(kept, randomBytes(55, 20<<10), 0o644)
	settle()
	mustSave(t, o, kept, "/gone/kept.prt", 0, sdk.SaveOptions{})
	for _, name := range statSnapshots(t, other) {
		b, _ := os.ReadFile(filepath.Join(other.WorkspaceDir, "stat", name))
		os.WriteFile(filepath.Join(cfg.WorkspaceDir, "stat", name), b, 0o600)
	}
	os.WriteFile(filepath.Join(cfg.WorkspaceDir, "stat", "stray"), []byte("not a snapshot"), 0o600)
	if n := len(statSnapshots(t, cfg)); n != 5 {
		t.Fatalf("%d files in the stat cache before the sweep, want 5", n)
	}
	if r := mustSave(t, c, asm, "/gone/Frame", 2, asmOpt); r.FilesRead != 0 {
		t.Fatalf("re-save read %d files", r.FilesRead)
	}
	if n := len(statSnapshots(t, cfg)); n != 1 {
		t.Fatalf("%d snapshots after the sweep, want the assembly's only", n)
	}
	// The copied workspace's own cache is untouched and trusted.
	if r := mustSave(t, o, kept, "/gone/kept.prt", 1, sdk.SaveOptions{}); r.FilesRead != 0 {
		t.Fatalf("the other workspace's re-save read %d files", r.FilesRead)
	}
}

// The stat cache holds at most so many roots and bytes: past either, the
// snapshots stored longest ago go; the roots saved last are still not
// read, a root whose snapshot went is read once.
func TestStatCacheStaysBounded(t *testing.T) {
	srv := servertest.Start(t)
	cfg := config(t, srv)
	c := statClient(t, cfg)
	c.SetStatBounds(5, 0, -1)
	dir := t.TempDir()
	var files []string
	for i := range 12 {
		p := filepath.Join(dir, fmt.Sprintf("part%02d.prt", i))
		os.WriteFile(p, randomBytes(uint64(60+i), 10<<10), 0o644)
		files = append(files, p)
	}
	settle()
	for i, p := range files {
		mustSave(t, c, p, "/bounded/"+filepath.Base(p), 0, sdk.SaveOptions{})
		if n := len(statSnapshots(t, cfg)); n > 5 {
			t.Fatalf("%d snapshots after %d saves, bound 5", n, i+1)
		}
	}
	for _, p := range files[7:] {
		if r := mustSave(t, c, p, "/bounded/"+filepath.Base(p), 1, sdk.SaveOptions{}); r.FilesRead != 0 {
			t.Fatalf("%s, saved among the last 5, was read again", filepath.Base(p))
		}
	}
	if r := mustSave(t, c, files[0], "/bounded/part00.prt", 1, sdk.SaveOptions{}); r.FilesRead != 1 {
		t.Fatalf("part00.prt, evicted, re-saved reading %d files", r.FilesRead)
	}
	if r := mustSave(t, c, files[0], "/bounded/part00.prt", 2, sdk.SaveOptions{}); r.FilesRead != 0 {
		t.Fatalf("part00.prt, stored again, read %d files", r.FilesRead)
	}

	// A bound in bytes: room for about three snapshots of one file.
	names := statSnapshots(t, cfg)
	st, err := os.Stat(filepath.Join(cfg.WorkspaceDir, "stat", names[0]))
	if err != nil {
		t.Fatal(err)
	}
	limit := 3*st.Size() + st.Size()/2
	c.SetStatBounds(0, limit, -1)
	mustSave(t, c, files[1], "/bounded/part01.prt", 1, sdk.SaveOptions{})
	var total int64
	for _, name := range statSnapshots(t, cfg) {
		st, _ := os.Stat(filepath.Join(cfg.WorkspaceDir, "stat", name))
		total += st.Size()
	}
	if n := len(statSnapshots(t, cfg)); n != 3 || total > limit {
		t.Fatalf("%d snapshots of %d bytes, bound %d bytes", n, total, limit)
	}
}

// A sweep runs at a client's first save or open, then at most every ten
// minutes: a deleted file's snapshot stays until then.
func TestStatCacheSweptEveryTenMinutes(t *testing.T) {
	srv := servertest.Start(t)
	cfg := config(t, srv)
	c := statClient(t, cfg)
	var ahead atomic.Int64
	c.SetStatClock(func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }, statWindow)
	gone := writeTemp(t, "gone.prt", randomBytes(70, 10<<10))
	stays := writeTemp(t, "stays.prt", randomBytes(71, 10<<10))
	settle()
	mustSave(t, c, gone, "/swept/gone.prt", 0, sdk.SaveOptions{})
	os.Remove(gone)
	mustSave(t, c, stays, "/swept/stays.prt", 0, sdk.SaveOptions{})
	if n := len(statSnapshots(t, cfg)); n != 2 {
		t.Fatalf("%d snapshots within ten minutes of the first sweep, want 2", n)
	}
	ahead.Store(int64(11 * time.Minute))
	if r := mustSave(t, c, stays, "/swept/stays.prt", 1, sdk.SaveOptions{}); r.FilesRead != 0 {
		t.Fatalf("re-save read %d files", r.FilesRead)
	}
	if n := len(statSnapshots(t, cfg)); n != 1 {
		t.Fatalf("%d snapshots after the next sweep, want 1", n)
	}
}
