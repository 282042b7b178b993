package etcd

import (
	"strings"

	"github.com/google/btree"
	"github.com/verso-config/verso"
)

// tree is the tree at one revision, in memory: a copy-on-write B-tree of
// entries keyed by depth and path, so that the children of a namespace are
// one range, already in name order. A published tree is never modified:
// a change clones it (cheaply: only the nodes it touches are copied).
type tree struct {
	t *btree.BTreeG[item]
}

type item struct {
	key string // treeKey(path)
	e   *verso.Entry
}

func itemLess(a, b item) bool { return a.key < b.key }

func newTree() *tree { return &tree{t: btree.NewG(32, itemLess)} }

// treeKey is the depth of p as one byte, then p.
func treeKey(p verso.Path) string {
	var b strings.Builder
	b.Grow(1 + len(p))
	b.WriteByte(byte(p.Depth()))
	b.WriteString(string(p))
	return b.String()
}

// childPrefix is the key prefix of the children of ns. A child's name
// never holds '/', so the prefix matches exactly the children.
func childPrefix(ns verso.Path) string {
	var b strings.Builder
	b.WriteByte(byte(ns.Depth() + 1))
	if ns != verso.Root {
		b.WriteString(string(ns))
	}
	b.WriteByte('/')
	return b.String()
}

// clone returns a copy of t that can be changed without changing t. Only
// one goroutine may clone a given tree at a time (Store.applyMu).
func (t *tree) clone() *tree { return &tree{t: t.t.Clone()} }

func (t *tree) get(p verso.Path) *verso.Entry {
	it, ok := t.t.Get(item{key: treeKey(p)})
	if !ok {
		return nil
	}
	return it.e
}

func (t *tree) set(e *verso.Entry) { t.t.ReplaceOrInsert(item{key: treeKey(e.Path), e: e}) }

func (t *tree) delete(p verso.Path) { t.t.Delete(item{key: treeKey(p)}) }

// children returns the entries of the children of ns, in name order.
func (t *tree) children(ns verso.Path) []*verso.Entry {
	var out []*verso.Entry
	prefix := childPrefix(ns)
	t.t.AscendGreaterOrEqual(item{key: prefix}, func(it item) bool {
		if !strings.HasPrefix(it.key, prefix) {
			return false
		}
		out = append(out, it.e)
		return true
	})
	return out
}

// walk appends e and the entries below it, down to depth, in pre-order.
func (t *tree) walk(e *verso.Entry, depth int, out []*verso.Entry) []*verso.Entry {
	out = append(out, e)
	if depth == 0 || !e.IsNamespace() {
		return out
	}
	if depth > 0 {
		depth--
	}
	for _, k := range t.children(e.Path) {
		out = t.walk(k, depth, out)
	}
	return out
}

// snapshot is the state of the store at one revision as this process knows
// it: what Get at verso.Head answers from. Snapshots are immutable.
type snapshot struct {
	head verso.Revision
	// headMod is the etcd mod revision of the rev key at head (0 before
	// the first commit): a commit's etcd transaction applies only if the
	// rev key still has it, that is if no commit came in between.
	headMod int64
	// etcdRev is the etcd revision this snapshot reflects (>= headMod).
	etcdRev int64
	// tree holds every entry at head, the root included with TreeRev =
	// head.
	tree *tree
}
