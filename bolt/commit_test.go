package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verso-config/verso"
	bbolt "go.etcd.io/bbolt"
)

// TestStore_GroupCommit commits from many goroutines at once: every
// acknowledged commit has its own revision, the revisions are 1..N without
// gaps, and each value is readable at its revision.
func TestStore_GroupCommit(t *testing.T) {
	const workers, each = 64, 20
	ctx := context.Background()
	s := mustOpen(t, nil)

	type ack struct {
		rev   verso.Revision
		path  string
		value string
	}
	acks := make(chan ack, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				p, v := fmt.Sprintf("/w%d", w), fmt.Sprintf("%d-%d", w, i)
				c, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{put(p, v)}})
				if err != nil {
					t.Errorf("Commit(%s=%s) error: %v", p, v, err)
					return
				}
				acks <- ack{c.Rev, p, v}
			}
		})
	}
	wg.Wait()
	close(acks)

	seen := make(map[verso.Revision]bool)
	for a := range acks {
		if seen[a.rev] {
			t.Errorf("revision %d acknowledged twice", a.rev)
		}
		seen[a.rev] = true
		if e := mustGet(t, s, a.path, a.rev); string(e.Value) != a.value {
			t.Errorf("Get(%q, %d) = %q, want %q", a.path, a.rev, e.Value, a.value)
		}
	}
	head, _ := s.Head(ctx)
	if head != workers*each || len(seen) != workers*each {
		t.Errorf("head %d with %d distinct revisions acknowledged, want %d", head, len(seen), workers*each)
	}
	for r := verso.Revision(1); r <= head; r++ {
		if !seen[r] {
			t.Errorf("revision %d was never acknowledged", r)
		}
	}
	if err := s.Check(); err != nil {
		t.Errorf("Check(): %v", err)
	}
}

// batches records the size of each group the committer commits.
type batches struct {
	mu    sync.Mutex
	sizes []int
}

// hold installs b as s's batch hook and blocks the committer (as Check
// does) once it takes its next group. It returns a function that waits
// until n transactions have reached the committer (taken or queued) and
// lets them go.
func (b *batches) hold(t *testing.T, s *Store) (release func(n int)) {
	t.Helper()
	s.batchHook = func(n int) {
		b.mu.Lock()
		b.sizes = append(b.sizes, n)
		b.mu.Unlock()
	}
	s.publishMu.Lock()
	return func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for b.total()+s.queue.Len() < n {
			if time.Now().After(deadline) {
				s.publishMu.Unlock()
				t.Fatalf("%d transactions reached the committer, want %d", b.total()+s.queue.Len(), n)
			}
			time.Sleep(time.Millisecond)
		}
		s.publishMu.Unlock()
	}
}

func (b *batches) total() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, size := range b.sizes {
		n += size
	}
	return n
}

func (b *batches) largest() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Max(append([]int{0}, b.sizes...))
}

