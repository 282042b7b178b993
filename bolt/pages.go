package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"slices"
)

// guard runs fn and turns a panic (bbolt panics on many kinds of damaged
// page) or a memory fault (bbolt reads the file through a memory map: a
// page beyond the end of a file cut short faults) into an error wrapping
// errCorrupt, instead of the end of the process. A fault is recoverable
// only on the goroutine that set debug.SetPanicOnFault, so fn must do its
// reading on the calling goroutine.
func guard(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if p := recover(); p != nil {
			err = fmt.Errorf("damaged data file: %v: %w", p, errCorrupt)
		}
	}()
	return fn()
}

// bbolt's on-disk layout, in the machine's byte order: every page starts
// with a 16-byte header (id u64, flags u16, count u16, overflow u32); a
// meta page holds, after it, magic, version, page size, flags (u32 each),
// the root bucket (root page, sequence), the freelist page, the
// high-water page, the txid and a checksum (u64 each).
const (
	pageHeader     = 16
	branchPageFlag = 0x01
	leafPageFlag   = 0x02
	freelistFlag   = 0x10
	bucketLeafFlag = 0x01
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	noFreelist     = ^uint64(0)
	maxPageSize    = 1 << 16
	maxTreeDepth   = 64
)

// fileMeta is the part of a bbolt meta page that says where the data is.
type fileMeta struct {
	pageSize int
	root     uint64 // the root bucket's page
	freelist uint64 // noFreelist when none was written
	pgid     uint64 // the high-water mark: pages in use
	txid     uint64
}

