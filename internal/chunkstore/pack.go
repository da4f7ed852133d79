package chunkstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iscsdk/iscsdk/internal/atomicfile"
)

// The pack format (see Dir): a pack is packMagic then records; a record is
// the chunk's id (32 bytes), the length of its encoding (uint32, little
// endian), the CRC-32C of those 36 bytes and the encoding, and the
// encoding. A sealed pack has an index beside it: idxMagic, then per
// record its id, offset and length, then the CRC-32C of all before it.
const (
	packMagic    = "iscpack1"
	idxMagic     = "iscidx01"
	recordHeader = 32 + 4 + 4
	idxEntry     = 32 + 4 + 4
	packExt      = ".pack"
	idxExt       = ".idx"
)

// packLimit is the size past which a pack is sealed and a new one started:
// repacking rewrites at most this much to reclaim a pack.
var packLimit int64 = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// loc is where a chunk's record is, and the chunk's time.
type loc struct {
	pack uint32
	off  uint32 // of the record
	size uint32 // of the encoding
	time int64  // ns since 1970: last Put or Has
}

// packs is one organisation's packs: the index of every chunk in them,
// the open pack files, and the pack being appended to.
type packs struct {
	dir    string
	sync   func(*os.File) error // Dir.sync
	legacy bool                 // the organisation has chunks of the old layout too

	mu     sync.Mutex
	index  map[ID]loc
	files  map[uint32]*os.File
	size   map[uint32]int64 // bytes of each pack
	dead   map[uint32]int64 // bytes of records no longer in the index
	active uint32           // 0: none yet
	end    int64            // the active pack's size

	// Group commit: appended records wait for one fsync that covers them.
	cond     *sync.Cond
	appended uint64 // records appended to the active pack, ever
	synced   uint64 // of which this many are durable
	syncEnd  int64  // the active pack's durable size
	syncing  bool
	failures uint64 // fsyncs that failed: the records after syncEnd are gone
	failErr  error
	waiting  []pending     // appended, not yet durable: indexed once they are
	inFlight map[ID]uint64 // the ids of waiting, with their sequence numbers
}

// pending is an appended record waiting for its fsync.
type pending struct {
	seq  uint64
	id   ID
	loc  loc
	from *loc // a record moved by a repack: indexed only if still there
}

func packName(n uint32) string { return fmt.Sprintf("%08d", n) }

// openPacks loads the index of the packs in dir: from a sealed pack's
// index file, or by reading the pack when there is none (the pack being
// appended to when the process stopped). A torn record at the end of the
// last pack (a crash in the middle of a write) is cut off: its chunk is
// missing, and clients send it again.
func openPacks(dir string, now time.Time) (*packs, error) {
	p := &packs{dir: dir, sync: (*os.File).Sync, index: map[ID]loc{}, inFlight: map[ID]uint64{}, files: map[uint32]*os.File{}, size: map[uint32]int64{}, dead: map[uint32]int64{}}
	p.cond = sync.NewCond(&p.mu)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	var nums []uint32
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), packExt)
		if !ok {
			if strings.HasPrefix(e.Name(), ".") { // atomicfile's leftovers
				os.Remove(filepath.Join(dir, e.Name()))
			}
			continue
		}
		n, err := strconv.ParseUint(name, 10, 32)
		if err != nil || n == 0 {
			continue
		}
		nums = append(nums, uint32(n))
	}
	slices.Sort(nums)
	for i, n := range nums {
		last := i == len(nums)-1
		f, err := os.OpenFile(filepath.Join(dir, packName(n)+packExt), os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		p.files[n] = f
		size, sealed, err := p.load(n, f, now.UnixNano(), last)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("pack %s: %w", packName(n), err)
		}
		p.size[n] = size
		if last && !sealed && size < packLimit {
			p.active, p.end, p.syncEnd = n, size, size
		}
	}
	return p, nil
}

