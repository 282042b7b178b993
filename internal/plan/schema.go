package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/schema"
)

// Namespace schemas are a commit rule like any other: after a
// transaction's operations, every namespace it touched (a changed path or
// a namespace above one) that has a schema key must validate against it,
// or the transaction fails with a *verso.SchemaError and changes nothing.
// Checking inside the plan is what makes it atomic with the commit on both
// stores: the state validated is the state the commit applies to.

// SchemaCache keeps, across the plans of one store, the documents of
// namespaces that were validated, so that a one-key change to a namespace
// of a thousand keys reads one key and not a thousand. A State that
// implements SchemaCacher lends Txn its store's cache; a document enters
// it only once the store calls Plan.Durable, so a plan that is never
// committed (etcd plans again when another server got in first) cannot
// leave a document of a revision that never was. Within one group of
// transactions planned in turn, each against the state the earlier ones
// left, the documents of the earlier plans serve the later ones: a store
// calls NewGroup before it plans a group, which forgets those of the last
// group that did not become durable.
type SchemaCache struct {
	mu      sync.Mutex
	docs    map[verso.Path]nsDoc
	pending map[verso.Path]nsDoc // this group's, not yet durable
}

// NewGroup starts a group of plans: documents of earlier plans that never
// became durable are forgotten.
func (c *SchemaCache) NewGroup() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.pending)
}

// SchemaCacher is a State that has a SchemaCache.
type SchemaCacher interface {
	SchemaCache() *SchemaCache
}

// maxCachedDocs bounds the documents a cache keeps; past it, it starts
// over.
const maxCachedDocs = 4096

// nsDoc is the document of a namespace as of its TreeRev.
type nsDoc struct {
	path    verso.Path
	treeRev verso.Revision
	box     *docBox
}

// docBox holds a document's members. A later plan that changes the
// document changes the same map (copying a thousand members per commit
// would cost more than validating the one that changed): it first marks
// the box dead, and the boxes of the documents above it, which hold the
// map as a member, so that no plan or confirmation uses what it held.
type docBox struct {
	members map[string]any
	dead    bool
	// state is what incremental checks of the document against its
	// namespace's schema keep (schema.State), changed in place with
	// members.
	state *schema.State
}

func (c *SchemaCache) get(p verso.Path, treeRev verso.Revision) *docBox {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range []map[verso.Path]nsDoc{c.pending, c.docs} {
		if d, ok := m[p]; ok && d.treeRev == treeRev && !d.box.dead {
			return d.box
		}
	}
	return nil
}

// take hands the members of box, the document of p, and its state to a
// plan that will change them: box and the documents above p are dropped.
func (c *SchemaCache) take(p verso.Path, box *docBox) (map[string]any, *schema.State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	box.dead = true
	for q := p; ; q = q.Parent() {
		for _, m := range []map[verso.Path]nsDoc{c.pending, c.docs} {
			if d, ok := m[q]; ok {
				d.box.dead = true
				delete(m, q)
			}
		}
		if q == verso.Root {
			break
		}
	}
	return box.members, box.state
}

// planned makes the documents of a plan just made available to the later
// plans of its group.
func (c *SchemaCache) planned(docs []nsDoc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending == nil {
		c.pending = make(map[verso.Path]nsDoc)
	}
	for _, d := range docs {
		if !d.box.dead {
			c.pending[d.path] = d
		}
	}
}

func (c *SchemaCache) confirm(docs []nsDoc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.docs == nil || len(c.docs)+len(docs) > maxCachedDocs {
		c.docs = make(map[verso.Path]nsDoc)
	}
	for _, d := range docs {
		if d.box.dead {
			continue // a later plan took it
		}
		if old, ok := c.docs[d.path]; !ok || old.treeRev <= d.treeRev {
			c.docs[d.path] = d
		}
	}
}

// Durable tells the cache of the State p was planned against that p is
// committed: the namespace documents p validated may serve later plans.
// Stores call it when they publish a durable plan.
func (p *Plan) Durable() {
	if p.cache != nil && len(p.docs) > 0 {
		p.cache.confirm(p.docs)
	}
}

// schemaCheck is the schema part of one transaction's plan.
type schemaCheck struct {
	t     *txnState
	cache *SchemaCache
	docs  []nsDoc // the documents built, for the cache once durable
	// built holds the documents already built in this plan, by path.
	built map[verso.Path]map[string]any
	// deltas holds, for the documents built from a cached committed
	// document, what differs from it.
	deltas map[verso.Path]*delta
	// boxes holds the boxes of the documents built, by path.
	boxes map[verso.Path]*docBox
}

// delta is how a namespace's document differs from its committed one: the
// members changed (added, replaced or removed), and whether the set of
// names changed.
type delta struct {
	changed []string
	names   bool
	state   *schema.State // of the committed document
}

