// Package wal is the write-ahead log of the bolt store: the file beside
// its data file that makes each group commit durable with one fsync (see
// "Durability" in package bolt). It knows the log's format, how to start a
// new log safely, append records to it, read it back after a crash (telling
// a torn last record from damage in the middle) and remove it. What the
// records mean, the data file's meta pages it carries and when to
// checkpoint are package bolt's.
//
// A log is one file, path+".wal" for the data file at path:
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
// dropped); when a readable record follows, the log is damaged and Read
// refuses it with a *LogError.
package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
)

const (
	magic = "VERSOWAL"
	// Version is the version of the logs Create writes.
	Version = 3
	// oldest is the oldest version Read still reads: version 2 differs
	// only in what its pages CRC covers.
	oldest = 2

	// firstSize is how much of a new log is zero-filled, and growStep
	// how much more at a time once records reach the end.
	firstSize = 256 << 10
	growStep  = 4 << 20
)

const (
	opPut    = 1
	opDelete = 2
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt is what a log that cannot be read wraps.
var errCorrupt = codec.ErrCorrupt

// Path is the path of the log of the data file at path.
func Path(path string) string { return path + ".wal" }

// Header is what a log says about the checkpoint it starts from.
type Header struct {
	Version  uint32 // Version, or the older version a log was read in
	PageSize int
	Head     verso.Revision // the head revision at the checkpoint
	Inode    uint64         // the data file's inode, 0 where unknown
	PagesCRC uint32         // of the checkpoint's root, freelist and bucket root pages
	Metas    []byte         // the data file's first two pages at the checkpoint
}

func (h *Header) encode() []byte {
	b := make([]byte, 0, 40+len(h.Metas))
	b = append(b, magic...)
	b = binary.BigEndian.AppendUint32(b, Version)
	b = binary.BigEndian.AppendUint32(b, uint32(h.PageSize))
	b = binary.BigEndian.AppendUint64(b, uint64(h.Head))
	b = binary.BigEndian.AppendUint64(b, h.Inode)
	b = binary.BigEndian.AppendUint32(b, h.PagesCRC)
	b = binary.BigEndian.AppendUint32(b, uint32(len(h.Metas)))
	b = append(b, h.Metas...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc32c))
}

// DecodeHeader decodes the header at the start of the log b and returns
// it with its length, where the records start.
func DecodeHeader(b []byte) (*Header, int, error) {
	const fixed = 8 + 4 + 4 + 8 + 8 + 4 + 4
	if len(b) < fixed+4 || string(b[:8]) != magic {
		return nil, 0, fmt.Errorf("log header: not a verso log: %w", errCorrupt)
	}
	v := binary.BigEndian.Uint32(b[8:])
	if v < oldest || v > Version {
		return nil, 0, fmt.Errorf("log header: version %d is not %d to %d: %w", v, oldest, Version, errCorrupt)
	}
	h := &Header{
		Version:  v,
		PageSize: int(binary.BigEndian.Uint32(b[12:])),
		Head:     verso.Revision(binary.BigEndian.Uint64(b[16:])),
		Inode:    binary.BigEndian.Uint64(b[24:]),
		PagesCRC: binary.BigEndian.Uint32(b[32:]),
	}
	n := int(binary.BigEndian.Uint32(b[36:]))
	if n != 2*h.PageSize || len(b) < fixed+n+4 { // the two meta pages
		return nil, 0, fmt.Errorf("log header: meta pages of %d bytes: %w", n, errCorrupt)
	}
	end := fixed + n
	if crc32.Checksum(b[:end], crc32c) != binary.BigEndian.Uint32(b[end:]) {
		return nil, 0, fmt.Errorf("log header: checksum mismatch: %w", errCorrupt)
	}
	h.Metas = b[fixed:end]
	return h, end + 4, nil
}

// Record is one group commit in the log: revisions First..Last and the
// writes that made them (AppendPut, AppendDelete, Replay).
type Record struct {
	First, Last verso.Revision
	Writes      []byte
}

