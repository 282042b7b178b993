// Package plan is the transaction planner of the verso stores: the rules of
// docs/STORE.md for the operations of a commit, in one place for package
// bolt and package etcd.
//
// Txn validates a transaction against the committed state a store shows it
// (a State) and computes everything the new revision changes: the commit
// record, the new state of each path, the TreeRev of the namespaces above
// them and the paths whose log gains the revision. It writes nothing and
// reads nothing but the State, so planning is a pure function of that
// state: the bolt store plans inside its bbolt write transaction, the etcd
// store against its tree in memory (and plans again when another server's
// commit got in first). Each store writes a Plan with its own I/O.
package plan

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
)

// State is the committed tree a transaction is planned against: the head
// revision, with the plans of the transactions before it in the same group
// applied. Txn only reads it.
type State interface {
	// Get returns the entry at p, or nil if p does not exist. For the
	// root it may return nil (a store keeps no root until properties are
	// set on it): the planner stands in RootEntry.
	Get(p verso.Path) (*verso.Entry, error)
	// Children returns the paths of the children of namespace ns, in name
	// order.
	Children(ns verso.Path) ([]verso.Path, error)
	// DeletedAfter returns those of paths that a revision after base
	// changed. None of paths exists in the state, so such a change is a
	// deletion (the newest thing that happened to the path), which only
	// the store's history knows. A revision of the same group before this
	// transaction counts.
	DeletedAfter(paths []verso.Path, base verso.Revision) ([]verso.Path, error)
}

// A Plan is everything one transaction changes, computed without writing:
// the commit record and the new state of each path it touches.
type Plan struct {
	Rev    verso.Revision
	Commit *verso.Commit
	// Changed holds the new state of every path listed in Commit.Changes
	// (nil for deleted), in the same order: the tree at head and the
	// history take them.
	Changed []*verso.Entry
	// TreeRevs are the namespaces above changed paths that were not
	// changed themselves, with TreeRev set to Rev: the tree at head takes
	// them, the history does not.
	TreeRevs []*verso.Entry
	// Indexed are the paths whose log gains Rev, in order: the changed
	// paths and every namespace above them, root included.
	Indexed []verso.Path
	// Root is the root entry as of Rev, with TreeRev = Rev.
	Root *verso.Entry

	// cache and docs are the namespace documents validated, for the
	// State's cache once the plan is durable (see Durable).
	cache *SchemaCache
	docs  []nsDoc
}

// RootEntry is the root as it is before any property was set on it.
func RootEntry() *verso.Entry {
	return &verso.Entry{Path: verso.Root, Kind: verso.KindNamespace, Version: 1}
}

// Validate checks what can be checked of txn without any tree: ErrEmptyTxn,
// or an *verso.OpError wrapping ErrInvalidOp.
func Validate(txn *verso.Txn) error {
	if txn == nil || len(txn.Ops) == 0 {
		return verso.ErrEmptyTxn
	}
	for i := range txn.Ops {
		if err := validateOp(&txn.Ops[i]); err != nil {
			return &verso.OpError{Index: i, Kind: txn.Ops[i].Kind, Err: err}
		}
	}
	return nil
}

