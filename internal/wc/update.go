package wc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
)

// Update brings the server's changes since each path's base into the
// working copy, up to the server's head, and returns that head. Local
// changes are kept: a file changed on both sides becomes conflicted (the
// local version is kept as FILE.mine, the server's as FILE.rN, and FILE
// gets conflict markers), and so does a file changed locally that the
// server deleted or the other way round. Conflicted files are skipped
// until they are resolved.
func (w *WC) Update(ctx context.Context, c *client.Client, out io.Writer) (verso.Revision, error) {
	h, err := head(ctx, c)
	if err != nil {
		return 0, err
	}
	tree, err := fetchTree(ctx, c, w.m.Path, h)
	if err != nil {
		if errors.Is(err, verso.ErrNotFound) {
			return 0, fmt.Errorf("%s no longer exists on the server at revision %d", w.m.Path, h)
		}
		return 0, err
	}
	local, err := w.scan()
	if err != nil {
		return 0, err
	}
	if w.m.Conflicts == nil {
		w.m.Conflicts = map[string]*Conflict{}
	}
	say := func(st byte, rel string) { fmt.Fprintf(out, "%c  %s\n", st, rel) }
	// The folders' TreeRevs before the update: a folder holding a path
	// the update skips keeps its old one, because it has not seen that
	// path's change (its TreeRev guards the folder's deletion).
	oldRevs := map[string]verso.Revision{}
	for rel, e := range w.m.Entries {
		if e.Kind == verso.KindNamespace {
			oldRevs[rel] = e.Rev
		}
	}
	var skips []string
	skipped := func(rel string) bool {
		if w.m.Conflicts[rel] != nil {
			fmt.Fprintf(out, "Skipped '%s' -- conflicted; resolve it first\n", rel)
			skips = append(skips, rel)
			return true
		}
		return false
	}

	// What the server removed (or turned from a key into a namespace or
	// back), children first so folders are empty when their turn comes;
	// reported in path order.
	var removed []string
	report := say
	say = func(st byte, rel string) { removed = append(removed, fmt.Sprintf("%c  %s\n", st, rel)) }
	for _, rel := range slices.Backward(sortedKeys(w.m.Entries)) {
		e := w.m.Entries[rel]
		if rel == "" {
			continue
		}
		if it := tree[rel]; it != nil && it.kind == e.Kind {
			continue
		}
		if skipped(rel) {
			continue
		}
		delete(w.m.Entries, rel)
		l := local[rel]
		switch {
		case l == nil || l.kind != e.Kind:
			// Already gone here, or obstructed: the local thing stays.
		case e.Kind == verso.KindNamespace:
			if os.Remove(w.local(rel)) == nil {
				delete(local, rel)
				say('D', rel)
			}
		case hashOf(l.data) == e.Hash:
			if err := os.Remove(w.local(rel)); err != nil {
				return 0, err
			}
			delete(local, rel)
			say('D', rel)
		default:
			// Changed here, deleted there: the file stays, as an addition
			// once resolved.
			w.m.Conflicts[rel] = &Conflict{Files: []string{}}
			say('C', rel)
		}
	}

	slices.SortFunc(removed, func(a, b string) int { return strings.Compare(a[3:], b[3:]) })
	for _, l := range removed {
		fmt.Fprint(out, l)
	}
	say = report

	// What the server added or changed, parents first.
	for _, rel := range sortedKeys(tree) {
		it := tree[rel]
		if rel == "" {
			continue
		}
		e := w.m.Entries[rel]
		l := local[rel]
		if it.kind == verso.KindNamespace {
			if e != nil {
				e.Rev = it.rev
				continue
			}
			if skipped(rel) {
				continue
			}
			if l != nil && l.kind == verso.KindKey {
				// A local file where the server made a folder: the file
				// moves aside.
				mine := rel + ".mine"
				if err := os.Rename(w.local(rel), w.local(mine)); err != nil {
					return 0, err
				}
				w.m.Conflicts[rel] = &Conflict{Files: []string{mine}}
				delete(local, rel)
				l = nil
				say('C', rel)
			}
			if err := os.MkdirAll(w.local(rel), 0o755); err != nil {
				return 0, err
			}
			w.m.Entries[rel] = &Entry{Kind: verso.KindNamespace, Rev: it.rev}
			if l == nil && w.m.Conflicts[rel] == nil {
				say('A', rel)
			}
			continue
		}
		if e != nil && e.Rev == it.rev {
			continue // unchanged on the server
		}
		if skipped(rel) {
			continue
		}
		data, err := w.fetch(ctx, c, rel, h)
		if err != nil {
			return 0, err
		}
		theirs := rel + ".r" + strconv.FormatInt(int64(h), 10)
		switch {
		case l != nil && l.kind == verso.KindNamespace:
			// A local folder where the server has a key.
			if err := writeFile(w.local(theirs), data); err != nil {
				return 0, err
			}
			w.m.Conflicts[rel] = &Conflict{Files: []string{theirs}}
			say('C', rel)
		case e == nil && l == nil:
			if err := w.record(rel, data, it.rev, it.contentType, true); err != nil {
				return 0, err
			}
			say('A', rel)
		case l != nil && bytes.Equal(l.data, data):
			// Both sides made the same change.
			if err := w.record(rel, data, it.rev, it.contentType, false); err != nil {
				return 0, err
			}
			say('G', rel)
		case e != nil && l == nil:
			// Deleted here, changed there: the server's version waits
			// beside it.
			if err := writeFile(w.local(theirs), data); err != nil {
				return 0, err
			}
			if err := w.record(rel, data, it.rev, it.contentType, false); err != nil {
				return 0, err
			}
			w.m.Conflicts[rel] = &Conflict{Files: []string{theirs}}
			say('C', rel)
		case e != nil && hashOf(l.data) == e.Hash:
			if err := w.record(rel, data, it.rev, it.contentType, true); err != nil {
				return 0, err
			}
			say('U', rel)
		default:
			// Changed on both sides (or added on both): keep everything.
			var base []byte
			baseRev := verso.Revision(0)
			if e != nil {
				if base, err = w.pristine(e); err != nil {
					return 0, err
				}
				baseRev = e.Rev
			}
			mine := rel + ".mine"
			if err := writeFile(w.local(mine), l.data); err != nil {
				return 0, err
			}
			if err := writeFile(w.local(theirs), data); err != nil {
				return 0, err
			}
			if err := writeFile(w.local(rel), conflictMarkers(l.data, base, data, baseRev, h)); err != nil {
				return 0, err
			}
			if err := w.record(rel, data, it.rev, it.contentType, false); err != nil {
				return 0, err
			}
			w.m.Conflicts[rel] = &Conflict{Files: []string{mine, theirs}}
			say('C', rel)
		}
	}
	w.m.Revision = h
	w.m.Entries[""].Rev = h
	for _, rel := range skips {
		for d := parent(rel); d != ""; d = parent(d) {
			if e, old := w.m.Entries[d], oldRevs[d]; e != nil && e.Kind == verso.KindNamespace && old > 0 && old < e.Rev {
				e.Rev = old
			}
		}
	}
	if err := w.save(); err != nil {
		return 0, err
	}
	fmt.Fprintf(out, "Updated to revision %d.\n", h)
	return h, nil
}

