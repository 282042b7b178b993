package bolt

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
	bbolt "go.etcd.io/bbolt"
)

// A plan is everything one transaction changes, computed without writing:
// the commit record and the new state of each path it touches. Planning
// reads the write transaction, which already holds the plans of the
// transactions before it in the same group commit.
type plan struct {
	rev    verso.Revision
	commit *verso.Commit
	// changed holds the new state of every path listed in commit.Changes
	// (nil for deleted), in the same order; these go to tree and hist.
	changed []*verso.Entry
	// treeRevs are the namespaces above changed paths that were not changed
	// themselves, with TreeRev set to rev; they go to tree only.
	treeRevs []*verso.Entry
	// indexed are the paths whose log gains rev: the changed paths and
	// every namespace above them, root included.
	indexed []verso.Path
	// root is the root entry as of rev, for the head cache.
	root *verso.Entry
}

// origin records how a path was last created inside a transaction, which
// decides its net action: added, copied or moved.
type origin struct {
	action  verso.Action
	from    verso.Path
	fromRev verso.Revision
}

// view is the tree as a transaction's earlier operations left it: the tree
// bucket (the previous revision) under an overlay of the paths changed so
// far.
type view struct {
	tree *bbolt.Bucket
	// over holds every path an operation touched: its entry now, or nil if
	// it was deleted.
	over map[verso.Path]*verso.Entry
	// kids lists, by parent, the paths the overlay created (some may have
	// been deleted since: over decides).
	kids   map[verso.Path]map[verso.Path]struct{}
	origin map[verso.Path]origin
}

// rootEntry is the root as it is before any property was set on it.
func rootEntry() *verso.Entry {
	return &verso.Entry{Path: verso.Root, Kind: verso.KindNamespace, Version: 1}
}

// readTree returns p's entry in the tree bucket, or nil. The root is
// synthesized when no properties were ever set on it.
func readTree(tree *bbolt.Bucket, p verso.Path) (*verso.Entry, error) {
	v := tree.Get(treeKey(p))
	if v == nil {
		if p == verso.Root {
			return rootEntry(), nil
		}
		return nil, nil
	}
	return codec.DecodeEntry(p, v)
}

func (v *view) base(p verso.Path) (*verso.Entry, error) { return readTree(v.tree, p) }

func (v *view) get(p verso.Path) (*verso.Entry, error) {
	if e, ok := v.over[p]; ok {
		return e, nil
	}
	return v.base(p)
}

func (v *view) set(p verso.Path, e *verso.Entry) {
	v.over[p] = e
	if e == nil || p == verso.Root {
		return
	}
	parent := p.Parent()
	if v.kids[parent] == nil {
		v.kids[parent] = make(map[verso.Path]struct{})
	}
	v.kids[parent][p] = struct{}{}
}

