package storetest

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
)

// testEmptyStore checks revision 0: the root exists and nothing else does.
func testEmptyStore(t *testing.T, open func(t *testing.T) verso.Store) {
	s := newStore(t, open)
	ctx := t.Context()
	wantHead(t, s, 0, "open")

	for _, rev := range []verso.Revision{verso.Head, 0} {
		e, err := s.Get(ctx, verso.Root, rev)
		if err != nil {
			t.Fatalf("Get(%q, %s) error: %v", verso.Root, revString(rev), err)
		}
		want := &verso.Entry{Path: verso.Root, Kind: verso.KindNamespace}
		if diff := diffEntry(want, e); diff != "" {
			t.Errorf("Get(%q, %s) mismatch (-want +got):\n%s", verso.Root, revString(rev), diff)
		}
		if es := mustWalk(t, s, "/", rev, verso.Infinite); len(es) != 1 || es[0].Path != verso.Root {
			t.Errorf("Walk(%q, %s, Infinite) visited %q, want only the root", verso.Root, revString(rev), paths(es))
		}
	}
	wantNotFound(t, s, "/a", verso.Head)
	wantNotFound(t, s, "/a", 0)

	e, err := s.Get(ctx, p("/a"), verso.Head)
	var pe *verso.PathError
	if !errors.As(err, &pe) || pe.Path != p("/a") {
		t.Errorf("Get(%q, HEAD) = %v, %v; want a *PathError for %q", "/a", e, err, "/a")
	}
	if !errors.Is(err, verso.ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get(%q, HEAD) error = %v, want ErrNotFound that is also fs.ErrNotExist", "/a", err)
	}

	for _, rev := range []verso.Revision{1, 2, -2} {
		if e, err := s.Get(ctx, verso.Root, rev); !errors.Is(err, verso.ErrNoRevision) {
			t.Errorf("Get(%q, r%d) on an empty store = %v, %v; want ErrNoRevision", verso.Root, rev, e, err)
		}
		if err := s.Walk(ctx, verso.Root, rev, verso.Infinite, func(*verso.Entry) error { return nil }); !errors.Is(err, verso.ErrNoRevision) {
			t.Errorf("Walk(%q, r%d) on an empty store = %v; want ErrNoRevision", verso.Root, rev, err)
		}
	}
	for _, rev := range []verso.Revision{0, 1, -1, -2} {
		if c, err := s.Revision(ctx, rev); !errors.Is(err, verso.ErrNoRevision) {
			t.Errorf("Revision(%d) on an empty store = %v, %v; want ErrNoRevision", rev, c, err)
		}
	}
	if cs, err := s.Log(ctx, verso.LogQuery{Path: verso.Root}); err != nil || len(cs) != 0 {
		t.Errorf("Log(/) on an empty store = %v, %v; want no commits", cs, err)
	}
	if h, err := s.Wait(ctx, 0); err != nil || h != 0 {
		t.Errorf("Wait(0) on an empty store = %d, %v; want 0, nil", h, err)
	}

	// Once there is a commit, Get above it is still ErrNoRevision.
	mustCommit(t, s, txn(opPut("/a", "1")))
	if e, err := s.Get(ctx, p("/a"), 2); !errors.Is(err, verso.ErrNoRevision) {
		t.Errorf("Get(%q, r2) with head 1 = %v, %v; want ErrNoRevision", "/a", e, err)
	}
	if c, err := s.Revision(ctx, 2); !errors.Is(err, verso.ErrNoRevision) {
		t.Errorf("Revision(2) with head 1 = %v, %v; want ErrNoRevision", c, err)
	}
	wantNotFound(t, s, "/a", 0)
}

