package bolt

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/wal"
	bbolt "go.etcd.io/bbolt"
)

// The store's side of the write-ahead log (see "Durability" in doc.go):
// what its records hold (writer, redo) and how a log's checkpoint is
// checked against the data file and written back into it (restoreMetas).
// The log file itself, its format, appending and reading it back, is
// package internal/wal's.

// walCheckpointSize is the size of the records past which the committer
// checkpoints.
const walCheckpointSize = 64 << 20

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// walPath is the path of the log of the data file at path.
func walPath(path string) string { return wal.Path(path) }

// LogPath returns the path of the write-ahead log of the data file at path
// (see "Durability" in the package documentation). It exists only while a
// store has the file open, or after a crash; it belongs with its data file,
// which must not be replaced or copied without it.
func LogPath(path string) string { return walPath(path) }

// LogError is a log damaged in its middle: the record at Offset cannot be
// read, yet readable records follow it, so revisions First..Last, which
// were acknowledged, cannot all be recovered. Open refuses such a log
// rather than drop them silently (see "A damaged log" in
// docs/OPERATIONS.md).
type LogError = wal.LogError

// CheckLog reads the write-ahead log of the data file at path, if there is
// one, without changing it: it returns a *LogError for a log damaged in
// its middle, another error for a log it cannot read, and nil for a log
// that Open can recover (whose last record may be torn by a crash) or no
// log at all.
func CheckLog(path string) error {
	_, err := wal.Read(walPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var le *LogError
	if err != nil && !errors.As(err, &le) {
		err = fmt.Errorf("log %s: %w", walPath(path), err)
	}
	return err
}

// noSpace says whether err is the file system's "no space left on device"
// or "disk quota exceeded".
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// noSpaceError is what a commit refused for lack of space returns.
func noSpaceError(err error) error {
	return fmt.Errorf("%w (free space on the disk of the data directory; commits resume by themselves): %w", verso.ErrNoSpace, err)
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
		w.log = wal.AppendPut(w.log, b, k, v)
	}
	return w.buckets[b].Put(k, v)
}

func (w *writer) delete(b int, k []byte) error {
	if w.logging {
		w.log = wal.AppendDelete(w.log, b, k)
	}
	return w.buckets[b].Delete(k)
}

// redo applies the writes of a log record to tx.
func redo(tx *bbolt.Tx, writes []byte) error {
	w := newWriter(tx, false)
	return wal.Replay(writes, len(walBuckets), w.put, w.delete)
}

// restoreMetas writes the meta pages of a checkpoint back into the data
// file f and syncs it, so that bbolt opens the file at the checkpoint
// whatever happened to its meta pages since.
func restoreMetas(f *os.File, h *wal.Header) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < int64(len(h.Metas)) {
		return fmt.Errorf("data file of %d bytes is shorter than its log's checkpoint: %w", fi.Size(), errCorrupt)
	}
	if h.Inode != 0 {
		if ino := fileInode(fi); ino != 0 && ino != h.Inode {
			return fmt.Errorf("the log %s belongs to another data file (inode %d, not %d): the data file was replaced while its store was not closed; %w",
				walPath(f.Name()), h.Inode, ino, errForeignLog)
		}
	}
	sum, err := checkpointPages(f, h.Metas, h.PageSize, h.Version)
	if err != nil {
		return err
	}
	if sum != h.PagesCRC {
		return fmt.Errorf("the log %s belongs to another data file (the pages of its checkpoint differ): the data file was replaced while its store was not closed; %w",
			walPath(f.Name()), errForeignLog)
	}
	if _, err := f.WriteAt(h.Metas, 0); err != nil {
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
