package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync"
)

// bbolt's on-disk layout: this file is the only one of the package that
// knows it. Read-ahead at open (prefetch.go), the page checker (pages.go)
// and the write-ahead log's copy of the meta pages (wal.go) all read the
// file through the functions below.
//
// Every page starts with a 16-byte header (id u64, flags u16, count u16,
// overflow u32), in the machine's byte order (bbolt writes its structs as
// they are in memory). A meta page holds, after it, magic, version, page
// size, flags (u32 each), the root bucket (root page, sequence), the
// freelist page, the high-water page, the txid and a checksum (u64 each).
// A branch page holds count elements of 16 bytes (pos u32, key size u32,
// child page u64), a leaf page count elements of 16 bytes (flags u32, pos,
// key size, value size u32), each key pos bytes after its element and the
// value after the key. A bucket's value starts with its header (root page,
// sequence u64 each), followed, when the root is 0, by the bucket's only
// page inline. A freelist page holds count page ids (u64), or, when count
// is 0xFFFF, the count in its first u64 and the ids after it. Pages 0 and 1
// are the two meta pages.

// layoutVersions are the versions of bbolt (the module go.etcd.io/bbolt)
// whose source this file was checked against. A build with a version of
// bbolt not listed here turns off what reads the layout (see
// "bbolt's file layout" in doc.go). TestLayoutVersions fails when go.mod
// names a version not listed: review bbolt's internal/common (page.go,
// meta.go, bucket.go, inode.go) and freelist code before adding it.
var layoutVersions = []string{"v1.5.0"}

// goModBbolt is the version of bbolt go.mod requires (TestLayoutVersions
// keeps them equal): the version of a build without build information,
// as test binaries are.
const goModBbolt = "v1.5.0"

const bboltModule = "go.etcd.io/bbolt"

const (
	pageHeader     = 16 // the page header's size
	elementSize    = 16 // a branch or leaf element's size
	bucketHeader   = 16 // a bucket value's header: root page, sequence
	metaSize       = 64 // the meta fields after the page header
	branchPageFlag = 0x01
	leafPageFlag   = 0x02
	freelistFlag   = 0x10
	bucketLeafFlag = 0x01
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	noFreelist     = ^uint64(0)
	maxPageSize    = 1 << 16
	maxTreeDepth   = 64
	freelistLarge  = 0xFFFF // a freelist's count that says the count follows
)

var ne = binary.NativeEndian

// layout says whether this build of verso may read bbolt's file layout.
type layout struct {
	bbolt string // the bbolt version this binary was built with ("" unknown)
	known bool   // bbolt is one of layoutVersions
}

// buildBbolt is the version of bbolt in this binary's build information,
// "" where it has none (or bbolt is replaced by a directory).
var buildBbolt = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path != bboltModule {
			continue
		}
		if d.Replace != nil {
			return d.Replace.Version
		}
		return d.Version
	}
	return ""
})

// testBboltVersion, when set (by tests), stands for the bbolt version of
// the build.
var testBboltVersion string

// currentLayout returns the layout of this build: known only when its
// bbolt version is one of layoutVersions. A binary's build information
// names the bbolt it was linked with, which a module that imports verso
// may have raised above go.mod's; without it (test binaries, which record
// no dependencies), the version is go.mod's.
func currentLayout() layout {
	v := buildBbolt()
	if bi, ok := debug.ReadBuildInfo(); !ok || len(bi.Deps) == 0 {
		v = goModBbolt
	}
	if testBboltVersion != "" {
		v = testBboltVersion
	}
	for _, k := range layoutVersions {
		if v == k {
			return layout{bbolt: v, known: true}
		}
	}
	return layout{bbolt: v}
}

// String names the bbolt version for messages.
func (l layout) String() string {
	v := l.bbolt
	if v == "" {
		v = "of unknown version"
	}
	return fmt.Sprintf("bbolt %s (verso reads the file layout of bbolt %v)", v, layoutVersions)
}

// pageOffset is the byte offset of page id in a file of pageSize pages.
func pageOffset(id uint64, pageSize int) int64 { return int64(id) * int64(pageSize) }

// pageCount is the number of whole pages in size bytes.
func pageCount(size int64, pageSize int) uint64 { return uint64(size) / uint64(pageSize) }

// firstDataPage is the lowest page id that is not a meta page.
const firstDataPage = 2

// page is a page header.
type page struct {
	id       uint64
	flags    uint16
	count    uint16
	overflow uint32
}

// readHeader decodes the header at the start of b, which holds at least
// pageHeader bytes.
func readHeader(b []byte) page {
	return page{id: ne.Uint64(b), flags: ne.Uint16(b[8:]), count: ne.Uint16(b[10:]), overflow: ne.Uint32(b[12:])}
}