// testOps checks the success path of every operation kind, one commit each.
func testOps(t *testing.T, open func(t *testing.T) verso.Store) {
	s := newStore(t, open)
	m := newModel()
	steps := []struct {
		name string
		tx   *verso.Txn
	}{
		{"MkcolAndPut", txn(opMkcol("/app"), opPut("/app/host", "db1"), opMkcol("/app/sub"), opPut("/app/sub/x", "x"))},
		{"PutReplaces", txn(opPut("/app/host", "db2"))},
		{"PutSameBytes", txn(opPut("/app/host", "db2"))},
		{"PropsOnKey", txn(opProps("/app/host", setProp("{urn:x}a", "1"), setProp("{urn:x}b", "2")))},
		{"PropsRemoveAndAbsent", txn(opProps("/app/host", removeProp("{urn:x}a"), removeProp("{urn:x}never")))},
		{"PropsOnNamespace", txn(opProps("/app", setProp("{urn:x}ns", "n")))},
		{"PropsOnRoot", txn(opProps("/", setProp("{urn:x}root", "r")))},
		{"CopyKey", txn(opCopy("/app/host", "/host-copy"))},
		{"CopyNamespace", txn(opCopy("/app", "/app2"))},
		{"CopyDepth0", txn(verso.Op{Kind: verso.OpCopy, From: p("/app"), Path: p("/shallow"), Depth: 0})},
		{"CopyOverwriteKey", txn(overwrite(opCopy("/app/sub/x", "/host-copy")))},
		{"CopyThenPut", txn(opCopy("/app/host", "/host-copy2"), opPut("/host-copy2", "changed"), opProps("/host-copy2", setProp("{urn:x}c", "1")))},
		{"MoveKey", txn(opMove("/host-copy", "/app2/moved"))},
		{"MoveNamespace", txn(opMove("/app2", "/shallow/app2"))},
		{"MoveOverwriteNamespace", txn(overwrite(opMove("/shallow/app2/sub", "/app/sub")))},
		{"DeleteKey", txn(opDelete("/app/host"))},
		{"DeleteNamespace", txn(opDelete("/shallow"))},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			c, err := s.Commit(t.Context(), st.tx)
			if err != nil {
				t.Fatalf("Commit(%s) error: %v", describe(st.tx), err)
			}
			m.apply(st.tx)
			checkCommit(t, "Commit("+describe(st.tx)+")", c, m.commits[m.head()])
			compareTree(t, s, m, m.head())
		})
		if t.Failed() {
			return
		}
	}
}

// compareTree checks the whole tree at rev against the model.
func compareTree(t *testing.T, s verso.Store, m *model, rev verso.Revision) {
	t.Helper()
	got := mustWalk(t, s, "/", rev, verso.Infinite)
	if diff := diffEntries(m.walk(verso.Root, rev, verso.Infinite), got); diff != "" {
		t.Errorf("Walk(/, r%d, Infinite) mismatch (-want +got):\n%s", rev, diff)
	}
}

// errorTree is the tree the error cases run against, at r2: /k changed at
// r2, everything else created at r1.
func errorTree(t *testing.T, s verso.Store) {
	t.Helper()
	mustCommit(t, s, txn(
		opMkcol("/ns"), opPut("/ns/k", "v"), opMkcol("/ns/sub"), opPut("/ns/sub/x", "x"),
		opPut("/k", "top"), opMkcol("/other"),
	))
	mustCommit(t, s, txn(opPut("/k", "top2")))
}

// errorCase is a transaction that must fail at operation index with sentinel,
// in a PathError naming one of paths.
type errorCase struct {
	name     string
	tx       *verso.Txn
	index    int
	sentinel error
	paths    []string // acceptable PathError.Path values
}

// runErrorCases commits each failing case against the error tree and checks
// the error, and that the store did not change and consumed no revision.
func runErrorCases(t *testing.T, s verso.Store, cases []errorCase) {
	t.Helper()
	head := mustHead(t, s)
	before := mustWalk(t, s, "/", verso.Head, verso.Infinite)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := s.Commit(t.Context(), tc.tx)
			what := "Commit(" + describe(tc.tx) + ")"
			if err == nil {
				t.Fatalf("%s = r%d, want error %v", what, c.Rev, tc.sentinel)
			}
			var ok []verso.Path
			for _, q := range tc.paths {
				ok = append(ok, p(q))
			}
			wantOpError(t, what, err, tc.index, tc.tx.Ops[tc.index].Kind, tc.sentinel, ok...)
			wantHead(t, s, head, "failed "+what)
			after := mustWalk(t, s, "/", verso.Head, verso.Infinite)
			if diff := diffEntries(before, after); diff != "" {
				t.Errorf("tree changed by failed %s (-before +after):\n%s", what, diff)
			}
		})
	}
	// A failed commit consumed no revision: the next one gets head+1.
	c := mustCommit(t, s, txn(opPut("/after-failures", "1")))
	if c.Rev != head+1 {
		t.Errorf("Commit after failed commits = r%d, want r%d", c.Rev, head+1)
	}
}

