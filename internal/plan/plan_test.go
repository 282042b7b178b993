package plan

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
)

// mapState is a committed tree held in a map, with the revision that
// deleted each path no longer in it.
type mapState struct {
	tree    map[verso.Path]*verso.Entry
	deleted map[verso.Path]verso.Revision
	asked   [][]verso.Path // what DeletedAfter was asked, in order
}

func (s *mapState) Get(p verso.Path) (*verso.Entry, error) { return s.tree[p], nil }

func (s *mapState) Children(ns verso.Path) ([]verso.Path, error) {
	var out []verso.Path
	for p := range s.tree {
		if p != verso.Root && p.Parent() == ns {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (s *mapState) DeletedAfter(paths []verso.Path, base verso.Revision) ([]verso.Path, error) {
	s.asked = append(s.asked, slices.Clone(paths))
	var out []verso.Path
	for _, p := range paths {
		if s.deleted[p] > base {
			out = append(out, p)
		}
	}
	return out, nil
}

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// newState returns the tree /app (namespace, r1), /app/a (key, r2),
// /app/sub (namespace, r1), /app/sub/b (key, r3), /top (key, r3), at head
// 3, with /gone deleted by r3.
func newState() *mapState {
	ns := func(p verso.Path, rev, treeRev verso.Revision) *verso.Entry {
		return &verso.Entry{Path: p, Kind: verso.KindNamespace, CreateRev: rev, ModRev: rev, TreeRev: treeRev, Version: 1, ModTime: t0}
	}
	key := func(p verso.Path, v string, rev verso.Revision) *verso.Entry {
		return &verso.Entry{Path: p, Kind: verso.KindKey, Value: []byte(v), CreateRev: rev, ModRev: rev, TreeRev: rev, Version: 1, ModTime: t0,
			Props: map[string]string{"{urn:x}p": "1"}}
	}
	s := &mapState{tree: map[verso.Path]*verso.Entry{}, deleted: map[verso.Path]verso.Revision{"/gone": 3}}
	for _, e := range []*verso.Entry{ns("/app", 1, 3), key("/app/a", "a", 2), ns("/app/sub", 1, 3), key("/app/sub/b", "b", 3), key("/top", "t", 3)} {
		s.tree[e.Path] = e
	}
	return s
}

func TestTxn(t *testing.T) {
	const head = 3
	tests := []struct {
		name     string
		ops      []verso.Op
		changes  []verso.Change
		indexed  []verso.Path
		treeRevs []verso.Path
	}{
		{
			name:     "put new key",
			ops:      []verso.Op{{Kind: verso.OpPut, Path: "/app/sub/c", Value: []byte("c")}},
			changes:  []verso.Change{{Path: "/app/sub/c", Kind: verso.KindKey, Action: verso.Added, Mods: verso.ModsRecorded | verso.ModValue}},
			indexed:  []verso.Path{"/", "/app", "/app/sub", "/app/sub/c"},
			treeRevs: []verso.Path{"/app", "/app/sub"},
		},
		{
			name:     "put then delete cancels out",
			ops:      []verso.Op{{Kind: verso.OpPut, Path: "/x", Value: []byte("x")}, {Kind: verso.OpDelete, Path: "/x"}},
			indexed:  []verso.Path{"/"},
			treeRevs: nil,
		},
		{
			name: "delete namespace",
			ops:  []verso.Op{{Kind: verso.OpDelete, Path: "/app/sub"}},
			changes: []verso.Change{
				{Path: "/app/sub", Kind: verso.KindNamespace, Action: verso.Deleted},
				{Path: "/app/sub/b", Kind: verso.KindKey, Action: verso.Deleted},
			},
			indexed:  []verso.Path{"/", "/app", "/app/sub", "/app/sub/b"},
			treeRevs: []verso.Path{"/app"},
		},
		{
			name: "move namespace over a key",
			ops:  []verso.Op{{Kind: verso.OpMove, From: "/app/sub", Path: "/top", Overwrite: true}},
			changes: []verso.Change{
				{Path: "/app/sub", Kind: verso.KindNamespace, Action: verso.Deleted},
				{Path: "/app/sub/b", Kind: verso.KindKey, Action: verso.Deleted},
				{Path: "/top", Kind: verso.KindNamespace, Action: verso.Moved, From: "/app/sub", FromRev: head, Mods: verso.ModsRecorded},
				{Path: "/top/b", Kind: verso.KindKey, Action: verso.Moved, From: "/app/sub/b", FromRev: head, Mods: verso.ModsRecorded},
			},
			indexed:  []verso.Path{"/", "/app", "/app/sub", "/app/sub/b", "/top", "/top/b"},
			treeRevs: []verso.Path{"/app"},
		},
		{
			name:     "copy of a namespace alone",
			ops:      []verso.Op{{Kind: verso.OpCopy, From: "/app", Path: "/app2", Depth: 0}},
			changes:  []verso.Change{{Path: "/app2", Kind: verso.KindNamespace, Action: verso.Copied, From: "/app", FromRev: head, Mods: verso.ModsRecorded}},
			indexed:  []verso.Path{"/", "/app2"},
			treeRevs: nil,
		},
		{
			name: "props on the root and a key, and a check",
			ops: []verso.Op{
				{Kind: verso.OpCheck, Path: "/app/a", If: verso.Cond{ModRev: 2}},
				{Kind: verso.OpProps, Path: verso.Root, Props: []verso.PropChange{{Name: "{urn:x}o", Value: "ops"}}},
				{Kind: verso.OpProps, Path: "/top", Props: []verso.PropChange{{Name: "{urn:x}p", Remove: true}}},
			},
			changes: []verso.Change{
				{Path: "/", Kind: verso.KindNamespace, Action: verso.Modified, Mods: verso.ModsRecorded | verso.ModProps},
				{Path: "/top", Kind: verso.KindKey, Action: verso.Modified, Mods: verso.ModsRecorded | verso.ModProps},
			},
			indexed: []verso.Path{"/", "/top"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newState()
			before := cloneTree(st.tree)
			p, err := Txn(st, head, &verso.Txn{Author: "alice", Message: tt.name, Ops: tt.ops}, t0)
			if err != nil {
				t.Fatalf("Txn() error: %v", err)
			}
			if p.Rev != head+1 || p.Commit.Rev != head+1 || p.Commit.Author != "alice" || p.Commit.Message != tt.name || !p.Commit.Time.Equal(t0) {
				t.Errorf("Txn() record = %+v, want revision %d by alice", p.Commit, head+1)
			}
			if diff := cmp.Diff(tt.changes, p.Commit.Changes); diff != "" {
				t.Errorf("Txn() changes mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.indexed, p.Indexed); diff != "" {
				t.Errorf("Txn() indexed mismatch (-want +got):\n%s", diff)
			}
			var treeRevs []verso.Path
			for _, e := range p.TreeRevs {
				treeRevs = append(treeRevs, e.Path)
				if e.TreeRev != p.Rev || e.ModRev != st.tree[e.Path].ModRev {
					t.Errorf("TreeRevs entry %s: TreeRev %d ModRev %d, want %d and %d", e.Path, e.TreeRev, e.ModRev, p.Rev, st.tree[e.Path].ModRev)
				}
			}
			if diff := cmp.Diff(tt.treeRevs, treeRevs); diff != "" {
				t.Errorf("Txn() treeRevs mismatch (-want +got):\n%s", diff)
			}
			if len(p.Changed) != len(p.Commit.Changes) {
				t.Fatalf("Txn() has %d changed entries for %d changes", len(p.Changed), len(p.Commit.Changes))
			}
			for i, ch := range p.Commit.Changes {
				e := p.Changed[i]
				if (e == nil) != (ch.Action == verso.Deleted) {
					t.Errorf("Changed[%d] = %v for action %s", i, e, ch.Action)
					continue
				}
				if e != nil && (e.Path != ch.Path || e.ModRev != p.Rev || e.TreeRev != p.Rev || e.ModBy != "alice" || !e.ModTime.Equal(t0)) {
					t.Errorf("Changed[%d] = %+v, want %s changed by alice at %d", i, e, ch.Path, p.Rev)
				}
			}
			if p.Root.Path != verso.Root || p.Root.TreeRev != p.Rev {
				t.Errorf("Root = %+v, want the root at TreeRev %d", p.Root, p.Rev)
			}
			// Planning is pure: the state is as it was, and planning
			// again gives the same plan.
			if diff := cmp.Diff(before, st.tree); diff != "" {
				t.Errorf("Txn() changed the state (-before +after):\n%s", diff)
			}
			again, err := Txn(st, head, &verso.Txn{Author: "alice", Message: tt.name, Ops: tt.ops}, t0)
			if err != nil {
				t.Fatalf("Txn() again error: %v", err)
			}
			if diff := cmp.Diff(p, again, cmpopts.IgnoreUnexported(Plan{})); diff != "" {
				t.Errorf("Txn() again mismatch (-first +second):\n%s", diff)
			}
		})
	}
}

func cloneTree(tree map[verso.Path]*verso.Entry) map[verso.Path]*verso.Entry {
	out := make(map[verso.Path]*verso.Entry, len(tree))
	for p, e := range tree {
		c := *e
		c.Value = slices.Clone(e.Value)
		c.Props = maps.Clone(e.Props)
		out[p] = &c
	}
	return out
}

// TestTxn_Version checks that several operations on a path in one
// revision count once, and that the properties survive a put.
func TestTxn_Version(t *testing.T) {
	st := newState()
	p, err := Txn(st, 3, &verso.Txn{Ops: []verso.Op{
		{Kind: verso.OpPut, Path: "/top", Value: []byte("1")},
		{Kind: verso.OpPut, Path: "/top", Value: []byte("2")},
		{Kind: verso.OpProps, Path: "/top", Props: []verso.PropChange{{Name: "n", Value: "v"}}},
	}}, t0)
	if err != nil {
		t.Fatalf("Txn() error: %v", err)
	}
	want := &verso.Entry{Path: "/top", Kind: verso.KindKey, Value: []byte("2"), Props: map[string]string{"{urn:x}p": "1", "n": "v"},
		CreateRev: 3, ModRev: 4, TreeRev: 4, Version: 2, ModTime: t0}
	if diff := cmp.Diff(want, p.Changed[0]); diff != "" {
		t.Errorf("Txn() entry mismatch (-want +got):\n%s", diff)
	}
}

// TestTxn_Conflict checks the Base rule: a path that exists conflicts when
// its ModRev is after Base, and the State is asked only about those that
// do not exist.
func TestTxn_Conflict(t *testing.T) {
	tests := []struct {
		name  string
		base  verso.Revision
		ops   []verso.Op
		want  []verso.Path // conflicting paths; nil: no conflict
		asked [][]verso.Path
	}{
		{"existing path unchanged since base", 2, []verso.Op{{Kind: verso.OpPut, Path: "/app/a"}}, nil, nil},
		{"existing path changed after base", 2, []verso.Op{{Kind: verso.OpPut, Path: "/top"}}, []verso.Path{"/top"}, nil},
		{"deleted path recreated", 2, []verso.Op{{Kind: verso.OpPut, Path: "/gone"}, {Kind: verso.OpPut, Path: "/new"}},
			[]verso.Path{"/gone"}, [][]verso.Path{{"/gone", "/new"}}},
		{"deleted before base", 3, []verso.Op{{Kind: verso.OpPut, Path: "/gone"}}, nil, [][]verso.Path{{"/gone"}}},
		{"both kinds, sorted", 1, []verso.Op{{Kind: verso.OpPut, Path: "/top"}, {Kind: verso.OpMkcol, Path: "/gone"}, {Kind: verso.OpPut, Path: "/app/a"}},
			[]verso.Path{"/app/a", "/gone", "/top"}, [][]verso.Path{{"/gone"}}},
		{"no base", 0, []verso.Op{{Kind: verso.OpPut, Path: "/top"}, {Kind: verso.OpPut, Path: "/gone"}}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newState()
			_, err := Txn(st, 3, &verso.Txn{Base: tt.base, Ops: tt.ops}, t0)
			var ce *verso.ConflictError
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Txn() error: %v", err)
			case tt.want != nil && !errors.As(err, &ce):
				t.Fatalf("Txn() error = %v, want a *ConflictError", err)
			case tt.want != nil:
				if !errors.Is(err, verso.ErrConflict) || ce.Base != tt.base {
					t.Errorf("Txn() error = %v, want ErrConflict at base %d", err, tt.base)
				}
				if diff := cmp.Diff(tt.want, ce.Paths); diff != "" {
					t.Errorf("ConflictError.Paths mismatch (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(tt.asked, st.asked); diff != "" {
				t.Errorf("DeletedAfter calls mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := Txn(newState(), 3, &verso.Txn{Base: 4, Ops: []verso.Op{{Kind: verso.OpPut, Path: "/x"}}}, t0); !errors.Is(err, verso.ErrNoRevision) {
		t.Errorf("Txn(base beyond head) error = %v, want ErrNoRevision", err)
	}
}

func TestTxn_Errors(t *testing.T) {
	tests := []struct {
		op   verso.Op
		want error
	}{
		{verso.Op{Kind: verso.OpPut, Path: "/nope/k"}, verso.ErrNoParent},
		{verso.Op{Kind: verso.OpPut, Path: "/top/k"}, verso.ErrNotNamespace},
		{verso.Op{Kind: verso.OpPut, Path: "/app"}, verso.ErrIsNamespace},
		{verso.Op{Kind: verso.OpPut, Path: verso.Root}, verso.ErrRoot},
		{verso.Op{Kind: verso.OpMkcol, Path: "/app"}, verso.ErrExists},
		{verso.Op{Kind: verso.OpDelete, Path: "/nope"}, verso.ErrNotFound},
		{verso.Op{Kind: verso.OpCopy, From: "/app", Path: "/app/sub/x"}, verso.ErrSamePath},
		{verso.Op{Kind: verso.OpCopy, From: "/top", Path: "/app/a"}, verso.ErrExists},
		{verso.Op{Kind: verso.OpMove, From: verso.Root, Path: "/x"}, verso.ErrRoot},
		{verso.Op{Kind: verso.OpProps, Path: "/nope"}, verso.ErrNotFound},
		{verso.Op{Kind: verso.OpCheck, Path: "/nope", If: verso.Cond{Exists: true}}, verso.ErrPrecondition},
		{verso.Op{Kind: verso.OpPut, Path: "/top", If: verso.Cond{ModRev: 2}}, verso.ErrPrecondition},
	}
	for _, tt := range tests {
		_, err := Txn(newState(), 3, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpCheck, Path: "/"}, tt.op}}, t0)
		var oe *verso.OpError
		if !errors.Is(err, tt.want) || !errors.As(err, &oe) || oe.Index != 1 {
			t.Errorf("Txn(%s %s) error = %v, want %v from operation 1", tt.op.Kind, tt.op.Path, err, tt.want)
		}
	}
}

// TestTxn_Corrupt checks that a state missing a namespace above a path
// says so with codec.ErrCorrupt, which makes the stores stop.
func TestTxn_Corrupt(t *testing.T) {
	st := newState()
	st.tree["/lost/k"] = &verso.Entry{Path: "/lost/k", Kind: verso.KindKey, Value: []byte{}, Version: 1}
	_, err := Txn(st, 3, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/lost/k"}}}, t0)
	if !errors.Is(err, verso.ErrNoParent) {
		t.Fatalf("Txn(put below a missing namespace) error = %v, want ErrNoParent", err)
	}
	_, err = Txn(st, 3, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpProps, Path: "/lost/k"}}}, t0)
	if !errors.Is(err, codec.ErrCorrupt) {
		t.Errorf("Txn(props below a missing namespace) error = %v, want ErrCorrupt", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		txn  *verso.Txn
		want error
	}{
		{nil, verso.ErrEmptyTxn},
		{&verso.Txn{}, verso.ErrEmptyTxn},
		{&verso.Txn{Ops: []verso.Op{{Kind: "rename", Path: "/a"}}}, verso.ErrInvalidOp},
		{&verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut}}}, verso.ErrInvalidOp},
		{&verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/a/"}}}, verso.ErrInvalidOp},
		{&verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/a\x00b"}}}, verso.ErrInvalidOp},
		{&verso.Txn{Ops: []verso.Op{{Kind: verso.OpCopy, Path: "/a"}}}, verso.ErrInvalidOp},
		{&verso.Txn{Ops: []verso.Op{{Kind: verso.OpMove, Path: "/a", From: "b"}}}, verso.ErrInvalidOp},
		{&verso.Txn{Ops: []verso.Op{{Kind: verso.OpProps, Path: "/a", Props: []verso.PropChange{{Name: "{urn:x}"}}}}}, verso.ErrInvalidOp},
		{&verso.Txn{Ops: []verso.Op{{Kind: verso.OpProps, Path: "/a", Props: []verso.PropChange{{Name: "a}b"}}}}}, verso.ErrInvalidOp},
		{&verso.Txn{Ops: []verso.Op{{Kind: verso.OpProps, Path: "/a", Props: []verso.PropChange{{Name: "{DAV:}x"}, {Name: "local"}}}}}, nil},
		{&verso.Txn{Ops: []verso.Op{{Kind: verso.OpCheck, Path: "/"}, {Kind: verso.OpMove, Path: "/a", From: "/b"}}}, nil},
	}
	for _, tt := range tests {
		err := Validate(tt.txn)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("Validate(%+v) = %v, want %v", tt.txn, err, tt.want)
		}
		if err != nil && tt.want == verso.ErrInvalidOp {
			var oe *verso.OpError
			if !errors.As(err, &oe) || !strings.Contains(err.Error(), "operation 0") {
				t.Errorf("Validate(%+v) = %v, want an *OpError for operation 0", tt.txn, err)
			}
		}
	}
}

// commit plans ops against st as revision head+1 and applies the plan to
// st the way a store writes it, returning the new head.
func commit(t *testing.T, st *mapState, head verso.Revision, ops ...verso.Op) verso.Revision {
	t.Helper()
	p, err := Txn(st, head, &verso.Txn{Ops: ops}, t0)
	if err != nil {
		t.Fatalf("Txn(%v) at head %d: %v", ops, head, err)
	}
	for i, ch := range p.Commit.Changes {
		if e := p.Changed[i]; e != nil {
			st.tree[ch.Path] = e
		} else {
			delete(st.tree, ch.Path)
			st.deleted[ch.Path] = p.Rev
		}
	}
	for _, e := range p.TreeRevs {
		st.tree[e.Path] = e
	}
	st.tree[verso.Root] = p.Root
	return p.Rev
}

// TestTxn_TreeRev checks Cond.TreeRev: the path must exist and nothing at
// or below it may have changed after the given revision, whatever the
// change (an add however deep, a change, a deletion, properties) and
// whoever made it (a later revision, or an earlier operation of the same
// transaction). The revisions after 3 are planned and applied as a store
// would, so the TreeRevs the condition reads are the planner's own.
func TestTxn_TreeRev(t *testing.T) {
	del := func(p verso.Path, rev verso.Revision) verso.Op {
		return verso.Op{Kind: verso.OpDelete, Path: p, If: verso.Cond{TreeRev: rev}}
	}
	tests := []struct {
		name  string
		later [][]verso.Op // revisions 4, 5, ... committed first
		ops   []verso.Op   // the transaction under test
		fail  bool         // whether it fails with ErrPrecondition in its last operation
		msg   string       // what the error says, besides the path
	}{
		{name: "nothing changed after N", ops: []verso.Op{del("/app", 3)}},
		{name: "N beyond the TreeRev", ops: []verso.Op{del("/app/sub", 7)}},
		{name: "N below the TreeRev", ops: []verso.Op{del("/app/sub", 2)}, fail: true},
		{name: "missing path", ops: []verso.Op{del("/nope", 3)}, fail: true},
		{name: "other conditions on a missing path", ops: []verso.Op{{Kind: verso.OpPut, Path: "/new", If: verso.Cond{Absent: true}}, del("/app", 3)}},
		{name: "key added deep below after N",
			later: [][]verso.Op{{{Kind: verso.OpMkcol, Path: "/app/sub/d"}}, {{Kind: verso.OpPut, Path: "/app/sub/d/k", Value: []byte("k")}}},
			ops:   []verso.Op{del("/app", 3)}, fail: true, msg: "changed in revision 5, after revision 3"},
		{name: "key added deep below, N after it",
			later: [][]verso.Op{{{Kind: verso.OpMkcol, Path: "/app/sub/d"}, {Kind: verso.OpPut, Path: "/app/sub/d/k", Value: []byte("k")}}},
			ops:   []verso.Op{del("/app", 4)}},
		{name: "key deleted below after N",
			later: [][]verso.Op{{{Kind: verso.OpDelete, Path: "/app/sub/b"}}},
			ops:   []verso.Op{del("/app", 3)}, fail: true, msg: "changed in revision 4, after revision 3"},
		{name: "key deleted below, the namespace itself",
			later: [][]verso.Op{{{Kind: verso.OpDelete, Path: "/app/sub/b"}}},
			ops:   []verso.Op{del("/app/sub", 3)}, fail: true},
		{name: "key changed below after N",
			later: [][]verso.Op{{{Kind: verso.OpPut, Path: "/app/a", Value: []byte("a2")}}},
			ops:   []verso.Op{del("/app", 3)}, fail: true},
		{name: "sibling changed after N",
			later: [][]verso.Op{{{Kind: verso.OpPut, Path: "/app/a", Value: []byte("a2")}}},
			ops:   []verso.Op{del("/app/sub", 3)}},
		{name: "change elsewhere after N",
			later: [][]verso.Op{{{Kind: verso.OpPut, Path: "/top", Value: []byte("t2")}}},
			ops:   []verso.Op{del("/app", 3)}},
		{name: "properties of the namespace changed after N",
			later: [][]verso.Op{{{Kind: verso.OpProps, Path: "/app/sub", Props: []verso.PropChange{{Name: "{urn:x}q", Value: "1"}}}}},
			ops:   []verso.Op{del("/app", 3)}, fail: true},
		{name: "deleted and made again after N",
			later: [][]verso.Op{{{Kind: verso.OpDelete, Path: "/app/sub"}}, {{Kind: verso.OpMkcol, Path: "/app/sub"}}},
			ops:   []verso.Op{del("/app/sub", 3)}, fail: true},
		{name: "moved away and back after N",
			later: [][]verso.Op{{{Kind: verso.OpMove, From: "/app/sub", Path: "/sub"}}, {{Kind: verso.OpMove, From: "/sub", Path: "/app/sub"}}},
			ops:   []verso.Op{del("/app/sub", 3)}, fail: true},
		{name: "root, no commit after N",
			ops: []verso.Op{{Kind: verso.OpCheck, Path: verso.Root, If: verso.Cond{TreeRev: 3}}}},
		{name: "root, any commit after N",
			later: [][]verso.Op{{{Kind: verso.OpPut, Path: "/top", Value: []byte("t2")}}},
			ops:   []verso.Op{{Kind: verso.OpCheck, Path: verso.Root, If: verso.Cond{TreeRev: 3}}}, fail: true},
		{name: "earlier operation of the transaction below it",
			ops:  []verso.Op{{Kind: verso.OpDelete, Path: "/app/sub/b"}, del("/app", 3)},
			fail: true},
		{name: "earlier check below it changes nothing",
			ops: []verso.Op{{Kind: verso.OpCheck, Path: "/app/sub/b", If: verso.Cond{ModRev: 3}}, del("/app", 3)}},
		{name: "earlier operation elsewhere",
			ops: []verso.Op{{Kind: verso.OpPut, Path: "/top", Value: []byte("t2")}, del("/app", 3)}},
		{name: "condition before the operations below it",
			ops: []verso.Op{{Kind: verso.OpCheck, Path: "/app", If: verso.Cond{TreeRev: 3}}, {Kind: verso.OpPut, Path: "/app/sub/b", Value: []byte("b2")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newState()
			head := verso.Revision(3)
			for _, ops := range tt.later {
				head = commit(t, st, head, ops...)
			}
			_, err := Txn(st, head, &verso.Txn{Ops: tt.ops}, t0)
			if !tt.fail {
				if err != nil {
					t.Fatalf("Txn() error: %v", err)
				}
				return
			}
			var oe *verso.OpError
			if !errors.Is(err, verso.ErrPrecondition) || !errors.As(err, &oe) || oe.Index != len(tt.ops)-1 {
				t.Fatalf("Txn() error = %v, want ErrPrecondition from operation %d", err, len(tt.ops)-1)
			}
			if last := tt.ops[len(tt.ops)-1]; !strings.Contains(err.Error(), string(last.Path)) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Txn() error = %q, want it to name %s and say %q", err, last.Path, tt.msg)
			}
		})
	}
}

// TestTxn_CopyFromRev checks Op.FromRev: a copy of a source unchanged
// since an older revision records that revision; one of a source changed
// since fails.
func TestTxn_CopyFromRev(t *testing.T) {
	p, err := Txn(newState(), 3, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpCopy, From: "/app/a", Path: "/a2", FromRev: 2}}}, t0)
	if err != nil {
		t.Fatalf("copy of /app/a (unchanged since 2) from revision 2: %v", err)
	}
	if got := p.Commit.Changes[0]; got.From != "/app/a" || got.FromRev != 2 {
		t.Errorf("the copy's change = %+v, want from /app/a at 2", got)
	}
	_, err = Txn(newState(), 3, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpCopy, From: "/app", Path: "/app2", Depth: verso.Infinite, FromRev: 2}}}, t0)
	if !errors.Is(err, verso.ErrPrecondition) {
		t.Errorf("copy of /app (changed in 3) from revision 2: error %v, want ErrPrecondition", err)
	}
}

