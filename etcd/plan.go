package etcd

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/verso-config/verso"
)

// A plan is everything one transaction changes, computed in memory without
// writing: the commit record and the new state of each path it touches.
// The rules are those of package bolt's planner (docs/STORE.md); only the
// tree it reads differs: the in-memory tree at the head this process knows,
// with the plans before it in the same group applied.
type plan struct {
	rev    verso.Revision
	commit *verso.Commit
	// changed holds the new state of every path listed in commit.Changes
	// (nil for deleted), in the same order; these go to t/ and h/.
	changed []*verso.Entry
	// treeRevs are the namespaces above changed paths that were not changed
	// themselves, with TreeRev set to rev; they go to t/ only.
	treeRevs []*verso.Entry
	// indexed are the paths whose log gains rev: the changed paths and
	// every namespace above them, root included.
	indexed []verso.Path
	// root is the root entry as of rev.
	root *verso.Entry
}

// origin records how a path was last created inside a transaction, which
// decides its net action: added, copied or moved.
type origin struct {
	action  verso.Action
	from    verso.Path
	fromRev verso.Revision
}

// view is the tree as a transaction's earlier operations left it: the base
// tree under an overlay of the paths changed so far.
type view struct {
	tree *tree
	// over holds every path an operation touched: its entry now, or nil if
	// it was deleted.
	over map[verso.Path]*verso.Entry
	// kids lists, by parent, the paths the overlay created (some may have
	// been deleted since: over decides).
	kids   map[verso.Path]map[verso.Path]struct{}
	origin map[verso.Path]origin
}

func (v *view) base(p verso.Path) *verso.Entry {
	if e := v.tree.get(p); e != nil || p != verso.Root {
		return e
	}
	return rootEntry()
}

