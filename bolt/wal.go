package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/verso-config/verso"
	bbolt "go.etcd.io/bbolt"
)

// The write-ahead log (see "Durability" in doc.go). It is one file beside
// the data file, path+".wal":
//
//	header:  "VERSOWAL" | version u32 | page size u32 | checkpoint revision u64 |
//	         data file inode u64 | pages CRC-32C u32 | length of metas u32 |
//	         metas | CRC-32C u32
//	records: length u32 | CRC-32C u32 of the payload | payload
//	payload: first revision u64 | last revision u64 | writes
//	write:   kind byte (1 put, 2 delete) | bucket byte | uvarint key length |
//	         key | (put) uvarint value length | value
//
// metas are the first two pages of the data file (bbolt's two meta pages)
// as they were on disk at the checkpoint, and the pages CRC is that of the
// checkpoint's root page, freelist page and the root page of each of its
// buckets (the first page of each; version 2 logs: the root and freelist
// pages only), which no later commit may overwrite: Open compares it
// before it writes the metas back, so that a log never meets a data file
// not its own, even one copied over in place. (The root and freelist pages
// alone can be the same in two small stores of like histories; their
// buckets' pages hold their keys.) Integers are big-endian. The
// file is kept zero-filled beyond its last record, so that appending
// rewrites allocated blocks instead of growing the file; a record of
// length 0 followed by zeros only ends the log. A record that is short or
// fails its CRC ends it too when nothing readable follows (a torn tail,
// dropped); when a readable record follows, the log is damaged and Open
// refuses it (readLog).

const (
	walMagic   = "VERSOWAL"
	walVersion = 3
	// walOldest is the oldest version Open still reads: version 2 differs
	// only in what its pages CRC covers.
	walOldest = 2

	// walFirstSize is how much of a new log is zero-filled, and walGrow
	// how much more at a time once records reach the end.
	walFirstSize = 256 << 10
	walGrow      = 4 << 20

	// walCheckpointSize is the size of the records past which the
	// committer checkpoints, walIdle how long it waits without commits
	// before checkpointing a log that holds records, and walMaxAge how
	// long a log may gather records before a checkpoint under steady load.
	walCheckpointSize = 64 << 20
)

const (
	walPut    = 1
	walDelete = 2
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// walPath is the path of the log of the data file at path.
func walPath(path string) string { return path + ".wal" }

// LogPath returns the path of the write-ahead log of the data file at path
// (see "Durability" in the package documentation). It exists only while a
// store has the file open, or after a crash; it belongs with its data file,
// which must not be replaced or copied without it.
func LogPath(path string) string { return walPath(path) }

// walHeader is what a log says about the checkpoint it starts from.
type walHeader struct {
	version  uint32 // walVersion, or the older version a log was read in
	pageSize int
	head     verso.Revision // the head revision at the checkpoint
	inode    uint64         // the data file's inode, 0 where unknown
	pagesCRC uint32         // of the checkpoint's root, freelist and bucket root pages (checkpointPages)
	metas    []byte         // the data file's first two pages at the checkpoint
}

func (h *walHeader) encode() []byte {
	b := make([]byte, 0, 40+len(h.metas))
	b = append(b, walMagic...)
	b = binary.BigEndian.AppendUint32(b, walVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(h.pageSize))
	b = binary.BigEndian.AppendUint64(b, uint64(h.head))
	b = binary.BigEndian.AppendUint64(b, h.inode)
	b = binary.BigEndian.AppendUint32(b, h.pagesCRC)
	b = binary.BigEndian.AppendUint32(b, uint32(len(h.metas)))
	b = append(b, h.metas...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc32c))
}

