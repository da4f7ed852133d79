package chunkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// writeOldLayout stores data the way a Dir before packs did: one file
// per chunk, root/org/ii/id.
func writeOldLayout(t *testing.T, d *Dir, org string, data []byte) ID {
	t.Helper()
	id := Sum(data)
	if err := os.MkdirAll(d.dir(org, id), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.path(org, id), Encode(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return id
}

// chunkData is chunk i of the tests: 4 KB that do not compress.
func chunkData(i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	b := make([]byte, 4<<10+i)
	for j := range b {
		b[j] = byte(r.Uint32())
	}
	return b
}

// A pack torn anywhere by a crash (kill -9 in the middle of a write, or
// the machine losing what was not synced) loses only the records the tear
// touches: each record before it reads back, the others are missing and
// can be put again.
func TestPackTornAtEveryOffset(t *testing.T) {
	ctx := context.Background()
	src := newDir(t)
	var ids []ID
	var ends []int64 // where each record ends in the pack
	for i := range 3 {
		data := chunkData(i)
		ids = append(ids, Sum(data))
		if err := src.Put(ctx, "acme", Sum(data), Encode(data)); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(filepath.Join(src.root, "acme/packs/00000001.pack"))
		ends = append(ends, st.Size())
	}
	whole, _ := os.ReadFile(filepath.Join(src.root, "acme/packs/00000001.pack"))
	start1 := int(ends[0])
	cuts := []int{0, 3, len(packMagic), len(packMagic) + 10, len(packMagic) + 32, len(packMagic) + recordHeader,
		start1 - 1, start1, start1 + 1, start1 + 36, start1 + recordHeader + 100, int(ends[1]) - 1, int(ends[1]), len(whole) - 1, len(whole)}
	type variant struct {
		name string
		pack []byte
		keep int // records that survive
	}
	var variants []variant
	for _, cut := range cuts {
		keep := 0
		for keep < len(ends) && ends[keep] <= int64(cut) {
			keep++
		}
		variants = append(variants, variant{fmt.Sprintf("cut at %d", cut), whole[:cut], keep})
	}
	flipped := bytes.Clone(whole)
	flipped[ends[1]+recordHeader+5] ^= 1
	variants = append(variants,
		variant{"a flipped bit in the last record", flipped, 2},
		variant{"garbage after the last record", append(bytes.Clone(whole), 0xde, 0xad, 0xbe, 0xef, 1, 2, 3), 3},
	)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			d := newDir(t)
			os.MkdirAll(filepath.Join(d.root, "acme/packs"), 0o755)
			if err := os.WriteFile(filepath.Join(d.root, "acme/packs/00000001.pack"), v.pack, 0o644); err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				ok, err := d.Has(ctx, "acme", id)
				if err != nil || ok != (i < v.keep) {
					t.Fatalf("chunk %d: Has = %v, %v; want %v", i, ok, err, i < v.keep)
				}
				if ok {
					if got, err := d.Get(ctx, "acme", id); err != nil || !bytes.Equal(got, Encode(chunkData(i))) {
						t.Fatalf("chunk %d reads back wrong: %v", i, err)
					}
				}
			}
			// The client sends the missing chunks again; after another
			// restart everything is there.
			for i := v.keep; i < len(ids); i++ {
				if err := d.Put(ctx, "acme", ids[i], Encode(chunkData(i))); err != nil {
					t.Fatal(err)
				}
			}
			d.Close()
			again, err := NewDir(d.root)
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close()
			for i, id := range ids {
				if got, err := again.Get(ctx, "acme", id); err != nil || !bytes.Equal(got, Encode(chunkData(i))) {
					t.Fatalf("chunk %d after the repair: %v", i, err)
				}
			}
		})
	}
}

// Stores written before packs keep working: their chunks are found, read,
// listed and collected; new chunks go to packs.
func TestOldLayoutReadAfterTheUpgrade(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "chunks")
	old := &Dir{root: root} // only for its paths
	var olds []ID
	for i := range 5 {
		olds = append(olds, writeOldLayout(t, old, "acme", chunkData(i)))
	}
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if b, _ := os.ReadFile(filepath.Join(root, "FORMAT")); string(b) != "2\n" {
		t.Fatalf("FORMAT = %q", b)
	}
	for i, id := range olds {
		if ok, err := d.Has(ctx, "acme", id); !ok || err != nil {
			t.Fatalf("old chunk %d: Has = %v, %v", i, ok, err)
		}
		if got, err := d.Get(ctx, "acme", id); err != nil || !bytes.Equal(got, Encode(chunkData(i))) {
			t.Fatalf("old chunk %d: %v", i, err)
		}
	}
	fresh := chunkData(9)
	if err := d.Put(ctx, "acme", Sum(fresh), Encode(fresh)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.path("acme", Sum(fresh))); err == nil {
		t.Fatal("a new chunk was written in the old layout")
	}
	// GC sees both layouts.
	st, err := GC(ctx, d, "acme", func(id ID) bool { return id == olds[0] || id == Sum(fresh) }, time.Now().Add(time.Hour))
	if err != nil || st.Chunks != 6 || st.Deleted != 4 {
		t.Fatalf("GC: %+v %v", st, err)
	}
	if ok, _ := d.Has(ctx, "acme", olds[1]); ok {
		t.Fatal("a collected old chunk is still found")
	}
	if _, err := os.ReadFile(filepath.Join(root, "acme", olds[0].String()[:2], olds[0].String())); err != nil {
		t.Fatal("a live old chunk was removed")
	}
	// A root from a later format is refused, not misread.
	os.WriteFile(filepath.Join(root, "FORMAT"), []byte("3\n"), 0o644)
	if _, err := NewDir(root); err == nil {
		t.Fatal("a root of format 3 was opened")
	}
}

