package storetest

import (
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
)

func opCheck(path string, c verso.Cond) verso.Op {
	return verso.Op{Kind: verso.OpCheck, Path: p(path), If: c}
}

// testCheck checks OpCheck: it asserts its condition, fails the whole
// transaction when the condition does not hold, and changes nothing itself.
func testCheck(t *testing.T, open func(t *testing.T) verso.Store) {
	s := newStore(t, open)
	errorTree(t, s) // /k has ModRev 2, /ns/k ModRev 1; head 2.
	absent := verso.Cond{Absent: true}
	exists := verso.Cond{Exists: true}
	modRev := func(r verso.Revision) verso.Cond { return verso.Cond{ModRev: r} }

	runErrorCases(t, s, []errorCase{
		{"ModRevStale", txn(opPut("/a", "1"), opCheck("/k", modRev(1))), 1, verso.ErrPrecondition, []string{"/k"}},
		{"ModRevOnMissing", txn(opCheck("/nothing", modRev(1)), opPut("/a", "1")), 0, verso.ErrPrecondition, []string{"/nothing"}},
		{"AbsentOnExisting", txn(opCheck("/ns", absent), opPut("/a", "1")), 0, verso.ErrPrecondition, []string{"/ns"}},
		{"ExistsOnMissing", txn(opPut("/a", "1"), opCheck("/ns/nothing", exists)), 1, verso.ErrPrecondition, []string{"/ns/nothing"}},
		// A check sees what the earlier operations of the transaction did.
		{"AfterDelete", txn(opDelete("/ns"), opCheck("/ns/k", exists)), 1, verso.ErrPrecondition, []string{"/ns/k"}},
		{"AfterPut", txn(opPut("/k", "x"), opCheck("/k", modRev(2))), 1, verso.ErrPrecondition, []string{"/k"}},
		// A failing check fails the operations after it too.
		{"BeforeWrites", txn(opCheck("/k", absent), opPut("/b", "1"), opDelete("/ns")), 0, verso.ErrPrecondition, []string{"/k"}},
		{"EmptyPath", txn(opPut("/a", "1"), verso.Op{Kind: verso.OpCheck, If: exists}), 1, verso.ErrInvalidOp, nil},
	})
	// runErrorCases made r3 (/after-failures).

	t.Run("HoldsAndChangesNothing", func(t *testing.T) {
		k := mustGet(t, s, "/k", verso.Head)
		ns := mustGet(t, s, "/ns", verso.Head)
		head := mustHead(t, s)
		tx := txn(
			opCheck("/k", modRev(2)), opCheck("/ns", exists), opCheck("/nothing", absent),
			opCheck("/", exists), opCheck("/ns/k", verso.Cond{}),
			opPut("/other/x", "1"),
		)
		c := mustCommit(t, s, tx)
		want := &verso.Commit{Rev: head + 1, Author: "tester", Message: "test", Changes: []verso.Change{
			{Path: p("/other/x"), Kind: verso.KindKey, Action: verso.Added, Mods: verso.ModsRecorded | verso.ModValue},
		}}
		checkCommit(t, "Commit("+describe(tx)+")", c, want)
		if diff := diffEntry(k, mustGet(t, s, "/k", verso.Head)); diff != "" {
			t.Errorf("Get(%q) after a check of it changed (-before +after):\n%s", "/k", diff)
		}
		if diff := diffEntry(ns, mustGet(t, s, "/ns", verso.Head)); diff != "" {
			t.Errorf("Get(%q) after a check of it changed (-before +after):\n%s", "/ns", diff)
		}
		wantNotFound(t, s, "/nothing", verso.Head)
		cs, err := s.Log(t.Context(), verso.LogQuery{Path: p("/k"), Limit: 1})
		if err != nil {
			t.Fatalf("Log(/k) error: %v", err)
		}
		if len(cs) != 1 || cs[0].Rev != 2 {
			t.Errorf("Log(/k) newest = %v, want r2 only (a check is not a change)", cs)
		}
	})

	t.Run("SeesEarlierOps", func(t *testing.T) {
		head := mustHead(t, s)
		tx := txn(opPut("/fresh", "1"), opCheck("/fresh", modRev(head+1)), opDelete("/ns/sub"), opCheck("/ns/sub/x", absent))
		c := mustCommit(t, s, tx)
		if c.Rev != head+1 {
			t.Errorf("Commit(%s) = r%d, want r%d", describe(tx), c.Rev, head+1)
		}
	})

	t.Run("ChecksAlone", func(t *testing.T) {
		// A transaction of checks alone is still a transaction: it makes
		// one revision, which changes nothing.
		head := mustHead(t, s)
		before := mustWalk(t, s, "/", verso.Head, verso.Infinite)
		tx := txn(opCheck("/k", modRev(2)), opCheck("/gone", absent))
		c := mustCommit(t, s, tx)
		if c.Rev != head+1 || len(c.Changes) != 0 {
			t.Errorf("Commit(%s) = r%d with changes %v, want r%d with none", describe(tx), c.Rev, c.Changes, head+1)
		}
		after := mustWalk(t, s, "/", verso.Head, verso.Infinite)
		for _, e := range after {
			if e.Path == verso.Root {
				continue // the root's TreeRev may or may not move
			}
			for _, b := range before {
				if b.Path == e.Path {
					if diff := diffEntry(b, e); diff != "" {
						t.Errorf("%q changed by %s (-before +after):\n%s", e.Path, describe(tx), diff)
					}
				}
			}
		}
		if len(after) != len(before) {
			t.Errorf("Walk after %s visited %d entries, want %d", describe(tx), len(after), len(before))
		}
	})

	t.Run("GuardsCopySource", func(t *testing.T) {
		// The use a check is made for: a copy that applies only while its
		// source is as the client saw it.
		src := mustGet(t, s, "/k", verso.Head)
		mustCommit(t, s, txn(opPut("/k", "changed")))
		tx := txn(opCheck("/k", modRev(src.ModRev)), opCopy("/k", "/k-copy"))
		_, err := s.Commit(t.Context(), tx)
		wantOpError(t, "Commit("+describe(tx)+")", err, 0, verso.OpCheck, verso.ErrPrecondition, p("/k"))
		wantNotFound(t, s, "/k-copy", verso.Head)

		now := mustGet(t, s, "/k", verso.Head)
		tx = txn(opCheck("/k", modRev(now.ModRev)), opCopy("/k", "/k-copy"))
		c := mustCommit(t, s, tx)
		want := []verso.Change{{Path: p("/k-copy"), Kind: verso.KindKey, Action: verso.Copied, From: p("/k"), FromRev: c.Rev - 1, Mods: verso.ModsRecorded}}
		if diff := gocmp.Diff(want, c.Changes, commitOpts); diff != "" {
			t.Errorf("Commit(%s) Changes mismatch (-want +got):\n%s", describe(tx), diff)
		}
	})
}