// pageLen is the length of the page with header h, its overflow pages
// included.
func (h page) pageLen(pageSize int) int { return (int(h.overflow) + 1) * pageSize }

// elementsFit says whether the count elements of page b fit in it.
func elementsFit(b []byte, count int) bool { return pageHeader+elementSize*count <= len(b) }

// branchElem returns element i of the branch page b: its child page and
// its key, and ok false when its key lies outside b. Elements must fit
// (elementsFit).
func branchElem(b []byte, i int) (child uint64, key []byte, ok bool) {
	e := pageHeader + elementSize*i
	pos, ksize := int(ne.Uint32(b[e:])), int(ne.Uint32(b[e+4:]))
	end := e + pos + ksize
	if end > len(b) {
		return 0, nil, false
	}
	return ne.Uint64(b[e+8:]), b[e+pos : end], true
}

// branchChild returns the child page of element i of branch page b, which
// must fit (elementsFit).
func branchChild(b []byte, i int) uint64 { return ne.Uint64(b[pageHeader+elementSize*i+8:]) }

// leafElem returns element i of the leaf page b: its flags, key and value,
// and ok false when they lie outside b. Elements must fit (elementsFit).
func leafElem(b []byte, i int) (flags uint32, key, value []byte, ok bool) {
	e := pageHeader + elementSize*i
	flags, pos := ne.Uint32(b[e:]), int(ne.Uint32(b[e+4:]))
	ksize, vsize := int(ne.Uint32(b[e+8:])), int(ne.Uint32(b[e+12:]))
	k := e + pos
	end := k + ksize + vsize
	if k < e || end > len(b) || end < k {
		return flags, nil, nil, false
	}
	return flags, b[k : k+ksize], b[k+ksize : end], true
}

// isBucket says whether leaf element flags mark a bucket.
func isBucket(flags uint32) bool { return flags&bucketLeafFlag != 0 }

// bucketRoot decodes the value of a bucket's leaf element: its root page,
// 0 for a bucket kept inline, whose page inline returns; ok false when v
// is shorter than the bucket header (or, inline, than a page header).
func bucketRoot(v []byte) (root uint64, inline []byte, ok bool) {
	if len(v) < bucketHeader {
		return 0, nil, false
	}
	if root = ne.Uint64(v); root != 0 {
		return root, nil, true
	}
	if len(v) < bucketHeader+pageHeader {
		return 0, nil, false
	}
	return 0, v[bucketHeader:], true
}

// freelistFits says whether the freelist page b holds the ids it counts,
// and returns their number.
func freelistFits(b []byte) (n uint64, ok bool) {
	n, start := uint64(ne.Uint16(b[10:])), uint64(pageHeader)
	if n == freelistLarge {
		if len(b) < pageHeader+8 {
			return n, false
		}
		n, start = ne.Uint64(b[pageHeader:]), pageHeader+8
	}
	return n, n <= uint64(len(b)) && start+8*n <= uint64(len(b))
}

// fileMeta is the part of a bbolt meta page that says where the data is.
type fileMeta struct {
	pageSize int
	root     uint64 // the root bucket's page
	freelist uint64 // noFreelist when none was written
	pgid     uint64 // the high-water mark: pages in use
	txid     uint64
}

// metaBytes is how much of the file's start holds a meta page.
const metaBytes = pageHeader + metaSize

// rawMeta decodes the meta page at the start of b (at least metaBytes)
// without checking it.
func rawMeta(b []byte) fileMeta {
	m := b[pageHeader:]
	return fileMeta{
		pageSize: int(ne.Uint32(m[8:])),
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		pgid:     ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
	}
}

// errLayout says a meta page has bbolt's magic but a format version other
// than the one verso reads.
var errLayout = errors.New("not the bbolt file format verso reads")

