package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/verso-config/verso"
	"github.com/verso-config/verso/storetest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestStore_Conformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) verso.Store { return mustOpen(t, nil) })
}

func put(p, v string) verso.Op {
	return verso.Op{Kind: verso.OpPut, Path: verso.MustPath(p), Value: []byte(v), ContentType: "text/plain"}
}

func mkcol(p string) verso.Op { return verso.Op{Kind: verso.OpMkcol, Path: verso.MustPath(p)} }

func mustCommit(t testing.TB, s verso.Store, ops ...verso.Op) *verso.Commit {
	t.Helper()
	c, err := s.Commit(t.Context(), &verso.Txn{Author: "alice", Message: "test", Ops: ops})
	if err != nil {
		t.Fatalf("Commit(%v) error: %v", ops, err)
	}
	return c
}

func mustWalk(t testing.TB, s verso.Store, p string, rev verso.Revision) []*verso.Entry {
	t.Helper()
	var out []*verso.Entry
	if err := s.Walk(t.Context(), verso.MustPath(p), rev, verso.Infinite, func(e *verso.Entry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatalf("Walk(%q, %d) error: %v", p, rev, err)
	}
	return out
}

// TestStore_TwoServers commits through two stores sharing one prefix, as
// two verso servers sharing a cluster do: every acknowledged commit has its
// own revision, the revisions have no gaps, both stores read every value at
// its revision, and each store learns the other's commits.
func TestStore_TwoServers(t *testing.T) {
	prefix := newPrefix()
	stores := []*Store{mustOpen(t, &Options{Prefix: prefix}), mustOpen(t, &Options{Prefix: prefix})}
	const writers, each = 6, 10
	type ack struct {
		rev   verso.Revision
		path  string
		value string
	}
	acks := make(chan ack, 2*writers*each)
	var wg sync.WaitGroup
	for si, s := range stores {
		for w := range writers {
			wg.Go(func() {
				path := fmt.Sprintf("/s%d-w%d", si, w)
				for i := range each {
					v := fmt.Sprintf("%d-%d-%d", si, w, i)
					c, err := s.Commit(t.Context(), &verso.Txn{Ops: []verso.Op{put(path, v), put("/shared", v)}})
					if err != nil {
						t.Errorf("store %d: Commit(put %s, /shared = %q) error: %v", si, path, v, err)
						return
					}
					acks <- ack{c.Rev, path, v}
				}
			})
		}
	}
	wg.Wait()
	close(acks)
	if t.Failed() {
		return
	}
	var revs []verso.Revision
	for a := range acks {
		revs = append(revs, a.rev)
		for si, s := range stores {
			e, err := s.Get(t.Context(), verso.MustPath(a.path), a.rev)
			if err != nil || string(e.Value) != a.value {
				t.Errorf("store %d: Get(%q, %d) = %v, %v; want %q", si, a.path, a.rev, e, err, a.value)
			}
		}
	}
	slices.Sort(revs)
	for i, r := range revs {
		if r != verso.Revision(i+1) {
			t.Fatalf("acknowledged revisions sorted: position %d is r%d, want r%d (duplicate or gap)", i, r, i+1)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for si, s := range stores {
		if h, err := s.Wait(ctx, verso.Revision(len(revs))); err != nil || h != verso.Revision(len(revs)) {
			t.Errorf("store %d: Wait(%d) = %d, %v", si, len(revs), h, err)
		}
	}
	if diff := cmp.Diff(mustWalk(t, stores[0], "/", verso.Head), mustWalk(t, stores[1], "/", verso.Head)); diff != "" {
		t.Errorf("the two stores' trees differ (-store 0 +store 1):\n%s", diff)
	}
}

// TestStore_ReadsAcrossServers checks what a reader on one server sees of a
// commit made through another: GetConsistent sees it at once, Wait wakes
// for it, and after Wait a plain Get sees it.
func TestStore_ReadsAcrossServers(t *testing.T) {
	prefix := newPrefix()
	a, b := mustOpen(t, &Options{Prefix: prefix}), mustOpen(t, &Options{Prefix: prefix})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for i := range 20 {
		v := fmt.Sprint(i)
		waited := make(chan error, 1)
		go func() { _, err := b.Wait(ctx, verso.Revision(i+1)); waited <- err }()
		c := mustCommit(t, a, put("/k", v))
		e, err := b.GetConsistent(ctx, "/k")
		if err != nil || string(e.Value) != v || e.ModRev != c.Rev {
			t.Fatalf("GetConsistent(/k) through the other server after r%d = %v, %v; want %q", c.Rev, e, err, v)
		}
		if err := <-waited; err != nil {
			t.Fatalf("Wait(%d) on the other server: %v", i+1, err)
		}
		if e, err := b.Get(ctx, "/k", verso.Head); err != nil || string(e.Value) != v {
			t.Fatalf("Get(/k, HEAD) on the other server after Wait = %v, %v; want %q", e, err, v)
		}
	}
	if _, err := b.GetConsistent(ctx, "/missing"); !errors.Is(err, verso.ErrNotFound) {
		t.Errorf("GetConsistent(/missing) = %v, want ErrNotFound", err)
	}
}

// TestStore_Reopen checks that a store opened on an existing prefix loads
// the tree as it was left.
func TestStore_Reopen(t *testing.T) {
	prefix := newPrefix()
	s := mustOpen(t, &Options{Prefix: prefix})
	mustCommit(t, s, mkcol("/ns"), put("/ns/a", "1"), put("/b", "2"))
	mustCommit(t, s, verso.Op{Kind: verso.OpProps, Path: verso.Root, Props: []verso.PropChange{{Name: "{x}y", Value: "z"}}})
	mustCommit(t, s, verso.Op{Kind: verso.OpDelete, Path: "/b"}, put("/ns/c", "3"))
	want := mustWalk(t, s, "/", verso.Head)
	s.Close()
	s2 := mustOpen(t, &Options{Prefix: prefix})
	if diff := cmp.Diff(want, mustWalk(t, s2, "/", verso.Head)); diff != "" {
		t.Errorf("Walk(/) after reopening (-before +after):\n%s", diff)
	}
	if h, _ := s2.Head(t.Context()); h != 3 {
		t.Errorf("Head() after reopening = %d, want 3", h)
	}
}

// TestStore_GroupCommit checks that concurrent commits share etcd
// transactions, no more of them than MaxTxnOps allows.
func TestStore_GroupCommit(t *testing.T) {
	s := mustOpen(t, &Options{MaxTxnOps: 40})
	var mu sync.Mutex
	var sizes []int
	s.batchHook = func(n int) {
		mu.Lock()
		sizes = append(sizes, n)
		mu.Unlock()
	}
	const workers, each = 16, 5
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if _, err := s.Commit(t.Context(), &verso.Txn{Ops: []verso.Op{put(fmt.Sprintf("/w%d", w), fmt.Sprint(i))}}); err != nil {
					t.Errorf("Commit error: %v", err)
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	total, most := 0, 0
	for _, n := range sizes {
		total += n
		most = max(most, n)
	}
	// A put of /wN is 5 etcd operations (t/, h/, two i/, c/), plus the
	// head once per group: at most 7 fit into 40.
	if total < workers*each || most > 7 {
		t.Errorf("group sizes %v: total %d (want >= %d), largest %d (want <= 7)", sizes, total, workers*each, most)
	}
	if most < 2 {
		t.Logf("no group held more than one commit (sizes %v)", sizes)
	}
	if h, _ := s.Head(t.Context()); h != workers*each {
		t.Errorf("Head() = %d, want %d", h, workers*each)
	}
}

// TestStore_TooLarge checks that a commit etcd refuses for its size fails
// with ErrTooLarge, changes nothing, and does not disturb other commits.
func TestStore_TooLarge(t *testing.T) {
	s := mustOpen(t, nil)
	mustCommit(t, s, mkcol("/big"))
	ops := []verso.Op{}
	for i := range testMaxTxnOps / 2 {
		ops = append(ops, put(fmt.Sprintf("/big/k%05d", i), "x"))
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := s.Commit(t.Context(), &verso.Txn{Ops: ops})
		if !errors.Is(err, verso.ErrTooLarge) {
			t.Errorf("Commit of %d puts = %v, want ErrTooLarge", len(ops), err)
		}
	})
	for i := range 5 {
		wg.Go(func() { mustCommit(t, s, put(fmt.Sprintf("/small%d", i), "1")) })
	}
	wg.Wait()
	if h, _ := s.Head(t.Context()); h != 6 {
		t.Errorf("Head() = %d, want 6", h)
	}
	if es := mustWalk(t, s, "/big", verso.Head); len(es) != 1 {
		t.Errorf("Walk(/big) after a refused commit visited %d entries, want 1", len(es))
	}
}

// TestStore_WatchCompacted checks that a watch starting at a compacted
// revision says so, and that reloading brings the tree up to date.
func TestStore_WatchCompacted(t *testing.T) {
	prefix := newPrefix()
	a, b := mustOpen(t, &Options{Prefix: prefix}), mustOpen(t, &Options{Prefix: prefix})
	mustCommit(t, a, put("/k", "1"))
	old := a.snap.Load().etcdRev
	c := mustCommit(t, b, put("/k", "2"), put("/j", "3"))
	resp, err := b.cli.Put(t.Context(), "/verso-test/other", "x") // so that old+1 is compacted

	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.cli.Compact(t.Context(), resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatalf("Compact(%d): %v", resp.Header.Revision, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = a.follow(a.cli.Watch(ctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(old+1)))
	if !errors.Is(err, errCompacted) {
		t.Errorf("follow from compacted revision %d = %v, want errCompacted", old+1, err)
	}
	if err := a.reload(ctx); err != nil {
		t.Fatalf("reload() error: %v", err)
	}
	if h, err := a.Wait(ctx, c.Rev); err != nil || h != c.Rev {
		t.Errorf("Wait(%d) after reload = %d, %v", c.Rev, h, err)
	}
	if diff := cmp.Diff(mustWalk(t, b, "/", verso.Head), mustWalk(t, a, "/", verso.Head), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("tree after reload (-writer +reloaded):\n%s", diff)
	}
	// History written before the compaction is verso's own keys, not
	// etcd's old revisions: it stays readable.
	if e, err := a.Get(ctx, "/k", 1); err != nil || string(e.Value) != "1" {
		t.Errorf("Get(/k, 1) after compaction = %v, %v; want %q", e, err, "1")
	}
	if cs, err := a.Log(ctx, verso.LogQuery{Path: "/k"}); err != nil || len(cs) != 2 {
		t.Errorf("Log(/k) after compaction = %v, %v; want 2 commits", cs, err)
	}
}

// TestStore_WatchesRestart cuts one store off etcd (the only member it
// talks to stops) while another store changes the tree and the lock table
// and etcd compacts those revisions away. When the member is back, both
// of the cut store's watches find the revisions they need compacted, read
// their state again and follow on: the changes made before, during and
// after the cut all reach its memory, with no read of its own.
func TestStore_WatchesRestart(t *testing.T) {
	down := -1
	for i := range cluster.Len() {
		if i != cluster.Leader() && !cluster.Down(i) {
			down = i
			break
		}
	}
	if down < 0 {
		t.Fatal("no running etcd member that does not lead")
	}
	var others []string
	for i, ep := range cluster.Endpoints() {
		if i != down {
			others = append(others, ep)
		}
	}
	prefix := newPrefix()
	a := mustOpen(t, &Options{Prefix: prefix, Endpoints: others})
	b := mustOpen(t, &Options{Prefix: prefix, Endpoints: cluster.Endpoints()[down : down+1], Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	t.Cleanup(func() { // before b closes
		if cluster.Down(down) {
			if err := cluster.Restart(down); err != nil {
				t.Errorf("restart etcd member %d: %v", down, err)
			}
		}
	})
	ctx := t.Context()
	var version int64
	change := func(v string) {
		t.Helper()
		mustCommit(t, a, put("/k", v))
		lv, err := a.UpdateLocks(ctx, version, []verso.LockRecord{{Key: v, Value: []byte(v)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		version = lv.Version
	}
	arrives := func(v string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			e, ok := b.HeadEntry(verso.MustPath("/k"))
			_, locked := b.Locks().Records[v]
			if ok && string(e.Value) == v && locked {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 20s, the cut store has /k = %q, want %q; holds lock %q: %v", e.Value, v, v, locked)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	change("1")
	arrives("1")
	cluster.Stop(down)
	change("2")
	resp, err := a.cli.Put(ctx, "/verso-test/other", "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatalf("Compact(%d): %v", resp.Header.Revision, err)
	}
	if err := cluster.Restart(down); err != nil {
		t.Fatalf("restart etcd member %d: %v", down, err)
	}
	arrives("2") // by reading the state again
	change("3")
	arrives("3") // by the watches started after that
}

// TestStore_OpenErrors checks Open's refusals.
func TestStore_OpenErrors(t *testing.T) {
	if _, err := Open(t.Context(), nil); err == nil || !strings.Contains(err.Error(), "no endpoints") {
		t.Errorf("Open(nil) = %v, want an error about endpoints", err)
	}
}

// TestStore_HeadEntry checks that HeadEntry answers what Get at head does,
// and nothing once the store is closed.
func TestStore_HeadEntry(t *testing.T) {
	s := mustOpen(t, &Options{Prefix: newPrefix()})
	mustCommit(t, s, put("/k", "v"))
	want, err := s.Get(t.Context(), "/k", verso.Head)
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := s.HeadEntry("/k"); !ok || e.ModRev != want.ModRev || string(e.Value) != "v" || e.Path != "/k" {
		t.Errorf("HeadEntry(/k) = %+v, %v; want %+v", e, ok, *want)
	}
	if _, ok := s.HeadEntry("/missing"); ok {
		t.Errorf("HeadEntry(/missing) found an entry")
	}
	s.Close()
	if _, ok := s.HeadEntry("/k"); ok {
		t.Errorf("HeadEntry(/k) after Close found an entry")
	}
}
