package svnfs

import (
	"context"

	"github.com/verso-config/verso"
)

// The store operations an svn commit (package svn's commit.go) and a dump's
// revision (package svndump's load.go) are made of, where both build the
// same ones.

// CopyOps returns the operations that copy src as of rev (where it is se)
// to dst. If the source is as it was at rev (cur, its entry at the head,
// is the same node and nothing below it changed since, and fresh: nothing
// of the operations not yet committed touches it), that is one verso copy
// of depth, which keeps its history; otherwise its state at rev, path by
// path, each recorded as a copy of rev.
func CopyOps(ctx context.Context, store verso.Store, src, dst verso.Path, rev verso.Revision, depth int, se, cur *verso.Entry, fresh bool) ([]verso.Op, error) {
	if fresh && cur != nil && cur.Kind == se.Kind && cur.CreateRev == se.CreateRev && cur.TreeRev <= rev {
		return []verso.Op{{Kind: verso.OpCopy, Path: dst, From: src, Depth: depth, FromRev: rev}}, nil
	}
	var ops []verso.Op
	err := store.Walk(ctx, src, rev, verso.Infinite, func(e *verso.Entry) error {
		q := e.Path.Rebase(src, dst)
		if e.IsNamespace() {
			ops = append(ops, verso.Op{Kind: verso.OpMkcol, Path: q, From: e.Path, FromRev: rev})
		} else {
			ops = append(ops, verso.Op{Kind: verso.OpPut, Path: q, Value: e.Value, ContentType: e.ContentType, From: e.Path, FromRev: rev})
		}
		if len(e.Props) > 0 {
			var pc []verso.PropChange
			for _, k := range SortedKeys(e.Props) {
				pc = append(pc, verso.PropChange{Name: k, Value: e.Props[k]})
			}
			ops = append(ops, verso.Op{Kind: verso.OpProps, Path: q, Props: pc})
		}
		return nil
	})
	return ops, err
}

// CopyAt returns where in a list of n operations the copy of src goes:
// before the deletion of src or of a namespace above it (deleted gives
// each deleted path's index), since a move deletes its source before it
// copies it; at the end otherwise.
func CopyAt(deleted map[verso.Path]int, src verso.Path, n int) int {
	at := n
	for q := src; ; q = q.Parent() {
		if i, ok := deleted[q]; ok && i < at {
			at = i
		}
		if q == verso.Root {
			return at
		}
	}
}

// InsertOps inserts ops into list at index at and moves the indices of
// deleted that follow; it returns the new list.
func InsertOps(list []verso.Op, deleted map[verso.Path]int, at int, ops []verso.Op) []verso.Op {
	list = append(list[:at], append(ops, list[at:]...)...)
	for q, i := range deleted {
		if i >= at {
			deleted[q] = i + len(ops)
		}
	}
	return list
}
