package bolt

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/commitq"
	"github.com/verso-config/verso/internal/headcache"
	"github.com/verso-config/verso/internal/plan"
	"github.com/verso-config/verso/internal/wal"
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

	// cache is the tree at head (package internal/headcache).
	cache headcache.Cache
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
	wal      *wal.File // nil: bbolt syncs every commit itself
	pin      *bbolt.Tx // a read transaction at the last checkpoint
	dbf      *os.File  // the data file, read-only, to copy its meta pages
	pageSize int
	// layout says whether verso may read bbolt's file layout (layout.go):
	// read-ahead, the page checker and the log need it.
	layout  layout
	mapSize int64 // bbolt maps at least this much of the data file
	// lastCheckpoint is when the log was last started afresh; walIdle
	// and walMaxAge say when the committer checkpoints next (tests
	// change them).
	lastCheckpoint     time.Time
	walIdle, walMaxAge time.Duration
	// logBuf is the buffer the committer gathers a group's log record
	// in, kept for the next group (up to maxLogBuf).
	logBuf []byte
	// failed is set when the log and the data file may disagree (a
	// failed fsync of the log, or a group the log holds that bbolt
	// failed to commit): commits fail from then on, and the next Open
	// settles the outcome from the log.
	failed atomic.Pointer[error]

	// The open bbolt write transaction ("Durability" in doc.go): with the
	// log, the committer writes group after group into one bbolt
	// transaction and commits it only now and then (commitTx). Only the
	// committer uses these.
	tx       *bbolt.Tx
	txBegan  time.Time      // when tx began
	txHead   verso.Revision // the head written in tx
	txAcked  int            // revisions in tx acknowledged (their log records synced)
	txBytes  int            // the size of their log records
	txLogOff int64          // where in the log the records of tx begin
	// txRetry, after bbolt failed to commit tx for lack of space, is
	// when the committer tries again; noSpace is that failure, which
	// readers waiting for bbolt get meanwhile (nil once a commit works).
	txRetry time.Time
	noSpace atomic.Pointer[error]
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
	// abandoned is set when a write transaction met damage that made
	// rolling it back unsafe (dropTx): it stays open, so bbolt's lock
	// stays held, and Close does not close bbolt (it would wait for
	// that lock).
	abandoned bool
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
	// Only a missing file makes a new store: an empty one is a file
	// that lost its contents.
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
		return nil, fmt.Errorf("open %s: the data file is empty (0 bytes), not a store: restore it from a backup, or remove it to start an empty store: %w", path, errCorrupt)
	}
	// Without a bbolt whose file layout verso knows, the features that
	// read it are off: read-ahead at open and the page checker (optional),
	// and the log, whose recovery writes meta pages back into the file
	// (see "bbolt's file layout" in doc.go).
	lay := currentLayout()
	useWAL := walSupported && strconv.IntSize == 64 && lay.known
	if !lay.known {
		o.Logger.Warn("verso: this build's bbolt is not a version whose file layout verso reads: read-ahead at open, the page checker and the write-ahead log are off, and bbolt syncs every commit",
			"bbolt", cmp.Or(lay.bbolt, "unknown"), "known", strings.Join(layoutVersions, " "))
	}
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
	var hdr *wal.Header
	var recs []wal.Record
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
			if err := checkOpenFile(f, lay); err != nil {
				f.Close()
				return nil, err
			}
			return f, nil
		}
		if err := lockFile(f, o.Timeout); err != nil {
			f.Close()
			return nil, err
		}
		os.Remove(wp + ".tmp") // a checkpoint that never finished
		l, err := wal.Read(wp)
		if errors.Is(err, fs.ErrNotExist) {
			if err := checkOpenFile(f, lay); err != nil {
				f.Close()
				return nil, err
			}
			return f, nil
		}
		var le *LogError
		if errors.As(err, &le) {
			f.Close()
			return nil, err // it names the log
		}
		if !lay.known {
			// Recovery checks the log against the file's pages and
			// writes its meta pages back: both read bbolt's layout.
			f.Close()
			return nil, fmt.Errorf("log %s: its store was not closed, and recovering it reads bbolt's file layout, which verso does not know for %v: open the store once with a verso built with bbolt %s, which recovers the log and removes it on close",
				wp, lay, strings.Join(layoutVersions, " or "))
		}
		if err == nil {
			hdr, recs = l.Header, l.Records
			err = restoreMetas(f, hdr)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("log %s: %w", wp, err)
		}
		if err := checkOpenFile(f, lay); err != nil {
			f.Close()
			return nil, err
		}
		if l.Torn > 0 {
			// Expected after a crash during an append, whose
			// commits were never acknowledged.
			o.Logger.Warn("verso: dropped a damaged record at the end of the log, most likely a write a crash interrupted",
				"log", wp, "offset", l.Torn, "bytes", l.TornLen)
		}
		return f, nil
	}
	var db *bbolt.DB
	err := guard(func() (err error) {
		db, err = bbolt.Open(path, 0o600, &bbolt.Options{Timeout: o.Timeout, InitialMmapSize: int(mapSize), OpenFile: openFile})
		return err
	})
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
		layout:    lay,
		mapSize:   mapSize,
		walIdle:   time.Second,
		walMaxAge: time.Second,

		txMaxAge:   defaultTxMaxAge,
		txMaxBytes: defaultTxMaxBytes,
		flushReq:   make(chan struct{}, 1),
		flushed:    make(chan struct{}),
	}
	if err := guard(func() error { return s.start(hdr, recs, useWAL) }); err != nil {
		if s.pin != nil {
			s.pin.Rollback()
		}
		if s.wal != nil {
			s.wal.Close()
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
	// Committing what bbolt holds reads pages: a damaged file is an
	// error here too.
	return guard(func() error { return s.release(final) })
}

// release frees what the store holds once the committer has stopped. With
// final set (Close), it first makes the data file durable and removes the
// log; without it (tests of crashes), it leaves both as a crash would.
func (s *Store) release(final bool) error {
	if s.abandoned {
		if s.wal != nil {
			s.wal.Close()
		}
		s.dbf.Close()
		return fmt.Errorf("close %s: the data file is damaged, and stays open until the process ends: %w", s.path, s.failure())
	}
	var errs []error
	if s.wal != nil {
		if final && s.failure() == nil {
			if err := s.leaveWAL(false); err != nil {
				errs = append(errs, err)
			}
		}
		if s.wal != nil {
			s.wal.Close()
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

// minMapSize is the least bbolt is asked to map: address space, not
// memory.
const minMapSize = 16 << 30

// walAllocSize is how much bbolt grows the data file by at a time.
const walAllocSize = 1 << 20