// parseMeta decodes and validates the meta page at the start of b: bbolt's
// magic and format version, its checksum and page size.
func parseMeta(b []byte) (fileMeta, error) {
	if len(b) < metaBytes {
		return fileMeta{}, errors.New("short")
	}
	m := b[pageHeader:]
	if ne.Uint32(m) != boltMagic {
		return fileMeta{}, errors.New("not a bbolt meta page (magic)")
	}
	if v := ne.Uint32(m[4:]); v != boltVersion {
		return fileMeta{}, fmt.Errorf("format version %d, want %d: %w", v, boltVersion, errLayout)
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if ne.Uint64(m[56:]) != h.Sum64() {
		return fileMeta{}, errors.New("checksum mismatch")
	}
	fm := rawMeta(b)
	if fm.pageSize < 512 || fm.pageSize > maxPageSize || fm.pageSize&(fm.pageSize-1) != 0 {
		return fileMeta{}, fmt.Errorf("page size %d", fm.pageSize)
	}
	return fm, nil
}

// newerMeta returns, of the two meta pages in metas (the file's first two
// pages, of pageSize each), the one with the higher txid, unchecked.
func newerMeta(metas []byte, pageSize int) fileMeta {
	m0, m1 := rawMeta(metas), rawMeta(metas[pageSize:])
	if m1.txid > m0.txid {
		return m1
	}
	return m0
}

// readFileMeta returns the meta page bbolt would use (the valid one with
// the higher txid), read with f's ReadAt (no memory map), and checks that
// the file holds every page below its high-water mark and that the root
// and freelist pages are below it.
func readFileMeta(f io.ReaderAt, size int64) (fileMeta, error) {
	first := make([]byte, metaBytes)
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
		if _, err := f.ReadAt(first, pageOffset(1, ps)); err != nil {
			continue
		}
		if m, err := parseMeta(first); err == nil && m.pageSize == ps {
			m1, err1 = m, nil
			break
		}
	}
	var m fileMeta
	switch {
	case errors.Is(err0, errLayout) && err1 != nil:
		// bbolt's magic, another format: not damage.
		return m, fmt.Errorf("meta page of bbolt's %w (bbolt %s)", err0, strings.Join(layoutVersions, ", "))
	case err0 != nil && err1 != nil:
		return m, fmt.Errorf("both meta pages are damaged (first: %v; second: %v): %w", err0, err1, errCorrupt)
	case err0 != nil:
		m = m1
	case err1 != nil || m0.txid >= m1.txid:
		m = m0
	default:
		m = m1
	}
	if m.pgid < 4 {
		return m, fmt.Errorf("meta page: high-water mark of %d pages: %w", m.pgid, errCorrupt)
	}
	if m.pgid > pageCount(size, m.pageSize) {
		return m, fmt.Errorf("file is %d bytes, but its meta page says it holds %d pages of %d bytes: it was cut short: %w",
			size, m.pgid, m.pageSize, errCorrupt)
	}
	if m.root < firstDataPage || m.root >= m.pgid {
		return m, fmt.Errorf("meta page: root page %d is not below the high-water mark %d: %w", m.root, m.pgid, errCorrupt)
	}
	if m.freelist != noFreelist && (m.freelist < firstDataPage || m.freelist >= m.pgid) {
		return m, fmt.Errorf("meta page: freelist page %d is not below the high-water mark %d: %w", m.freelist, m.pgid, errCorrupt)
	}
	return m, nil
}

// metaPagesLen is the size of the two meta pages.
func metaPagesLen(pageSize int) int { return 2 * pageSize }

// readMetaPages returns the first two pages of the data file f: bbolt's
// two meta pages.
func readMetaPages(f io.ReaderAt, pageSize int) ([]byte, error) {
	b := make([]byte, metaPagesLen(pageSize))
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read meta pages: %w", err)
	}
	return b, nil
}

// readPage reads page id of f (pageSize bytes, no overflow).
func readPage(f io.ReaderAt, id uint64, pageSize int) ([]byte, error) {
	b := make([]byte, pageSize)
	_, err := f.ReadAt(b, pageOffset(id, pageSize))
	return b, err
}

// readWholePage reads page id of f with its overflow pages; it returns the
// first page alone, with ok false, when they pass the page limit.
func readWholePage(f io.ReaderAt, id uint64, pageSize int, limit uint64) (b []byte, ok bool, err error) {
	b, err = readPage(f, id, pageSize)
	if err != nil {
		return nil, false, err
	}
	over := uint64(readHeader(b).overflow)
	if over == 0 {
		return b, true, nil
	}
	if id+over >= limit {
		return b, false, nil
	}
	b = make([]byte, readHeader(b).pageLen(pageSize))
	_, err = f.ReadAt(b, pageOffset(id, pageSize))
	return b, err == nil, err
}

// bucketRoots returns the root pages of the buckets a leaf page of bbolt's
// root bucket names (none for a bucket kept inline, nor for a root bucket
// grown into a branch page, which verso's handful of buckets never makes).
func bucketRoots(p []byte) []uint64 {
	if len(p) < pageHeader || readHeader(p).flags != leafPageFlag {
		return nil
	}
	count := int(readHeader(p).count)
	var ids []uint64
	for i := range count {
		if !elementsFit(p, i+1) {
			return ids
		}
		flags, _, v, ok := leafElem(p, i)
		if !ok || !isBucket(flags) {
			continue
		}
		if id, _, ok := bucketRoot(v); ok && id != 0 {
			ids = append(ids, id)
		}
	}
	return ids
}
