package wc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
)

// OutOfDateError says that a commit was refused because paths it changes
// changed on the server after the working copy's base.
type OutOfDateError struct {
	Paths []string // relative to the top of the working copy
	// Folders are those of Paths that are folders the commit deletes and
	// that are gone from the server, or in which something was added,
	// changed or deleted since the working copy's base.
	Folders []string
}

func (e *OutOfDateError) Error() string {
	names := make([]string, len(e.Paths))
	for i, p := range e.Paths {
		names[i] = p
		if slices.Contains(e.Folders, p) {
			names[i] = p + "/ (or something in it)"
		}
	}
	return fmt.Sprintf("commit failed: out of date: %s changed on the server; run 'verso update', then commit again",
		strings.Join(names, ", "))
}

// ErrConflicted is returned by Commit while a file is conflicted.
var ErrConflicted = errors.New("conflicted")

// commitTxn scans the working copy and returns its local state, its
// changes, the transaction that commits them and the lines that report
// them (no transaction when there is nothing to commit).
func (w *WC) commitTxn(message string) (local map[string]*localItem, changes []Change, tx *client.Txn, lines []string, err error) {
	local, err = w.scan()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	changes = w.status(local)
	for _, ch := range changes {
		switch ch.State {
		case Conflicted:
			return nil, nil, nil, nil, fmt.Errorf("cannot commit: %s is %w; edit it, then run 'verso resolve %s'", ch.Rel, ErrConflicted, ch.Rel)
		case Obstructed:
			return nil, nil, nil, nil, fmt.Errorf("cannot commit: %s was a %s and is now a %s; move it aside or run 'verso revert %s'",
				ch.Rel, w.m.Entries[ch.Rel].Kind, ch.Kind, ch.Rel)
		}
	}
	if len(changes) == 0 {
		return local, nil, nil, nil, nil
	}
	tx = &client.Txn{Message: message}
	add := func(verb, rel string) { lines = append(lines, fmt.Sprintf("%-15s%s", verb, rel)) }
	// Additions and modifications in path order (folders before what they
	// hold), then deletions children first. A deleted folder is deleted
	// with everything below it by one operation, guarded by its base
	// TreeRev (nothing at or below it changed on the server since, not
	// even a key this working copy never saw); what the metadata knows
	// below it is checked against its own base first.
	for _, ch := range changes {
		p, err := w.checkedRemote(ch.Rel)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		switch {
		case ch.State == Added && ch.Kind == verso.KindNamespace:
			tx.Mkdir(p, verso.Cond{Absent: true})
			add("Adding", ch.Rel)
		case ch.State == Added:
			tx.Put(p, local[ch.Rel].data, "", verso.Cond{Absent: true})
			add("Adding", ch.Rel)
		case ch.State == Modified:
			e := w.m.Entries[ch.Rel]
			tx.Put(p, local[ch.Rel].data, e.ContentType, verso.Cond{ModRev: e.Rev})
			add("Sending", ch.Rel)
		}
	}
	deleted := map[string]bool{}
	for _, ch := range changes {
		if ch.State == Deleted {
			deleted[ch.Rel] = true
		}
	}
	for _, ch := range slices.Backward(changes) {
		if ch.State != Deleted {
			continue
		}
		cond := w.baseCond(ch.Rel)
		if deleted[parent(ch.Rel)] {
			tx.Check(w.remote(ch.Rel), cond) // the folder's delete removes it
		} else {
			tx.Delete(w.remote(ch.Rel), cond)
		}
	}
	for _, ch := range changes {
		if ch.State == Deleted {
			add("Deleting", ch.Rel)
		}
	}
	return local, changes, tx, lines, nil
}

// DryRun sends the transaction Commit would send as a dry run: the server
// answers what it would change and whether the namespaces it touches
// validate against their schemas, and writes nothing. It returns nil when
// there is nothing to commit.
func (w *WC) DryRun(ctx context.Context, c *client.Client, message string) (*client.DryRun, error) {
	_, _, tx, _, err := w.commitTxn(message)
	if err != nil || tx == nil {
		return nil, err
	}
	return c.DryRun(ctx, tx)
}