// load indexes pack n and returns its size and whether it has an index
// file.
func (p *packs) load(n uint32, f *os.File, now int64, last bool) (int64, bool, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	if b, err := os.ReadFile(filepath.Join(p.dir, packName(n)+idxExt)); err == nil {
		if recs, ok := parseIdx(b, st.Size()); ok {
			for _, r := range recs {
				r.loc.pack, r.loc.time = n, now
				p.add(r.id, r.loc)
			}
			return st.Size(), true, nil
		}
	}
	if st.Size() < int64(len(packMagic)) && last { // torn in its header
		if err := f.Truncate(0); err != nil {
			return 0, false, err
		}
		if _, err := f.WriteAt([]byte(packMagic), 0); err != nil {
			return 0, false, err
		}
		return int64(len(packMagic)), false, p.sync(f)
	}
	size, err := p.scan(n, f, st.Size(), now)
	if err != nil {
		return 0, false, err
	}
	if size < st.Size() && last {
		if err := f.Truncate(size); err != nil {
			return 0, false, err
		}
	}
	return size, false, nil
}

// add puts a loaded record in the index; an id already there (a record
// copied by a repack that did not finish) leaves a dead record.
func (p *packs) add(id ID, l loc) {
	if old, ok := p.index[id]; ok {
		p.dead[old.pack] += recordHeader + int64(old.size)
	}
	p.index[id] = l
}

// scan reads pack n's records and returns where the valid ones end.
func (p *packs) scan(n uint32, f *os.File, size, now int64) (int64, error) {
	if size < int64(len(packMagic)) {
		return 0, nil // torn in its header: rewritten by the next append
	}
	magic := make([]byte, len(packMagic))
	if _, err := f.ReadAt(magic, 0); err != nil {
		return 0, err
	}
	if string(magic) != packMagic {
		return 0, fmt.Errorf("not a pack of this format (%q)", magic)
	}
	off := int64(len(packMagic))
	buf := make([]byte, recordHeader+MaxEncodedSize)
	for off+recordHeader <= size {
		hdr := buf[:recordHeader]
		if _, err := f.ReadAt(hdr, off); err != nil {
			return 0, err
		}
		n32 := binary.LittleEndian.Uint32(hdr[32:])
		if n32 > MaxEncodedSize || off+recordHeader+int64(n32) > size {
			break
		}
		rec := buf[:recordHeader+int(n32)]
		if _, err := f.ReadAt(rec[recordHeader:], off+recordHeader); err != nil {
			return 0, err
		}
		if recordCRC(rec) != binary.LittleEndian.Uint32(hdr[36:]) {
			break
		}
		p.add(ID(hdr[:32]), loc{pack: n, off: uint32(off), size: n32, time: now})
		off += int64(len(rec))
	}
	return off, nil
}

// recordCRC is the checksum of a record: its id, length and encoding.
func recordCRC(rec []byte) uint32 {
	c := crc32.Update(0, castagnoli, rec[:36])
	return crc32.Update(c, castagnoli, rec[recordHeader:])
}

type idxRecord struct {
	id  ID
	loc loc
}

// parseIdx decodes an index file of a pack of packSize bytes.
func parseIdx(b []byte, packSize int64) ([]idxRecord, bool) {
	if len(b) < len(idxMagic)+4 || string(b[:len(idxMagic)]) != idxMagic || (len(b)-len(idxMagic)-4)%idxEntry != 0 {
		return nil, false
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, false
	}
	var out []idxRecord
	for e := body[len(idxMagic):]; len(e) > 0; e = e[idxEntry:] {
		l := loc{off: binary.LittleEndian.Uint32(e[32:]), size: binary.LittleEndian.Uint32(e[36:])}
		if int64(l.off)+recordHeader+int64(l.size) > packSize {
			return nil, false
		}
		out = append(out, idxRecord{ID(e[:32]), l})
	}
	return out, true
}

