package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
	"github.com/verso-config/verso/internal/commitq"
	"github.com/verso-config/verso/internal/plan"
	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Options configures Open. The zero value (or a nil *Options) is useful.
type Options struct {
	// Clock gives the time recorded in commits (Commit.Time and the
	// entries' ModTime), kept in UTC with nanosecond precision. Nil means
	// time.Now.
	Clock func() time.Time

	// MaxBatch is the most transactions grouped into one group commit
	// (one fsync of the log). 0 means 256; 1 turns grouping off.
	MaxBatch int

	// Logger receives the store's own events, such as a group commit that
	// failed to write. Nil means slog.Default().
	Logger *slog.Logger

	// Timeout is how long Open waits for the lock on a data file that
	// another process holds. 0 means 1s, after which Open returns an error
	// saying the data file is in use; a negative Timeout waits forever.
	Timeout time.Duration
}

// Store is a verso.Store kept in one bbolt file. It is safe for concurrent
// use. See the package documentation for the layout and the commit rules.
type Store struct {
	schemas  plan.SchemaCache // namespace documents validated (internal/plan)
	path     string
	db       *bbolt.DB
	clock    func() time.Time
	maxBatch int
	log      *slog.Logger

	// cache is the tree at head (headcache.go).
	cache headCache
	// recent are the newest commits published (recent.go).
	recent recentCommits
	// head is the newest revision published to cache.
	head atomic.Int64

	// publishMu is held by the committer while it commits a group or
	// runs a maintenance request (tests hold it to keep the committer
	// waiting).
	publishMu sync.Mutex

	mu      sync.Mutex    // guards headCh, final
	headCh  chan struct{} // closed and replaced when head advances
	closeCh chan struct{} // closed by Close, ends Wait

	// pruneMu makes concurrent Prune calls run one at a time.
	pruneMu sync.Mutex

	queue *commitq.Queue[*request] // to the committer; Closed once Close began
	done  chan struct{}            // closed when the committer exits

	// batchHook, if set (by tests, before the first Commit), is called by
	// the committer with the size of each group before it commits it.
	batchHook func(size int)
	// installHook, if set (by tests, before the first Commit), runs when
	// a checkpoint has renamed its new log into place, and its error
	// counts as a failed sync of the directory.
	installHook func() error

	// The log ("Durability" in doc.go, wal.go). Once Open returns, only
	// the committer uses these, and Close after it has stopped.
	wal      *wal      // nil: bbolt syncs every commit itself
	pin      *bbolt.Tx // a read transaction at the last checkpoint
	dbf      *os.File  // the data file, read-only, to copy its meta pages
	pageSize int
	mapSize  int64 // bbolt maps at least this much of the data file
	// lastCheckpoint is when the log was last started afresh; walIdle
	// and walMaxAge say when the committer checkpoints next (tests
	// change them).
	lastCheckpoint     time.Time
	walIdle, walMaxAge time.Duration
	// failed is set when the log and the data file may disagree (a
	// failed fsync of the log, or a group the log holds that bbolt
	// failed to commit): commits fail from then on, and the next Open
	// settles the outcome from the log.
	failed atomic.Pointer[error]

	// The open bbolt write transaction ("Durability" in doc.go): with the
	// log, the committer writes group after group into one bbolt
	// transaction and commits it only now and then (commitTx). Only the
	// committer uses these.
	tx      *bbolt.Tx
	txBegan time.Time      // when tx began
	txHead  verso.Revision // the head written in tx
	txAcked int            // revisions in tx acknowledged (their log records synced)
	txBytes int            // the size of their log records
	// txMaxAge and txMaxBytes say when the committer commits tx at the
	// latest (tests change them before the first commit).
	txMaxAge   time.Duration
	txMaxBytes int
	// txHook, if set (by tests, before the first Commit), runs before
	// the committer commits tx, and its error counts as the commit's.
	txHook func() error

	// boltHead is the newest revision bbolt has committed: readers that
	// read the file at a revision above it ask the committer to commit
	// tx first (flushReq), and wait for flushed (guarded by mu) to be
	// closed.
	boltHead atomic.Int64
	flushReq chan struct{}
	flushed  chan struct{}
	// final is set by Close before the committer stops: it commits tx
	// then. Without it (tests of crashes), tx is dropped as a crash
	// would drop it.
	final bool
}