// decodeWALHeader decodes the header at the start of b and returns it with
// its length.
func decodeWALHeader(b []byte) (*walHeader, int, error) {
	const fixed = 8 + 4 + 4 + 8 + 8 + 4 + 4
	if len(b) < fixed+4 || string(b[:8]) != walMagic {
		return nil, 0, fmt.Errorf("log header: not a verso log: %w", errCorrupt)
	}
	v := binary.BigEndian.Uint32(b[8:])
	if v < walOldest || v > walVersion {
		return nil, 0, fmt.Errorf("log header: version %d is not %d to %d: %w", v, walOldest, walVersion, errCorrupt)
	}
	h := &walHeader{
		version:  v,
		pageSize: int(binary.BigEndian.Uint32(b[12:])),
		head:     verso.Revision(binary.BigEndian.Uint64(b[16:])),
		inode:    binary.BigEndian.Uint64(b[24:]),
		pagesCRC: binary.BigEndian.Uint32(b[32:]),
	}
	n := int(binary.BigEndian.Uint32(b[36:]))
	if n != metaPagesLen(h.pageSize) || len(b) < fixed+n+4 {
		return nil, 0, fmt.Errorf("log header: meta pages of %d bytes: %w", n, errCorrupt)
	}
	end := fixed + n
	if crc32.Checksum(b[:end], crc32c) != binary.BigEndian.Uint32(b[end:]) {
		return nil, 0, fmt.Errorf("log header: checksum mismatch: %w", errCorrupt)
	}
	h.metas = b[fixed:end]
	return h, end + 4, nil
}

// walRecord is one group commit in the log: revisions first..last and the
// writes that made them.
type walRecord struct {
	first, last verso.Revision
	writes      []byte
}

// readWAL reads the log at path: its header and its records, up to the
// first record that is missing, short or fails its CRC. Such a record with
// nothing readable after it is a torn tail (a write a crash interrupted,
// so none of its revisions was acknowledged), which it drops; one followed
// by readable records is damage in the middle of the log, a *LogError.
func readWAL(path string) (*walHeader, []walRecord, error) {
	l, err := readLog(path)
	if err != nil {
		return nil, nil, err
	}
	return l.hdr, l.recs, nil
}

// walLog is what readLog finds in a log.
type walLog struct {
	hdr  *walHeader
	recs []walRecord
	// torn is the offset of a damaged last record that was dropped, and
	// tornLen its length up to the last nonzero byte of the file (both 0
	// when the log ends cleanly).
	torn    int64
	tornLen int
}

// readLog reads the log at path (see readWAL).
func readLog(path string) (*walLog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h, off, err := decodeWALHeader(b)
	if err != nil {
		return nil, err
	}
	l := &walLog{hdr: h}
	recs, off := parseRecords(b, off)
	l.recs = recs
	// The file is zero-filled beyond its last record: a clean end is
	// zeros only.
	end := len(b)
	for end > off && b[end-1] == 0 {
		end--
	}
	if end <= off {
		return l, nil
	}
	last := h.head
	if len(recs) > 0 {
		last = recs[len(recs)-1].last
	}
	// Something other than zeros follows the last good record. Look for
	// a readable record further on: a record length, a CRC that matches,
	// and revisions after the last good ones.
	for p := off + 1; p+8+16 <= end; p++ {
		if !plausibleRecord(b, p, last) {
			continue
		}
		more, _ := parseRecords(b[:end], p)
		lost := more[len(more)-1].last
		// Damaged records may follow again: the last readable one
		// bounds the revisions lost.
		for q := p + 1; q+8+16 <= end; q++ {
			if plausibleRecord(b, q, lost) {
				r, _ := parseRecords(b[:end], q)
				lost = r[len(r)-1].last
			}
		}
		return nil, &LogError{Path: path, Offset: int64(off), First: last + 1, Last: lost, Checkpoint: h.head}
	}
	l.torn, l.tornLen = int64(off), end-off
	return l, nil
}

// parseRecords returns the records of b from off on, up to the first that
// is missing, short or fails its CRC, and the offset where it stopped.
func parseRecords(b []byte, off int) ([]walRecord, int) {
	var recs []walRecord
	for off+8 <= len(b) {
		n := int(binary.BigEndian.Uint32(b[off:]))
		sum := binary.BigEndian.Uint32(b[off+4:])
		if n < 16 || off+8+n > len(b) {
			break
		}
		payload := b[off+8 : off+8+n]
		if crc32.Checksum(payload, crc32c) != sum {
			break
		}
		recs = append(recs, walRecord{
			first:  verso.Revision(binary.BigEndian.Uint64(payload)),
			last:   verso.Revision(binary.BigEndian.Uint64(payload[8:])),
			writes: payload[16:],
		})
		off += 8 + n
	}
	return recs, off
}