func (v *view) get(p verso.Path) *verso.Entry {
	if e, ok := v.over[p]; ok {
		return e
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
func (v *view) children(ns verso.Path) []verso.Path {
	var out []verso.Path
	for _, e := range v.tree.children(ns) {
		if _, ok := v.over[e.Path]; !ok {
			out = append(out, e.Path)
		}
	}
	for p := range v.kids[ns] {
		if v.over[p] != nil {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// subtree returns p and every path below it, breadth-first.
func (v *view) subtree(p verso.Path) []verso.Path {
	out := []verso.Path{p}
	for i := 0; i < len(out); i++ {
		if e := v.get(out[i]); e == nil || !e.IsNamespace() {
			continue
		}
		out = append(out, v.children(out[i])...)
	}
	return out
}

// remove deletes p and everything below it.
func (v *view) remove(p verso.Path) {
	for _, q := range v.subtree(p) {
		v.set(q, nil)
		delete(v.origin, q)
	}
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

// isClean reports whether p is what ParsePath would return for it. The key
// layout relies on it (no 0x00, depth from the slashes).
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
	cur := t.get(op.Path)
	if c := op.If; !c.IsZero() {
		if (c.Absent && cur != nil) || (c.Exists && cur == nil) || (c.ModRev > 0 && (cur == nil || cur.ModRev != c.ModRev)) {
			return fail(op.Path, verso.ErrPrecondition)
		}
	}
	// checkParent applies the parent rules of put, mkcol, copy and move.
	checkParent := func() error {
		switch parent := t.get(op.Path.Parent()); {
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
		t.remove(op.Path)

	case verso.OpCopy, verso.OpMove:
		if op.Kind == verso.OpMove && op.From == verso.Root {
			return fail(op.From, verso.ErrRoot)
		}
		src := t.get(op.From)
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
			t.remove(op.Path)
		}
		sources := []verso.Path{op.From}
		if op.Kind == verso.OpMove || op.Depth != 0 {
			sources = t.subtree(op.From)
		}
		action := verso.Copied
		if op.Kind == verso.OpMove {
			action = verso.Moved
		}
		for _, sp := range sources {
			se := t.get(sp)
			dp := sp.Rebase(op.From, op.Path)
			t.set(dp, &verso.Entry{
				Path: dp, Kind: se.Kind, Value: se.Value, ContentType: se.ContentType, Props: se.Props,
				CreateRev: t.rev, ModRev: t.rev, TreeRev: t.rev, Version: 1, ModTime: t.now, ModBy: t.author,
			})
			t.origin[dp] = origin{action: action, from: sp, fromRev: t.head}
		}
		if op.Kind == verso.OpMove {
			t.remove(op.From)
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

// conflictFunc reports which of paths, absent from the tree the plan reads,
// were changed (deleted) by a revision after base: the planner asks etcd's
// history, since the tree in memory holds no deletions.
type conflictFunc func(paths []verso.Path, base verso.Revision) ([]verso.Path, error)

// planTxn validates txn against tr (revision head) and computes what
// revision head+1 changes. It writes nothing; tr is only read.
func planTxn(tr *tree, head verso.Revision, txn *verso.Txn, now time.Time, deletedAfter conflictFunc) (*plan, error) {
	if txn.Base > head {
		return nil, &verso.PathError{Op: "commit", Path: verso.Root, Rev: txn.Base, Err: fmt.Errorf("%w: base revision %d is beyond the head %d", verso.ErrNoRevision, txn.Base, head)}
	}
	t := &txnState{
		view: &view{
			tree:   tr,
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
	var absent []verso.Path // changed paths that did not exist before
	for _, path := range slices.Sorted(maps.Keys(t.over)) {
		after := t.over[path]
		before := t.base(path)
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
		if before == nil {
			absent = append(absent, path)
		}
		p.commit.Changes = append(p.commit.Changes, ch)
		p.changed = append(p.changed, after)
	}

	if txn.Base > 0 {
		// A path that exists was last changed at its ModRev; one that
		// does not was last changed by its deletion, which only the
		// history knows.
		var paths []verso.Path
		for _, ch := range p.commit.Changes {
			if before := t.base(ch.Path); before != nil && before.ModRev > txn.Base {
				paths = append(paths, ch.Path)
			}
		}
		if len(absent) > 0 {
			more, err := deletedAfter(absent, txn.Base)
			if err != nil {
				return nil, err
			}
			paths = append(paths, more...)
		}
		if len(paths) > 0 {
			slices.Sort(paths)
			return nil, &verso.ConflictError{Base: txn.Base, Paths: paths}
		}
	}

	// Every namespace above a changed path gets TreeRev = rev.
	indexed := map[verso.Path]bool{verso.Root: true}
	changed := make(map[verso.Path]bool, len(p.changed))
	for _, ch := range p.commit.Changes {
		changed[ch.Path] = true
		indexed[ch.Path] = true
		for q := ch.Path; q != verso.Root; {
			q = q.Parent()
			if indexed[q] {
				break // q's ancestors are in already
			}
			indexed[q] = true
		}
	}
	p.indexed = slices.Sorted(maps.Keys(indexed))
	for _, q := range p.indexed {
		if changed[q] || q == verso.Root {
			continue
		}
		e := t.get(q)
		if e == nil {
			return nil, fmt.Errorf("namespace %s above a changed path is missing: %w", q, errCorrupt)
		}
		ne := *e
		ne.TreeRev = t.rev
		p.treeRevs = append(p.treeRevs, &ne)
	}
	nr := *t.get(verso.Root)
	nr.TreeRev = t.rev
	p.root = &nr
	return p, nil
}

// applyTo applies p to tr, which must be at revision p.rev-1.
func (p *plan) applyTo(tr *tree) {
	for i, ch := range p.commit.Changes {
		if e := p.changed[i]; e != nil {
			tr.set(e)
		} else if ch.Path != verso.Root {
			tr.delete(ch.Path)
		}
	}
	for _, e := range p.treeRevs {
		tr.set(e)
	}
	tr.set(p.root)
}
