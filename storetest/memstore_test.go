package storetest_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/storetest"
)

// TestMemStore runs the suite against memStore, a second reading of the
// contract written apart from the suite's own model, so that the suite is
// known to be satisfiable and its expectations are checked twice.
func TestMemStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) verso.Store { return newMemStore() })
}

// memStore keeps a full copy of the tree for every revision. It is simple
// rather than fast: each commit clones the map of the head tree.
type memStore struct {
	mu      sync.Mutex
	closed  bool
	trees   []map[verso.Path]*verso.Entry // trees[r] is the tree at r
	commits []*verso.Commit               // commits[r] is r's record; nil for 0
	changed chan struct{}                 // closed and replaced by each commit
}

var _ verso.Store = (*memStore)(nil)

func newMemStore() *memStore {
	root := &verso.Entry{Path: verso.Root, Kind: verso.KindNamespace, Version: 1}
	return &memStore{
		trees:   []map[verso.Path]*verso.Entry{{verso.Root: root}},
		commits: []*verso.Commit{nil},
		changed: make(chan struct{}),
	}
}

func (s *memStore) head() verso.Revision { return verso.Revision(len(s.trees) - 1) }

// tree returns the tree at rev; the caller holds mu.
func (s *memStore) tree(op string, p verso.Path, rev verso.Revision) (map[verso.Path]*verso.Entry, error) {
	if s.closed {
		return nil, verso.ErrClosed
	}
	if rev == verso.Head {
		rev = s.head()
	}
	if rev < 0 || rev > s.head() {
		return nil, &verso.PathError{Op: op, Path: p, Rev: rev, Err: verso.ErrNoRevision}
	}
	return s.trees[rev], nil
}

func (s *memStore) Head(ctx context.Context) (verso.Revision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, verso.ErrClosed
	}
	return s.head(), nil
}

func (s *memStore) Get(ctx context.Context, p verso.Path, rev verso.Revision) (*verso.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tree, err := s.tree("get", p, rev)
	if err != nil {
		return nil, err
	}
	e := tree[p]
	if e == nil {
		return nil, &verso.PathError{Op: "get", Path: p, Rev: rev, Err: verso.ErrNotFound}
	}
	return e, nil
}

func (s *memStore) Walk(ctx context.Context, p verso.Path, rev verso.Revision, depth int, fn func(*verso.Entry) error) error {
	s.mu.Lock()
	tree, err := s.tree("walk", p, rev)
	if err == nil && tree[p] == nil {
		err = &verso.PathError{Op: "walk", Path: p, Rev: rev, Err: verso.ErrNotFound}
	}
	if err != nil {
		s.mu.Unlock()
		return err
	}
	var es []*verso.Entry
	for q, e := range tree {
		if p.Contains(q) && (depth < 0 || q.Depth()-p.Depth() <= depth) {
			es = append(es, e)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(es, func(a, b *verso.Entry) int {
		return slices.Compare(strings.Split(string(a.Path), "/"), strings.Split(string(b.Path), "/"))
	})
	for _, e := range es {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (s *memStore) Revision(ctx context.Context, rev verso.Revision) (*verso.Commit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, verso.ErrClosed
	}
	if rev <= 0 || rev > s.head() {
		return nil, &verso.PathError{Op: "revision", Path: verso.Root, Rev: rev, Err: verso.ErrNoRevision}
	}
	return s.commits[rev], nil
}

func (s *memStore) Log(ctx context.Context, q verso.LogQuery) ([]*verso.Commit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, verso.ErrClosed
	}
	if q.Path == "" {
		q.Path = verso.Root
	}
	before := q.Before
	if before <= 0 {
		before = s.head()
	}
	if before > s.head() {
		return nil, &verso.PathError{Op: "log", Path: q.Path, Rev: before, Err: verso.ErrNoRevision}
	}
	var out []*verso.Commit
	for r := before; r > 0 && (q.Limit == 0 || len(out) < q.Limit); r-- {
		if slices.ContainsFunc(s.commits[r].Changes, func(c verso.Change) bool { return q.Path.Contains(c.Path) }) {
			out = append(out, s.commits[r])
		}
	}
	return out, nil
}

func (s *memStore) Wait(ctx context.Context, rev verso.Revision) (verso.Revision, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return 0, verso.ErrClosed
		}
		head, changed := s.head(), s.changed
		s.mu.Unlock()
		if head >= rev {
			return head, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-changed:
		}
	}
}