// seal makes the active pack durable, writes its index file, and leaves
// no pack active: the next append starts a new one. The caller holds mu.
func (p *packs) seal() error {
	f := p.files[p.active]
	if err := p.sync(f); err != nil {
		return err
	}
	p.synced, p.syncEnd = p.appended, p.end
	p.flushWaiting()
	b := []byte(idxMagic)
	for id, l := range p.index {
		if l.pack == p.active {
			b = append(b, id[:]...)
			b = binary.LittleEndian.AppendUint32(b, l.off)
			b = binary.LittleEndian.AppendUint32(b, l.size)
		}
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	if err := atomicfile.Write(filepath.Join(p.dir, packName(p.active)+idxExt), b, 0o644); err != nil {
		return err
	}
	p.active, p.end, p.syncEnd = 0, 0, 0
	return nil
}

// create starts pack n+1 after the highest. The caller holds mu.
func (p *packs) create() error {
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	var n uint32 = 1
	for m := range p.files {
		n = max(n, m+1)
	}
	f, err := os.OpenFile(filepath.Join(p.dir, packName(n)+packExt), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte(packMagic)); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := p.sync(f); err == nil {
		err = syncDir(p.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	p.files[n], p.size[n] = f, int64(len(packMagic))
	p.active, p.end, p.syncEnd = n, int64(len(packMagic)), int64(len(packMagic))
	return nil
}

// flushWaiting indexes the appended records that are durable now. The
// caller holds mu.
func (p *packs) flushWaiting() {
	i := 0
	for ; i < len(p.waiting) && p.waiting[i].seq <= p.synced; i++ {
		w := p.waiting[i]
		delete(p.inFlight, w.id)
		old, ok := p.index[w.id]
		if w.from != nil && (!ok || old.pack != w.from.pack || old.off != w.from.off) {
			p.dead[w.loc.pack] += recordHeader + int64(w.loc.size) // deleted or put again meanwhile
			continue
		}
		if ok {
			p.dead[old.pack] += recordHeader + int64(old.size)
			w.loc.time = max(w.loc.time, old.time) // a Has meanwhile
		}
		p.index[w.id] = w.loc
	}
	p.waiting = p.waiting[i:]
}

// recordBufs hold records while they are written: a record is garbage
// once in the pack, and iscd writes one for every chunk it receives.
var recordBufs = sync.Pool{New: func() any { b := make([]byte, 0, recordHeader+MaxEncodedSize); return &b }}

// appendRecord writes one record to the active pack and waits until an
// fsync covers it (one fsync for every record appended meanwhile: group
// commit); then the chunk is in the index. write is Dir.append. from is
// where a repack moves the record from (nil for a Put).
func (p *packs) appendRecord(id ID, encoded []byte, now int64, from *loc, write func(f *os.File, b []byte, off int64) error) error {
	buf := recordBufs.Get().(*[]byte)
	free := func() {
		if buf != nil {
			recordBufs.Put(buf)
			buf = nil
		}
	}
	defer free()
	rec := append(append((*buf)[:0], id[:]...), make([]byte, recordHeader-len(id))...)
	rec = append(rec, encoded...)
	*buf = rec
	binary.LittleEndian.PutUint32(rec[32:], uint32(len(encoded)))
	binary.LittleEndian.PutUint32(rec[36:], recordCRC(rec))

	p.mu.Lock()
	defer p.mu.Unlock()
	if l, ok := p.index[id]; ok && from == nil { // put meanwhile
		l.time = max(l.time, now)
		p.index[id] = l
		return nil
	}
	if seq, ok := p.inFlight[id]; ok { // being put: wait for that one
		return p.waitSynced(seq, p.failures)
	}
	if p.active != 0 && p.end+int64(len(rec)) > packLimit && p.end > int64(len(packMagic)) {
		if err := p.seal(); err != nil {
			return err
		}
	}
	if p.active == 0 {
		if err := p.create(); err != nil {
			return err
		}
	}
	f, off := p.files[p.active], p.end
	err := write(f, rec, off)
	free() // written: the record is the pack's now
	if err != nil {
		f.Truncate(off) // nothing of it stays
		return err
	}
	p.end += int64(len(rec))
	p.size[p.active] = p.end
	p.appended++
	seq := p.appended
	p.waiting = append(p.waiting, pending{seq: seq, id: id, loc: loc{pack: p.active, off: uint32(off), size: uint32(len(encoded)), time: now}, from: from})
	p.inFlight[id] = seq
	return p.waitSynced(seq, p.failures)
}

// waitSynced waits until record seq is durable, syncing the active pack
// itself if no other put is. The caller holds mu.
func (p *packs) waitSynced(seq, failures uint64) error {
	for p.synced < seq {
		if p.failures != failures {
			return p.failErr
		}
		if p.syncing {
			p.cond.Wait()
			continue
		}
		p.syncing = true
		target, end, pack, f := p.appended, p.end, p.active, p.files[p.active]
		p.mu.Unlock()
		err := p.sync(f)
		p.mu.Lock()
		p.syncing = false
		switch {
		case err != nil && pack == p.active:
			// What the failed fsync covered is in no known state: cut it
			// off, and fail every put that waited for it.
			f.Truncate(p.syncEnd)
			p.end, p.size[p.active] = p.syncEnd, p.syncEnd
			p.appended = p.synced
			p.waiting = p.waiting[:0]
			clear(p.inFlight)
			p.failures++
			p.failErr = err
		case err == nil && target > p.synced:
			p.synced = target
			if pack == p.active {
				p.syncEnd = end
			}
		}
		p.flushWaiting()
		p.cond.Broadcast()
	}
	return nil
}

// read returns the encoding of chunk id from the packs, or ErrNotFound.
func (p *packs) read(id ID) ([]byte, error) {
	for range 3 { // a repack may move it between the lookup and the read
		p.mu.Lock()
		l, ok := p.index[id]
		f := p.files[l.pack]
		p.mu.Unlock()
		if !ok {
			return nil, ErrNotFound
		}
		rec := make([]byte, recordHeader+int(l.size))
		if _, err := f.ReadAt(rec, int64(l.off)); err != nil {
			if errors.Is(err, os.ErrClosed) {
				continue
			}
			return nil, err
		}
		if ID(rec[:32]) != id || recordCRC(rec) != binary.LittleEndian.Uint32(rec[36:]) {
			// Damaged on disk: the chunk is missing from now on, so the
			// next save that has it sends it again.
			p.mu.Lock()
			if cur, ok := p.index[id]; ok && cur.pack == l.pack && cur.off == l.off {
				delete(p.index, id)
				p.dead[l.pack] += recordHeader + int64(l.size)
			}
			p.mu.Unlock()
			return nil, fmt.Errorf("pack %s offset %d: record of %s damaged: %w", packName(l.pack), l.off, id, ErrNotFound)
		}
		return rec[recordHeader:], nil
	}
	return nil, ErrNotFound
}

// RepackStats says what Repack did.
type RepackStats struct {
	Packs      int   // packs rewritten and removed
	Moved      int   // live chunks copied out of them
	BytesFreed int64 // disk space given back
}

// repack rewrites the sealed packs of which at least half is dead: their
// live records are appended to the active pack, made durable, and the old
// pack is removed. Puts, Gets and Deletes go on meanwhile.
func (p *packs) repack(write func(f *os.File, b []byte, off int64) error) (RepackStats, error) {
	var st RepackStats
	p.mu.Lock()
	var victims []uint32
	for n, size := range p.size {
		if n != p.active && p.dead[n]*2 >= size-int64(len(packMagic)) {
			victims = append(victims, n)
		}
	}
	p.mu.Unlock()
	slices.Sort(victims)
	for _, n := range victims {
		p.mu.Lock()
		var live []ID
		for id, l := range p.index {
			if l.pack == n {
				live = append(live, id)
			}
		}
		p.mu.Unlock()
		for _, id := range live {
			p.mu.Lock()
			l, ok := p.index[id]
			f := p.files[n]
			p.mu.Unlock()
			if !ok || l.pack != n {
				continue // deleted or put again meanwhile
			}
			rec := make([]byte, recordHeader+int(l.size))
			if _, err := f.ReadAt(rec, int64(l.off)); err != nil {
				return st, err
			}
			if recordCRC(rec) != binary.LittleEndian.Uint32(rec[36:]) {
				return st, fmt.Errorf("pack %s offset %d: record damaged", packName(n), l.off)
			}
			if err := p.appendRecord(id, rec[recordHeader:], l.time, &l, write); err != nil {
				return st, err
			}
			st.Moved++
		}
		// Every live record is durable elsewhere: the pack can go.
		p.mu.Lock()
		for _, l := range p.index {
			if l.pack == n {
				p.mu.Unlock()
				return st, fmt.Errorf("pack %s still holds chunks after its repack", packName(n))
			}
		}
		f := p.files[n]
		delete(p.files, n)
		st.BytesFreed += p.size[n]
		delete(p.size, n)
		delete(p.dead, n)
		p.mu.Unlock()
		f.Close()
		os.Remove(filepath.Join(p.dir, packName(n)+idxExt))
		if err := os.Remove(filepath.Join(p.dir, packName(n)+packExt)); err != nil {
			return st, err
		}
		st.Packs++
	}
	if st.Packs > 0 {
		return st, syncDir(p.dir)
	}
	return st, nil
}

func (p *packs) close() {
	for _, f := range p.files {
		f.Close()
	}
}

// writeAt is Dir.append: the record at off.
func writeAt(f *os.File, b []byte, off int64) error {
	_, err := f.WriteAt(b, off)
	return err
}

// syncDir makes a file's creation, rename or removal in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil // a system that cannot sync a directory
	}
	return err
}