// failure returns why the store refuses commits, or nil.
func (s *Store) failure() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *Store) fail(err error) {
	if s.failed.CompareAndSwap(nil, &err) {
		s.log.Error("verso: the store stops committing until it is reopened", "path", s.path, "err", err)
	}
}

var _ verso.Store = (*Store)(nil)

// Open opens the store in the bbolt file at path, creating the file and its
// directory if needed, and loads the tree at head into memory. Only one
// process may have a data file open: Open fails after Options.Timeout if
// another holds it.
func Open(path string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.Timeout == 0:
		o.Timeout = time.Second
	case o.Timeout < 0:
		o.Timeout = 0 // bbolt waits forever
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create directory of %s: %w", path, err)
	}
	useWAL := walSupported && strconv.IntSize == 64
	var mapSize int64
	if useWAL {
		// bbolt cannot remap the file while a read transaction is open,
		// and the committer holds one (the pin) between checkpoints: map
		// enough that the file can grow a long way first.
		var size int64
		if fi, err := os.Stat(path); err == nil {
			size = fi.Size()
		}
		mapSize = max(minMapSize, 4*size)
		mapSize = (mapSize + 1<<30 - 1) &^ (1<<30 - 1)
	}

	// The data file is locked and its log read before bbolt reads the
	// file, so that a log left by a crash restores the meta pages of its
	// checkpoint first (see recover).
	wp := walPath(path)
	var hdr *walHeader
	var recs []walRecord
	openFile := func(name string, flag int, mode os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, mode)
		if err != nil {
			return f, err
		}
		if !walSupported {
			if _, err := os.Stat(wp); err == nil {
				f.Close()
				return nil, fmt.Errorf("log %s: this platform cannot recover it: open the store on Linux first", wp)
			}
			return f, nil
		}
		if err := lockFile(f, o.Timeout); err != nil {
			f.Close()
			return nil, err
		}
		os.Remove(wp + ".tmp") // a checkpoint that never finished
		hdr, recs, err = readWAL(wp)
		if errors.Is(err, fs.ErrNotExist) {
			return f, nil
		}
		if err == nil {
			err = restoreMetas(f, hdr)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("log %s: %w", wp, err)
		}
		return f, nil
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: o.Timeout, InitialMmapSize: int(mapSize), OpenFile: openFile})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: data file is in use by another process: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if useWAL {
		// bbolt grows a file by AllocSize once it maps more than that,
		// which it always does here: grow in smaller steps.
		db.AllocSize = walAllocSize
	}
	s := &Store{
		path:      path,
		db:        db,
		clock:     o.Clock,
		maxBatch:  o.MaxBatch,
		log:       o.Logger,
		headCh:    make(chan struct{}),
		closeCh:   make(chan struct{}),
		queue:     commitq.New[*request](o.MaxBatch),
		done:      make(chan struct{}),
		pageSize:  db.Info().PageSize,
		mapSize:   mapSize,
		walIdle:   time.Second,
		walMaxAge: time.Second,

		txMaxAge:   defaultTxMaxAge,
		txMaxBytes: defaultTxMaxBytes,
		flushReq:   make(chan struct{}, 1),
		flushed:    make(chan struct{}),
	}
	if err := s.start(hdr, recs, useWAL); err != nil {
		if s.pin != nil {
			s.pin.Rollback()
		}
		if s.wal != nil {
			s.wal.close()
		}
		if s.dbf != nil {
			s.dbf.Close()
		}
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	go s.commitLoop()
	return s, nil
}

// minMapSize is the least bbolt is asked to map: address space, not
// memory.
const minMapSize = 16 << 30

// walAllocSize is how much bbolt grows the data file by at a time.
const walAllocSize = 1 << 20