// Commit sends every local change as one transaction, each path guarded by
// its base revision, and returns the revision it made (0 when there was
// nothing to commit). When any path changed on the server since its base,
// nothing is committed and the error is an *OutOfDateError naming them.
func (w *WC) Commit(ctx context.Context, c *client.Client, message string, out io.Writer) (verso.Revision, error) {
	local, changes, tx, lines, err := w.commitTxn(message)
	if err != nil || tx == nil {
		return 0, err
	}
	cm, err := c.Commit(ctx, tx)
	if err != nil {
		if errors.Is(err, verso.ErrPrecondition) || errors.Is(err, verso.ErrConflict) {
			if ood, serr := w.outOfDate(ctx, c, changes); serr == nil && len(ood.Paths) > 0 {
				return 0, ood
			}
		}
		return 0, err
	}
	for _, ch := range changes {
		switch {
		case ch.State == Deleted:
			for rel := range w.m.Entries {
				if below(ch.Rel, rel) {
					delete(w.m.Entries, rel)
				}
			}
		case ch.Kind == verso.KindNamespace:
			w.m.Entries[ch.Rel] = &Entry{Kind: verso.KindNamespace, Rev: cm.Rev}
		default:
			ct := ""
			if e := w.m.Entries[ch.Rel]; e != nil {
				ct = e.ContentType
			}
			if err := w.record(ch.Rel, local[ch.Rel].data, cm.Rev, ct, false); err != nil {
				return 0, err
			}
		}
	}
	if err := w.save(); err != nil {
		return 0, fmt.Errorf("committed revision %d, but could not record it in %s: %w", cm.Rev, MetaDir, err)
	}
	for _, l := range lines {
		fmt.Fprintln(out, l)
	}
	fmt.Fprintf(out, "Committed revision %d.\n", cm.Rev)
	return cm.Rev, nil
}

// checkedRemote returns the verso path of a local file, refusing names
// verso does not accept.
func (w *WC) checkedRemote(rel string) (verso.Path, error) {
	p := w.remote(rel)
	if q, err := verso.ParsePath(string(p)); err != nil || q != p {
		return "", fmt.Errorf("cannot commit %s: not a valid verso name", rel)
	}
	return p, nil
}

// baseCond returns the condition that the server's rel is still at the
// working copy's base: a key's ModRev, or a folder's TreeRev (its Rev,
// recorded from the server's listing at checkout and update), so that
// nothing at or below the folder changed. A folder recorded without a
// revision, which no version of the working copy writes, falls back to
// existing.
func (w *WC) baseCond(rel string) verso.Cond {
	e := w.m.Entries[rel]
	switch {
	case e.Kind != verso.KindNamespace:
		return verso.Cond{ModRev: e.Rev}
	case e.Rev > 0:
		return verso.Cond{TreeRev: e.Rev}
	}
	return verso.Cond{Exists: true}
}

// outOfDate returns the changed paths whose server state is no longer
// their base: changed, deleted, or (for additions) created meanwhile; for
// a folder, anything at or below it changed.
func (w *WC) outOfDate(ctx context.Context, c *client.Client, changes []Change) (*OutOfDateError, error) {
	listings := map[string]map[string]client.Entry{}
	server := func(rel string) (*client.Entry, error) {
		dir := parent(rel)
		kids, ok := listings[dir]
		if !ok {
			kids = map[string]client.Entry{}
			l, err := c.List(ctx, w.remote(dir), verso.Head)
			if err != nil && !errors.Is(err, verso.ErrNotFound) && !errors.Is(err, verso.ErrConflict) {
				return nil, err
			}
			for _, e := range l {
				kids[e.Name] = e
			}
			listings[dir] = kids
		}
		name := rel[len(dir):]
		name = strings.TrimPrefix(name, "/")
		if e, ok := kids[name]; ok {
			return &e, nil
		}
		return nil, nil
	}
	ood := &OutOfDateError{}
	for _, ch := range changes {
		s, err := server(ch.Rel)
		if err != nil {
			return nil, err
		}
		base := w.m.Entries[ch.Rel]
		switch {
		case base == nil: // added here
			if s != nil {
				ood.Paths = append(ood.Paths, ch.Rel)
			}
		case s == nil:
			ood.Paths = append(ood.Paths, ch.Rel)
			if base.Kind == verso.KindNamespace {
				ood.Folders = append(ood.Folders, ch.Rel)
			}
		case base.Kind == verso.KindKey && (s.Kind != verso.KindKey || s.Revision != base.Rev):
			ood.Paths = append(ood.Paths, ch.Rel)
		case base.Kind == verso.KindNamespace && (s.Kind != verso.KindNamespace || s.Revision > base.Rev):
			// A listing's revision of a namespace is its TreeRev.
			ood.Paths = append(ood.Paths, ch.Rel)
			ood.Folders = append(ood.Folders, ch.Rel)
		}
	}
	return ood, nil
}
