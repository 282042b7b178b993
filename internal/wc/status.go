package wc

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"unicode/utf8"

	"github.com/aymanbagabas/go-udiff"
	"github.com/verso-config/verso"
)

// State is the local state of a path, as svn status letters it.
type State byte

// The states Status reports.
const (
	Modified   State = 'M' // a file whose content differs from its base
	Added      State = 'A' // a file or folder the server does not know yet
	Deleted    State = 'D' // a known file or folder missing locally
	Conflicted State = 'C' // update could not merge server and local changes
	Obstructed State = '~' // a file where a folder was, or the other way
)

// Change is one path that differs from its base.
type Change struct {
	Rel   string // relative to the top of the working copy, slash-separated
	State State
	Kind  verso.Kind
}

func (c Change) String() string {
	return fmt.Sprintf("%c  %s", c.State, c.Rel)
}

// localItem is a file or folder found on disk.
type localItem struct {
	kind verso.Kind
	data []byte // a file's content
}

// scan reads the tree on disk: every folder and regular file below the
// top, except the metadata and the conflict side files.
func (w *WC) scan() (map[string]*localItem, error) {
	side := w.sideFiles()
	out := map[string]*localItem{}
	err := filepath.WalkDir(w.Root, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == w.Root {
			return nil
		}
		rel, err := filepath.Rel(w.Root, name)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == MetaDir {
			return filepath.SkipDir
		}
		switch {
		case d.IsDir():
			out[rel] = &localItem{kind: verso.KindNamespace}
		case d.Type().IsRegular() && !side[rel]:
			b, err := os.ReadFile(name)
			if err != nil {
				return err
			}
			out[rel] = &localItem{kind: verso.KindKey, data: b}
		}
		return nil
	})
	return out, err
}

// Status returns the paths that differ from their base, in path order.
// Inside a folder that is added or deleted, every path below is listed too.
func (w *WC) Status() ([]Change, error) {
	local, err := w.scan()
	if err != nil {
		return nil, err
	}
	return w.status(local), nil
}

func (w *WC) status(local map[string]*localItem) []Change {
	var out []Change
	for rel, e := range w.m.Entries {
		if rel == "" {
			continue
		}
		l := local[rel]
		switch {
		case w.m.Conflicts[rel] != nil:
			out = append(out, Change{rel, Conflicted, e.Kind})
		case l == nil:
			out = append(out, Change{rel, Deleted, e.Kind})
		case l.kind != e.Kind:
			out = append(out, Change{rel, Obstructed, l.kind})
		case e.Kind == verso.KindKey && hashOf(l.data) != e.Hash:
			out = append(out, Change{rel, Modified, e.Kind})
		}
	}
	for rel, l := range local {
		if w.m.Entries[rel] != nil {
			continue
		}
		st := Added
		if w.m.Conflicts[rel] != nil {
			st = Conflicted
		}
		out = append(out, Change{rel, st, l.kind})
	}
	slices.SortFunc(out, func(a, b Change) int {
		if a.Rel < b.Rel {
			return -1
		}
		if a.Rel > b.Rel {
			return 1
		}
		return 0
	})
	return out
}

// Diff writes the local changes of the files at or below the given
// relative paths (all when none is given) as a unified diff against their
// base, the way svn diff does.
func (w *WC) Diff(out io.Writer, only ...string) error {
	local, err := w.scan()
	if err != nil {
		return err
	}
	for _, c := range w.status(local) {
		if c.Kind != verso.KindKey || !selected(c.Rel, only) {
			continue
		}
		e := w.m.Entries[c.Rel]
		old, err := w.pristine(e)
		if err != nil {
			return err
		}
		var cur []byte
		if l := local[c.Rel]; l != nil && l.kind == verso.KindKey {
			cur = l.data
		}
		if bytes.Equal(old, cur) && c.State != Deleted {
			continue
		}
		oldLabel := c.Rel + "\t(nonexistent)"
		if e != nil {
			oldLabel = fmt.Sprintf("%s\t(revision %d)", c.Rel, e.Rev)
		}
		fmt.Fprintf(out, "Index: %s\n===================================================================\n", c.Rel)
		if !isText(old) || !isText(cur) {
			fmt.Fprintf(out, "Cannot display: file marked as a binary type.\n")
			continue
		}
		fmt.Fprint(out, udiff.Unified(oldLabel, c.Rel+"\t(working copy)", string(old), string(cur)))
	}
	return nil
}

// selected reports whether rel is at or below one of only (all when empty).
func selected(rel string, only []string) bool {
	if len(only) == 0 {
		return true
	}
	for _, o := range only {
		if below(o, rel) {
			return true
		}
	}
	return false
}

func isText(b []byte) bool { return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 }