// parseMeta decodes and validates the meta page at the start of b.
func parseMeta(b []byte) (fileMeta, error) {
	if len(b) < pageHeader+64 {
		return fileMeta{}, errors.New("short")
	}
	ne := binary.NativeEndian
	m := b[pageHeader:]
	if ne.Uint32(m) != boltMagic {
		return fileMeta{}, errors.New("not a bbolt meta page (magic)")
	}
	if v := ne.Uint32(m[4:]); v != boltVersion {
		return fileMeta{}, fmt.Errorf("version %d, want %d", v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if ne.Uint64(m[56:]) != h.Sum64() {
		return fileMeta{}, errors.New("checksum mismatch")
	}
	fm := fileMeta{
		pageSize: int(ne.Uint32(m[8:])),
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		pgid:     ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
	}
	if fm.pageSize < 512 || fm.pageSize > maxPageSize || fm.pageSize&(fm.pageSize-1) != 0 {
		return fileMeta{}, fmt.Errorf("page size %d", fm.pageSize)
	}
	return fm, nil
}

// readFileMeta returns the meta page bbolt would use (the valid one with
// the higher txid), read with f's ReadAt (no memory map), and checks that
// the file holds every page below its high-water mark and that the root
// and freelist pages are below it.
func readFileMeta(f io.ReaderAt, size int64) (fileMeta, error) {
	first := make([]byte, pageHeader+64)
	var m0, m1 fileMeta
	var err0, err1 error
	if _, err := f.ReadAt(first, 0); err != nil {
		err0 = err
	} else {
		m0, err0 = parseMeta(first)
	}
	// The second meta page is one page further: try the first's page
	// size, then the usual ones.
	sizes := []int{os.Getpagesize(), 4096, 8192, 16384, 32768, 65536}
	if err0 == nil {
		sizes = []int{m0.pageSize}
	}
	err1 = errors.New("not found")
	for _, ps := range sizes {
		if _, err := f.ReadAt(first, int64(ps)); err != nil {
			continue
		}
		if m, err := parseMeta(first); err == nil && m.pageSize == ps {
			m1, err1 = m, nil
			break
		}
	}
	var m fileMeta
	switch {
	case err0 != nil && err1 != nil:
		return m, fmt.Errorf("both meta pages are damaged (first: %v; second: %v): %w", err0, err1, errCorrupt)
	case err0 != nil:
		m = m1
	case err1 != nil || m0.txid >= m1.txid:
		m = m0
	default:
		m = m1
	}
	ps := uint64(m.pageSize)
	if m.pgid < 4 {
		return m, fmt.Errorf("meta page: high-water mark of %d pages: %w", m.pgid, errCorrupt)
	}
	if m.pgid > uint64(size)/ps {
		return m, fmt.Errorf("file is %d bytes, but its meta page says it holds %d pages of %d bytes: it was cut short: %w",
			size, m.pgid, ps, errCorrupt)
	}
	if m.root < 2 || m.root >= m.pgid {
		return m, fmt.Errorf("meta page: root page %d is not below the high-water mark %d: %w", m.root, m.pgid, errCorrupt)
	}
	if m.freelist != noFreelist && (m.freelist < 2 || m.freelist >= m.pgid) {
		return m, fmt.Errorf("meta page: freelist page %d is not below the high-water mark %d: %w", m.freelist, m.pgid, errCorrupt)
	}
	return m, nil
}

// pageWalker checks the structure of every page bbolt can reach from a
// meta page: that each page it points to is below the high-water mark and
// of the right type, and that every element, key and value lies inside its
// page. It reads the file with ReadAt, never through a memory map, so that
// it cannot fault: once it finds no problem, bbolt can read every page
// without reading outside the file, even on a goroutine of its own (as its
// Tx.Check does).
type pageWalker struct {
	f        io.ReaderAt
	m        fileMeta
	seen     map[uint64]bool
	problems []error
}

// checkPages returns the structural problems of the pages of the file f
// of size bytes (none: a nil slice), at most maxProblems of them.
func checkPages(f io.ReaderAt, size int64) []error {
	m, err := readFileMeta(f, size)
	if err != nil {
		return []error{err}
	}
	w := &pageWalker{f: f, m: m, seen: make(map[uint64]bool)}
	w.page(m.root, leafPageFlag|branchPageFlag, 0, "root bucket")
	if m.freelist != noFreelist {
		w.freelist()
	}
	return w.problems
}

func (w *pageWalker) addf(format string, args ...any) {
	if len(w.problems) < maxProblems {
		w.problems = append(w.problems, fmt.Errorf(format, args...))
	}
}

// read returns page id with its overflow pages, or nil after recording a
// problem.
func (w *pageWalker) read(id uint64, what string) []byte {
	if id < 2 || id >= w.m.pgid {
		w.addf("%s: page %d is not below the high-water mark %d", what, id, w.m.pgid)
		return nil
	}
	ps := w.m.pageSize
	b := make([]byte, ps)
	if _, err := w.f.ReadAt(b, int64(id)*int64(ps)); err != nil {
		w.addf("%s: page %d: %v", what, id, err)
		return nil
	}
	if over := uint64(binary.NativeEndian.Uint32(b[12:])); over > 0 {
		if id+over >= w.m.pgid {
			w.addf("%s: page %d and its %d overflow pages pass the high-water mark %d", what, id, over, w.m.pgid)
			return nil
		}
		b = make([]byte, int(over+1)*ps)
		if _, err := w.f.ReadAt(b, int64(id)*int64(ps)); err != nil {
			w.addf("%s: page %d: %v", what, id, err)
			return nil
		}
	}
	return b
}

// page checks the branch or leaf page id, and the pages below it.
func (w *pageWalker) page(id uint64, want uint16, depth int, what string) {
	if w.seen[id] {
		w.addf("%s: page %d is referenced twice", what, id)
		return
	}
	w.seen[id] = true
	if depth > maxTreeDepth {
		w.addf("%s: page %d: tree deeper than %d", what, id, maxTreeDepth)
		return
	}
	b := w.read(id, what)
	if b == nil {
		return
	}
	if got := binary.NativeEndian.Uint64(b); got != id {
		w.addf("%s: page %d: its header says page %d", what, id, got)
	}
	w.elements(b, id, want, depth, what)
}

// elements checks the elements of the branch or leaf page b (a page of
// the file, or a bucket inlined in its parent's value when id is 0).
func (w *pageWalker) elements(b []byte, id uint64, want uint16, depth int, what string) {
	ne := binary.NativeEndian
	flags, count := ne.Uint16(b[8:]), int(ne.Uint16(b[10:]))
	if flags&want == 0 || (flags != branchPageFlag && flags != leafPageFlag) {
		w.addf("%s: page %d: type %#x is not a branch or leaf page", what, id, flags)
		return
	}
	if pageHeader+16*count > len(b) {
		w.addf("%s: page %d: %d elements do not fit in it", what, id, count)
		return
	}
	for i := range count {
		e := pageHeader + 16*i
		if flags == branchPageFlag {
			pos, ksize := int(ne.Uint32(b[e:])), int(ne.Uint32(b[e+4:]))
			if e+pos+ksize > len(b) || e+pos+ksize < e {
				w.addf("%s: page %d: element %d lies outside the page", what, id, i)
				return
			}
			w.page(ne.Uint64(b[e+8:]), leafPageFlag|branchPageFlag, depth+1, what)
			continue
		}
		eflags, pos := ne.Uint32(b[e:]), int(ne.Uint32(b[e+4:]))
		ksize, vsize := int(ne.Uint32(b[e+8:])), int(ne.Uint32(b[e+12:]))
		end := e + pos + ksize + vsize
		if end > len(b) || end < e {
			w.addf("%s: page %d: element %d lies outside the page", what, id, i)
			return
		}
		if eflags&bucketLeafFlag == 0 {
			continue
		}
		name := fmt.Sprintf("bucket %q", b[e+pos:e+pos+ksize])
		v := b[e+pos+ksize : end]
		if len(v) < 16 {
			w.addf("%s: page %d: %s: header of %d bytes", what, id, name, len(v))
			continue
		}
		if root := ne.Uint64(v); root != 0 {
			w.page(root, leafPageFlag|branchPageFlag, depth+1, name)
		} else if len(v) < 16+pageHeader {
			w.addf("%s: page %d: inline %s of %d bytes", what, id, name, len(v))
		} else {
			w.elements(v[16:], 0, leafPageFlag, depth+1, name)
		}
	}
}

// freelist checks that the freelist page holds the ids it counts.
func (w *pageWalker) freelist() {
	b := w.read(w.m.freelist, "freelist")
	if b == nil {
		return
	}
	ne := binary.NativeEndian
	if flags := ne.Uint16(b[8:]); flags != freelistFlag {
		w.addf("freelist: page %d: type %#x is not a freelist page", w.m.freelist, flags)
		return
	}
	n, start := uint64(ne.Uint16(b[10:])), uint64(pageHeader)
	if n == 0xFFFF {
		n, start = ne.Uint64(b[pageHeader:]), pageHeader+8
	}
	if n > uint64(len(b)) || start+8*n > uint64(len(b)) {
		w.addf("freelist: page %d: %d ids do not fit in it", w.m.freelist, n)
	}
}

// checkOpenFile checks, before bbolt reads the data file f, what Open
// relies on: a valid meta page, a file that holds every page below its
// high-water mark, root and freelist pages below it, a freelist page
// that holds the ids it counts. Where the meta page
// records no freelist, bbolt rebuilds it by walking every page on a
// goroutine of its own, where damage would end the process: then every
// page's structure is checked first. A new (empty) file passes.
func checkOpenFile(f *os.File) error {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return err
	}
	m, err := readFileMeta(f, fi.Size())
	if err != nil {
		return fmt.Errorf("damaged data file: %w", err)
	}
	var problems []error
	if m.freelist == noFreelist {
		problems = checkPages(f, fi.Size())
	} else {
		// bbolt reads the ids the freelist page counts.
		w := &pageWalker{f: f, m: m}
		w.freelist()
		problems = w.problems
	}
	if len(problems) == 0 {
		problems = checkBranches(f, m, bucketMeta, bucketTree)
	}
	if len(problems) > 0 {
		return fmt.Errorf("damaged data file: %w", errors.Join(append(problems, errCorrupt)...))
	}
	return nil
}

// checkBranches checks the branch pages of the named buckets' trees (the
// buckets Open reads whole) level by level, as walkTree reads them: every
// child below the high-water mark, and no page reached twice, so that a
// cursor cannot descend forever. It reads only branch pages (and the
// first page of each level, to see whether it is one), not the leaves.
func checkBranches(f io.ReaderAt, m fileMeta, names ...[]byte) []error {
	w := &pageWalker{f: f, m: m}
	root := w.read(m.root, "root bucket")
	if root == nil || binary.NativeEndian.Uint16(root[8:]) != leafPageFlag {
		return w.problems // five buckets fit in one leaf: a branch root is left to bbolt
	}
	ne := binary.NativeEndian
	for i := range int(ne.Uint16(root[10:])) {
		e := pageHeader + 16*i
		if e+16 > len(root) {
			break
		}
		flags, pos := ne.Uint32(root[e:]), int(ne.Uint32(root[e+4:]))
		ksize, vsize := int(ne.Uint32(root[e+8:])), int(ne.Uint32(root[e+12:]))
		if flags&bucketLeafFlag == 0 || e+pos+ksize+vsize > len(root) || vsize < 16 {
			continue
		}
		name := root[e+pos : e+pos+ksize]
		if !slices.ContainsFunc(names, func(n []byte) bool { return bytes.Equal(n, name) }) {
			continue
		}
		if id := ne.Uint64(root[e+pos+ksize:]); id != 0 {
			w.branches(id, fmt.Sprintf("bucket %q", name))
		}
	}
	return w.problems
}

// branches checks the branch pages of the tree whose root page is root.
func (w *pageWalker) branches(root uint64, what string) {
	ne := binary.NativeEndian
	seen := map[uint64]bool{root: true}
	level := []uint64{root}
	for depth := 0; len(level) > 0; depth++ {
		if depth > maxTreeDepth {
			w.addf("%s: tree deeper than %d", what, maxTreeDepth)
			return
		}
		var next []uint64
		for i, id := range level {
			b := w.read(id, what)
			if b == nil {
				return
			}
			flags := ne.Uint16(b[8:])
			if flags != branchPageFlag {
				if i == 0 && flags == leafPageFlag {
					return // the leaves
				}
				w.addf("%s: page %d: type %#x where the level holds branch pages", what, id, flags)
				return
			}
			count := int(ne.Uint16(b[10:]))
			if pageHeader+16*count > len(b) {
				w.addf("%s: page %d: %d elements do not fit in it", what, id, count)
				return
			}
			for j := range count {
				child := ne.Uint64(b[pageHeader+16*j+8:])
				if child < 2 || child >= w.m.pgid {
					w.addf("%s: page %d: child page %d is not below the high-water mark %d", what, id, child, w.m.pgid)
					return
				}
				if seen[child] {
					w.addf("%s: page %d: child page %d is referenced twice", what, id, child)
					return
				}
				seen[child] = true
				next = append(next, child)
			}
		}
		level = next
	}
}