func testOpErrors(t *testing.T, open func(t *testing.T) verso.Store) {
	s := newStore(t, open)
	errorTree(t, s)
	shallow := func(from, to string) verso.Op {
		return verso.Op{Kind: verso.OpCopy, From: p(from), Path: p(to), Depth: 0}
	}
	cases := []errorCase{
		{"PutRoot", txn(opPut("/", "x")), 0, verso.ErrRoot, []string{"/"}},
		{"PutNoParent", txn(opPut("/missing/k", "x")), 0, verso.ErrNoParent, []string{"/missing/k", "/missing"}},
		{"PutParentIsKey", txn(opPut("/k/x", "x")), 0, verso.ErrNotNamespace, []string{"/k/x", "/k"}},
		{"PutOnNamespace", txn(opPut("/ns", "x")), 0, verso.ErrIsNamespace, []string{"/ns"}},
		{"PutOnEmptyNamespace", txn(opPut("/other", "x")), 0, verso.ErrIsNamespace, []string{"/other"}},

		{"MkcolRoot", txn(opMkcol("/")), 0, verso.ErrExists, []string{"/"}},
		{"MkcolExistingNamespace", txn(opMkcol("/ns")), 0, verso.ErrExists, []string{"/ns"}},
		{"MkcolExistingKey", txn(opMkcol("/k")), 0, verso.ErrExists, []string{"/k"}},
		{"MkcolNoParent", txn(opMkcol("/missing/n")), 0, verso.ErrNoParent, []string{"/missing/n", "/missing"}},
		{"MkcolParentIsKey", txn(opMkcol("/k/n")), 0, verso.ErrNotNamespace, []string{"/k/n", "/k"}},

		{"DeleteRoot", txn(opDelete("/")), 0, verso.ErrRoot, []string{"/"}},
		{"DeleteMissing", txn(opDelete("/missing")), 0, verso.ErrNotFound, []string{"/missing"}},
		{"DeleteBelowKey", txn(opDelete("/k/x")), 0, verso.ErrNotFound, []string{"/k/x"}},

		{"CopyFromMissing", txn(opCopy("/missing", "/c")), 0, verso.ErrNotFound, []string{"/missing"}},
		{"CopyToRoot", txn(opCopy("/k", "/")), 0, verso.ErrRoot, []string{"/"}},
		{"CopyToRootOverwrite", txn(overwrite(opCopy("/k", "/"))), 0, verso.ErrRoot, []string{"/"}},
		{"CopyToItself", txn(opCopy("/ns", "/ns")), 0, verso.ErrSamePath, []string{"/ns"}},
		{"CopyKeyToItself", txn(overwrite(opCopy("/k", "/k"))), 0, verso.ErrSamePath, []string{"/k"}},
		{"CopyIntoItself", txn(opCopy("/ns", "/ns/sub/deep")), 0, verso.ErrSamePath, []string{"/ns/sub/deep", "/ns"}},
		{"CopyDepth0IntoItself", txn(shallow("/ns", "/ns/sub/deep")), 0, verso.ErrSamePath, []string{"/ns/sub/deep", "/ns"}},
		{"CopyOntoAncestor", txn(overwrite(opCopy("/ns/sub", "/ns"))), 0, verso.ErrSamePath, []string{"/ns", "/ns/sub"}},
		{"CopyNoParent", txn(opCopy("/k", "/missing/c")), 0, verso.ErrNoParent, []string{"/missing/c", "/missing"}},
		{"CopyParentIsKey", txn(opCopy("/ns/k", "/k/c")), 0, verso.ErrNotNamespace, []string{"/k/c", "/k"}},
		{"CopyExists", txn(opCopy("/ns/k", "/k")), 0, verso.ErrExists, []string{"/k"}},
		{"CopyExistsNamespace", txn(opCopy("/ns/sub", "/other")), 0, verso.ErrExists, []string{"/other"}},
		{"CopyNoFrom", txn(verso.Op{Kind: verso.OpCopy, Path: p("/c")}), 0, verso.ErrInvalidOp, nil},

		{"MoveRoot", txn(opMove("/", "/x")), 0, verso.ErrRoot, []string{"/", "/x"}},
		{"MoveFromMissing", txn(opMove("/missing", "/m")), 0, verso.ErrNotFound, []string{"/missing"}},
		{"MoveToRoot", txn(overwrite(opMove("/k", "/"))), 0, verso.ErrRoot, []string{"/"}},
		{"MoveToItself", txn(opMove("/ns", "/ns")), 0, verso.ErrSamePath, []string{"/ns"}},
		{"MoveIntoItself", txn(opMove("/ns", "/ns/sub/m")), 0, verso.ErrSamePath, []string{"/ns/sub/m", "/ns"}},
		{"MoveOntoAncestor", txn(overwrite(opMove("/ns/sub", "/ns"))), 0, verso.ErrSamePath, []string{"/ns", "/ns/sub"}},
		{"MoveNoParent", txn(opMove("/k", "/missing/m")), 0, verso.ErrNoParent, []string{"/missing/m", "/missing"}},
		{"MoveParentIsKey", txn(opMove("/ns/k", "/k/m")), 0, verso.ErrNotNamespace, []string{"/k/m", "/k"}},
		{"MoveExists", txn(opMove("/k", "/ns/k")), 0, verso.ErrExists, []string{"/ns/k"}},
		{"MoveNoFrom", txn(verso.Op{Kind: verso.OpMove, Path: p("/m")}), 0, verso.ErrInvalidOp, nil},

		{"PropsEmptyName", txn(opProps("/k", setProp("", "1"))), 0, verso.ErrInvalidOp, nil},
		{"PropsMissing", txn(opProps("/missing", setProp("{urn:x}a", "1"))), 0, verso.ErrNotFound, []string{"/missing"}},

		{"UnknownKind", txn(verso.Op{Kind: "frobnicate", Path: p("/k")}), 0, verso.ErrInvalidOp, nil},
		{"EmptyPath", txn(verso.Op{Kind: verso.OpPut, Value: []byte("x")}), 0, verso.ErrInvalidOp, nil},
		{"EmptyPathMkcol", txn(verso.Op{Kind: verso.OpMkcol}), 0, verso.ErrInvalidOp, nil},

		// The failing operation is named by its index.
		{"ThirdOpFails", txn(opPut("/a1", "1"), opMkcol("/a2"), opPut("/missing/x", "x")), 2, verso.ErrNoParent, []string{"/missing/x", "/missing"}},
		{"LaterOpSeesEarlier", txn(opMkcol("/n"), opDelete("/n"), opProps("/n", setProp("{urn:x}a", "1"))), 2, verso.ErrNotFound, []string{"/n"}},
		{"PutAfterDeleteOfParent", txn(opDelete("/ns"), opPut("/ns/k", "x")), 1, verso.ErrNoParent, []string{"/ns/k", "/ns"}},
		{"MkcolAfterPut", txn(opPut("/n", "1"), opMkcol("/n")), 1, verso.ErrExists, []string{"/n"}},
		{"CopyOfDeleted", txn(opDelete("/ns/k"), opCopy("/ns/k", "/c")), 1, verso.ErrNotFound, []string{"/ns/k"}},
	}
	runErrorCases(t, s, cases)

	t.Run("EmptyTxn", func(t *testing.T) {
		head := mustHead(t, s)
		for _, tx := range []*verso.Txn{{Author: "a", Message: "nothing"}, {Ops: []verso.Op{}}} {
			if c, err := s.Commit(t.Context(), tx); !errors.Is(err, verso.ErrEmptyTxn) {
				t.Errorf("Commit(%s) = %v, %v; want ErrEmptyTxn", describe(tx), c, err)
			}
		}
		wantHead(t, s, head, "empty transactions")
	})
}