func (s *memStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return verso.ErrClosed
	}
	s.closed = true
	close(s.changed)
	return nil
}

func (s *memStore) Commit(ctx context.Context, txn *verso.Txn) (*verso.Commit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, verso.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(txn.Ops) == 0 {
		return nil, verso.ErrEmptyTxn
	}
	head := s.head()
	if txn.Base > head {
		return nil, &verso.PathError{Op: "commit", Path: verso.Root, Rev: txn.Base, Err: verso.ErrNoRevision}
	}
	w := &memTxn{
		before: s.trees[head],
		tree:   maps.Clone(s.trees[head]),
		rev:    head + 1,
		author: txn.Author,
		time:   time.Now().Round(0),
		from:   map[verso.Path]verso.Change{},
		dirty:  map[verso.Path]bool{},
	}
	for i, op := range txn.Ops {
		if err := w.apply(op); err != nil {
			return nil, &verso.OpError{Index: i, Kind: op.Kind, Err: err}
		}
	}
	c := &verso.Commit{Rev: w.rev, Author: txn.Author, Time: w.time, Message: txn.Message, Changes: w.changes()}
	if txn.Base > 0 {
		var stale []verso.Path
		for _, ch := range c.Changes {
			for r := txn.Base + 1; r <= head; r++ {
				if slices.ContainsFunc(s.commits[r].Changes, func(o verso.Change) bool { return o.Path == ch.Path }) {
					stale = append(stale, ch.Path)
					break
				}
			}
		}
		if len(stale) > 0 {
			return nil, &verso.ConflictError{Base: txn.Base, Paths: stale}
		}
	}
	s.trees = append(s.trees, w.tree)
	s.commits = append(s.commits, c)
	close(s.changed)
	s.changed = make(chan struct{})
	return c, nil
}

// memTxn applies one transaction's operations to a copy of the head tree.
type memTxn struct {
	before, tree map[verso.Path]*verso.Entry
	rev          verso.Revision
	author       string
	time         time.Time
	from         map[verso.Path]verso.Change // paths last put in place by a copy or move
	dirty        map[verso.Path]bool         // paths written or removed
}

func (w *memTxn) apply(op verso.Op) error {
	fail := func(p verso.Path, err error) error { return &verso.PathError{Op: string(op.Kind), Path: p, Err: err} }
	switch op.Kind {
	case verso.OpPut, verso.OpDelete, verso.OpMkcol, verso.OpProps, verso.OpCheck:
	case verso.OpCopy, verso.OpMove:
		if op.From == "" {
			return fail(op.Path, verso.ErrInvalidOp)
		}
	default:
		return fail(op.Path, verso.ErrInvalidOp)
	}
	if op.Path == "" {
		return fail(op.Path, verso.ErrInvalidOp)
	}
	cur := w.tree[op.Path]
	if c := op.If; (c.Absent && cur != nil) || (c.Exists && cur == nil) || (c.ModRev > 0 && (cur == nil || cur.ModRev != c.ModRev)) ||
		(c.TreeRev > 0 && (cur == nil || cur.TreeRev > c.TreeRev)) {
		return fail(op.Path, verso.ErrPrecondition)
	}
	parent := func(p verso.Path) error {
		switch par := w.tree[p.Parent()]; {
		case par == nil:
			return fail(p, verso.ErrNoParent)
		case !par.IsNamespace():
			return fail(p, verso.ErrNotNamespace)
		}
		return nil
	}

	switch op.Kind {
	case verso.OpPut:
		if op.Path.IsRoot() {
			return fail(op.Path, verso.ErrRoot)
		}
		if err := parent(op.Path); err != nil {
			return err
		}
		if cur != nil && cur.IsNamespace() {
			return fail(op.Path, verso.ErrIsNamespace)
		}
		e := w.edit(op.Path, verso.KindKey)
		e.Value, e.ContentType = op.Value, op.ContentType
	case verso.OpMkcol:
		if cur != nil {
			return fail(op.Path, verso.ErrExists)
		}
		if err := parent(op.Path); err != nil {
			return err
		}
		w.edit(op.Path, verso.KindNamespace)
	case verso.OpDelete:
		if op.Path.IsRoot() {
			return fail(op.Path, verso.ErrRoot)
		}
		if cur == nil {
			return fail(op.Path, verso.ErrNotFound)
		}
		w.remove(op.Path)
	case verso.OpCopy, verso.OpMove:
		src := w.tree[op.From]
		switch {
		case src == nil:
			return fail(op.From, verso.ErrNotFound)
		case op.Kind == verso.OpMove && op.From.IsRoot():
			return fail(op.From, verso.ErrRoot)
		case op.Path.IsRoot():
			return fail(op.Path, verso.ErrRoot)
		case op.From.Contains(op.Path) || op.Path.Contains(op.From):
			return fail(op.Path, verso.ErrSamePath)
		}
		if err := parent(op.Path); err != nil {
			return err
		}
		if cur != nil && !op.Overwrite {
			return fail(op.Path, verso.ErrExists)
		}
		var copies []*verso.Entry
		for q, e := range w.tree {
			if q == op.From || (op.From.Contains(q) && (op.Kind == verso.OpMove || op.Depth != 0)) {
				copies = append(copies, e)
			}
		}
		if cur != nil {
			w.remove(op.Path)
		}
		action := verso.Copied
		if op.Kind == verso.OpMove {
			action = verso.Moved
		}
		for _, e := range copies {
			dst := e.Path.Rebase(op.From, op.Path)
			n := w.edit(dst, e.Kind)
			n.Value, n.ContentType, n.Props = e.Value, e.ContentType, maps.Clone(e.Props)
			w.from[dst] = verso.Change{Action: action, From: e.Path, FromRev: w.rev - 1}
		}
		if op.Kind == verso.OpMove {
			w.remove(op.From)
		}
	case verso.OpProps:
		if cur == nil {
			return fail(op.Path, verso.ErrNotFound)
		}
		e := w.edit(op.Path, cur.Kind)
		props := maps.Clone(e.Props)
		for _, pc := range op.Props {
			if pc.Name == "" {
				return fail(op.Path, verso.ErrInvalidOp)
			}
			if pc.Remove {
				delete(props, pc.Name)
				continue
			}
			if props == nil {
				props = map[string]string{}
			}
			props[pc.Name] = pc.Value
		}
		if len(props) == 0 {
			props = nil
		}
		e.Props = props
	}
	return nil
}