// TestStore_GroupCommitFailure puts failing transactions in the same group
// as good ones: the failures get their own errors and consume no revision,
// the others commit, each with its own revision.
func TestStore_GroupCommitFailure(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, nil)
	var b batches
	release := b.hold(t, s)

	const n = 20
	type result struct {
		i   int
		c   *verso.Commit
		err error
	}
	results := make(chan result, n)
	var wg sync.WaitGroup
	for i := range n {
		// Odd transactions fail on their second op, after a good first
		// one: a key under a namespace that does not exist.
		ops := []verso.Op{put(fmt.Sprintf("/k%d", i), "v")}
		if i%2 == 1 {
			ops = append(ops, put(fmt.Sprintf("/missing/k%d", i), "v"))
		}
		wg.Go(func() {
			c, err := s.Commit(ctx, &verso.Txn{Ops: ops})
			results <- result{i, c, err}
		})
	}
	release(n)
	wg.Wait()
	close(results)
	if got := b.largest(); got < n/2 {
		t.Errorf("largest group had %d transactions, want at least %d", got, n/2)
	}

	seen := make(map[verso.Revision]bool)
	for r := range results {
		if r.i%2 == 1 {
			var oe *verso.OpError
			if !errors.Is(r.err, verso.ErrNoParent) || !errors.As(r.err, &oe) || oe.Index != 1 {
				t.Errorf("txn %d error = %v, want *OpError{Index: 1} wrapping ErrNoParent", r.i, r.err)
			}
			if _, err := s.Get(ctx, verso.Path(fmt.Sprintf("/k%d", r.i)), verso.Head); !errors.Is(err, verso.ErrNotFound) {
				t.Errorf("Get of failed txn %d's first key error = %v, want ErrNotFound", r.i, err)
			}
			continue
		}
		if r.err != nil {
			t.Errorf("txn %d error: %v", r.i, r.err)
			continue
		}
		seen[r.c.Rev] = true
		if e := mustGet(t, s, fmt.Sprintf("/k%d", r.i), r.c.Rev); e.ModRev != r.c.Rev {
			t.Errorf("Get(/k%d, %d).ModRev = %d", r.i, r.c.Rev, e.ModRev)
		}
	}
	head, _ := s.Head(ctx)
	if head != n/2 || len(seen) != n/2 {
		t.Errorf("head = %d with %d distinct revisions acknowledged, want %d", head, len(seen), n/2)
	}
}

// TestStore_CommitCanceled: a txn whose context ends while it is queued is
// skipped with the context's error and consumes no revision.
func TestStore_CommitCanceled(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, nil)
	var b batches
	release := b.hold(t, s)
	first := make(chan error)
	go func() {
		_, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{put("/a", "1")}})
		first <- err
	}()
	for b.total() < 1 { // the committer took it and is blocked
		time.Sleep(time.Millisecond)
	}

	cctx, cancel := context.WithCancel(ctx)
	canceled := make(chan error)
	go func() {
		_, err := s.Commit(cctx, &verso.Txn{Ops: []verso.Op{put("/b", "1")}})
		canceled <- err
	}()
	for s.queue.Len() < 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	release(2)
	if err := <-first; err != nil {
		t.Errorf("first Commit error: %v", err)
	}
	if err := <-canceled; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled Commit error = %v, want context.Canceled", err)
	}
	if _, err := s.Get(ctx, "/b", verso.Head); !errors.Is(err, verso.ErrNotFound) {
		t.Errorf("Get(/b) of the canceled commit error = %v, want ErrNotFound", err)
	}
	if c := mustCommit(t, s, put("/c", "1")); c.Rev != 2 {
		t.Errorf("next commit made revision %d, want 2", c.Rev)
	}
}

func TestStore_CheckCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(tx *bbolt.Tx) error
		want    string
	}{
		{"revs record deleted", func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketRevs).Delete(revKey(2))
		}, "revision 2: commit record missing"},
		{"tree entry deleted", func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketTree).Delete(treeKey("/a/k"))
		}, "tree /a/k: missing"},
		{"parent deleted", func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketTree).Delete(treeKey("/a"))
		}, "tree /a/k: parent /a is missing"},
		{"index entry deleted", func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketIndex).Delete(indexKey("/a", 2))
		}, "index /a@2: missing"},
		{"history entry deleted", func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketHist).Delete(histKey("/a/k", 1))
		}, "hist /a/k@1: listed in the commit record but missing"},
		{"head moved back", func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keyHead, revKey(1))
		}, "revision 2: record beyond head 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "verso.db")
			s, err := Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			mustCommit(t, s, mkcol("/a"), put("/a/k", "1"))
			mustCommit(t, s, put("/a/k", "2"))
			if err := s.Check(); err != nil {
				t.Fatalf("Check() before corruption: %v", err)
			}
			s.Close()

			db, err := bbolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(tc.corrupt); err != nil {
				t.Fatal(err)
			}
			db.Close()

			s, err = Open(path, nil)
			if err != nil {
				t.Fatalf("Open of the corrupted file: %v", err)
			}
			err = s.Check()
			s.Close()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check() = %v, want a problem %q", err, tc.want)
			}
		})
	}
}
