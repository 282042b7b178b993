// Package headcache is the bolt store's tree at head in memory: path ->
// entry, root included, which answers every read at head (and the fast
// lane's, without allocating) while the data file is read only for older
// revisions. The store loads it at open from its tree bucket (LoadStored)
// and updates it as each commit is published.
package headcache

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"sync"
	"time"
	"unsafe"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
)

// Cache is the tree at head in memory: path -> entry, root included. The
// zero Cache is empty and ready for use.
//
// At a million keys it is most of verso's memory and its loading most of
// verso's start (docs/PERFORMANCE.md, Scale), so it holds no *verso.Entry
// and no pointer per entry. Each entry is one record in large byte chunks:
// a fixed header, then the path, the value and, when there are any, the
// properties. An open-addressing table of 8-byte slots finds the records:
// each slot holds 16 bits of the path's hash and where its record is.
// Neither the chunks nor the table hold pointers, so the garbage collector
// never scans them, loading allocates nothing per key, and a lookup reads
// a slot and one record, the path and value next to the header.
//
// Records are never modified once written: a change appends a new record
// and points the slot at it. When more than half of the bytes are records
// no slot points at, the live ones are copied into new chunks. Entries
// built from a record point into its chunk (Value, and the strings that
// are not interned), which the garbage collector keeps while they do.
//
// A reader holds the lock for one lookup and the reading of one header;
// the committer holds it for the few stores of one published revision,
// never across a write to the file.
type Cache struct {
	mu    sync.RWMutex
	seed  maphash.Seed
	slots []uint64 // 0, or tag<<48 | location+1
	n     int      // slots in use

	chunks [][]byte // records; chunks[len-1][:used] is where they are appended
	used   int
	bytes  int // bytes of all records in chunks
	live   int // bytes of the records that slots point at

	// Content types and authors are few: records name them by number.
	strs  []string // by number; strs[0] is ""
	strID map[string]uint32
}

const (
	chunkBits   = 22 // chunks of 4 MiB
	chunkSize   = 1 << chunkBits
	bigRecord   = chunkSize / 4 // records above this get a chunk of their own
	locMask     = 1<<48 - 1
	maxInterned = 1024 // content types and authors interned, at most
	maxInternLn = 256  // longer ones are kept in the record

	// The record header. Offsets of its fields:
	hKind     = 0  // uint8: verso.Kind
	hFlags    = 1  // uint8: flag...
	hPathLen  = 2  // uint16
	hValueLen = 4  // uint32
	hCType    = 8  // uint32: number in strs, or length in the record
	hModBy    = 12 // uint32: same
	hCreate   = 16 // int64s: CreateRev, ModRev, TreeRev, Version, ModTime's second
	hMod      = 24
	hTree     = 32
	hVersion  = 40
	hSec      = 48
	hNsec     = 56 // uint32
	hPropsLen = 60 // uint32: bytes of properties, in codec's encoding
	headerLen = 64

	flagCTypeInline = 1 << 0 // the content type follows the value
	flagModByInline = 1 << 1 // the author follows the content type
)

// Reset empties the cache, making room for n entries.
func (c *Cache) Reset(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resetLocked(n)
}

func (c *Cache) resetLocked(n int) {
	c.seed = maphash.MakeSeed()
	c.slots = hugeSlice[uint64](slotsFor(n))
	c.n = 0
	c.chunks, c.used, c.bytes, c.live = nil, 0, 0, 0
	c.strs = []string{""}
	c.strID = map[string]uint32{"": 0}
}

// slotsFor returns a table size that holds n entries at most 70 % full.
func slotsFor(n int) int { return max(16, n*10/7+1) }

func (c *Cache) hash(p string) uint64 { return maphash.String(c.seed, p) }

// home is the slot where a path with hash h is looked for first.
func (c *Cache) home(h uint64) int { return int(uint64(uint32(h)) * uint64(len(c.slots)) >> 32) }

// record returns the bytes of the record at loc, from its header on.
func (c *Cache) record(loc uint64) []byte {
	return c.chunks[loc>>chunkBits][loc&(chunkSize-1):]
}

func recPath(r []byte) []byte {
	return r[headerLen : headerLen+int(binary.LittleEndian.Uint16(r[hPathLen:]))]
}

