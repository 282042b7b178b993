// Package storetest is the conformance suite of verso stores: every backend
// runs it from its own tests, the way file systems run testing/fstest.TestFS.
//
//	func TestStore_Conformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) verso.Store { return mustOpen(t, nil) })
//	}
//
// It checks the rules of docs/STORE.md and nothing an implementation is free
// to choose (ModTime's precision, the text of errors, the root's Version).
// Where the contract can be read two ways the suite takes one reading:
//
//   - Version counts the revisions that changed an entry: several operations
//     on one path in one commit add one; a path deleted and created again in
//     one commit is a new entry (Version 1, CreateRev the new revision).
//   - Copy Depth 0 copies a namespace alone (docs/STORE.md), although the
//     comment on verso.Op.Depth calls the zero value Infinite; the suite
//     always sets verso.Infinite for a subtree copy.
//   - A move makes new entries at the destination, as a copy does, and
//     their changes name From; their FromRev is not checked.
//   - An operation's If sees the entries the earlier operations of the
//     transaction wrote, with ModRev the new revision.
//   - Txn.Base conflicts with a path listed in the transaction's Changes
//     that some revision after Base lists in its own Changes.
//   - Changes are sorted by path in byte order or in walk order (the two
//     differ only for names holding bytes below '/').
//   - Errors of a copy's or move's source name From in their PathError; a
//     missing parent may name the path or the parent.
//   - Revision(Head) is ErrNoRevision, like any negative revision.
//   - Once Commit returns, Get at Head sees the commit; Close wakes a
//     pending Wait with ErrClosed.
package storetest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/verso-config/verso"
)

// Run runs the conformance suite as subtests of t. open must return a new,
// empty store each time it is called; Run closes it.
func Run(t *testing.T, open func(t *testing.T) verso.Store) {
	groups := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) verso.Store)
	}{
		{"EmptyStore", testEmptyStore},
		{"Ops", testOps},
		{"OpErrors", testOpErrors},
		{"Preconditions", testPreconditions},
		{"Check", testCheck},
		{"Atomicity", testAtomicity},
		{"CanceledContext", testCanceledContext},
		{"Base", testBase},
		{"CommitRecord", testCommitRecord},
		{"Entries", testEntries},
		{"History", testHistory},
		{"Walk", testWalk},
		{"Log", testLog},
		{"Wait", testWait},
		{"Concurrency", testConcurrency},
		{"Close", testClose},
		{"Retention", testRetention},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.fn(t, open) })
	}
}