// children returns the paths of the children of namespace ns, in name order.
func (v *view) children(ns verso.Path) ([]verso.Path, error) {
	var out []verso.Path
	prefix := childPrefix(ns)
	c := v.tree.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		p := pathFromTreeKey(k)
		if _, ok := v.over[p]; !ok {
			out = append(out, p)
		}
	}
	for p := range v.kids[ns] {
		if v.over[p] != nil {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out, nil
}

// subtree returns p and every path below it, breadth-first: callers need
// the set, and Changes are sorted later anyway.
func (v *view) subtree(p verso.Path) ([]verso.Path, error) {
	out := []verso.Path{p}
	for i := 0; i < len(out); i++ {
		e, err := v.get(out[i])
		if err != nil {
			return nil, err
		}
		if e == nil || !e.IsNamespace() {
			continue
		}
		kids, err := v.children(out[i])
		if err != nil {
			return nil, err
		}
		out = append(out, kids...)
	}
	return out, nil
}

// remove deletes p and everything below it.
func (v *view) remove(p verso.Path) error {
	paths, err := v.subtree(p)
	if err != nil {
		return err
	}
	for _, q := range paths {
		v.set(q, nil)
		delete(v.origin, q)
	}
	return nil
}

// txnState is what the operations of one transaction share.
type txnState struct {
	*view
	head   verso.Revision // the revision the transaction applies to
	rev    verso.Revision // the revision it will make
	now    time.Time
	author string
}

// bump returns the Version of e after a change in this revision: a second
// change in the same revision does not count again.
func (t *txnState) bump(e *verso.Entry) int64 {
	if e.ModRev == t.rev {
		return e.Version
	}
	return e.Version + 1
}

// validateOp checks what can be checked without the tree: ErrInvalidOp.
func validateOp(op *verso.Op) error {
	invalid := func(p verso.Path, format string, args ...any) error {
		return &verso.PathError{Op: string(op.Kind), Path: p, Err: fmt.Errorf("%w: "+format, append([]any{verso.ErrInvalidOp}, args...)...)}
	}
	switch op.Kind {
	case verso.OpPut, verso.OpDelete, verso.OpMkcol, verso.OpCopy, verso.OpMove, verso.OpProps, verso.OpCheck:
	default:
		return invalid(op.Path, "unknown operation %q", op.Kind)
	}
	if op.Path == "" {
		return invalid(op.Path, "empty path")
	}
	if !isClean(op.Path) {
		return invalid(op.Path, "path %q is not clean", op.Path)
	}
	if op.Kind == verso.OpCopy || op.Kind == verso.OpMove {
		if op.From == "" {
			return invalid(op.Path, "empty source path")
		}
		if !isClean(op.From) {
			return invalid(op.From, "path %q is not clean", op.From)
		}
	}
	if op.Kind == verso.OpProps {
		for _, pc := range op.Props {
			if !validPropName(pc.Name) {
				return invalid(op.Path, "property name %q", pc.Name)
			}
		}
	}
	return nil
}

// isClean reports whether p is what ParsePath would return for it. The
// store's key layout relies on it (no 0x00, depth from the slashes).
func isClean(p verso.Path) bool {
	q, err := verso.ParsePath(string(p))
	return err == nil && q == p
}

// validPropName accepts a Clark name "{namespace}local" or a bare local
// name; the local part must not be empty.
func validPropName(name string) bool {
	if name == "" {
		return false
	}
	if strings.HasPrefix(name, "{") {
		i := strings.IndexByte(name, '}')
		return i > 0 && i < len(name)-1
	}
	return !strings.ContainsAny(name, "{}")
}

// apply runs one operation against the view.
func (t *txnState) apply(op *verso.Op) error {
	fail := func(p verso.Path, err error) error {
		return &verso.PathError{Op: string(op.Kind), Path: p, Err: err}
	}
	cur, err := t.get(op.Path)
	if err != nil {
		return err
	}
	if c := op.If; !c.IsZero() {
		if (c.Absent && cur != nil) || (c.Exists && cur == nil) || (c.ModRev > 0 && (cur == nil || cur.ModRev != c.ModRev)) {
			return fail(op.Path, verso.ErrPrecondition)
		}
	}
	// checkParent applies the parent rules of put, mkcol, copy and move.
	checkParent := func() error {
		parent, err := t.get(op.Path.Parent())
		switch {
		case err != nil:
			return err
		case parent == nil:
			return fail(op.Path, verso.ErrNoParent)
		case !parent.IsNamespace():
			return fail(op.Path, verso.ErrNotNamespace)
		}
		return nil
	}
	switch op.Kind {
	case verso.OpCheck:
		// The condition above is all a check does.
	case verso.OpPut:
		if op.Path == verso.Root {
			return fail(op.Path, verso.ErrRoot)
		}
		if err := checkParent(); err != nil {
			return err
		}
		if cur != nil && cur.IsNamespace() {
			return fail(op.Path, verso.ErrIsNamespace)
		}
		e := &verso.Entry{
			Path: op.Path, Kind: verso.KindKey,
			Value: bytes.Clone(op.Value), ContentType: op.ContentType,
			ModRev: t.rev, TreeRev: t.rev, ModTime: t.now, ModBy: t.author,
		}
		if e.Value == nil {
			e.Value = []byte{}
		}
		if cur == nil {
			e.CreateRev, e.Version = t.rev, 1
			t.origin[op.Path] = origin{action: verso.Added}
		} else {
			e.CreateRev, e.Version, e.Props = cur.CreateRev, t.bump(cur), cur.Props
		}
		t.set(op.Path, e)

	case verso.OpMkcol:
		if cur != nil {
			return fail(op.Path, verso.ErrExists)
		}
		if err := checkParent(); err != nil {
			return err
		}
		t.set(op.Path, &verso.Entry{
			Path: op.Path, Kind: verso.KindNamespace,
			CreateRev: t.rev, ModRev: t.rev, TreeRev: t.rev, Version: 1, ModTime: t.now, ModBy: t.author,
		})
		t.origin[op.Path] = origin{action: verso.Added}

	case verso.OpDelete:
		if op.Path == verso.Root {
			return fail(op.Path, verso.ErrRoot)
		}
		if cur == nil {
			return fail(op.Path, verso.ErrNotFound)
		}
		return t.remove(op.Path)

	case verso.OpCopy, verso.OpMove:
		if op.Kind == verso.OpMove && op.From == verso.Root {
			return fail(op.From, verso.ErrRoot)
		}
		src, err := t.get(op.From)
		if err != nil {
			return err
		}
		if src == nil {
			return fail(op.From, verso.ErrNotFound)
		}
		if op.Path == verso.Root {
			return fail(op.Path, verso.ErrRoot)
		}
		if op.From.Contains(op.Path) || op.Path.Contains(op.From) {
			return fail(op.Path, verso.ErrSamePath)
		}
		if err := checkParent(); err != nil {
			return err
		}
		if cur != nil {
			if !op.Overwrite {
				return fail(op.Path, verso.ErrExists)
			}
			if err := t.remove(op.Path); err != nil {
				return err
			}
		}
		sources := []verso.Path{op.From}
		if op.Kind == verso.OpMove || op.Depth != 0 {
			if sources, err = t.subtree(op.From); err != nil {
				return err
			}
		}
		action := verso.Copied
		if op.Kind == verso.OpMove {
			action = verso.Moved
		}
		for _, sp := range sources {
			se, err := t.get(sp)
			if err != nil {
				return err
			}
			dp := sp.Rebase(op.From, op.Path)
			t.set(dp, &verso.Entry{
				Path: dp, Kind: se.Kind, Value: se.Value, ContentType: se.ContentType, Props: se.Props,
				CreateRev: t.rev, ModRev: t.rev, TreeRev: t.rev, Version: 1, ModTime: t.now, ModBy: t.author,
			})
			t.origin[dp] = origin{action: action, from: sp, fromRev: t.head}
		}
		if op.Kind == verso.OpMove {
			return t.remove(op.From)
		}

	case verso.OpProps:
		if cur == nil {
			return fail(op.Path, verso.ErrNotFound)
		}
		props := maps.Clone(cur.Props)
		for _, pc := range op.Props {
			if pc.Remove {
				delete(props, pc.Name)
				continue
			}
			if props == nil {
				props = make(map[string]string)
			}
			props[pc.Name] = pc.Value
		}
		if len(props) == 0 {
			props = nil
		}
		e := *cur
		e.Props, e.Version = props, t.bump(cur)
		e.ModRev, e.TreeRev, e.ModTime, e.ModBy = t.rev, t.rev, t.now, t.author
		t.set(op.Path, &e)
	}
	return nil
}

// planTxn validates txn against the state in tx (revision head) and
// computes what revision head+1 changes. It writes nothing. A nil error
// means writePlan will succeed short of a storage failure.
func planTxn(tx *bbolt.Tx, head verso.Revision, txn *verso.Txn, now time.Time) (*plan, error) {
	if txn.Base > head {
		return nil, &verso.PathError{Op: "commit", Path: verso.Root, Rev: txn.Base, Err: fmt.Errorf("%w: base revision %d is beyond the head %d", verso.ErrNoRevision, txn.Base, head)}
	}
	t := &txnState{
		view: &view{
			tree:   tx.Bucket(bucketTree),
			over:   make(map[verso.Path]*verso.Entry),
			kids:   make(map[verso.Path]map[verso.Path]struct{}),
			origin: make(map[verso.Path]origin),
		},
		head: head, rev: head + 1, now: now, author: txn.Author,
	}
	for i := range txn.Ops {
		op := &txn.Ops[i]
		if err := t.apply(op); err != nil {
			return nil, &verso.OpError{Index: i, Kind: op.Kind, Err: err}
		}
	}

	p := &plan{rev: t.rev, commit: &verso.Commit{Rev: t.rev, Author: txn.Author, Time: now, Message: txn.Message}}
	for _, path := range slices.Sorted(maps.Keys(t.over)) {
		after := t.over[path]
		before, err := t.base(path)
		if err != nil {
			return nil, err
		}
		ch := verso.Change{Path: path}
		switch o, ok := t.origin[path]; {
		case before == nil && after == nil:
			continue // created and removed in this revision
		case after == nil:
			ch.Kind, ch.Action = before.Kind, verso.Deleted
		case ok && (o.action == verso.Copied || o.action == verso.Moved):
			ch.Kind, ch.Action, ch.From, ch.FromRev = after.Kind, o.action, o.from, o.fromRev
		case before == nil:
			ch.Kind, ch.Action = after.Kind, verso.Added
		default:
			ch.Kind, ch.Action = after.Kind, verso.Modified
		}
		p.commit.Changes = append(p.commit.Changes, ch)
		p.changed = append(p.changed, after)
	}

	if txn.Base > 0 {
		if err := checkConflict(tx, txn.Base, p.commit.Changes); err != nil {
			return nil, err
		}
	}

	// Every namespace above a changed path gets TreeRev = rev.
	indexed := map[verso.Path]bool{verso.Root: true}
	for _, ch := range p.commit.Changes {
		indexed[ch.Path] = true
		for q := ch.Path; q != verso.Root; {
			q = q.Parent()
			if indexed[q] {
				break // q's ancestors are in already
			}
			indexed[q] = true
		}
	}
	changed := make(map[verso.Path]bool, len(p.changed))
	for _, ch := range p.commit.Changes {
		changed[ch.Path] = true
	}
	p.indexed = slices.Sorted(maps.Keys(indexed))
	for _, q := range p.indexed {
		if changed[q] || q == verso.Root {
			continue
		}
		e, err := t.get(q)
		if err != nil {
			return nil, err
		}
		if e == nil {
			return nil, fmt.Errorf("namespace %s above a changed path is missing: %w", q, errCorrupt)
		}
		ne := *e
		ne.TreeRev = t.rev
		p.treeRevs = append(p.treeRevs, &ne)
	}
	root, err := t.get(verso.Root)
	if err != nil {
		return nil, err
	}
	nr := *root
	nr.TreeRev = t.rev
	p.root = &nr
	return p, nil
}

// checkConflict fails with a *verso.ConflictError if a revision after base
// changed any of the paths in changes.
func checkConflict(tx *bbolt.Tx, base verso.Revision, changes []verso.Change) error {
	var paths []verso.Path
	c := tx.Bucket(bucketHist).Cursor()
	for _, ch := range changes {
		prefix := histKey(ch.Path, 0)
		prefix = prefix[:len(prefix)-8]
		if k, _ := c.Seek(histKey(ch.Path, base+1)); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8 {
			paths = append(paths, ch.Path)
		}
	}
	if len(paths) > 0 {
		return &verso.ConflictError{Base: base, Paths: paths}
	}
	return nil
}

// writePlan writes p into tx as revision p.rev, which must be head+1.
func writePlan(tx *bbolt.Tx, p *plan) error {
	tree, hist, index, revs := tx.Bucket(bucketTree), tx.Bucket(bucketHist), tx.Bucket(bucketIndex), tx.Bucket(bucketRevs)
	for i, ch := range p.commit.Changes {
		e := p.changed[i]
		if e == nil {
			if err := tree.Delete(treeKey(ch.Path)); err != nil {
				return fmt.Errorf("delete %s: %w", ch.Path, err)
			}
			if err := hist.Put(histKey(ch.Path, p.rev), []byte{codec.Tombstone}); err != nil {
				return fmt.Errorf("record deletion of %s: %w", ch.Path, err)
			}
			continue
		}
		v := codec.EncodeEntry(e)
		if err := tree.Put(treeKey(ch.Path), v); err != nil {
			return fmt.Errorf("put %s: %w", ch.Path, err)
		}
		if err := hist.Put(histKey(ch.Path, p.rev), v); err != nil {
			return fmt.Errorf("record %s: %w", ch.Path, err)
		}
	}
	for _, e := range p.treeRevs {
		if err := tree.Put(treeKey(e.Path), codec.EncodeEntry(e)); err != nil {
			return fmt.Errorf("put %s: %w", e.Path, err)
		}
	}
	for _, q := range p.indexed {
		if err := index.Put(indexKey(q, p.rev), []byte{}); err != nil {
			return fmt.Errorf("index %s: %w", q, err)
		}
	}
	rec, err := codec.EncodeCommit(p.commit, "")
	if err != nil {
		return fmt.Errorf("encode commit %d: %w", p.rev, err)
	}
	if err := revs.Put(revKey(p.rev), rec); err != nil {
		return fmt.Errorf("put commit %d: %w", p.rev, err)
	}
	return nil
}