// plausibleRecord says whether a whole record for revisions after after
// starts at offset p of b. The revisions are tested before the CRC, which
// keeps a scan of a long log cheap.
func plausibleRecord(b []byte, p int, after verso.Revision) bool {
	n := int(binary.BigEndian.Uint32(b[p:]))
	if n < 16 || p+8+n > len(b) {
		return false
	}
	first := verso.Revision(binary.BigEndian.Uint64(b[p+8:]))
	last := verso.Revision(binary.BigEndian.Uint64(b[p+16:]))
	if first <= after || last < first || first-after > 1<<40 {
		return false
	}
	return crc32.Checksum(b[p+8:p+8+n], crc32c) == binary.BigEndian.Uint32(b[p+4:])
}

// LogError is a log damaged in its middle: the record at Offset cannot be
// read, yet readable records follow it, so revisions First..Last, which
// were acknowledged, cannot all be recovered. Open refuses such a log
// rather than drop them silently (see "A damaged log" in
// docs/OPERATIONS.md).
type LogError struct {
	Path        string         // the log
	Offset      int64          // the byte offset of the damaged record
	First, Last verso.Revision // the revisions that would be lost
	Checkpoint  verso.Revision // the data file's revision without the log
}

func (e *LogError) Error() string {
	return fmt.Sprintf("log %s is damaged: the record at byte %d cannot be read, and records up to r%d follow it, "+
		"so acknowledged revisions r%d-r%d cannot be recovered. Restore the data directory from a backup; "+
		"or, to open the store without r%d-r%d and accept their loss, cut the log at the damaged record "+
		"(truncate -s %d %s) and start verso again",
		e.Path, e.Offset, e.Last, e.First, e.Last, e.First, e.Last, e.Offset, e.Path)
}

func (e *LogError) Unwrap() error { return errCorrupt }