// checkSchemas validates every touched namespace that has a schema.
func (t *txnState) checkSchemas(cache *SchemaCache) (*schemaCheck, error) {
	c := &schemaCheck{t: t, cache: cache}
	var violations []verso.Violation
	for _, p := range sortedPaths(t.touched) {
		if p.IsSchema() {
			if e, err := t.get(p); err != nil {
				return nil, err
			} else if e != nil && e.IsNamespace() {
				return nil, &verso.PathError{Op: "schema", Path: p, Err: fmt.Errorf("%w: %s is the name of a namespace's schema key, not of a namespace", verso.ErrInvalidOp, verso.SchemaKey)}
			}
		}
		e, err := t.get(p)
		if err != nil {
			return nil, err
		}
		if e == nil || !e.IsNamespace() {
			continue
		}
		sp := verso.SchemaOf(p)
		se, err := t.get(sp)
		if err != nil {
			return nil, err
		}
		if se == nil || se.IsNamespace() {
			continue
		}
		s, err := schema.Compile(se.Value)
		if err != nil {
			return nil, &verso.PathError{Op: "schema", Path: sp, Err: fmt.Errorf("%w: %v", verso.ErrInvalidSchema, err)}
		}
		doc, err := c.document(p)
		if err != nil {
			return nil, err
		}
		// A committed document is valid against the schema it was
		// committed with: when the schema is the same, only what
		// changed needs checking.
		// A schema whose root is a formula keeps, with the document,
		// which members fail which of its parts, whatever the
		// document's validity: then too only what changed is checked.
		var found []schema.Violation
		_, schemaChanged := t.touched[sp]
		d := c.deltas[p]
		switch {
		case s.Incremental():
			var prev *schema.State
			var changed []string
			names := false
			if d != nil {
				prev, changed, names = d.state, d.changed, d.names
			}
			ok, st := s.Check(doc, prev, changed, names)
			c.boxes[p].state = st
			if !ok {
				found = s.Validate(doc)
			}
		case d != nil && !schemaChanged:
			found = s.ValidateChanged(doc, d.changed, d.names)
		default:
			found = s.Validate(doc)
		}
		slices.SortStableFunc(found, func(a, b schema.Violation) int {
			return cmp.Or(slices.Compare(a.Pointer, b.Pointer), strings.Compare(a.Keyword, b.Keyword), strings.Compare(a.Message, b.Message))
		})
		for _, v := range found {
			kp, err := c.keyPath(p, v.Pointer)
			if err != nil {
				return nil, err
			}
			violations = append(violations, verso.Violation{
				Namespace: p, Path: kp, Pointer: schema.Pointer(v.Pointer), Keyword: v.Keyword, Message: v.Message,
			})
		}
	}
	if len(violations) > 0 {
		return nil, &verso.SchemaError{Violations: violations}
	}
	return c, nil
}

// keyPath returns the path of the key or namespace a pointer into ns's
// document falls in.
func (c *schemaCheck) keyPath(ns verso.Path, ptr []string) (verso.Path, error) {
	q := ns
	for _, tok := range ptr {
		if !isClean(q.Join(tok)) {
			break
		}
		e, err := c.t.get(q.Join(tok))
		if err != nil {
			return "", err
		}
		if e == nil {
			break
		}
		q = q.Join(tok)
		if !e.IsNamespace() {
			break
		}
	}
	return q, nil
}

// document returns the document of namespace ns as the transaction leaves
// it: the cached document of its committed state with the children the
// transaction touched read again, or, without one, every child read.
func (c *schemaCheck) document(ns verso.Path) (map[string]any, error) {
	if d, ok := c.built[ns]; ok {
		return d, nil
	}
	t := c.t
	before, err := t.base(ns)
	if err != nil {
		return nil, err
	}
	var members map[string]any
	var box *docBox
	if before != nil && before.IsNamespace() {
		box = c.cache.get(ns, before.TreeRev)
	}
	_, touched := t.touched[ns]
	switch {
	case box != nil && !touched:
		members = box.members
	case box != nil:
		d := &delta{}
		members, d.state = c.cache.take(ns, box)
		box = nil
		for q := range t.touched {
			if q == ns || q.Parent() != ns || q.IsSchema() {
				continue
			}
			e, err := t.get(q)
			if err != nil {
				return nil, err
			}
			name := q.Base()
			_, had := members[name]
			d.changed = append(d.changed, name)
			if e == nil {
				delete(members, name)
				d.names = d.names || had
				continue
			}
			d.names = d.names || !had
			if members[name], err = c.member(e); err != nil {
				return nil, err
			}
		}
		if c.deltas == nil {
			c.deltas = make(map[verso.Path]*delta)
		}
		c.deltas[ns] = d
	default:
		kids, err := t.children(ns)
		if err != nil {
			return nil, err
		}
		members = make(map[string]any, len(kids))
		for _, q := range kids {
			if q.IsSchema() {
				continue
			}
			e, err := t.get(q)
			if err != nil {
				return nil, err
			}
			if e == nil {
				continue
			}
			if members[q.Base()], err = c.member(e); err != nil {
				return nil, err
			}
		}
	}
	treeRev := t.rev
	if !touched && before != nil {
		treeRev = before.TreeRev
	}
	if c.built == nil {
		c.built = make(map[verso.Path]map[string]any)
	}
	c.built[ns] = members
	if box == nil {
		box = &docBox{members: members}
	}
	if c.boxes == nil {
		c.boxes = make(map[verso.Path]*docBox)
	}
	c.boxes[ns] = box
	if c.cache != nil {
		c.docs = append(c.docs, nsDoc{path: ns, treeRev: treeRev, box: box})
	}
	return members, nil
}

// member returns the document member of entry e.
func (c *schemaCheck) member(e *verso.Entry) (any, error) {
	if e.IsNamespace() {
		return c.document(e.Path)
	}
	return schema.Member(e.Value), nil
}