// find returns the slot of p, or the empty slot where it would go.
func (c *Cache) find(p string, h uint64) (int, bool) {
	tag := h >> 48
	i := c.home(h)
	for {
		s := c.slots[i]
		if s == 0 {
			return i, false
		}
		if s>>48 == tag && string(recPath(c.record(s&locMask-1))) == p {
			return i, true
		}
		if i++; i == len(c.slots) {
			i = 0
		}
	}
}

// Load returns p's entry.
func (c *Cache) Load(p verso.Path) (*verso.Entry, bool) {
	e := new(verso.Entry)
	if !c.LoadInto(p, e) {
		return nil, false
	}
	return e, true
}

// LoadInto sets *e to p's entry and reports whether p is in the cache.
func (c *Cache) LoadInto(p verso.Path, e *verso.Entry) bool {
	h := c.hash(string(p))
	c.mu.RLock()
	if c.slots == nil {
		c.mu.RUnlock()
		return false
	}
	i, ok := c.find(string(p), h)
	if ok {
		c.fill(e, p, c.record(c.slots[i]&locMask-1))
	}
	c.mu.RUnlock()
	return ok
}

// fill sets *e from the record r of path p. Its Value and the strings kept
// in the record point into the chunk, which is never modified.
func (c *Cache) fill(e *verso.Entry, p verso.Path, r []byte) {
	le := binary.LittleEndian
	flags := r[hFlags]
	o := headerLen + int(le.Uint16(r[hPathLen:]))
	n := int(le.Uint32(r[hValueLen:]))
	*e = verso.Entry{
		Path:      p,
		Kind:      verso.Kind(r[hKind]),
		CreateRev: verso.Revision(le.Uint64(r[hCreate:])),
		ModRev:    verso.Revision(le.Uint64(r[hMod:])),
		TreeRev:   verso.Revision(le.Uint64(r[hTree:])),
		Version:   int64(le.Uint64(r[hVersion:])),
		ModTime:   time.Unix(int64(le.Uint64(r[hSec:])), int64(le.Uint32(r[hNsec:]))).UTC(),
	}
	if e.Kind == verso.KindKey {
		e.Value = r[o : o+n : o+n]
	}
	o += n
	e.ContentType, o = c.str(r, flags&flagCTypeInline != 0, le.Uint32(r[hCType:]), o)
	e.ModBy, o = c.str(r, flags&flagModByInline != 0, le.Uint32(r[hModBy:]), o)
	if n := int(le.Uint32(r[hPropsLen:])); n > 0 {
		e.Props = codec.DecodeProps(r[o : o+n])
	}
}

// str returns a string of a record: interned as number v, or v bytes at o
// in the record. It also returns the offset after it.
func (c *Cache) str(r []byte, inline bool, v uint32, o int) (string, int) {
	if !inline {
		return c.strs[v], o
	}
	if v == 0 {
		return "", o
	}
	return unsafe.String(&r[o], int(v)), o + int(v)
}

// intern returns the number of s, adding it if there is room; ok is false
// when s is to be kept in the record instead.
func (c *Cache) intern(s string) (uint32, bool) {
	if id, ok := c.strID[s]; ok {
		return id, true
	}
	if len(s) > maxInternLn || len(c.strs) >= maxInterned {
		return 0, false
	}
	id := uint32(len(c.strs))
	s = string([]byte(s)) // its own copy, not a slice of something larger
	c.strs = append(c.strs, s)
	c.strID[s] = id
	return id, true
}

// alloc returns room for a record of n bytes and its location. The caller
// holds the lock.
func (c *Cache) alloc(n int) ([]byte, uint64) {
	n = (n + 7) &^ 7 // records start 8-aligned: no two share a word
	c.bytes += n
	if n > bigRecord {
		// A chunk of its own, after which appending goes on in a new
		// chunk (the one before may have room left: it is lost).
		c.chunks = append(c.chunks, make([]byte, n))
		c.used = chunkSize
		return c.chunks[len(c.chunks)-1], uint64(len(c.chunks)-1) << chunkBits
	}
	if len(c.chunks) == 0 || c.used+n > chunkSize {
		c.chunks = append(c.chunks, hugeSlice[byte](chunkSize))
		c.used = 0
	}
	loc := uint64(len(c.chunks)-1)<<chunkBits | uint64(c.used)
	r := c.chunks[len(c.chunks)-1][c.used : c.used+n]
	c.used += n
	return r, loc
}