// start recovers what the log holds, starts a new log (or, without one,
// has bbolt sync every commit) and loads the head cache.
func (s *Store) start(hdr *walHeader, recs []walRecord, useWAL bool) error {
	if hdr != nil {
		// The data file is at the log's checkpoint (its meta pages were
		// restored); pin it until the next checkpoint is recorded.
		if hdr.pageSize != s.pageSize {
			return fmt.Errorf("log: page size %d, data file %d: %w", hdr.pageSize, s.pageSize, errCorrupt)
		}
		pin, err := s.db.Begin(false)
		if err != nil {
			return err
		}
		s.pin = pin
		head, err := readHead(pin)
		if err != nil {
			return err
		}
		if head != hdr.head {
			return fmt.Errorf("log: checkpoint at r%d, data file at r%d: %w", hdr.head, head, errCorrupt)
		}
	}
	if err := s.init(); err != nil {
		return err
	}
	if hdr != nil {
		if err := s.recover(recs); err != nil {
			return err
		}
	}
	var err error
	if s.dbf, err = os.Open(s.path); err != nil {
		return err
	}
	switch {
	case useWAL:
		if err := s.checkpoint(); err != nil {
			return err
		}
		s.setLogged(true)
	case hdr != nil:
		// A log left by a platform that uses one: the data file holds
		// everything now.
		if err := s.db.Sync(); err != nil {
			return err
		}
		if err := removeWAL(walPath(s.path)); err != nil {
			return err
		}
		s.pin.Rollback()
		s.pin = nil
	}
	if err := s.loadHead(); err != nil { // load.go
		return err
	}
	s.boltHead.Store(s.head.Load())
	return nil
}

// recover redoes the log records above the data file's head, all in one
// bbolt transaction (so that the pages of the checkpoint stay untouched
// until the next checkpoint is recorded, should recovery itself crash).
func (s *Store) recover(recs []walRecord) error {
	var from, to verso.Revision
	err := s.db.Update(func(tx *bbolt.Tx) error {
		head, err := readHead(tx)
		if err != nil {
			return err
		}
		from = head
		for _, r := range recs {
			if r.last <= head {
				continue // in the data file already
			}
			if r.first != head+1 || r.last < r.first {
				return fmt.Errorf("log: record of r%d-r%d does not follow r%d: %w", r.first, r.last, head, errCorrupt)
			}
			if err := redo(tx, r.writes); err != nil {
				return fmt.Errorf("log: redo r%d-r%d: %w", r.first, r.last, err)
			}
			head = r.last
		}
		to = head
		if head == from {
			return errNoChange
		}
		return tx.Bucket(bucketMeta).Put(keyHead, revKey(head))
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	if err != nil {
		return err
	}
	s.log.Info("verso: redid commits from the log", "path", s.path, "from", from+1, "to", to)
	return nil
}

// errNoChange rolls back a bbolt transaction that has nothing to commit.
var errNoChange = errors.New("nothing to commit")

// checkpoint makes the data file durable as it is and starts a new log
// from it: bbolt's file is synced, a read transaction pins its state (so
// that bbolt reuses none of its pages until the next checkpoint), and the
// new log records that state's meta pages. Only the committer calls it,
// between bbolt transactions, and Open.
func (s *Store) checkpoint() error {
	if err := s.commitTx(); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	// Group commits leave bbolt's freelist unwritten (see setLogged):
	// the checkpoint's state has it, so that Open never has to rebuild it
	// by reading the whole file.
	logged := s.db.NoFreelistSync
	s.db.NoFreelistSync = false
	err := s.db.Update(func(*bbolt.Tx) error { return nil })
	s.db.NoFreelistSync = logged
	if err != nil {
		return fmt.Errorf("checkpoint: write freelist: %w", err)
	}
	// fsync, not fdatasync: bbolt grew the file without syncing its size.
	if err := s.dbf.Sync(); err != nil {
		err = fmt.Errorf("checkpoint: sync data file: %w", err)
		s.fail(err)
		return err
	}
	pin, err := s.db.Begin(false)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	h := &walHeader{version: walVersion, pageSize: s.pageSize}
	if h.head, err = readHead(pin); err == nil {
		h.metas, err = readMetas(s.dbf, s.pageSize)
	}
	if err == nil {
		h.pagesCRC, err = checkpointPages(s.dbf, h.metas, s.pageSize, walVersion)
	}
	if err == nil {
		var fi os.FileInfo
		if fi, err = s.dbf.Stat(); err == nil {
			h.inode = fileInode(fi)
		}
	}
	var w *wal
	if err == nil {
		w, err = createWAL(walPath(s.path), h, s.installHook)
	}
	if err != nil {
		err = fmt.Errorf("checkpoint: %w", err)
		if errors.Is(err, errLogUnsure) {
			// Appending to the old log could go to a file no longer
			// in the directory, and writing to bbolt could overwrite
			// pages of whichever checkpoint a crash would restore.
			s.fail(err)
		}
		pin.Rollback()
		return err
	}
	if s.wal != nil {
		w.noSync = s.wal.noSync
		s.wal.close()
	}
	s.wal = w
	if s.pin != nil {
		s.pin.Rollback()
	}
	s.pin = pin
	s.lastCheckpoint = time.Now()
	return nil
}

// setLogged sets how bbolt commits: with the log, it syncs nothing, grows
// the file without syncing it and leaves its freelist unwritten (the
// freelist grows with the pages the pin keeps, and bbolt would write all of
// it every commit); checkpoints write and sync all of it.
func (s *Store) setLogged(on bool) {
	s.db.NoSync, s.db.NoGrowSync, s.db.NoFreelistSync = on, on, on
}

// leaveWAL makes the data file durable as it is, removes the log and
// has bbolt sync every commit from then on. Inside a write transaction
// (inTx), that transaction's commit writes the freelist; otherwise an
// empty one does.
func (s *Store) leaveWAL(inTx bool) error {
	if !inTx {
		if err := s.commitTx(); err != nil {
			return err
		}
	}
	s.db.NoFreelistSync = false
	if !inTx {
		if err := s.db.Update(func(*bbolt.Tx) error { return nil }); err != nil {
			s.db.NoFreelistSync = true
			return fmt.Errorf("write freelist: %w", err)
		}
	}
	if err := s.dbf.Sync(); err != nil {
		s.db.NoFreelistSync = true
		return fmt.Errorf("sync data file: %w", err)
	}
	if err := s.wal.remove(); err != nil {
		s.db.NoFreelistSync = true
		return err
	}
	s.wal = nil
	if s.pin != nil {
		s.pin.Rollback()
		s.pin = nil
	}
	s.setLogged(false)
	return nil
}

// nearMapEnd says whether a transaction that adds about extra bytes might
// grow the file past half of what bbolt maps: before that, the log is
// left, since bbolt must not remap while the pin is open.
func (s *Store) nearMapEnd(tx *bbolt.Tx, extra int) bool {
	return tx.Size()+4*int64(extra)+64<<20 > s.mapSize/2
}

// init creates the buckets of a new file and checks the format of an
// existing one.
func (s *Store) init() error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %q: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyFormat); v != nil {
			if len(v) != 8 || decodeRev(v) != formatVersion {
				return fmt.Errorf("data file format %x is not %d: %w", v, formatVersion, errCorrupt)
			}
			return nil
		}
		if err := meta.Put(keyFormat, revKey(formatVersion)); err != nil {
			return fmt.Errorf("put format: %w", err)
		}
		return meta.Put(keyHead, revKey(0))
	})
	return err
}