// Log is what Read finds in a log.
type Log struct {
	Header  *Header
	Records []Record
	// Torn is the offset of a damaged last record that was dropped, and
	// TornLen its length up to the last nonzero byte of the file (both 0
	// when the log ends cleanly).
	Torn    int64
	TornLen int
}

// Read reads the log at path: its header and its records, up to the
// first record that is missing, short or fails its CRC. Such a record with
// nothing readable after it is a torn tail (a write a crash interrupted,
// so none of its revisions was acknowledged), which it drops; one followed
// by readable records is damage in the middle of the log, a *LogError.
func Read(path string) (*Log, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h, off, err := DecodeHeader(b)
	if err != nil {
		return nil, err
	}
	l := &Log{Header: h}
	recs, off := ParseRecords(b, off)
	l.Records = recs
	// The file is zero-filled beyond its last record: a clean end is
	// zeros only.
	end := len(b)
	for end > off && b[end-1] == 0 {
		end--
	}
	if end <= off {
		return l, nil
	}
	last := h.Head
	if len(recs) > 0 {
		last = recs[len(recs)-1].Last
	}
	// Something other than zeros follows the last good record. Look for
	// a readable record further on: a record length, a CRC that matches,
	// and revisions after the last good ones.
	for p := off + 1; p+8+16 <= end; p++ {
		if !plausibleRecord(b, p, last) {
			continue
		}
		more, _ := ParseRecords(b[:end], p)
		lost := more[len(more)-1].Last
		// Damaged records may follow again: the last readable one
		// bounds the revisions lost.
		for q := p + 1; q+8+16 <= end; q++ {
			if plausibleRecord(b, q, lost) {
				r, _ := ParseRecords(b[:end], q)
				lost = r[len(r)-1].Last
			}
		}
		return nil, &LogError{Path: path, Offset: int64(off), First: last + 1, Last: lost, Checkpoint: h.Head}
	}
	l.Torn, l.TornLen = int64(off), end-off
	return l, nil
}

