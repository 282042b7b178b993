package verso

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Difference is one path whose state differs between two revisions. Old or
// New is nil where the path did not exist.
type Difference struct {
	Path     Path
	Old, New *Entry
}

// Diff returns the paths at or below p whose entries differ between
// revisions from and to, in path order. It reads the log between the two
// revisions to find candidates, so its cost follows the number of changes,
// not the size of the tree. A path whose value and properties are the same
// at both revisions (changed and changed back) is not listed.
func Diff(ctx context.Context, s Store, p Path, from, to Revision) ([]Difference, error) {
	lo, hi := from, to
	if lo > hi {
		lo, hi = hi, lo
	}
	paths, err := changedSince(ctx, s, p, lo, hi)
	if err != nil {
		return nil, err
	}
	var out []Difference
	for _, q := range paths {
		a, err := getOrNil(ctx, s, q, from)
		if err != nil {
			return nil, err
		}
		b, err := getOrNil(ctx, s, q, to)
		if err != nil {
			return nil, err
		}
		if !sameState(a, b) {
			out = append(out, Difference{Path: q, Old: a, New: b})
		}
	}
	return out, nil
}

// changedSince lists, sorted, the paths at or below p that any revision in
// (lo, hi] changed.
func changedSince(ctx context.Context, s Store, p Path, lo, hi Revision) ([]Path, error) {
	set := map[Path]bool{}
	if hi > lo {
		commits, err := s.Log(ctx, LogQuery{Path: p, Before: hi})
		if err != nil {
			return nil, err
		}
		for _, c := range commits {
			if c.Rev <= lo {
				break
			}
			for _, ch := range c.Changes {
				if p.Contains(ch.Path) {
					set[ch.Path] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(set)), nil
}

// getOrNil is Get that answers nil, not ErrNotFound, for a missing path.
func getOrNil(ctx context.Context, s Store, p Path, rev Revision) (*Entry, error) {
	e, err := s.Get(ctx, p, rev)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return e, err
}

// sameState reports whether two entries (either may be nil) hold the same
// kind, value, content type and properties.
func sameState(a, b *Entry) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Kind == b.Kind && string(a.Value) == string(b.Value) &&
		a.ContentType == b.ContentType && maps.Equal(a.Props, b.Props)
}

// RestoreOps returns the operations that bring p, and everything below it,
// back to its state at revision rev: what was added since is deleted, what
// was deleted is recreated, what changed gets its old value and properties.
// Paths that are already as they were are left alone, so the commit lists
// only real changes. It returns no operations when nothing differs.
func RestoreOps(ctx context.Context, s Store, p Path, rev Revision) ([]Op, error) {
	head, err := s.Head(ctx)
	if err != nil {
		return nil, err
	}
	if rev > head || rev < 0 {
		return nil, &PathError{Op: "restore", Path: p, Rev: rev, Err: ErrNoRevision}
	}
	paths, err := changedSince(ctx, s, p, rev, head)
	if err != nil {
		return nil, err
	}
	return restoreOps(ctx, s, paths, rev)
}

// UndoOps returns the operations that reverse-apply revision rev: every
// path it changed goes back to its state at rev-1. If a later revision
// changed any of those paths, it returns a *ConflictError (ErrConflict)
// naming them (a later change at or below a path counts), since undoing rev
// would silently discard that later work.
func UndoOps(ctx context.Context, s Store, rev Revision) ([]Op, error) {
	c, err := s.Revision(ctx, rev)
	if err != nil {
		return nil, err
	}
	var paths, conflicts []Path
	for _, ch := range c.Changes {
		paths = append(paths, ch.Path)
		later, err := s.Log(ctx, LogQuery{Path: ch.Path, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(later) > 0 && later[0].Rev > rev {
			conflicts = append(conflicts, ch.Path)
		}
	}
	if len(conflicts) > 0 {
		return nil, &ConflictError{Base: rev, Paths: conflicts}
	}
	return restoreOps(ctx, s, paths, rev-1)
}

// restoreOps returns operations that give each of paths (sorted, parents
// before children) its state at rev.
func restoreOps(ctx context.Context, s Store, paths []Path, rev Revision) ([]Op, error) {
	var ops []Op
	var deleted []Path // namespaces deleted by ops so far
	under := func(q Path) bool {
		for _, d := range deleted {
			if d != q && d.Contains(q) {
				return true
			}
		}
		return false
	}
	for _, q := range paths {
		want, err := getOrNil(ctx, s, q, rev)
		if err != nil {
			return nil, err
		}
		have, err := getOrNil(ctx, s, q, Head)
		if err != nil {
			return nil, err
		}
		if under(q) {
			have = nil // its ancestor is being deleted and recreated
		}
		if sameState(want, have) {
			continue
		}
		if have != nil && (want == nil || want.Kind != have.Kind) {
			ops = append(ops, Op{Kind: OpDelete, Path: q})
			deleted = append(deleted, q)
			have = nil
		}
		if want == nil {
			continue
		}
		switch {
		case have == nil && want.IsNamespace():
			ops = append(ops, Op{Kind: OpMkcol, Path: q})
		case have == nil || string(have.Value) != string(want.Value) || have.ContentType != want.ContentType:
			if !want.IsNamespace() {
				ops = append(ops, Op{Kind: OpPut, Path: q, Value: want.Value, ContentType: want.ContentType})
			}
		}
		var old map[string]string
		if have != nil {
			old = have.Props
		}
		if pc := propChanges(old, want.Props); len(pc) > 0 {
			ops = append(ops, Op{Kind: OpProps, Path: q, Props: pc})
		}
	}
	return ops, nil
}

// propChanges returns the changes that turn properties from into to.
func propChanges(from, to map[string]string) []PropChange {
	var out []PropChange
	for _, k := range slices.Sorted(maps.Keys(from)) {
		if _, ok := to[k]; !ok {
			out = append(out, PropChange{Name: k, Remove: true})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(to)) {
		if v, ok := from[k]; !ok || v != to[k] {
			out = append(out, PropChange{Name: k, Value: to[k]})
		}
	}
	return out
}

// RevertMessage is the commit message of a revert.
func RevertMessage(p Path, to Revision, undo Revision) string {
	if undo > 0 {
		return fmt.Sprintf("Undo r%d", undo)
	}
	return fmt.Sprintf("Revert %s to r%d", p, to)
}
