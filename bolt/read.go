package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
	"github.com/verso-config/verso/internal/plan"
	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

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
//
// A damaged page (bbolt panics on many) or a page the file no longer
// holds (a file cut short: reading it through bbolt's memory map faults)
// becomes an error wrapping errCorrupt, and stops the store: it refuses
// commits, and Writable (the server's /readyz) says why, until the file
// is restored and the store reopened.
func (s *Store) viewNow(fn func(*bbolt.Tx) error) error {
	err := guard(func() error { return s.db.View(fn) })
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return verso.ErrClosed
	}
	if errors.Is(err, errCorrupt) {
		s.fail(err)
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
		if p := s.noSpace.Load(); p != nil {
			return fmt.Errorf("read r%d: %w", rev, *p)
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
			return nil, fmt.Errorf("hist key %q: %w", shown(k), errCorrupt)
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