// newStore opens a store for one test and closes it when the test ends.
func newStore(t *testing.T, open func(t *testing.T) verso.Store) verso.Store {
	t.Helper()
	s := open(t)
	if s == nil {
		t.Fatal("open returned a nil store")
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, verso.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// Operation builders, to keep transactions readable.

func p(s string) verso.Path { return verso.MustPath(s) }

func opPut(path, value string) verso.Op {
	return verso.Op{Kind: verso.OpPut, Path: p(path), Value: []byte(value), ContentType: "text/plain"}
}

func opMkcol(path string) verso.Op { return verso.Op{Kind: verso.OpMkcol, Path: p(path)} }

func opDelete(path string) verso.Op { return verso.Op{Kind: verso.OpDelete, Path: p(path)} }

// opCopy copies the whole subtree (Depth Infinite).
func opCopy(from, to string) verso.Op {
	return verso.Op{Kind: verso.OpCopy, From: p(from), Path: p(to), Depth: verso.Infinite}
}

func opMove(from, to string) verso.Op {
	return verso.Op{Kind: verso.OpMove, From: p(from), Path: p(to)}
}

func opProps(path string, changes ...verso.PropChange) verso.Op {
	return verso.Op{Kind: verso.OpProps, Path: p(path), Props: changes}
}

func setProp(name, value string) verso.PropChange { return verso.PropChange{Name: name, Value: value} }

func removeProp(name string) verso.PropChange { return verso.PropChange{Name: name, Remove: true} }

func overwrite(op verso.Op) verso.Op { op.Overwrite = true; return op }

func withIf(op verso.Op, c verso.Cond) verso.Op { op.If = c; return op }

func txn(ops ...verso.Op) *verso.Txn { return &verso.Txn{Author: "tester", Message: "test", Ops: ops} }

// describe renders a transaction's operations for failure messages.
func describe(tx *verso.Txn) string {
	var b strings.Builder
	b.WriteString("[")
	for i, op := range tx.Ops {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(string(op.Kind))
		if op.From != "" {
			b.WriteString(" " + string(op.From) + " ->")
		}
		b.WriteString(" " + string(op.Path))
		if op.Kind == verso.OpCopy && op.Depth == 0 {
			b.WriteString(" depth 0")
		}
		if op.Overwrite {
			b.WriteString(" overwrite")
		}
		if !op.If.IsZero() {
			switch {
			case op.If.Absent:
				b.WriteString(" if-absent")
			case op.If.Exists:
				b.WriteString(" if-exists")
			}
			if op.If.ModRev > 0 {
				b.WriteString(" if-modrev=" + itoa(int64(op.If.ModRev)))
			}
		}
	}
	if tx.Base > 0 {
		b.WriteString(" base=" + itoa(int64(tx.Base)))
	}
	b.WriteString("]")
	return b.String()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func mustCommit(t *testing.T, s verso.Store, tx *verso.Txn) *verso.Commit {
	t.Helper()
	c, err := s.Commit(t.Context(), tx)
	if err != nil {
		t.Fatalf("Commit(%s) error: %v", describe(tx), err)
	}
	if c == nil {
		t.Fatalf("Commit(%s) returned a nil record and no error", describe(tx))
	}
	return c
}

func mustHead(t *testing.T, s verso.Store) verso.Revision {
	t.Helper()
	h, err := s.Head(t.Context())
	if err != nil {
		t.Fatalf("Head() error: %v", err)
	}
	return h
}

func mustGet(t *testing.T, s verso.Store, path string, rev verso.Revision) *verso.Entry {
	t.Helper()
	e, err := s.Get(t.Context(), p(path), rev)
	if err != nil {
		t.Fatalf("Get(%q, %s) error: %v", path, revString(rev), err)
	}
	return e
}

// walkAll returns the entries Walk visits.
func walkAll(ctx context.Context, s verso.Store, path verso.Path, rev verso.Revision, depth int) ([]*verso.Entry, error) {
	var out []*verso.Entry
	err := s.Walk(ctx, path, rev, depth, func(e *verso.Entry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

func mustWalk(t *testing.T, s verso.Store, path string, rev verso.Revision, depth int) []*verso.Entry {
	t.Helper()
	es, err := walkAll(t.Context(), s, p(path), rev, depth)
	if err != nil {
		t.Fatalf("Walk(%q, %s, depth %d) error: %v", path, revString(rev), depth, err)
	}
	return es
}

func revString(r verso.Revision) string {
	if r == verso.Head {
		return "HEAD"
	}
	return "r" + itoa(int64(r))
}

func paths(es []*verso.Entry) []verso.Path {
	out := make([]verso.Path, len(es))
	for i, e := range es {
		out[i] = e.Path
	}
	return out
}

// wantHead checks that the head is want.
func wantHead(t *testing.T, s verso.Store, want verso.Revision, after string) {
	t.Helper()
	if got := mustHead(t, s); got != want {
		t.Errorf("Head() after %s = %d, want %d", after, got, want)
	}
}

// wantNotFound checks that path does not exist at rev.
func wantNotFound(t *testing.T, s verso.Store, path string, rev verso.Revision) {
	t.Helper()
	e, err := s.Get(t.Context(), p(path), rev)
	if !errors.Is(err, verso.ErrNotFound) {
		t.Errorf("Get(%q, %s) = %v, %v; want ErrNotFound", path, revString(rev), e, err)
	}
}

// wantOpError checks that err is an *OpError for operation index of kind,
// wrapping a *PathError whose Path is one of okPaths, wrapping sentinel.
func wantOpError(t *testing.T, what string, err error, index int, kind verso.OpKind, sentinel error, okPaths ...verso.Path) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded, want error %v", what, sentinel)
		return
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("%s error = %v, want errors.Is %v", what, err, sentinel)
	}
	var oe *verso.OpError
	if !errors.As(err, &oe) {
		t.Errorf("%s error = %v (%T), want an *OpError", what, err, err)
		return
	}
	if oe.Index != index || oe.Kind != kind {
		t.Errorf("%s OpError{Index: %d, Kind: %q}, want {Index: %d, Kind: %q}", what, oe.Index, oe.Kind, index, kind)
	}
	var pe *verso.PathError
	if !errors.As(oe.Err, &pe) {
		t.Errorf("%s OpError wraps %v (%T), want a *PathError", what, oe.Err, oe.Err)
		return
	}
	if len(okPaths) > 0 && !slices.Contains(okPaths, pe.Path) {
		t.Errorf("%s PathError.Path = %q, want one of %q", what, pe.Path, okPaths)
	}
	if !errors.Is(pe, sentinel) {
		t.Errorf("%s PathError = %v, want it to wrap %v", what, pe, sentinel)
	}
}

// entryOpts compares entries on what the contract fixes. ModTime is checked
// on its own (see checkModTime), since a store may round it.
var entryOpts = gocmp.Options{
	cmpopts.IgnoreFields(verso.Entry{}, "ModTime"),
	// Values compare as bytes (nil and empty alike, and fast for large ones).
	gocmp.Comparer(bytes.Equal),
	// No properties may be nil or an empty map.
	gocmp.FilterValues(func(x, y map[string]string) bool { return len(x) == 0 && len(y) == 0 },
		gocmp.Comparer(func(_, _ map[string]string) bool { return true })),
}

// diffEntries compares entries on what the contract fixes, ignoring the
// root's Version: the contract does not say from what it counts, since no
// commit creates the root.
func diffEntries(want, got []*verso.Entry) string {
	want = slices.Clone(want)
	for i, w := range want {
		if i < len(got) && w != nil && got[i] != nil && w.Path == verso.Root && got[i].Path == verso.Root {
			c := *w
			c.Version = got[i].Version
			want[i] = &c
		}
	}
	return gocmp.Diff(want, got, entryOpts)
}

// diffEntry is diffEntries for one entry.
func diffEntry(want, got *verso.Entry) string {
	return diffEntries([]*verso.Entry{want}, []*verso.Entry{got})
}

// commitOpts compares commit records; Time is checked on its own.
var commitOpts = gocmp.Options{
	cmpopts.IgnoreFields(verso.Commit{}, "Time"),
	cmpopts.EquateEmpty(),
	gocmp.Transformer("changes", normalizeChanges),
}

// normalizeChanges puts changes in one canonical order and clears the
// FromRev of moves, which the contract does not fix (see checkChangesOrder
// for the order itself).
func normalizeChanges(cs []verso.Change) []verso.Change {
	out := slices.Clone(cs)
	for i := range out {
		if out[i].Action == verso.Moved {
			out[i].FromRev = 0
		}
	}
	slices.SortStableFunc(out, func(a, b verso.Change) int { return cmp.Compare(a.Path, b.Path) })
	return out
}

// treeCompare orders paths as a pre-order walk does: segment by segment, each
// segment in byte order.
func treeCompare(a, b verso.Path) int {
	as, bs := segments(a), segments(b)
	for i := 0; i < len(as) && i < len(bs); i++ {
		if c := strings.Compare(as[i], bs[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(as), len(bs))
}

func segments(p verso.Path) []string {
	if p == verso.Root {
		return nil
	}
	return strings.Split(string(p)[1:], "/")
}

// checkChangesOrder checks that changes are sorted by path. "Path order"
// is read as either plain byte order of the paths or tree order (segment by
// segment); the two differ only for names holding bytes below '/'.
func checkChangesOrder(t *testing.T, what string, cs []verso.Change) {
	t.Helper()
	byBytes := slices.IsSortedFunc(cs, func(a, b verso.Change) int { return cmp.Compare(a.Path, b.Path) })
	byTree := slices.IsSortedFunc(cs, func(a, b verso.Change) int { return treeCompare(a.Path, b.Path) })
	if !byBytes && !byTree {
		var ps []verso.Path
		for _, c := range cs {
			ps = append(ps, c.Path)
		}
		t.Errorf("%s Changes not in path order: %q", what, ps)
	}
	for i := 1; i < len(cs); i++ {
		if cs[i].Path == cs[i-1].Path {
			t.Errorf("%s Changes list %q twice", what, cs[i].Path)
		}
	}
}

// checkCommit compares a commit record with what was expected and checks
// the order of its changes and that its time is plausible.
func checkCommit(t *testing.T, what string, got, want *verso.Commit) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = nil commit", what)
		return
	}
	if diff := gocmp.Diff(want, got, commitOpts); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, diff)
	}
	checkChangesOrder(t, what, got.Changes)
	if got.Time.IsZero() {
		t.Errorf("%s Time is zero", what)
	}
}

// checkModTime checks that e.ModTime is the time of the commit of its ModRev.
func checkModTime(t *testing.T, s verso.Store, e *verso.Entry) {
	t.Helper()
	if e.ModRev == 0 {
		return
	}
	c, err := s.Revision(t.Context(), e.ModRev)
	if err != nil {
		t.Errorf("Revision(%d) for ModRev of %q: %v", e.ModRev, e.Path, err)
		return
	}
	if d := e.ModTime.Sub(c.Time).Abs(); d > time.Millisecond {
		t.Errorf("%q ModTime = %v, want the time of r%d: %v", e.Path, e.ModTime, e.ModRev, c.Time)
	}
}
