package sdk

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/atomicfile"
	"github.com/iscsdk/iscsdk/internal/chunkstore"
)

// chunkCacheMax bounds the workspace's chunk cache; past it the chunks
// used longest ago go first.
const chunkCacheMax = 1 << 30

// chunkCache keeps downloaded chunks, encoded, in WORKSPACE/chunks, so that
// opening a file whose chunks were fetched before (another version, another
// part of an assembly, a copy deleted locally) does not fetch them again.
// It is content-addressed: a chunk is checked against its id on the way
// out, so a damaged cache costs a download, never a wrong file.
type chunkCache struct {
	dir  string
	max  int64
	mu   sync.Mutex
	puts int
}

func (cc *chunkCache) path(id chunkstore.ID) string {
	s := id.String()
	return filepath.Join(cc.dir, s[:2], s)
}

// get returns the chunk's content, or false.
func (cc *chunkCache) get(id chunkstore.ID) ([]byte, bool) {
	p := cc.path(id)
	enc, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	data, err := chunkstore.Decode(enc)
	if err != nil || chunkstore.Sum(data) != id {
		os.Remove(p)
		return nil, false
	}
	now := time.Now()
	_ = os.Chtimes(p, now, now) // used: evicted last
	return data, true
}

// put stores an encoded chunk; errors only cost a later download.
func (cc *chunkCache) put(id chunkstore.ID, encoded []byte) {
	if atomicfile.Write(cc.path(id), encoded, 0o600) != nil {
		return
	}
	cc.mu.Lock()
	cc.puts++
	evict := cc.puts%64 == 0
	cc.mu.Unlock()
	if evict {
		cc.evict()
	}
}

// evict deletes the chunks used longest ago until the cache is at 90 % of
// its bound.
func (cc *chunkCache) evict() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	type entry struct {
		path string
		size int64
		used time.Time
	}
	var all []entry
	var total int64
	filepath.WalkDir(cc.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			all = append(all, entry{p, info.Size(), info.ModTime()})
			total += info.Size()
		}
		return nil
	})
	if total <= cc.max {
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i].used.Before(all[j].used) })
	for _, e := range all {
		if total <= cc.max*9/10 {
			break
		}
		if os.Remove(e.path) == nil {
			total -= e.size
		}
	}
}
