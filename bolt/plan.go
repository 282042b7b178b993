package bolt

import (
	"bytes"
	"fmt"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
	"github.com/verso-config/verso/internal/plan"
	bbolt "go.etcd.io/bbolt"
)

// Transactions are planned by package internal/plan, which holds the rules
// of every operation; this file shows it the state of a bbolt write
// transaction and writes what it planned.

// planState is the tree as a bbolt write transaction holds it: the head
// revision, with the plans written before in the same group commit.
type planState struct {
	tree, hist *bbolt.Bucket
	schemas    *plan.SchemaCache
}

// SchemaCache lends the planner the store's namespace documents.
func (s planState) SchemaCache() *plan.SchemaCache { return s.schemas }

// Get returns p's entry in the tree bucket, or nil.
func (s planState) Get(p verso.Path) (*verso.Entry, error) {
	return readTree(s.tree, p)
}

// Children returns the paths of the children of ns in the tree bucket, in
// name order: one prefix scan.
func (s planState) Children(ns verso.Path) ([]verso.Path, error) {
	var out []verso.Path
	prefix := childPrefix(ns)
	c := s.tree.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, pathFromTreeKey(k))
	}
	return out, nil
}

// DeletedAfter returns those of paths that have a record in hist after
// base: one seek each.
func (s planState) DeletedAfter(paths []verso.Path, base verso.Revision) ([]verso.Path, error) {
	var out []verso.Path
	c := s.hist.Cursor()
	for _, p := range paths {
		prefix := histKey(p, 0)
		prefix = prefix[:len(prefix)-8]
		if k, _ := c.Seek(histKey(p, base+1)); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8 {
			out = append(out, p)
		}
	}
	return out, nil
}

// readTree returns p's entry in the tree bucket, or nil. The root is
// synthesized when no properties were ever set on it.
func readTree(tree *bbolt.Bucket, p verso.Path) (*verso.Entry, error) {
	v := tree.Get(treeKey(p))
	if v == nil {
		if p == verso.Root {
			return plan.RootEntry(), nil
		}
		return nil, nil
	}
	return codec.DecodeEntry(p, v)
}

// planTxn validates txn against the state in tx (revision head) and
// computes what revision head+1 changes. It writes nothing. A nil error
// means writePlan will succeed short of a storage failure.
func planTxn(tx *bbolt.Tx, head verso.Revision, txn *verso.Txn, now time.Time) (*plan.Plan, error) {
	return planCached(tx, nil, head, txn, now)
}

// planCached is planTxn with the store's cache of namespace documents.
func planCached(tx *bbolt.Tx, schemas *plan.SchemaCache, head verso.Revision, txn *verso.Txn, now time.Time) (*plan.Plan, error) {
	return plan.Txn(planState{tree: tx.Bucket(bucketTree), hist: tx.Bucket(bucketHist), schemas: schemas}, head, txn, now)
}

// writePlan writes p through w as revision p.Rev, which must be head+1.
func writePlan(w *writer, p *plan.Plan) error {
	for i, ch := range p.Commit.Changes {
		e := p.Changed[i]
		if e == nil {
			if err := w.delete(wbTree, treeKey(ch.Path)); err != nil {
				return fmt.Errorf("delete %s: %w", ch.Path, err)
			}
			if err := w.put(wbHist, histKey(ch.Path, p.Rev), []byte{codec.Tombstone}); err != nil {
				return fmt.Errorf("record deletion of %s: %w", ch.Path, err)
			}
			continue
		}
		v := codec.EncodeEntry(e)
		if err := w.put(wbTree, treeKey(ch.Path), v); err != nil {
			return fmt.Errorf("put %s: %w", ch.Path, err)
		}
		if err := w.put(wbHist, histKey(ch.Path, p.Rev), v); err != nil {
			return fmt.Errorf("record %s: %w", ch.Path, err)
		}
	}
	for _, e := range p.TreeRevs {
		if err := w.put(wbTree, treeKey(e.Path), codec.EncodeEntry(e)); err != nil {
			return fmt.Errorf("put %s: %w", e.Path, err)
		}
	}
	for _, q := range p.Indexed {
		if err := w.put(wbIndex, indexKey(q, p.Rev), []byte{}); err != nil {
			return fmt.Errorf("index %s: %w", q, err)
		}
	}
	rec, err := codec.EncodeCommit(p.Commit, "")
	if err != nil {
		return fmt.Errorf("encode commit %d: %w", p.Rev, err)
	}
	if err := w.put(wbRevs, revKey(p.Rev), rec); err != nil {
		return fmt.Errorf("put commit %d: %w", p.Rev, err)
	}
	return nil
}
