package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
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

	// MaxBatch is the most transactions grouped into one bbolt transaction
	// (one fsync) by group commit. 0 means 256; 1 turns grouping off.
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
	path     string
	db       *bbolt.DB
	clock    func() time.Time
	maxBatch int
	log      *slog.Logger

	// cache is the tree at head (headcache.go).
	cache headCache
	// head is the newest revision published to cache.
	head atomic.Int64

	// publishMu is held by the committer from the start of a bbolt write
	// transaction until its revisions are published, and by Check, so
	// that Check sees the cache and the file at the same revision.
	publishMu sync.Mutex

	isClosed atomic.Bool
	mu       sync.Mutex    // guards closed, headCh
	closed   bool          // no more commits accepted
	headCh   chan struct{} // closed and replaced when head advances
	closeCh  chan struct{} // closed by Close, ends Wait

	// pruneMu makes concurrent Prune calls run one at a time.
	pruneMu sync.Mutex

	inflight sync.WaitGroup // Commit calls that got past the closed check
	reqs     chan *request  // to the committer
	done     chan struct{}  // closed when the committer exits

	// batchHook, if set (by tests, before the first Commit), is called by
	// the committer with the size of each group before it commits it.
	batchHook func(size int)
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
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: o.Timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: data file is in use by another process: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{
		path:     path,
		db:       db,
		clock:    o.Clock,
		maxBatch: o.MaxBatch,
		log:      o.Logger,
		headCh:   make(chan struct{}),
		closeCh:  make(chan struct{}),
		reqs:     make(chan *request, o.MaxBatch),
		done:     make(chan struct{}),
	}
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	go s.commitLoop()
	return s, nil
}

// init creates the buckets of a new file, checks the format of an existing
// one, and loads the head cache.
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
	if err != nil {
		return err
	}
	return s.loadHead() // load.go
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
	if s.isClosed.Load() {
		return 0, verso.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return verso.Revision(s.head.Load()), nil
}

// Get returns the entry at p as of rev. At verso.Head it answers from
// memory; at an older revision it reads the history in the file.
func (s *Store) Get(ctx context.Context, p verso.Path, rev verso.Revision) (*verso.Entry, error) {
	if s.isClosed.Load() {
		return nil, verso.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if rev == verso.Head {
		if e, ok := s.cache.Load(p); ok {
			return e, nil
		}
		return nil, &verso.PathError{Op: "get", Path: p, Err: verso.ErrNotFound}
	}
	var e *verso.Entry
	err := s.view(func(tx *bbolt.Tx) error {
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

// view runs fn in a bbolt read transaction, turning a closed database into
// verso.ErrClosed.
func (s *Store) view(fn func(*bbolt.Tx) error) error {
	err := s.db.View(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return verso.ErrClosed
	}
	return err
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
	if s.isClosed.Load() {
		return verso.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var out []*verso.Entry
	err := s.view(func(tx *bbolt.Tx) error {
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
	if s.isClosed.Load() {
		return nil, verso.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var c *verso.Commit
	err := s.view(func(tx *bbolt.Tx) error {
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
	if s.isClosed.Load() {
		return nil, verso.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := q.Path
	if p == "" {
		p = verso.Root
	}
	var out []*verso.Commit
	err := s.view(func(tx *bbolt.Tx) error {
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
		if s.isClosed.Load() {
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
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return verso.ErrClosed
	}
	s.closed = true
	s.isClosed.Store(true)
	close(s.closeCh)
	s.mu.Unlock()

	s.inflight.Wait()
	close(s.reqs)
	<-s.done
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close %s: %w", s.path, err)
	}
	return nil
}