// TestTxn_RecordedCopy checks an OpPut and an OpMkcol recorded as copies
// (From, FromRev): the changes name their source.
func TestTxn_RecordedCopy(t *testing.T) {
	p, err := Txn(newState(), 3, &verso.Txn{Ops: []verso.Op{
		{Kind: verso.OpMkcol, Path: "/old", From: "/app", FromRev: 1},
		{Kind: verso.OpPut, Path: "/old/a", Value: []byte("a0"), From: "/app/a", FromRev: 1},
		{Kind: verso.OpPut, Path: "/new", Value: []byte("n")},
	}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	// A copy from an older revision: the source's state then is not the
	// transaction's to see, so its Mods are not recorded.
	want := map[verso.Path]verso.Change{
		"/old":   {Path: "/old", Kind: verso.KindNamespace, Action: verso.Copied, From: "/app", FromRev: 1},
		"/old/a": {Path: "/old/a", Kind: verso.KindKey, Action: verso.Copied, From: "/app/a", FromRev: 1},
		"/new":   {Path: "/new", Kind: verso.KindKey, Action: verso.Added, Mods: verso.ModsRecorded | verso.ModValue},
	}
	for _, ch := range p.Commit.Changes {
		if w, ok := want[ch.Path]; ok && ch != w {
			t.Errorf("change %+v, want %+v", ch, w)
		}
	}
	if err := Validate(&verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/x", From: "/y"}}}); !errors.Is(err, verso.ErrInvalidOp) {
		t.Errorf("a put recorded as a copy without FromRev: %v, want ErrInvalidOp", err)
	}
}

// countingState is a mapState that counts the reads of each path.
type countingState struct {
	*mapState
	gets map[verso.Path]int
}

func (s *countingState) Get(p verso.Path) (*verso.Entry, error) {
	s.gets[p]++
	return s.mapState.Get(p)
}

// TestTxn_ReadsOnce checks that a plan reads each committed path once: a
// store decodes the entry at every read, and a PUT of one key asks for
// its parent, the root and the schema keys above it several times.
func TestTxn_ReadsOnce(t *testing.T) {
	for _, txn := range []*verso.Txn{
		{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/app/sub/b", Value: []byte("x")}}},
		{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/app/new", Value: []byte("x")}, {Kind: verso.OpDelete, Path: "/top"}}},
		{Ops: []verso.Op{{Kind: verso.OpCopy, From: "/app/sub", Path: "/copy", Depth: -1}}},
	} {
		st := &countingState{mapState: newState(), gets: map[verso.Path]int{}}
		if _, err := Txn(st, 3, txn, t0); err != nil {
			t.Fatalf("Txn(%+v): %v", txn.Ops, err)
		}
		for p, n := range st.gets {
			if n > 1 {
				t.Errorf("Txn(%+v) read %s %d times", txn.Ops, p, n)
			}
		}
	}
}
