package svn

import (
	"context"
	"errors"

	"github.com/verso-config/verso"
)

// step is one revision in a node's history, with the path the node had
// then.
type step struct {
	c  *verso.Commit
	at verso.Path
}

// history returns, newest first, the commits at or below hi and at or
// above lo that changed the node at p (as of hi) or anything below it, as
// svn log lists them: back to the node's creation, and through the copy
// or move that created it to its source's history, unless strict (svn log
// --stop-on-copy). An earlier node that had the same path and was
// deleted is not part of it.
func (h *Handler) history(ctx context.Context, p verso.Path, lo, hi verso.Revision, strict bool, readable func(verso.Path) bool) ([]step, error) {
	var out []step
	cur, before := p, hi
	for before >= max(lo, 1) {
		commits, err := h.store.Log(ctx, verso.LogQuery{Path: cur, Before: before})
		if err != nil && !errors.Is(err, verso.ErrNotFound) {
			return nil, err
		}
		var next verso.Path
		var nextRev verso.Revision
		done := true
		for _, c := range commits {
			if c.Rev < lo {
				break
			}
			out = append(out, step{c, cur})
			ch := changeOf(c, cur)
			if ch == nil {
				continue
			}
			if ch.Action == verso.Added || ch.Action == verso.Copied || ch.Action == verso.Moved {
				if ch.From != "" && !strict && readable(ch.From) {
					next, nextRev, done = ch.From, ch.FromRev, false
				}
				break // the node was born here
			}
		}
		if done {
			break
		}
		cur, before = next, nextRev
	}
	return out, nil
}

// changeOf returns c's change of exactly p, nil if none.
func changeOf(c *verso.Commit, p verso.Path) *verso.Change {
	for i := range c.Changes {
		if c.Changes[i].Path == p {
			return &c.Changes[i]
		}
	}
	return nil
}