// CheckLog reads the write-ahead log of the data file at path, if there is
// one, without changing it: it returns a *LogError for a log damaged in
// its middle, another error for a log it cannot read, and nil for a log
// that Open can recover (whose last record may be torn by a crash) or no
// log at all.
func CheckLog(path string) error {
	_, err := readLog(walPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var le *LogError
	if err != nil && !errors.As(err, &le) {
		err = fmt.Errorf("log %s: %w", walPath(path), err)
	}
	return err
}

// wal is the open log the committer appends to.
type wal struct {
	path string
	f    *os.File
	off  int64 // where the next record goes
	size int64 // the file's size (zeros from off on)
	recs int   // records appended since the checkpoint
	// broken is set when a sync failed: the log takes no more records
	// (see append), and the next commit starts a new one first.
	broken bool
	// noSync skips the fsync of appends; tests that build large
	// fixtures set it.
	noSync bool
	// buf is the last record's buffer, for the next (up to maxLogBuf).
	buf []byte
}

// createWAL starts a new log with header h, in place of the old one: it
// writes the new log beside it, syncs it, renames it over the old one and
// syncs the directory, so that at every moment the file at path is a
// complete log. afterRename, if set (by tests), runs right after the
// rename, and its error counts as one of syncing the directory.
//
// An error that wraps errLogUnsure comes after the rename: either log may
// be the one a crash leaves, so the caller must append to neither (the
// old file may be gone from the directory) and keep both checkpoints'
// pages intact, which only stopping all writing does.
func createWAL(path string, h *walHeader, afterRename func() error) (*wal, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	// Before the rename the old log is intact: a failure (a full disk)
	// removes the new one, which would hold the disk's last blocks.
	drop := func(err error) (*wal, error) {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	head := h.encode()
	size := max(int64(walFirstSize), int64(len(head)))
	buf := make([]byte, size)
	copy(buf, head)
	if _, err := f.WriteAt(buf, 0); err != nil {
		return drop(fmt.Errorf("write log: %w", err))
	}
	if err := f.Sync(); err != nil {
		return drop(fmt.Errorf("sync log: %w", err))
	}
	if err := os.Rename(tmp, path); err != nil {
		return drop(fmt.Errorf("install log: %w", err))
	}
	if afterRename != nil {
		err = afterRename()
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("install log: %w: %w", errLogUnsure, err)
	}
	// The same file, under the name errors should give.
	f2, err := os.OpenFile(path, os.O_RDWR, 0)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("open log: %w: %w", errLogUnsure, err)
	}
	return &wal{path: path, f: f2, off: int64(len(head)), size: size}, nil
}

// errLogUnsure says a new log was renamed into place but not made durable
// there: which of the old and the new log survives a crash is unknown.
var errLogUnsure = errors.New("the new log replaced the old one, but not durably")

// append writes one record for revisions first..last and syncs the log.
//
// A write that fails (growing the file or writing the record) leaves the
// log as it was: the record's place is zeroed again as far as it can be,
// nothing of it was synced, and the next record goes to the same place.
// A sync that fails sets broken: whether the record reached the disk is
// unknown, and after a failed fsync the kernel may have dropped the pages
// it could not write while reporting later fsyncs of the same file as
// successful, so the log is appended to no more (see "A full disk" in
// doc.go). The records before were synced: they are durable either way.
func (w *wal) append(first, last verso.Revision, writes []byte) error {
	if w.broken {
		return fmt.Errorf("append to log: an earlier sync failed")
	}
	n := 16 + len(writes)
	rec := w.buf[:0]
	if cap(rec) < 8+n {
		rec = make([]byte, 0, 8+n)
	}
	rec = rec[:8] // the length and the CRC, set below
	rec = binary.BigEndian.AppendUint64(rec, uint64(first))
	rec = binary.BigEndian.AppendUint64(rec, uint64(last))
	rec = append(rec, writes...)
	binary.BigEndian.PutUint32(rec, uint32(n))
	binary.BigEndian.PutUint32(rec[4:], crc32.Checksum(rec[8:], crc32c))
	if end := w.off + int64(len(rec)); end > w.size {
		grow := max(int64(walGrow), end-w.size)
		if _, err := w.f.WriteAt(make([]byte, grow), w.size); err != nil {
			return fmt.Errorf("grow log: %w", err)
		}
		w.size += grow
	}
	if _, err := w.f.WriteAt(rec, w.off); err != nil {
		w.f.WriteAt(make([]byte, len(rec)), w.off) // best effort: blocks already allocated
		return fmt.Errorf("append to log: %w", err)
	}
	if !w.noSync {
		if err := fdatasync(w.f); err != nil {
			w.broken = true
			return fmt.Errorf("sync log: %w", err)
		}
	}
	w.off += int64(len(rec))
	w.recs++
	if cap(rec) <= maxLogBuf {
		w.buf = rec[:0]
	}
	return nil
}

func (w *wal) close() error { return w.f.Close() }

// noSpace says whether err is the file system's "no space left on device"
// or "disk quota exceeded".
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// noSpaceError is what a commit refused for lack of space returns.
func noSpaceError(err error) error {
	return fmt.Errorf("%w (free space on the disk of the data directory; commits resume by themselves): %w", verso.ErrNoSpace, err)
}

// remove deletes the log once the data file holds everything in it.
func (w *wal) remove() error {
	w.f.Close()
	return removeWAL(w.path)
}

// removeWAL removes the log at path, durably.
func removeWAL(path string) error {
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove log: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes the entries of dir (a created, renamed or removed file)
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// writer applies the writes of a group commit to a bbolt write
// transaction and, when log is set, records them for the log.
type writer struct {
	tx      *bbolt.Tx
	buckets [len(walBuckets)]*bbolt.Bucket
	logging bool
	log     []byte
}

// walBuckets numbers the buckets in log records. Never reorder it.
var walBuckets = [...][]byte{bucketMeta, bucketRevs, bucketTree, bucketHist, bucketIndex}

const (
	wbMeta = iota
	wbRevs
	wbTree
	wbHist
	wbIndex
)

func newWriter(tx *bbolt.Tx, logging bool) *writer {
	w := &writer{tx: tx, logging: logging}
	for i, name := range walBuckets {
		w.buckets[i] = tx.Bucket(name)
	}
	return w
}

func (w *writer) put(b int, k, v []byte) error {
	if w.logging {
		w.log = append(w.log, walPut, byte(b))
		w.log = binary.AppendUvarint(w.log, uint64(len(k)))
		w.log = append(w.log, k...)
		w.log = binary.AppendUvarint(w.log, uint64(len(v)))
		w.log = append(w.log, v...)
	}
	return w.buckets[b].Put(k, v)
}

func (w *writer) delete(b int, k []byte) error {
	if w.logging {
		w.log = append(w.log, walDelete, byte(b))
		w.log = binary.AppendUvarint(w.log, uint64(len(k)))
		w.log = append(w.log, k...)
	}
	return w.buckets[b].Delete(k)
}

// redo applies the writes of a log record to tx.
func redo(tx *bbolt.Tx, writes []byte) error {
	w := newWriter(tx, false)
	bad := fmt.Errorf("log record: malformed writes: %w", errCorrupt)
	next := func() ([]byte, bool) {
		n, k := binary.Uvarint(writes)
		if k <= 0 || uint64(len(writes)-k) < n {
			return nil, false
		}
		v := writes[k : k+int(n)]
		writes = writes[k+int(n):]
		return v, true
	}
	for len(writes) > 0 {
		if len(writes) < 2 || int(writes[1]) >= len(walBuckets) {
			return bad
		}
		kind, b := writes[0], int(writes[1])
		writes = writes[2:]
		key, ok := next()
		if !ok {
			return bad
		}
		switch kind {
		case walPut:
			v, ok := next()
			if !ok {
				return bad
			}
			if err := w.put(b, key, v); err != nil {
				return err
			}
		case walDelete:
			if err := w.delete(b, key); err != nil {
				return err
			}
		default:
			return bad
		}
	}
	return nil
}

// restoreMetas writes the meta pages of a checkpoint back into the data
// file f and syncs it, so that bbolt opens the file at the checkpoint
// whatever happened to its meta pages since.
func restoreMetas(f *os.File, h *walHeader) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < int64(len(h.metas)) {
		return fmt.Errorf("data file of %d bytes is shorter than its log's checkpoint: %w", fi.Size(), errCorrupt)
	}
	if h.inode != 0 {
		if ino := fileInode(fi); ino != 0 && ino != h.inode {
			return fmt.Errorf("the log %s belongs to another data file (inode %d, not %d): the data file was replaced while its store was not closed; %w",
				walPath(f.Name()), h.inode, ino, errForeignLog)
		}
	}
	sum, err := checkpointPages(f, h.metas, h.pageSize, h.version)
	if err != nil {
		return err
	}
	if sum != h.pagesCRC {
		return fmt.Errorf("the log %s belongs to another data file (the pages of its checkpoint differ): the data file was replaced while its store was not closed; %w",
			walPath(f.Name()), errForeignLog)
	}
	if _, err := f.WriteAt(h.metas, 0); err != nil {
		return fmt.Errorf("restore meta pages: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("restore meta pages: %w", err)
	}
	return nil
}

// errForeignLog says a log does not belong to the data file beside it.
var errForeignLog = errors.New("move the log away to open the data file as it is, losing the commits only the log holds")

// checkpointPages returns the CRC-32C of the first page of the root, of
// the freelist and (log version 3 on) of each bucket's root of the state
// that the newer of the meta pages in metas describes, read from the data
// file f. Those pages belong to the checkpoint's state, which the pin
// keeps bbolt from rewriting (see "Durability" in doc.go): after any crash
// they are as the checkpoint synced them.
func checkpointPages(f *os.File, metas []byte, pageSize int, version uint32) (uint32, error) {
	m := newerMeta(metas, pageSize)
	sum := crc32.New(crc32c)
	read := func(id uint64) ([]byte, error) {
		if id < firstDataPage || id > 1<<48 {
			return nil, fmt.Errorf("log header: meta page names page %d: %w", id, errCorrupt)
		}
		page, err := readPage(f, id, pageSize)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("data file ends before page %d of its log's checkpoint: %w", id, errCorrupt)
			}
			return nil, fmt.Errorf("read page %d: %w", id, err)
		}
		sum.Write(page)
		return page, nil
	}
	rootPage, err := read(m.root)
	if err != nil {
		return 0, err
	}
	if _, err := read(m.freelist); err != nil {
		return 0, err
	}
	if version >= 3 {
		for _, id := range bucketRoots(rootPage) {
			if _, err := read(id); err != nil {
				return 0, err
			}
		}
	}
	return sum.Sum32(), nil
}
