package etcd

import (
	"errors"
	"testing"
	"time"

	"github.com/verso-config/verso"
)

// TestLockTable checks the lock table two stores on one prefix share: a
// change planned against an old version loses to the one that came first,
// a sync sees every change made through the other store, a replace of a
// record that is gone is refused, a record's TTL ends it, and the tree's
// watch never carries any of it.
func TestLockTable(t *testing.T) {
	prefix := newPrefix()
	a, b := mustOpen(t, &Options{Prefix: prefix}), mustOpen(t, &Options{Prefix: prefix})
	ctx := t.Context()
	changed := b.snap.changed() // closed when b publishes a new snapshot of the tree

	v0 := a.Locks()
	if v0.Version != 0 || len(v0.Records) != 0 {
		t.Fatalf("a new table = %+v, want version 0 and no records", v0)
	}
	v1, err := a.UpdateLocks(ctx, v0.Version, []verso.LockRecord{{Key: "one", Value: []byte("1")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version <= v0.Version || string(v1.Records["one"]) != "1" || string(a.Locks().Records["one"]) != "1" {
		t.Fatalf("after a put, the view = %+v, the table in memory %+v", v1, a.Locks())
	}
	// b planned against version 0 too: its change loses.
	if _, err := b.UpdateLocks(ctx, v0.Version, []verso.LockRecord{{Key: "two", Value: []byte("2")}}, nil); !errors.Is(err, verso.ErrConflict) {
		t.Fatalf("a change planned against an old version = %v, want ErrConflict", err)
	}
	bv, err := b.SyncLocks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bv.Version != v1.Version || string(bv.Records["one"]) != "1" {
		t.Fatalf("b's synced view = %+v, want a's change (version %d)", bv, v1.Version)
	}
	if _, err := b.UpdateLocks(ctx, bv.Version, []verso.LockRecord{{Key: "two", Value: []byte("2"), Replace: true}}, nil); !errors.Is(err, verso.ErrConflict) {
		t.Fatalf("a replace of a record that does not exist = %v, want ErrConflict", err)
	}
	v2, err := b.UpdateLocks(ctx, bv.Version, []verso.LockRecord{{Key: "one", Value: []byte("1b"), Replace: true}, {Key: "short", Value: []byte("s"), TTL: time.Second}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	av, err := a.SyncLocks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if av.Version != v2.Version || string(av.Records["one"]) != "1b" || string(av.Records["short"]) != "s" {
		t.Fatalf("a's synced view = %+v, want b's change", av)
	}
	v3, err := a.UpdateLocks(ctx, av.Version, nil, []string{"one"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v3.Records["one"]; ok {
		t.Fatalf("a deleted record is still in the view: %+v", v3)
	}

	// The record of a 1 s TTL lapses by itself (the lease, granted to the
	// second and a second more), on both stores, without a version.
	deadline := time.Now().Add(15 * time.Second)
	for _, s := range []*Store{a, b} {
		for {
			if _, ok := s.Locks().Records["short"]; !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a record of a 1s TTL is still there after 15s")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if v := b.Locks(); v.Version != v3.Version {
		t.Errorf("version after the TTL ended a record = %d, want %d", v.Version, v3.Version)
	}

	// A store opened now loads the table.
	c := mustOpen(t, &Options{Prefix: prefix})
	if v := c.Locks(); v.Version != v3.Version || len(v.Records) != 0 {
		t.Errorf("a new store's table = %+v, want version %d and no records", v, v3.Version)
	}

	select {
	case <-changed:
		t.Errorf("the lock table's writes published a snapshot of the tree")
	default:
	}
}

// TestLockTable_ConsistentReadWaits holds back one store's watch of the
// lock table while the other changes it: a consistent read of the tree,
// and SyncLocks, wait until the change has arrived, so a write that reads
// what it checks consistently sees every lock granted before it.
func TestLockTable_ConsistentReadWaits(t *testing.T) {
	prefix := newPrefix()
	a, b := mustOpen(t, &Options{Prefix: prefix}), mustOpen(t, &Options{Prefix: prefix})
	ctx := t.Context()
	hold := make(chan struct{})
	b.lockHold.Store(&hold)
	if _, err := a.UpdateLocks(ctx, 0, []verso.LockRecord{{Key: "one", Value: []byte("1")}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Locks().Records["one"]; ok {
		t.Fatal("the held watch delivered the change: the test proves nothing")
	}
	done := make(chan error, 2)
	go func() {
		_, err := b.GetConsistent(ctx, verso.Root)
		done <- err
	}()
	go func() {
		_, err := b.SyncLocks(ctx)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("a consistent read or SyncLocks returned (%v) before the store had the lock table's change", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(hold)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := b.Locks().Records["one"]; !ok {
		t.Fatal("after the consistent read returned, the table in memory lacks the change")
	}
}

// TestLockTable_StuckWatch holds one store's watch of the lock table for
// good: after its request timeout, a sync reads the table again instead of
// failing.
func TestLockTable_StuckWatch(t *testing.T) {
	prefix := newPrefix()
	a, b := mustOpen(t, &Options{Prefix: prefix}), mustOpen(t, &Options{Prefix: prefix, RequestTimeout: 500 * time.Millisecond})
	ctx := t.Context()
	hold := make(chan struct{})
	b.lockHold.Store(&hold)
	defer close(hold)
	if _, err := a.UpdateLocks(ctx, 0, []verso.LockRecord{{Key: "one", Value: []byte("1")}}, nil); err != nil {
		t.Fatal(err)
	}
	v, err := b.SyncLocks(ctx)
	if err != nil {
		t.Fatalf("SyncLocks with a stuck watch: %v", err)
	}
	if _, ok := v.Records["one"]; !ok {
		t.Fatalf("SyncLocks with a stuck watch = %+v, want the change", v)
	}
	if _, err := b.UpdateLocks(ctx, v.Version, []verso.LockRecord{{Key: "two", Value: []byte("2")}}, nil); err != nil {
		t.Fatalf("UpdateLocks with a stuck watch: %v", err)
	}
	if _, ok := b.Locks().Records["two"]; !ok {
		t.Fatalf("after UpdateLocks with a stuck watch, the table in memory lacks the change")
	}
}

// TestCommit_LocksAt: a commit checked against the lock table at a
// version is refused with ErrLocksChanged, changing nothing, once the
// table has changed, through any store; etcd compares the version in the
// commit's own transaction, so the refusal holds even while this store
// has not yet followed the change.
func TestCommit_LocksAt(t *testing.T) {
	prefix := newPrefix()
	a := mustOpen(t, &Options{Prefix: prefix, RequestTimeout: 500 * time.Millisecond})
	b := mustOpen(t, &Options{Prefix: prefix})
	ctx := t.Context()
	put := func(value string, at int64) error {
		_, err := a.Commit(ctx, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/k", Value: []byte(value)}}, LocksAt: &at})
		return err
	}
	v := a.Locks().Version
	if err := put("1", v); err != nil {
		t.Fatalf("a commit checked at the table's version: %v", err)
	}

	// a's watch of the table is stuck: it does not learn of b's change,
	// and only etcd's comparison can refuse its commit.
	hold := make(chan struct{})
	a.lockHold.Store(&hold)
	defer close(hold)
	if _, err := b.UpdateLocks(ctx, v, []verso.LockRecord{{Key: "l", Value: []byte("x")}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := put("2", v); !errors.Is(err, verso.ErrLocksChanged) {
		t.Fatalf("a commit checked before another store changed the table = %v, want ErrLocksChanged", err)
	}
	if e, err := a.Get(ctx, "/k", verso.Head); err != nil || string(e.Value) != "1" {
		t.Fatalf("after the refused commit, /k = %v, %v; want 1", e, err)
	}
	nv, err := a.SyncLocks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := put("3", nv.Version); err != nil {
		t.Fatalf("a commit checked again at the new version: %v", err)
	}
	// Without LocksAt, the table is not looked at.
	if _, err := a.Commit(ctx, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/k", Value: []byte("4")}}}); err != nil {
		t.Fatal(err)
	}
}