// recordSize is the size of a record (unaligned).
func recordSize(pathLen, valueLen int, r []byte) int {
	le := binary.LittleEndian
	n := headerLen + pathLen + valueLen + int(le.Uint32(r[hPropsLen:]))
	if r[hFlags]&flagCTypeInline != 0 {
		n += int(le.Uint32(r[hCType:]))
	}
	if r[hFlags]&flagModByInline != 0 {
		n += int(le.Uint32(r[hModBy:]))
	}
	return n
}

// encoder builds one record: its header first, then its parts in order.
type encoder struct {
	hdr   [headerLen]byte
	ctype string // to append after the value when inline
	modBy string
	props []byte // codec's encoding, or nil
}

func (c *Cache) header(x *encoder, kind verso.Kind, create, mod, tree verso.Revision, version, sec int64, nsec int, ctype, modBy string) {
	le := binary.LittleEndian
	h := x.hdr[:]
	clear(h)
	h[hKind] = byte(kind)
	le.PutUint64(h[hCreate:], uint64(create))
	le.PutUint64(h[hMod:], uint64(mod))
	le.PutUint64(h[hTree:], uint64(tree))
	le.PutUint64(h[hVersion:], uint64(version))
	le.PutUint64(h[hSec:], uint64(sec))
	le.PutUint32(h[hNsec:], uint32(nsec))
	x.ctype, x.modBy = "", ""
	if id, ok := c.intern(ctype); ok {
		le.PutUint32(h[hCType:], id)
	} else {
		h[hFlags] |= flagCTypeInline
		le.PutUint32(h[hCType:], uint32(len(ctype)))
		x.ctype = ctype
	}
	if id, ok := c.intern(modBy); ok {
		le.PutUint32(h[hModBy:], id)
	} else {
		h[hFlags] |= flagModByInline
		le.PutUint32(h[hModBy:], uint32(len(modBy)))
		x.modBy = modBy
	}
}

// put writes the record of path p with value v (and x's header and
// parts), and points p's slot at it. The caller holds the lock.
func (c *Cache) put(p []byte, v []byte, x *encoder) {
	le := binary.LittleEndian
	le.PutUint16(x.hdr[hPathLen:], uint16(len(p)))
	le.PutUint32(x.hdr[hValueLen:], uint32(len(v)))
	le.PutUint32(x.hdr[hPropsLen:], uint32(len(x.props)))
	size := recordSize(len(p), len(v), x.hdr[:])
	r, loc := c.alloc(size)
	o := copy(r, x.hdr[:])
	o += copy(r[o:], p)
	o += copy(r[o:], v)
	o += copy(r[o:], x.ctype)
	o += copy(r[o:], x.modBy)
	copy(r[o:], x.props)
	c.live += (size + 7) &^ 7

	h := maphash.Bytes(c.seed, p)
	i, found := c.find(unsafe.String(unsafe.SliceData(p), len(p)), h)
	if found {
		c.live -= c.sizeAt(c.slots[i])
	} else {
		if (c.n+1)*10 > len(c.slots)*7 {
			c.grow()
			i, _ = c.find(unsafe.String(unsafe.SliceData(p), len(p)), h)
		}
		c.n++
	}
	c.slots[i] = h>>48<<48 | (loc + 1)
}

// sizeAt is the aligned size of the record slot s points at.
func (c *Cache) sizeAt(s uint64) int {
	r := c.record(s&locMask - 1)
	le := binary.LittleEndian
	return (recordSize(int(le.Uint16(r[hPathLen:])), int(le.Uint32(r[hValueLen:])), r) + 7) &^ 7
}

// grow doubles the table.
func (c *Cache) grow() {
	old := c.slots
	c.slots = hugeSlice[uint64](max(slotsFor(c.n+1), 2*len(old)))
	for _, s := range old {
		if s != 0 {
			c.insertSlot(s)
		}
	}
}

// insertSlot puts slot s, whose path is not in the table, in its place.
func (c *Cache) insertSlot(s uint64) {
	i := c.home(maphash.Bytes(c.seed, recPath(c.record(s&locMask-1))))
	for c.slots[i] != 0 {
		if i++; i == len(c.slots) {
			i = 0
		}
	}
	c.slots[i] = s
}