// conflictMarkers joins the three versions of a file the way svn does.
func conflictMarkers(mine, base, theirs []byte, baseRev, rev verso.Revision) []byte {
	var b bytes.Buffer
	section := func(marker string, data []byte) {
		b.WriteString(marker + "\n")
		b.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	section("<<<<<<< .mine", mine)
	section(fmt.Sprintf("||||||| .r%d", baseRev), base)
	section("=======", theirs)
	fmt.Fprintf(&b, ">>>>>>> .r%d\n", rev)
	return b.Bytes()
}

// Resolve marks conflicted files as resolved: their side files are
// removed and their content, as it is now, is what the next commit sends.
func (w *WC) Resolve(out io.Writer, rels ...string) error {
	for _, rel := range rels {
		c := w.m.Conflicts[rel]
		if c == nil {
			return fmt.Errorf("%s is not conflicted", rel)
		}
		for _, f := range c.Files {
			if err := os.Remove(w.local(f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		delete(w.m.Conflicts, rel)
		fmt.Fprintf(out, "Resolved conflicted state of '%s'\n", rel)
	}
	return w.save()
}

// Revert drops the local changes at or below each of rels: modified and
// deleted files get their base content back, added ones are removed, and
// conflicts are cleared with their side files.
func (w *WC) Revert(out io.Writer, rels ...string) error {
	local, err := w.scan()
	if err != nil {
		return err
	}
	changes := w.status(local)
	// Removals children first, restorations parents first.
	for _, ch := range slices.Backward(changes) {
		if !selected(ch.Rel, rels) {
			continue
		}
		if c := w.m.Conflicts[ch.Rel]; c != nil {
			for _, f := range c.Files {
				if err := os.Remove(w.local(f)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
			delete(w.m.Conflicts, ch.Rel)
		}
		if e := w.m.Entries[ch.Rel]; e == nil || (local[ch.Rel] != nil && local[ch.Rel].kind != e.Kind) {
			if err := os.RemoveAll(w.local(ch.Rel)); err != nil {
				return err
			}
		}
	}
	for _, ch := range changes {
		if !selected(ch.Rel, rels) {
			continue
		}
		if e := w.m.Entries[ch.Rel]; e != nil {
			if e.Kind == verso.KindNamespace {
				if err := os.MkdirAll(w.local(ch.Rel), 0o755); err != nil {
					return err
				}
			} else {
				data, err := w.pristine(e)
				if err != nil {
					return err
				}
				if err := writeFile(w.local(ch.Rel), data); err != nil {
					return err
				}
			}
		}
		fmt.Fprintf(out, "Reverted '%s'\n", ch.Rel)
	}
	return w.save()
}