// edit returns a fresh copy of the entry at p for this revision to change,
// creating it if it does not exist, and moves the TreeRev of the namespaces
// above it.
func (w *memTxn) edit(p verso.Path, kind verso.Kind) *verso.Entry {
	var e verso.Entry
	if old := w.tree[p]; old != nil {
		e = *old
		if e.ModRev != w.rev {
			e.Version++
		}
	} else {
		e = verso.Entry{Path: p, Kind: kind, CreateRev: w.rev, Version: 1}
	}
	e.ModRev, e.TreeRev, e.ModTime, e.ModBy = w.rev, w.rev, w.time, w.author
	w.tree[p] = &e
	w.dirty[p] = true
	// A copy changed in the transaction that made it stays a copy.
	w.touchAbove(p)
	return &e
}

func (w *memTxn) remove(p verso.Path) {
	for q := range w.tree {
		if p.Contains(q) {
			delete(w.tree, q)
			delete(w.from, q)
			w.dirty[q] = true
		}
	}
	w.touchAbove(p)
}

func (w *memTxn) touchAbove(p verso.Path) {
	for _, a := range p.Ancestors() {
		if e := w.tree[a]; e != nil && e.TreeRev != w.rev {
			c := *e
			c.TreeRev = w.rev
			w.tree[a] = &c
		}
	}
}

// changes lists the net change of every dirty path, in path order.
func (w *memTxn) changes() []verso.Change {
	var out []verso.Change
	for _, p := range slices.Sorted(maps.Keys(w.dirty)) {
		old, cur := w.before[p], w.tree[p]
		switch {
		case cur == nil && old == nil:
		case cur == nil:
			out = append(out, verso.Change{Path: p, Kind: old.Kind, Action: verso.Deleted})
		default:
			c := w.from[p]
			c.Path, c.Kind = p, cur.Kind
			switch {
			case c.Action != "":
				if src := w.before[c.From]; src != nil {
					c.Mods = verso.ModsBetween(src, cur)
				}
			case old == nil:
				c.Action, c.Mods = verso.Added, verso.ModsBetween(nil, cur)
			default:
				c.Action, c.Mods = verso.Modified, verso.ModsBetween(old, cur)
			}
			out = append(out, c)
		}
	}
	return out
}