// validateOp checks one operation: ErrInvalidOp.
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
	if (op.Kind == verso.OpPut || op.Kind == verso.OpMkcol) && op.From != "" {
		if !isClean(op.From) {
			return invalid(op.From, "path %q is not clean", op.From)
		}
		if op.FromRev <= 0 {
			return invalid(op.Path, "a %s recorded as a copy needs the source's revision", op.Kind)
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
// stores' key layouts rely on it (no 0x00, depth from the slashes).
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

// origin records how a path was last created inside a transaction, which
// decides its net action: added, copied or moved.
type origin struct {
	action  verso.Action
	from    verso.Path
	fromRev verso.Revision
	// src is the source's committed state (from as of fromRev) that a
	// copy's Mods compare with; nil when the transaction cannot see it.
	src *verso.Entry
}

// view is the tree as a transaction's earlier operations left it: the
// committed state under an overlay of the paths changed so far.
type view struct {
	state State
	// over holds every path an operation touched: its entry now, or nil if
	// it was deleted.
	over map[verso.Path]*verso.Entry
	// kids lists, by parent, the paths the overlay created (some may have
	// been deleted since: over decides).
	kids   map[verso.Path]map[verso.Path]struct{}
	origin map[verso.Path]origin
	// touched holds every path an operation changed and every namespace
	// above one: the paths whose TreeRev the transaction moves to its own
	// revision.
	touched map[verso.Path]struct{}
	// bases holds the committed entries read so far (nil for a path that
	// does not exist): a plan asks for the same few paths (the parent, the
	// root, a namespace's schema key) several times, and each read of the
	// state decodes the entry again.
	bases map[verso.Path]*verso.Entry
}

// base returns p's entry in the committed state, or nil.
func (v *view) base(p verso.Path) (*verso.Entry, error) {
	if e, ok := v.bases[p]; ok {
		return e, nil
	}
	e, err := v.state.Get(p)
	if err != nil {
		return nil, err
	}
	if e == nil && p == verso.Root {
		e = RootEntry()
	}
	if v.bases == nil {
		v.bases = make(map[verso.Path]*verso.Entry)
	}
	v.bases[p] = e
	return e, nil
}

func (v *view) get(p verso.Path) (*verso.Entry, error) {
	if e, ok := v.over[p]; ok {
		return e, nil
	}
	return v.base(p)
}

func (v *view) set(p verso.Path, e *verso.Entry) {
	v.over[p] = e
	for q := p; ; q = q.Parent() {
		if _, ok := v.touched[q]; ok {
			break // q's ancestors are in already
		}
		v.touched[q] = struct{}{}
		if q == verso.Root {
			break
		}
	}
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
	committed, err := v.state.Children(ns)
	if err != nil {
		return nil, err
	}
	var out []verso.Path
	for _, p := range committed {
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

// treeRev returns the TreeRev of the existing path p (entry cur) in the
// view: the transaction's own revision when an earlier operation changed p
// or a path below it, the head for the root (every revision changes it),
// the committed TreeRev otherwise.
func (t *txnState) treeRev(p verso.Path, cur *verso.Entry) verso.Revision {
	switch _, ok := t.touched[p]; {
	case ok:
		return t.rev
	case p == verso.Root:
		return t.head
	}
	return cur.TreeRev
}

// addedOrigin is how a path an OpPut or OpMkcol creates is recorded: a
// copy of From at FromRev when the operation names them (the caller made
// the copy's content), added otherwise.
func (t *txnState) addedOrigin(op *verso.Op) origin {
	if op.From != "" && op.FromRev > 0 && op.FromRev <= t.head {
		return origin{action: verso.Copied, from: op.From, fromRev: op.FromRev}
	}
	return origin{action: verso.Added}
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
		if (c.Absent && cur != nil) || (c.Exists && cur == nil) || (c.ModRev > 0 && (cur == nil || cur.ModRev != c.ModRev)) ||
			(c.TreeRev > 0 && cur == nil) {
			return fail(op.Path, verso.ErrPrecondition)
		}
		if c.TreeRev > 0 {
			if tr := t.treeRev(op.Path, cur); tr > c.TreeRev {
				return fail(op.Path, fmt.Errorf("%w: it or a path below it changed in revision %d, after revision %d", verso.ErrPrecondition, tr, c.TreeRev))
			}
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
			t.origin[op.Path] = t.addedOrigin(op)
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
		t.origin[op.Path] = t.addedOrigin(op)

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
		fromRev := t.head
		if op.Kind == verso.OpCopy && op.FromRev > 0 && op.FromRev < t.head {
			if tr := t.treeRev(op.From, src); tr > op.FromRev {
				return fail(op.From, fmt.Errorf("%w: a copy from revision %d of a path changed in revision %d", verso.ErrPrecondition, op.FromRev, tr))
			}
			fromRev = op.FromRev
		}
		for _, sp := range sources {
			se, err := t.get(sp)
			if err != nil {
				return err
			}
			// The record names the source as of fromRev: its committed
			// state (unchanged since fromRev, checked above).
			base, err := t.base(sp)
			if err != nil {
				return err
			}
			dp := sp.Rebase(op.From, op.Path)
			t.set(dp, &verso.Entry{
				Path: dp, Kind: se.Kind, Value: se.Value, ContentType: se.ContentType, Props: se.Props,
				CreateRev: t.rev, ModRev: t.rev, TreeRev: t.rev, Version: 1, ModTime: t.now, ModBy: t.author,
			})
			t.origin[dp] = origin{action: action, from: sp, fromRev: fromRev, src: base}
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

// Txn validates txn against st (revision head) and computes what revision
// head+1 changes. txn must have passed Validate. It writes nothing and
// reads only st. An error wrapping codec.ErrCorrupt says st does not hold
// together (a namespace above a changed path is missing); any other error
// is the transaction's own (an *verso.OpError, a *verso.ConflictError, a
// Base beyond the head) or one of st's.
func Txn(st State, head verso.Revision, txn *verso.Txn, now time.Time) (*Plan, error) {
	p, schemaErr, err := plan(st, head, txn, now)
	if err != nil {
		return nil, err
	}
	if schemaErr != nil {
		return nil, schemaErr
	}
	return p, nil
}

// DryRun plans txn as Txn does, for a commit that is not to be made: when
// the transaction fails only because of namespace schemas, it returns the
// plan along with the *verso.SchemaError, so that the caller can tell both
// what would change and why it may not.
func DryRun(st State, head verso.Revision, txn *verso.Txn, now time.Time) (p *Plan, schemaErr *verso.SchemaError, err error) {
	return plan(st, head, txn, now)
}

func plan(st State, head verso.Revision, txn *verso.Txn, now time.Time) (*Plan, *verso.SchemaError, error) {
	if txn.Base > head {
		return nil, nil, &verso.PathError{Op: "commit", Path: verso.Root, Rev: txn.Base, Err: fmt.Errorf("%w: base revision %d is beyond the head %d", verso.ErrNoRevision, txn.Base, head)}
	}
	t := &txnState{
		view: &view{
			state:   st,
			over:    make(map[verso.Path]*verso.Entry),
			kids:    make(map[verso.Path]map[verso.Path]struct{}),
			origin:  make(map[verso.Path]origin),
			touched: make(map[verso.Path]struct{}),
		},
		head: head, rev: head + 1, now: now, author: txn.Author,
	}
	for i := range txn.Ops {
		op := &txn.Ops[i]
		if err := t.apply(op); err != nil {
			return nil, nil, &verso.OpError{Index: i, Kind: op.Kind, Err: err}
		}
	}

	p := &Plan{Rev: t.rev, Commit: &verso.Commit{Rev: t.rev, Author: txn.Author, Time: now, Message: txn.Message}}
	var conflicts []verso.Path // changed paths that some revision after Base changed too
	var absent []verso.Path    // changed paths that did not exist before
	for _, path := range sortedPaths(t.over) {
		after := t.over[path]
		before, err := t.base(path)
		if err != nil {
			return nil, nil, err
		}
		ch := verso.Change{Path: path}
		switch o, ok := t.origin[path]; {
		case before == nil && after == nil:
			continue // created and removed in this revision
		case after == nil:
			ch.Kind, ch.Action = before.Kind, verso.Deleted
		case ok && (o.action == verso.Copied || o.action == verso.Moved):
			ch.Kind, ch.Action, ch.From, ch.FromRev = after.Kind, o.action, o.from, o.fromRev
			if o.src != nil {
				ch.Mods = verso.ModsBetween(o.src, after)
			}
		case before == nil:
			ch.Kind, ch.Action, ch.Mods = after.Kind, verso.Added, verso.ModsBetween(nil, after)
		default:
			ch.Kind, ch.Action, ch.Mods = after.Kind, verso.Modified, verso.ModsBetween(before, after)
		}
		// A path that exists was last changed at its ModRev; one that
		// does not was last changed by its deletion, which only the
		// store's history knows.
		switch {
		case txn.Base <= 0:
		case before == nil:
			absent = append(absent, path)
		case before.ModRev > txn.Base:
			conflicts = append(conflicts, path)
		}
		p.Commit.Changes = append(p.Commit.Changes, ch)
		p.Changed = append(p.Changed, after)
	}

	if txn.Base > 0 {
		if len(absent) > 0 {
			more, err := st.DeletedAfter(absent, txn.Base)
			if err != nil {
				return nil, nil, err
			}
			conflicts = append(conflicts, more...)
		}
		if len(conflicts) > 0 {
			slices.Sort(conflicts)
			return nil, nil, &verso.ConflictError{Base: txn.Base, Paths: conflicts}
		}
	}

	var cache *SchemaCache
	if sc, ok := st.(SchemaCacher); ok {
		cache = sc.SchemaCache()
	}
	check, err := t.checkSchemas(cache)
	var schemaErr *verso.SchemaError
	if errors.As(err, &schemaErr) {
		check = &schemaCheck{}
	} else if err != nil {
		return nil, nil, err
	}
	p.cache, p.docs = cache, check.docs
	if cache != nil && schemaErr == nil && len(check.docs) > 0 {
		cache.planned(check.docs)
	}

	// Every namespace above a changed path gets TreeRev = rev.
	changed := make(map[verso.Path]bool, len(p.Changed))
	for _, ch := range p.Commit.Changes {
		changed[ch.Path] = true
	}
	p.Indexed = IndexedPaths(p.Commit)
	for _, q := range p.Indexed {
		if changed[q] || q == verso.Root {
			continue
		}
		e, err := t.get(q)
		if err != nil {
			return nil, nil, err
		}
		if e == nil {
			return nil, nil, fmt.Errorf("namespace %s above a changed path is missing: %w", q, codec.ErrCorrupt)
		}
		ne := *e
		ne.TreeRev = t.rev
		p.TreeRevs = append(p.TreeRevs, &ne)
	}
	root, err := t.get(verso.Root)
	if err != nil {
		return nil, nil, err
	}
	nr := *root
	nr.TreeRev = t.rev
	p.Root = &nr
	return p, schemaErr, nil
}

// IndexedPaths returns, sorted, the paths whose log holds c's revision: the
// root, every changed path and every namespace above one. The planner
// indexes these; pruning, which drops a revision's index entries, finds
// them the same way.
func IndexedPaths(c *verso.Commit) []verso.Path {
	indexed := make(map[verso.Path]bool, 2*len(c.Changes)+1)
	indexed[verso.Root] = true
	for _, ch := range c.Changes {
		indexed[ch.Path] = true
		for q := ch.Path; q != verso.Root; {
			q = q.Parent()
			if indexed[q] {
				break // q's ancestors are in already
			}
			indexed[q] = true
		}
	}
	return sortedPaths(indexed)
}

// sortedPaths returns the keys of m in order. (slices.Sorted(maps.Keys(m))
// grows its slice from nothing: several allocations for the few paths a
// plan holds, one here.)
func sortedPaths[V any](m map[verso.Path]V) []verso.Path {
	out := make([]verso.Path, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