func testPreconditions(t *testing.T, open func(t *testing.T) verso.Store) {
	s := newStore(t, open)
	errorTree(t, s) // /k has ModRev 2, /ns/k ModRev 1.
	absent := verso.Cond{Absent: true}
	exists := verso.Cond{Exists: true}
	modRev := func(r verso.Revision) verso.Cond { return verso.Cond{ModRev: r} }

	runErrorCases(t, s, []errorCase{
		{"AbsentOnExisting", txn(withIf(opPut("/k", "x"), absent)), 0, verso.ErrPrecondition, []string{"/k"}},
		{"AbsentOnNamespace", txn(withIf(opProps("/ns", setProp("{urn:x}a", "1")), absent)), 0, verso.ErrPrecondition, []string{"/ns"}},
		{"ExistsOnMissing", txn(withIf(opPut("/new", "x"), exists)), 0, verso.ErrPrecondition, []string{"/new"}},
		{"ModRevStale", txn(withIf(opPut("/k", "x"), modRev(1))), 0, verso.ErrPrecondition, []string{"/k"}},
		{"ModRevNewer", txn(withIf(opPut("/ns/k", "x"), modRev(2))), 0, verso.ErrPrecondition, []string{"/ns/k"}},
		{"ModRevOnMissing", txn(withIf(opPut("/new", "x"), modRev(1))), 0, verso.ErrPrecondition, []string{"/new"}},
		{"ModRevDelete", txn(withIf(opDelete("/k"), modRev(1))), 0, verso.ErrPrecondition, []string{"/k"}},
		{"AbsentCopyDest", txn(withIf(overwrite(opCopy("/ns/k", "/k")), absent)), 0, verso.ErrPrecondition, []string{"/k"}},
		{"ExistsMoveDest", txn(withIf(opMove("/k", "/m"), exists)), 0, verso.ErrPrecondition, []string{"/m"}},
		// Conditions see the earlier operations of the same transaction.
		{"AbsentAfterPut", txn(opPut("/n", "1"), withIf(opPut("/n", "2"), absent)), 1, verso.ErrPrecondition, []string{"/n"}},
		{"ExistsAfterDelete", txn(opDelete("/k"), withIf(opPut("/k", "2"), exists)), 1, verso.ErrPrecondition, []string{"/k"}},
		{"ModRevAfterPut", txn(opPut("/k", "1"), withIf(opPut("/k", "2"), modRev(2))), 1, verso.ErrPrecondition, []string{"/k"}},
	})
	// Head is now 3.

	ok := []struct {
		name string
		tx   *verso.Txn
	}{
		{"AbsentNew", txn(withIf(opPut("/new", "1"), absent))},
		{"ExistsPut", txn(withIf(opPut("/new", "2"), exists))},
		{"ModRevPut", txn(withIf(opPut("/k", "3"), modRev(2)))},
		{"ModRevProps", txn(withIf(opProps("/ns", setProp("{urn:x}a", "1")), modRev(1)))},
		{"ModRevDelete", txn(withIf(opDelete("/ns/k"), modRev(1)))},
		{"AbsentMkcol", txn(withIf(opMkcol("/col"), absent))},
		{"AbsentCopyDest", txn(withIf(opCopy("/k", "/k2"), absent))},
		{"ExistsMoveDestOverwrite", txn(withIf(overwrite(opMove("/k2", "/new")), exists))},
		{"AbsentAfterDelete", txn(opDelete("/new"), withIf(opPut("/new", "3"), absent))},
		{"ExistsAfterPut", txn(opPut("/fresh", "1"), withIf(opPut("/fresh", "2"), exists))},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			head := mustHead(t, s)
			c := mustCommit(t, s, tc.tx)
			if c.Rev != head+1 {
				t.Errorf("Commit(%s) = r%d, want r%d", describe(tc.tx), c.Rev, head+1)
			}
		})
	}
	if e := mustGet(t, s, "/new", verso.Head); string(e.Value) != "3" {
		t.Errorf("Get(%q, HEAD) = %q, want %q", "/new", e.Value, "3")
	}

	// TreeRev: nothing at or below the path changed after it, be it an
	// addition two levels down or a deletion below.
	treeRev := func(r verso.Revision) verso.Cond { return verso.Cond{TreeRev: r} }
	made := mustCommit(t, s, txn(opMkcol("/tr"), opMkcol("/tr/sub"), opPut("/tr/sub/k", "1")))
	added := mustCommit(t, s, txn(opPut("/tr/sub/k2", "2")))
	for _, tx := range []*verso.Txn{
		txn(withIf(opDelete("/tr"), treeRev(made.Rev))),
		txn(withIf(opDelete("/tr/sub/k"), treeRev(added.Rev)), withIf(opDelete("/tr"), treeRev(added.Rev))),
		txn(withIf(opDelete("/nothing"), treeRev(added.Rev))),
	} {
		_, err := s.Commit(t.Context(), tx)
		wantOpError(t, "Commit("+describe(tx)+")", err, len(tx.Ops)-1, verso.OpDelete, verso.ErrPrecondition)
	}
	mustGet(t, s, "/tr/sub/k2", verso.Head)
	deleted := mustCommit(t, s, txn(opDelete("/tr/sub/k")))
	tx := txn(withIf(opDelete("/tr"), treeRev(added.Rev)))
	_, err := s.Commit(t.Context(), tx)
	wantOpError(t, "Commit("+describe(tx)+")", err, 0, verso.OpDelete, verso.ErrPrecondition)
	mustCommit(t, s, txn(withIf(opDelete("/tr"), treeRev(deleted.Rev))))
	wantNotFound(t, s, "/tr/sub/k2", verso.Head)
}