// readHead returns the head revision recorded in tx.
func readHead(tx *bbolt.Tx) (verso.Revision, error) {
	v := tx.Bucket(bucketMeta).Get(keyHead)
	if len(v) != 8 {
		return 0, fmt.Errorf("head revision: %w", errCorrupt)
	}
	return decodeRev(v), nil
}

// Path returns the path of the data file.
func (s *Store) Path() string { return s.path }

// Head returns the newest durable revision.
func (s *Store) Head(ctx context.Context) (verso.Revision, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return 0, err
	}
	return verso.Revision(s.head.Load()), nil
}

// Get returns the entry at p as of rev. At verso.Head it answers from
// memory; at an older revision it reads the history in the file.
func (s *Store) Get(ctx context.Context, p verso.Path, rev verso.Revision) (*verso.Entry, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return nil, err
	}
	if rev == verso.Head {
		if e, ok := s.cache.Load(p); ok {
			return e, nil
		}
		return nil, &verso.PathError{Op: "get", Path: p, Err: verso.ErrNotFound}
	}
	var e *verso.Entry
	err := s.viewAt(rev, func(tx *bbolt.Tx) error {
		r, err := resolveRev(tx, "get", p, rev)
		if err != nil {
			return err
		}
		e, err = (&revReader{tx: tx, rev: r}).get(p)
		if err == nil && e == nil {
			err = &verso.PathError{Op: "get", Path: p, Rev: rev, Err: verso.ErrNotFound}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// view runs fn in a bbolt read transaction that sees at least every
// revision published when view was called, turning a closed database into
// verso.ErrClosed.
func (s *Store) view(fn func(*bbolt.Tx) error) error {
	return s.viewAt(verso.Revision(s.head.Load()), fn)
}

// viewAt is view for a reader that needs no revision above rev (one that
// reads at rev): it waits for bbolt only when bbolt has yet to commit rev.
func (s *Store) viewAt(rev verso.Revision, fn func(*bbolt.Tx) error) error {
	if head := verso.Revision(s.head.Load()); rev == verso.Head || rev > head {
		rev = head
	}
	if err := s.awaitBolt(rev); err != nil {
		return err
	}
	return s.viewNow(fn)
}

// viewNow runs fn in a bbolt read transaction of the file as bbolt has
// committed it, turning a closed database into verso.ErrClosed.
func (s *Store) viewNow(fn func(*bbolt.Tx) error) error {
	err := s.db.View(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return verso.ErrClosed
	}
	return err
}

// awaitBolt returns once bbolt has committed rev, asking the committer to
// commit its open transaction if it has not. It costs one atomic load when
// bbolt has.
func (s *Store) awaitBolt(rev verso.Revision) error {
	for verso.Revision(s.boltHead.Load()) < rev {
		if err := s.failure(); err != nil {
			return fmt.Errorf("read r%d: %w", rev, err)
		}
		s.mu.Lock()
		ch := s.flushed
		s.mu.Unlock()
		select {
		case s.flushReq <- struct{}{}:
		default: // a request is pending: the committer serves it after this point
		}
		select {
		case <-ch:
		case <-s.done:
			if verso.Revision(s.boltHead.Load()) >= rev {
				return nil
			}
			if err := s.failure(); err != nil {
				return fmt.Errorf("read r%d: %w", rev, err)
			}
			return verso.ErrClosed
		}
	}
	return nil
}

// resolveRev checks rev against the head and the start of history in tx;
// Head becomes the head.
func resolveRev(tx *bbolt.Tx, op string, p verso.Path, rev verso.Revision) (verso.Revision, error) {
	head, err := readHead(tx)
	if err != nil {
		return 0, err
	}
	if rev == verso.Head {
		return head, nil
	}
	if rev < 0 || rev > head {
		return 0, &verso.PathError{Op: op, Path: p, Rev: rev, Err: verso.ErrNoRevision}
	}
	if start := readStart(tx); rev < start {
		return 0, &verso.PathError{Op: op, Path: p, Rev: rev, Err: goneBefore(start)}
	}
	return rev, nil
}

// readStart returns the revision where history starts in tx (0 when none
// was ever pruned).
func readStart(tx *bbolt.Tx) verso.Revision {
	if v := tx.Bucket(bucketMeta).Get(keyStart); len(v) == 8 {
		return decodeRev(v)
	}
	return 0
}

// goneBefore is the error of a revision below start.
func goneBefore(start verso.Revision) error {
	return fmt.Errorf("history starts at r%d: %w", start, verso.ErrGone)
}

// Walk calls fn for p and the entries below it as of rev, down to depth
// (verso.Infinite for all), in pre-order with children in name order. The
// entries are read in one bbolt read transaction, which ends before fn is
// first called: a slow fn does not hold the transaction open.
func (s *Store) Walk(ctx context.Context, p verso.Path, rev verso.Revision, depth int, fn func(*verso.Entry) error) error {
	if err := s.queue.Ready(ctx); err != nil {
		return err
	}
	var out []*verso.Entry
	err := s.viewAt(rev, func(tx *bbolt.Tx) error {
		r, err := resolveRev(tx, "get", p, rev)
		if err != nil {
			return err
		}
		var rd reader = &revReader{tx: tx, rev: r}
		if rev == verso.Head {
			rd = &headReader{tree: tx.Bucket(bucketTree), head: r}
		}
		e, err := rd.get(p)
		if err != nil {
			return err
		}
		if e == nil {
			return &verso.PathError{Op: "get", Path: p, Rev: rev, Err: verso.ErrNotFound}
		}
		return walk(ctx, rd, e, depth, &out)
	})
	if err != nil {
		return err
	}
	for _, e := range out {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// reader reads the tree as of one revision inside a read transaction.
type reader interface {
	// get returns p's entry, or nil if p does not exist.
	get(p verso.Path) (*verso.Entry, error)
	// children returns the entries of the children of namespace ns, in
	// name order.
	children(ns verso.Path) ([]*verso.Entry, error)
}

func walk(ctx context.Context, rd reader, e *verso.Entry, depth int, out *[]*verso.Entry) error {
	*out = append(*out, e)
	if depth == 0 || !e.IsNamespace() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	kids, err := rd.children(e.Path)
	if err != nil {
		return err
	}
	if depth > 0 {
		depth--
	}
	for _, k := range kids {
		if err := walk(ctx, rd, k, depth, out); err != nil {
			return err
		}
	}
	return nil
}

// headReader reads the tree bucket, which holds the head revision.
type headReader struct {
	tree *bbolt.Bucket
	head verso.Revision
}

func (r *headReader) get(p verso.Path) (*verso.Entry, error) {
	e, err := readTree(r.tree, p)
	if e != nil && p == verso.Root {
		e.TreeRev = r.head
	}
	return e, err
}

func (r *headReader) children(ns verso.Path) ([]*verso.Entry, error) {
	var out []*verso.Entry
	prefix := childPrefix(ns)
	c := r.tree.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		e, err := codec.DecodeEntry(pathFromTreeKey(k), v)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// revReader reads the tree as of rev from the hist and index buckets.
type revReader struct {
	tx   *bbolt.Tx
	rev  verso.Revision
	hist *bbolt.Cursor
	idx  *bbolt.Cursor
}

// seekBefore moves c to the last key below k and returns it.
func seekBefore(c *bbolt.Cursor, k []byte) ([]byte, []byte) {
	if sk, _ := c.Seek(k); sk == nil {
		return c.Last()
	}
	return c.Prev()
}

// histAt returns p's state as of r.rev in hist, given its tree key: nil if
// it did not exist.
func (r *revReader) histAt(tk []byte) (*verso.Entry, error) {
	if r.hist == nil {
		r.hist = r.tx.Bucket(bucketHist).Cursor()
	}
	prefix := append(bytes.Clone(tk), 0)
	k, v := seekBefore(r.hist, revSuffix(prefix, r.rev+1))
	if k == nil || len(k) != len(prefix)+8 || !bytes.HasPrefix(k, prefix) || codec.IsTombstone(v) {
		return nil, nil
	}
	p := pathFromTreeKey(tk)
	if codec.IsGone(v) {
		return nil, &verso.PathError{Op: "get", Path: p, Rev: r.rev, Err: fmt.Errorf("older versions were pruned: %w", verso.ErrGone)}
	}
	e, err := codec.DecodeEntry(p, v)
	if err != nil {
		return nil, err
	}
	if e.IsNamespace() {
		if e.TreeRev, err = r.treeRev(p); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// revSuffix returns prefix followed by r's key, in a new slice.
func revSuffix(prefix []byte, r verso.Revision) []byte {
	k := make([]byte, 0, len(prefix)+8)
	k = append(k, prefix...)
	return append(k, revKey(r)...)
}

// treeRev returns the newest revision <= r.rev in p's log.
func (r *revReader) treeRev(p verso.Path) (verso.Revision, error) {
	if p == verso.Root {
		return r.rev, nil
	}
	if r.idx == nil {
		r.idx = r.tx.Bucket(bucketIndex).Cursor()
	}
	k, _ := seekBefore(r.idx, indexKey(p, r.rev+1))
	q, rev, ok := splitIndexKey(k)
	if !ok || q != p {
		return 0, fmt.Errorf("namespace %s@%d has no log: %w", p, r.rev, errCorrupt)
	}
	return rev, nil
}

func (r *revReader) get(p verso.Path) (*verso.Entry, error) {
	e, err := r.histAt(treeKey(p))
	if e == nil && err == nil && p == verso.Root {
		e = plan.RootEntry()
		e.TreeRev = r.rev
	}
	return e, err
}

func (r *revReader) children(ns verso.Path) ([]*verso.Entry, error) {
	var out []*verso.Entry
	prefix := childPrefix(ns)
	c := r.tx.Bucket(bucketHist).Cursor()
	k, _ := c.Seek(prefix)
	for k != nil && bytes.HasPrefix(k, prefix) {
		tk, _, ok := splitHistKey(k)
		if !ok {
			return nil, fmt.Errorf("hist key %q: %w", k, errCorrupt)
		}
		tk = bytes.Clone(tk)
		e, err := r.histAt(tk)
		if err != nil {
			return nil, err
		}
		if e != nil {
			out = append(out, e)
		}
		// Skip the rest of this child's history: tk+0x01 sorts after
		// tk+0x00+rev and before any longer name.
		k, _ = c.Seek(append(tk, 1))
	}
	return out, nil
}

// Revision returns the record of revision rev.
func (s *Store) Revision(ctx context.Context, rev verso.Revision) (*verso.Commit, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return nil, err
	}
	if rev <= verso.Revision(s.head.Load()) && s.failed.Load() == nil {
		if c, ok := s.recent.get(rev); ok {
			return c, nil
		}
	}
	var c *verso.Commit
	err := s.viewAt(rev, func(tx *bbolt.Tx) error {
		head, err := readHead(tx)
		if err != nil {
			return err
		}
		if rev <= 0 || rev > head {
			return fmt.Errorf("revision %d: %w", rev, verso.ErrNoRevision)
		}
		if start := readStart(tx); rev < start {
			return fmt.Errorf("revision %d: %w", rev, goneBefore(start))
		}
		c, err = readCommit(tx, rev)
		return err
	})
	return c, err
}

func readCommit(tx *bbolt.Tx, rev verso.Revision) (*verso.Commit, error) {
	v := tx.Bucket(bucketRevs).Get(revKey(rev))
	if v == nil {
		return nil, fmt.Errorf("revision %d: record missing: %w", rev, errCorrupt)
	}
	c, _, err := codec.DecodeCommit(v)
	if err != nil {
		return nil, fmt.Errorf("revision %d: %w", rev, err)
	}
	return c, nil
}

// Log returns, newest first, the commits that changed q.Path or anything
// below it. It reads the index bucket backwards from q.Before, so its cost
// is that of the commits it returns, not of the whole history. It stops at
// the start of history (see HistoryStart); a q.Before below it is
// verso.ErrGone.
func (s *Store) Log(ctx context.Context, q verso.LogQuery) ([]*verso.Commit, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return nil, err
	}
	p := q.Path
	if p == "" {
		p = verso.Root
	}
	at := q.Before
	if at <= 0 {
		at = verso.Head
	}
	var out []*verso.Commit
	err := s.viewAt(at, func(tx *bbolt.Tx) error {
		before := q.Before
		if before == 0 {
			before = verso.Head
		}
		before, err := resolveRev(tx, "log", p, before)
		if err != nil {
			return err
		}
		start := readStart(tx)
		c := tx.Bucket(bucketIndex).Cursor()
		for k, _ := seekBefore(c, indexKey(p, before+1)); k != nil; k, _ = c.Prev() {
			kp, rev, ok := splitIndexKey(k)
			if !ok || kp != p || rev < start {
				break
			}
			commit, err := readCommit(tx, rev)
			if err != nil {
				return err
			}
			out = append(out, commit)
			if q.Limit > 0 && len(out) >= q.Limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Wait blocks until the head is at least rev, then returns the head.
func (s *Store) Wait(ctx context.Context, rev verso.Revision) (verso.Revision, error) {
	for {
		if s.queue.Closed() {
			return 0, verso.ErrClosed
		}
		s.mu.Lock()
		ch := s.headCh
		s.mu.Unlock()
		head := verso.Revision(s.head.Load())
		if head >= rev {
			return head, nil
		}
		select {
		case <-ch:
		case <-s.closeCh:
			return 0, verso.ErrClosed
		case <-ctx.Done():
			return head, ctx.Err()
		}
	}
}

// Close stops accepting commits (they return verso.ErrClosed), waits for
// the commits already submitted to finish, and closes the file. After
// Close every method returns verso.ErrClosed, Close included.
func (s *Store) Close() error { return s.shut(true) }

// shut closes the store; see release for final.
func (s *Store) shut(final bool) error {
	if !s.queue.Stop() {
		return verso.ErrClosed
	}
	s.mu.Lock()
	s.final = final
	close(s.closeCh)
	s.mu.Unlock()

	s.queue.Drain()
	<-s.done
	return s.release(final)
}

// release frees what the store holds once the committer has stopped. With
// final set (Close), it first makes the data file durable and removes the
// log; without it (tests of crashes), it leaves both as a crash would.
func (s *Store) release(final bool) error {
	var errs []error
	if s.wal != nil {
		if final && s.failure() == nil {
			if err := s.leaveWAL(false); err != nil {
				errs = append(errs, err)
			}
		}
		if s.wal != nil {
			s.wal.close()
		}
	}
	if s.pin != nil {
		s.pin.Rollback()
	}
	s.dbf.Close()
	if err := s.db.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close %s: %w", s.path, err)
	}
	return nil
}
