package storetest

import (
	"maps"
	"slices"

	"github.com/verso-config/verso"
)

// model is a plain sequential reading of the contract: the whole tree at
// every revision, and the record each commit should leave. It knows only
// valid transactions; the suite checks errors against hand-written cases.
type model struct {
	states  []map[verso.Path]*verso.Entry // states[r] is the tree at r
	commits []*verso.Commit               // commits[r] is r's record; nil for 0
}

func newModel() *model {
	root := &verso.Entry{Path: verso.Root, Kind: verso.KindNamespace}
	return &model{
		states:  []map[verso.Path]*verso.Entry{{verso.Root: root}},
		commits: []*verso.Commit{nil},
	}
}

func (m *model) head() verso.Revision { return verso.Revision(len(m.states) - 1) }

// origin is what last put a path in place within one commit.
type origin struct {
	action  verso.Action
	from    verso.Path
	fromRev verso.Revision
}

// apply records tx as the next revision.
func (m *model) apply(tx *verso.Txn) {
	rev := m.head() + 1
	prev := m.states[rev-1]
	cur := maps.Clone(prev)
	origins := map[verso.Path]origin{}
	written := map[verso.Path]bool{}

	touchAbove := func(path verso.Path) {
		for _, a := range path.Ancestors() {
			c := *cur[a]
			c.TreeRev = rev
			cur[a] = &c
		}
	}
	remove := func(path verso.Path) {
		for q := range cur {
			if path.Contains(q) {
				delete(cur, q)
				delete(origins, q)
				written[q] = true
			}
		}
	}
	fresh := func(path verso.Path, kind verso.Kind) *verso.Entry {
		return &verso.Entry{Path: path, Kind: kind, CreateRev: rev, ModRev: rev, TreeRev: rev, Version: 1, ModBy: tx.Author}
	}
	change := func(path verso.Path) *verso.Entry {
		c := *cur[path]
		if c.ModRev != rev {
			// Version counts the revisions that changed the entry.
			c.Version++
		}
		c.ModRev, c.TreeRev, c.ModBy = rev, rev, tx.Author
		cur[path] = &c
		written[path] = true
		// A copy changed in the transaction that made it stays a copy
		// (its Mods say what changed against the source).
		touchAbove(path)
		return &c
	}
	copyTree := func(op verso.Op, action verso.Action, depth int) {
		var src []*verso.Entry
		for q, e := range cur {
			if op.From.Contains(q) && (depth != 0 || q == op.From) {
				src = append(src, e)
			}
		}
		if op.Overwrite {
			remove(op.Path)
		}
		for _, e := range src {
			q := e.Path.Rebase(op.From, op.Path)
			n := fresh(q, e.Kind)
			n.Value, n.ContentType, n.Props = e.Value, e.ContentType, maps.Clone(e.Props)
			cur[q] = n
			written[q] = true
			origins[q] = origin{action, e.Path, rev - 1}
		}
		touchAbove(op.Path)
	}

	for _, op := range tx.Ops {
		switch op.Kind {
		case verso.OpPut:
			if cur[op.Path] == nil {
				cur[op.Path] = fresh(op.Path, verso.KindKey)
				written[op.Path] = true
				delete(origins, op.Path)
				touchAbove(op.Path)
			} else {
				change(op.Path)
			}
			e := cur[op.Path]
			e.Value, e.ContentType = op.Value, op.ContentType
		case verso.OpMkcol:
			cur[op.Path] = fresh(op.Path, verso.KindNamespace)
			written[op.Path] = true
			delete(origins, op.Path)
			touchAbove(op.Path)
		case verso.OpDelete:
			remove(op.Path)
			touchAbove(op.Path)
		case verso.OpCopy:
			copyTree(op, verso.Copied, op.Depth)
		case verso.OpMove:
			copyTree(op, verso.Moved, verso.Infinite)
			remove(op.From)
			touchAbove(op.From)
		case verso.OpProps:
			e := change(op.Path)
			props := maps.Clone(e.Props)
			for _, pc := range op.Props {
				if pc.Remove {
					delete(props, pc.Name)
				} else {
					if props == nil {
						props = map[string]string{}
					}
					props[pc.Name] = pc.Value
				}
			}
			if len(props) == 0 {
				props = nil
			}
			e.Props = props
		default:
			panic("storetest: model cannot apply " + string(op.Kind))
		}
	}

	c := &verso.Commit{Rev: rev, Author: tx.Author, Message: tx.Message}
	all := slices.Collect(maps.Keys(prev))
	for q := range cur {
		if prev[q] == nil {
			all = append(all, q)
		}
	}
	slices.Sort(all)
	for _, q := range all {
		before, after := prev[q], cur[q]
		o, moved := origins[q]
		switch {
		case after == nil:
			c.Changes = append(c.Changes, verso.Change{Path: q, Kind: before.Kind, Action: verso.Deleted})
		case !written[q]:
			// Unchanged, or only its TreeRev moved.
		case moved:
			// A copy's Mods compare with its source as of FromRev; the
			// record has none when the source did not exist then.
			var mods verso.Mods
			if src := m.states[o.fromRev][o.from]; src != nil {
				mods = verso.ModsBetween(src, after)
			}
			c.Changes = append(c.Changes, verso.Change{Path: q, Kind: after.Kind, Action: o.action, From: o.from, FromRev: o.fromRev, Mods: mods})
		case before == nil:
			c.Changes = append(c.Changes, verso.Change{Path: q, Kind: after.Kind, Action: verso.Added, Mods: verso.ModsBetween(nil, after)})
		default:
			c.Changes = append(c.Changes, verso.Change{Path: q, Kind: after.Kind, Action: verso.Modified, Mods: verso.ModsBetween(before, after)})
		}
	}
	m.states = append(m.states, cur)
	m.commits = append(m.commits, c)
}

// walk returns the entries below path at rev in pre-order, children in
// byte order of name, down to depth.
func (m *model) walk(path verso.Path, rev verso.Revision, depth int) []*verso.Entry {
	st := m.states[rev]
	var out []*verso.Entry
	for q, e := range st {
		if !path.Contains(q) {
			continue
		}
		if depth >= 0 && q.Depth()-path.Depth() > depth {
			continue
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *verso.Entry) int { return treeCompare(a.Path, b.Path) })
	return out
}

// allPaths returns every path that existed at any revision.
func (m *model) allPaths() []verso.Path {
	seen := map[verso.Path]bool{}
	for _, st := range m.states {
		for q := range st {
			seen[q] = true
		}
	}
	return slices.SortedFunc(maps.Keys(seen), treeCompare)
}

// log returns the revisions, newest first, whose changes touch path or
// anything below it, at or before before.
func (m *model) log(path verso.Path, before verso.Revision) []verso.Revision {
	var out []verso.Revision
	for r := before; r >= 1; r-- {
		for _, ch := range m.commits[r].Changes {
			if path.Contains(ch.Path) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}