// testAtomicity checks that a transaction applies all its operations or none.
func testAtomicity(t *testing.T, open func(t *testing.T) verso.Store) {
	s := newStore(t, open)
	ctx := t.Context()

	tx := txn(opPut("/a", "1"), opPut("/b", "2"), opPut("/missing/c", "3"))
	_, err := s.Commit(ctx, tx)
	wantOpError(t, "Commit("+describe(tx)+")", err, 2, verso.OpPut, verso.ErrNoParent)
	wantHead(t, s, 0, "failed "+describe(tx))
	wantNotFound(t, s, "/a", verso.Head)
	wantNotFound(t, s, "/b", verso.Head)

	// Later operations see earlier ones: a put into a namespace created
	// by the same transaction, a copy of a key put by it.
	tx = txn(opMkcol("/ns"), opPut("/ns/k", "v"), opCopy("/ns/k", "/ns/k2"), opMkcol("/ns/sub"), opMove("/ns/k2", "/ns/sub/k3"))
	c := mustCommit(t, s, tx)
	if c.Rev != 1 {
		t.Errorf("Commit(%s) = r%d, want r1", describe(tx), c.Rev)
	}
	for path, want := range map[string]string{"/ns/k": "v", "/ns/sub/k3": "v"} {
		if e := mustGet(t, s, path, 1); string(e.Value) != want {
			t.Errorf("Get(%q, r1) = %q, want %q", path, e.Value, want)
		}
	}
	wantNotFound(t, s, "/ns/k2", 1)

	// A failure after many successful operations still leaves nothing.
	before := mustWalk(t, s, "/", verso.Head, verso.Infinite)
	tx = txn(opDelete("/ns"), opMkcol("/x"), opPut("/x/y", "1"), opProps("/x", setProp("{urn:x}a", "1")), opDelete("/nothing"))
	_, err = s.Commit(ctx, tx)
	wantOpError(t, "Commit("+describe(tx)+")", err, 4, verso.OpDelete, verso.ErrNotFound, p("/nothing"))
	if diff := diffEntries(before, mustWalk(t, s, "/", verso.Head, verso.Infinite)); diff != "" {
		t.Errorf("tree changed by failed Commit(%s) (-before +after):\n%s", describe(tx), diff)
	}
	wantHead(t, s, 1, "failed "+describe(tx))
}