// ParseRecords returns the records of the log bytes b from offset off on,
// up to the first that is missing, short or fails its CRC, and the offset
// where it stopped.
func ParseRecords(b []byte, off int) ([]Record, int) {
	var recs []Record
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
		recs = append(recs, Record{
			First:  verso.Revision(binary.BigEndian.Uint64(payload)),
			Last:   verso.Revision(binary.BigEndian.Uint64(payload[8:])),
			Writes: payload[16:],
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
// were acknowledged, cannot all be recovered. The bolt store refuses such
// a log rather than drop them silently (see "A damaged log" in
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

// File is an open log that the committer appends to.
type File struct {
	path string
	f    *os.File
	off  int64 // where the next record goes
	size int64 // the file's size (zeros from off on)
	recs int   // records appended since the checkpoint
	// Broken is set when a sync failed: the log takes no more records
	// (see Append), and the next commit starts a new one first.
	Broken bool
	// NoSync skips the fsync of appends; tests that build large
	// fixtures set it.
	NoSync bool
	// buf is the last record's buffer, kept for the next (up to
	// maxBuf).
	buf []byte
}

// maxBuf caps the record buffer a File keeps from one append to the
// next: a group of large values does not keep its buffer.
const maxBuf = 1 << 20

// Create starts a new log with header h, in place of the old one: it
// writes the new log beside it, syncs it, renames it over the old one and
// syncs the directory, so that at every moment the file at path is a
// complete log. afterRename, if set (by tests), runs right after the
// rename, and its error counts as one of syncing the directory.
//
// An error that wraps ErrUnsure comes after the rename: either log may
// be the one a crash leaves, so the caller must append to neither (the
// old file may be gone from the directory) and keep both checkpoints'
// pages intact, which only stopping all writing does.
func Create(path string, h *Header, afterRename func() error) (*File, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	// Before the rename the old log is intact: a failure (a full disk)
	// removes the new one, which would hold the disk's last blocks.
	drop := func(err error) (*File, error) {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	head := h.encode()
	size := max(int64(firstSize), int64(len(head)))
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
		return nil, fmt.Errorf("install log: %w: %w", ErrUnsure, err)
	}
	// The same file, under the name errors should give.
	f2, err := os.OpenFile(path, os.O_RDWR, 0)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("open log: %w: %w", ErrUnsure, err)
	}
	return &File{path: path, f: f2, off: int64(len(head)), size: size}, nil
}

// ErrUnsure says a new log was renamed into place but not made durable
// there: which of the old and the new log survives a crash is unknown.
var ErrUnsure = errors.New("the new log replaced the old one, but not durably")

// Append writes one record for revisions first..last and syncs the log.
//
// A write that fails (growing the file or writing the record) leaves the
// log as it was: the record's place is zeroed again as far as it can be,
// nothing of it was synced, and the next record goes to the same place.
// A sync that fails sets Broken: whether the record reached the disk is
// unknown, and after a failed fsync the kernel may have dropped the pages
// it could not write while reporting later fsyncs of the same file as
// successful, so the log is appended to no more (see "A full disk" in
// package bolt's documentation). The records before were synced: they are
// durable either way.
func (w *File) Append(first, last verso.Revision, writes []byte) error {
	if w.Broken {
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
		grow := max(int64(growStep), end-w.size)
		if _, err := w.f.WriteAt(make([]byte, grow), w.size); err != nil {
			return fmt.Errorf("grow log: %w", err)
		}
		w.size += grow
	}
	if _, err := w.f.WriteAt(rec, w.off); err != nil {
		w.f.WriteAt(make([]byte, len(rec)), w.off) // best effort: blocks already allocated
		return fmt.Errorf("append to log: %w", err)
	}
	if !w.NoSync {
		if err := fdatasync(w.f); err != nil {
			w.Broken = true
			return fmt.Errorf("sync log: %w", err)
		}
	}
	w.off += int64(len(rec))
	w.recs++
	if cap(rec) <= maxBuf {
		w.buf = rec[:0]
	}
	return nil
}

// Offset is where the next record goes: the size of the header and the
// records appended.
func (w *File) Offset() int64 { return w.off }

// Records is how many records were appended since the log was created.
func (w *File) Records() int { return w.recs }

// ReadAt reads the log's bytes at off (records appended, read back).
func (w *File) ReadAt(b []byte, off int64) (int, error) { return w.f.ReadAt(b, off) }

// Close closes the log, leaving it in place.
func (w *File) Close() error { return w.f.Close() }

// Remove deletes the log once the data file holds everything in it.
func (w *File) Remove() error {
	w.f.Close()
	return Remove(w.path)
}

// Remove removes the log at path, durably.
func Remove(path string) error {
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

// AppendPut appends to the writes of a record a put of key k with value v
// in bucket b (a number below 256 that the store gives its buckets).
func AppendPut(writes []byte, b int, k, v []byte) []byte {
	writes = append(writes, opPut, byte(b))
	writes = binary.AppendUvarint(writes, uint64(len(k)))
	writes = append(writes, k...)
	writes = binary.AppendUvarint(writes, uint64(len(v)))
	return append(writes, v...)
}

// AppendDelete appends to the writes of a record a delete of key k in
// bucket b.
func AppendDelete(writes []byte, b int, k []byte) []byte {
	writes = append(writes, opDelete, byte(b))
	writes = binary.AppendUvarint(writes, uint64(len(k)))
	return append(writes, k...)
}

// Replay calls put or del for each write of a record's writes, in order.
// Writes that are malformed, or name a bucket not below buckets, are an
// error wrapping codec.ErrCorrupt.
func Replay(writes []byte, buckets int, put func(b int, k, v []byte) error, del func(b int, k []byte) error) error {
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
		if len(writes) < 2 || int(writes[1]) >= buckets {
			return bad
		}
		kind, b := writes[0], int(writes[1])
		writes = writes[2:]
		key, ok := next()
		if !ok {
			return bad
		}
		switch kind {
		case opPut:
			v, ok := next()
			if !ok {
				return bad
			}
			if err := put(b, key, v); err != nil {
				return err
			}
		case opDelete:
			if err := del(b, key); err != nil {
				return err
			}
		default:
			return bad
		}
	}
	return nil
}
