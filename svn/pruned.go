package svn

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/verso-config/verso"
)

// Updates across pruned history (--keep-versions, --keep-for): what the
// update report does when the working copy's states, or the target's,
// can no longer be read.

// changedNames adds to names those of the children of ep that a
// revision after rev changed.
func (u *updater) changedNames(ep string, rev verso.Revision, names map[string]bool) error {
	p := u.srcPath(ep)
	commits, err := u.h.store.Log(u.ctx, verso.LogQuery{Path: p, Before: u.rev})
	if err != nil {
		return err
	}
	for _, c := range commits {
		if c.Rev <= rev {
			break
		}
		for _, ch := range c.Changes {
			if ch.Path != p && ch.Path.Parent() == p {
				names[ch.Path.Base()] = true
			}
		}
	}
	return nil
}

// prunedTarget returns a 410 error if the tree at the target revision is
// not whole: an older revision some of whose states were pruned
// (--keep-versions). The head never is.
func (u *updater) prunedTarget() error {
	head, err := u.h.store.Head(u.ctx)
	if err != nil || u.rev == head {
		return err
	}
	if _, ok := u.h.store.(verso.Pruner); !ok {
		return nil
	}
	err = u.h.store.Walk(u.ctx, u.tgtBase, u.rev, verso.Infinite, func(*verso.Entry) error { return nil })
	if errors.Is(err, verso.ErrGone) {
		return &Error{Status: http.StatusGone, Code: errNoSuchRevision, Msg: fmt.Sprintf(
			"revision %d of %s is no longer whole: older versions were pruned (--keep-versions)", u.rev, u.tgtBase)}
	}
	if errors.Is(err, verso.ErrNotFound) {
		return nil
	}
	return err
}

// stateKept reports whether revision rev is still readable at all: a
// path's state may be pruned (--keep-versions) while the revision is not
// (--keep-for drops whole revisions).
func (u *updater) stateKept(rev verso.Revision) bool {
	_, err := u.h.store.Revision(u.ctx, max(rev, 1))
	return !errors.Is(err, verso.ErrGone)
}