// testBase checks Txn.Base: conflicts with commits after it.
func testBase(t *testing.T, open func(t *testing.T) verso.Store) {
	s := newStore(t, open)
	ctx := t.Context()
	mustCommit(t, s, txn(opMkcol("/c"), opPut("/c/a", "1"), opPut("/c/b", "1"), opPut("/c/d", "1"))) // r1
	mustCommit(t, s, txn(opPut("/c/a", "2")))                                                        // r2
	mustCommit(t, s, txn(opDelete("/c/b")))                                                          // r3

	based := func(base verso.Revision, ops ...verso.Op) *verso.Txn {
		tx := txn(ops...)
		tx.Base = base
		return tx
	}
	conflicts := []struct {
		name  string
		tx    *verso.Txn
		paths []verso.Path
	}{
		{"ModifiedKey", based(1, opPut("/c/a", "x")), []verso.Path{"/c/a"}},
		{"DeletedKeyRecreated", based(2, opPut("/c/b", "x")), []verso.Path{"/c/b"}},
		{"DeleteOfNamespaceWithChangedChild", based(1, opDelete("/c")), []verso.Path{"/c/a"}},
		{"OnlyChangedPathsListed", based(1, opPut("/c/d", "x"), opPut("/c/a", "x"), opPut("/c/b", "x")), []verso.Path{"/c/a", "/c/b"}},
		{"MoveOfChangedKey", based(1, opMove("/c/a", "/c/e")), []verso.Path{"/c/a"}},
	}
	for _, tc := range conflicts {
		t.Run(tc.name, func(t *testing.T) {
			what := "Commit(" + describe(tc.tx) + ")"
			_, err := s.Commit(ctx, tc.tx)
			if !errors.Is(err, verso.ErrConflict) {
				t.Fatalf("%s error = %v, want ErrConflict", what, err)
			}
			var ce *verso.ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("%s error = %v (%T), want a *ConflictError", what, err, err)
			}
			if ce.Base != tc.tx.Base {
				t.Errorf("%s ConflictError.Base = %d, want %d", what, ce.Base, tc.tx.Base)
			}
			got := normalizePaths(ce.Paths)
			if diff := gocmp.Diff(tc.paths, got); diff != "" {
				t.Errorf("%s ConflictError.Paths mismatch (-want +got):\n%s", what, diff)
			}
			wantHead(t, s, 3, "conflicting "+what)
		})
	}

	t.Run("BaseAboveHead", func(t *testing.T) {
		tx := based(4, opPut("/c/z", "x"))
		if c, err := s.Commit(ctx, tx); !errors.Is(err, verso.ErrNoRevision) {
			t.Errorf("Commit(%s) with head 3 = %v, %v; want ErrNoRevision", describe(tx), c, err)
		}
		wantHead(t, s, 3, "Commit with Base above head")
	})

	okCases := []struct {
		name string
		tx   *verso.Txn
	}{
		{"UnchangedPath", based(1, opPut("/c/d", "2"))},
		{"NewPath", based(1, opPut("/c/new", "1"))},
		{"BaseIsHead", based(5, opPut("/c/a", "3"), opPut("/c/b", "3"))},
	}
	for i, tc := range okCases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCommit(t, s, tc.tx)
			if want := verso.Revision(4 + i); c.Rev != want {
				t.Errorf("Commit(%s) = r%d, want r%d", describe(tc.tx), c.Rev, want)
			}
		})
	}
}

func normalizePaths(ps []verso.Path) []verso.Path {
	out := slices.Clone(ps)
	slices.Sort(out)
	return out
}

// testCanceledContext checks that a commit whose context has ended returns
// the context's error and changes nothing.
func testCanceledContext(t *testing.T, open func(t *testing.T) verso.Store) {
	s := newStore(t, open)
	mustCommit(t, s, txn(opPut("/a", "1")))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tx := txn(opPut("/a", "2"), opPut("/b", "1"))
	if c, err := s.Commit(ctx, tx); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit(%s) with a canceled context = %v, %v; want context.Canceled", describe(tx), c, err)
	}
	wantHead(t, s, 1, "Commit with a canceled context")
	if e := mustGet(t, s, "/a", verso.Head); string(e.Value) != "1" {
		t.Errorf("Get(%q, HEAD) after Commit with a canceled context = %q, want %q", "/a", e.Value, "1")
	}
	wantNotFound(t, s, "/b", verso.Head)
	if c := mustCommit(t, s, txn(opPut("/c", "1"))); c.Rev != 2 {
		t.Errorf("Commit after a canceled one = r%d, want r2", c.Rev)
	}
}