// Store sets p's entry.
func (c *Cache) Store(p verso.Path, e *verso.Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.storeLocked(p, e)
}

func (c *Cache) storeLocked(p verso.Path, e *verso.Entry) {
	if c.slots == nil {
		c.resetLocked(0)
	}
	var x encoder
	c.header(&x, e.Kind, e.CreateRev, e.ModRev, e.TreeRev, e.Version, e.ModTime.Unix(), e.ModTime.Nanosecond(), e.ContentType, e.ModBy)
	if len(e.Props) > 0 {
		x.props = codec.AppendProps(nil, e.Props)
	}
	var v []byte
	if e.Kind == verso.KindKey {
		v = e.Value
	}
	c.put([]byte(p), v, &x)
	c.maybeCompact()
}

// Delete removes p.
func (c *Cache) Delete(p verso.Path) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.slots == nil {
		return
	}
	i, ok := c.find(string(p), c.hash(string(p)))
	if !ok {
		return
	}
	c.live -= c.sizeAt(c.slots[i])
	c.n--
	// Backward-shift deletion: move up the slots after i that would not
	// be found with i empty.
	for j := i; ; {
		if j++; j == len(c.slots) {
			j = 0
		}
		s := c.slots[j]
		if s == 0 {
			break
		}
		k := c.home(maphash.Bytes(c.seed, recPath(c.record(s&locMask-1))))
		// s stays if its home k lies cyclically in (i, j].
		if (i < j && i < k && k <= j) || (j < i && (i < k || k <= j)) {
			continue
		}
		c.slots[i] = s
		i = j
	}
	c.slots[i] = 0
	c.maybeCompact()
}

// maybeCompact copies the live records into new chunks once more than
// half of the bytes are dead (and there are more than a few MiB of them).
func (c *Cache) maybeCompact() {
	dead := c.bytes - c.live
	if dead <= c.live || dead < 4*chunkSize {
		return
	}
	old := c.chunks
	c.chunks, c.used, c.bytes, c.live = nil, 0, 0, 0
	// The table stays as it is: only where the records are changes.
	for i, s := range c.slots {
		if s == 0 {
			continue
		}
		loc := s&locMask - 1
		r := old[loc>>chunkBits][loc&(chunkSize-1):]
		n := (recordSize(int(binary.LittleEndian.Uint16(r[hPathLen:])), int(binary.LittleEndian.Uint32(r[hValueLen:])), r) + 7) &^ 7
		nr, nloc := c.alloc(n)
		copy(nr, r[:n])
		c.live += n
		c.slots[i] = s>>48<<48 | (nloc + 1)
	}
}

// Range calls fn for every entry, in no order, until fn returns false. fn
// must not change the cache.
func (c *Cache) Range(fn func(p verso.Path, e *verso.Entry) bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, s := range c.slots {
		if s == 0 {
			continue
		}
		r := c.record(s&locMask - 1)
		pb := recPath(r)
		p := verso.Path(unsafe.String(unsafe.SliceData(pb), len(pb)))
		e := new(verso.Entry)
		c.fill(e, p, r)
		if !fn(p, e) {
			return
		}
	}
}

// LoadStored adds the entries forEach gives to add, each a path and its
// entry in package codec's stored encoding, decoding each straight into
// its record: nothing is allocated per entry. The cache is locked
// throughout.
func (c *Cache) LoadStored(forEach func(add func(p, stored []byte) error) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var x encoder
	return forEach(func(p, v []byte) error {
		value, err := c.decodeStored(&x, v)
		if err != nil {
			return fmt.Errorf("entry %s: %w", p, err)
		}
		c.put(p, value, &x)
		return nil
	})
}

// decodeStored reads a stored entry into x without copying it (codec's
// views of v: header copies the strings before v goes), and returns its
// value.
func (c *Cache) decodeStored(x *encoder, v []byte) ([]byte, error) {
	r, err := codec.DecodeRaw(v)
	if err != nil {
		return nil, err
	}
	c.header(x, r.Kind, r.CreateRev, r.ModRev, r.TreeRev, r.Version, r.Sec, int(r.Nsec), view(r.ContentType), view(r.ModBy))
	x.props = r.Props
	return r.Value, nil
}

// view is b as a string without copying it: only while b is unchanged.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