// Concurrent puts share fsyncs.
func TestPutsShareSyncs(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	var syncs atomic.Int64
	d.sync = func(f *os.File) error { syncs.Add(1); return f.Sync() }
	var wg sync.WaitGroup
	const n = 64
	for i := range n {
		wg.Go(func() {
			data := chunkData(i)
			if err := d.Put(ctx, "acme", Sum(data), Encode(data)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	t.Logf("%d puts, %d fsyncs", n, syncs.Load())
	if syncs.Load() >= n {
		t.Fatalf("%d fsyncs for %d concurrent puts", syncs.Load(), n)
	}
}

// GC then Repack while uploads go on: every live chunk and every chunk put
// meanwhile reads back, before and after a restart, and the space of the
// mostly dead packs is given back.
func TestRepackWithUploadsInFlight(t *testing.T) {
	defer func(old int64) { packLimit = old }(packLimit)
	packLimit = 64 << 10
	ctx := context.Background()
	d := newDir(t)
	const n = 200
	for i := range n {
		data := chunkData(i)
		if err := d.Put(ctx, "acme", Sum(data), Encode(data)); err != nil {
			t.Fatal(err)
		}
	}
	size := func() int64 {
		var total int64
		entries, _ := os.ReadDir(filepath.Join(d.root, "acme/packs"))
		for _, e := range entries {
			if info, err := e.Info(); err == nil {
				total += info.Size()
			}
		}
		return total
	}
	before := size()
	live := func(id ID) bool {
		for i := 0; i < n; i += 4 {
			if Sum(chunkData(i)) == id {
				return true
			}
		}
		return false
	}
	st, err := GC(ctx, d, "acme", live, time.Now().Add(time.Hour))
	if err != nil || st.Deleted != n-n/4 {
		t.Fatalf("GC: %+v %v", st, err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var uploaded atomic.Int64
	wg.Go(func() { // an upload in flight
		for i := n; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			data := chunkData(i)
			if err := d.Put(ctx, "acme", Sum(data), Encode(data)); err != nil {
				t.Error(err)
				return
			}
			uploaded.Store(int64(i + 1 - n))
		}
	})
	wg.Go(func() { // an open in flight
		for {
			select {
			case <-stop:
				return
			default:
			}
			for i := 0; i < n; i += 4 {
				if got, err := d.Get(ctx, "acme", Sum(chunkData(i))); err != nil || !bytes.Equal(got, Encode(chunkData(i))) {
					t.Errorf("live chunk %d during the repack: %v", i, err)
					return
				}
			}
		}
	})
	rs, err := d.Repack(ctx, "acme")
	close(stop)
	wg.Wait()
	if err != nil || rs.Packs == 0 {
		t.Fatalf("Repack: %+v %v", rs, err)
	}
	t.Logf("repack: %+v; %d chunks uploaded meanwhile; packs %d -> %d bytes", rs, uploaded.Load(), before, size())
	check := func(d *Dir) {
		for i := 0; i < n+int(uploaded.Load()); i++ {
			if i < n && i%4 != 0 {
				continue
			}
			if got, err := d.Get(ctx, "acme", Sum(chunkData(i))); err != nil || !bytes.Equal(got, Encode(chunkData(i))) {
				t.Fatalf("chunk %d after the repack: %v", i, err)
			}
		}
	}
	check(d)
	d.Close()
	again, err := NewDir(d.root)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	check(again)
	if after := size(); rs.BytesFreed == 0 || after-int64(uploaded.Load())*int64(recordHeader+len(Encode(chunkData(n+int(uploaded.Load()))))) >= before {
		t.Fatalf("packs %d bytes before, %d after (%d freed)", before, after, rs.BytesFreed)
	}
}

// A record damaged on disk after it was written (bit rot) reads as
// missing, and Has says so too: the next save that holds the chunk sends
// it again, and it reads back whole.
func TestDamagedRecordIsMissing(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	data := chunkData(1)
	id := Sum(data)
	if err := d.Put(ctx, "acme", id, Encode(data)); err != nil {
		t.Fatal(err)
	}
	pack := filepath.Join(d.root, "acme/packs/00000001.pack")
	f, err := os.OpenFile(pack, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xff}, int64(len(packMagic)+recordHeader+100))
	f.Close()
	if _, err := d.Get(ctx, "acme", id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a damaged chunk: %v, want ErrNotFound", err)
	}
	if ok, _ := d.Has(ctx, "acme", id); ok {
		t.Fatal("Has still finds the damaged chunk")
	}
	if err := d.Put(ctx, "acme", id, Encode(data)); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Get(ctx, "acme", id); err != nil || !bytes.Equal(got, Encode(data)) {
		t.Fatalf("the chunk put again: %v", err)
	}
}
