package etcd

import (
	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/plan"
)

// Transactions are planned by package internal/plan, which holds the rules
// of every operation; this file shows it the tree in memory at the head
// this process knows, with the plans before it in the same group applied.

// planState is a tree in memory as the planner reads it.
type planState struct {
	tree *tree
	// deletedAfter asks etcd's history which of paths, absent from tree,
	// a revision after base deleted: the tree in memory holds no
	// deletions.
	deletedAfter func(paths []verso.Path, base verso.Revision) ([]verso.Path, error)
	schemas      *plan.SchemaCache
}

// SchemaCache lends the planner the store's namespace documents.
func (s planState) SchemaCache() *plan.SchemaCache { return s.schemas }

// Get returns p's entry in the tree, or nil.
func (s planState) Get(p verso.Path) (*verso.Entry, error) { return s.tree.get(p), nil }

// Children returns the paths of the children of ns, in name order.
func (s planState) Children(ns verso.Path) ([]verso.Path, error) {
	kids := s.tree.children(ns)
	out := make([]verso.Path, len(kids))
	for i, e := range kids {
		out[i] = e.Path
	}
	return out, nil
}

// DeletedAfter returns those of paths that a revision after base deleted.
func (s planState) DeletedAfter(paths []verso.Path, base verso.Revision) ([]verso.Path, error) {
	return s.deletedAfter(paths, base)
}

// applyPlan applies p to tr, which must be at revision p.Rev-1.
func applyPlan(tr *tree, p *plan.Plan) {
	for i, ch := range p.Commit.Changes {
		if e := p.Changed[i]; e != nil {
			tr.set(e)
		} else if ch.Path != verso.Root {
			tr.delete(ch.Path)
		}
	}
	for _, e := range p.TreeRevs {
		tr.set(e)
	}
	tr.set(p.Root)
}
