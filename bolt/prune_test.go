package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
	bbolt "go.etcd.io/bbolt"
)

// fillHistory commits n revisions that each put one of keys keys under
// /ns, plus one that creates /ns, and returns the time of each revision.
// It turns fsync off for s, for speed: call it before any other commit.
func fillHistory(t *testing.T, s *Store, n, keys int) map[verso.Revision]time.Time {
	t.Helper()
	// No Commit is running: the channel to the committer orders this
	// write before its reads.
	setNoSync(s, true)
	times := map[verso.Revision]time.Time{}
	c := mustCommit(t, s, mkcol("/ns"))
	times[c.Rev] = c.Time
	for i := range n {
		c := mustCommit(t, s, put(fmt.Sprintf("/ns/k%d", i%keys), fmt.Sprint(i)))
		times[c.Rev] = c.Time
	}
	return times
}

func countKeys(t *testing.T, s *Store, bucket []byte) int {
	t.Helper()
	n := 0
	err := s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucket).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStore_PruneInSteps prunes more than one step's worth while commits
// run, then checks the file and that the start survives a reopen.
func TestStore_PruneInSteps(t *testing.T) {
	s := mustOpen(t, &Options{Clock: testClock(), MaxBatch: 8})
	ctx := context.Background()
	const n, keys = 1200, 10
	times := fillHistory(t, s, n, keys)
	head, _ := s.Head(ctx)

	// Commit while pruning: pruning steps and group commits take turns.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{put(fmt.Sprintf("/during%d", i%3), "x")}}); err != nil {
				t.Errorf("Commit during Prune: %v", err)
				return
			}
		}
	})
	keep := verso.Revision(1000)
	st, err := s.Prune(ctx, verso.Retention{KeepFor: time.Hour, KeepVersions: 3}, times[keep].Add(time.Hour))
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("Prune error: %v", err)
	}
	if st.Start != keep || st.Commits != int(keep)-1 {
		t.Errorf("Prune = %+v, want Start %d and %d commits dropped", st, keep, keep-1)
	}
	if err := s.Check(); err != nil {
		t.Errorf("Check() after Prune:\n%v", err)
	}
	// Each key keeps its newest 3 states (KeepVersions), the older ones
	// above the start leave a gone marker, and the namespace its one state.
	recs := 0
	s.db.View(func(tx *bbolt.Tx) error {
		for i := range keys {
			prefix := histPrefix(verso.Path(fmt.Sprintf("/ns/k%d", i)))
			c := tx.Bucket(bucketHist).Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				recs++
			}
		}
		return nil
	})
	if got, want := recs, keys*(1+3); got != want {
		t.Errorf("hist holds %d records of /ns/k*, want %d (a gone marker and 3 states each)", got, want)
	}
	if got := countKeys(t, s, bucketRevs); got > int(mustHeadRev(t, s)-keep+1) {
		t.Errorf("revs holds %d records, want those from r%d on", got, keep)
	}
	e := mustGet(t, s, "/ns/k9", verso.Head)
	if string(e.Value) != fmt.Sprint(n-1) {
		t.Errorf("Get(/ns/k9, HEAD) = %q, want %q", e.Value, fmt.Sprint(n-1))
	}
	// /ns/k9 changed at head, head-10, head-20, head-30...
	if _, err := s.Get(ctx, "/ns/k9", head-3*keys); !errors.Is(err, verso.ErrGone) {
		t.Errorf("Get(/ns/k9, r%d), its 4th newest version, error = %v, want ErrGone", head-3*keys, err)
	}
	if e := mustGet(t, s, "/ns/k9", head-keys); string(e.Value) != fmt.Sprint(n-1-keys) {
		t.Errorf("Get(/ns/k9, r%d) = %q, want its 2nd newest value %q", head-keys, e.Value, fmt.Sprint(n-1-keys))
	}
	ns := mustGet(t, s, "/ns", keep)
	if ns.TreeRev != keep {
		t.Errorf("Get(/ns, r%d).TreeRev = %d, want %d", keep, ns.TreeRev, keep)
	}

	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if start, err := s2.HistoryStart(ctx); err != nil || start != keep {
		t.Errorf("HistoryStart() after reopening = %d, %v; want %d", start, err, keep)
	}
	if _, err := s2.Revision(ctx, keep-1); !errors.Is(err, verso.ErrGone) {
		t.Errorf("Revision(%d) after reopening error = %v, want ErrGone", keep-1, err)
	}
}

func mustHeadRev(t *testing.T, s *Store) verso.Revision {
	t.Helper()
	h, err := s.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestStore_PruneInterrupted runs the first steps of a Prune only, as if
// it had been stopped: the file checks clean in between, reads below the
// start are already ErrGone, and the next Prune finishes the work.
func TestStore_PruneInterrupted(t *testing.T) {
	s := mustOpen(t, &Options{Clock: testClock()})
	ctx := context.Background()
	fillHistory(t, s, 600, 3)
	keep := verso.Revision(500)
	err := s.do(ctx, func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyStart, revKey(keep)) })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Errorf("Check() with the start raised and nothing retired:\n%v", err)
	}
	var done bool
	err = s.do(ctx, func(tx *bbolt.Tx) (err error) {
		_, _, done, err = retireStep(tx)
		return err
	})
	if err != nil || done {
		t.Fatalf("first retiring step: done %v, error %v; want more to do", done, err)
	}
	if err := s.Check(); err != nil {
		t.Errorf("Check() after one retiring step:\n%v", err)
	}
	if _, err := s.Get(ctx, "/ns/k0", keep-1); !errors.Is(err, verso.ErrGone) {
		t.Errorf("Get(/ns/k0, r%d) below the start error = %v, want ErrGone", keep-1, err)
	}
	mustGet(t, s, "/ns/k0", keep)
	st, err := s.Prune(ctx, verso.Retention{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.Start != keep || st.Commits == 0 {
		t.Errorf("Prune after an interrupted one = %+v, want Start %d and the remaining commits dropped", st, keep)
	}
	if got, want := countKeys(t, s, bucketRevs), 601-int(keep)+1; got != want {
		t.Errorf("revs holds %d records after the second Prune, want %d", got, want)
	}
}

// TestStore_PruneVersionsAgain checks that lowering KeepVersions trims
// paths that did not change since the last trimming.
func TestStore_PruneVersionsAgain(t *testing.T) {
	s := mustOpen(t, nil)
	ctx := context.Background()
	for i := range 5 {
		mustCommit(t, s, put("/a", fmt.Sprint(i)))
	}
	mustCommit(t, s, put("/b", "b")) // r6: /a does not change after this
	if st, err := s.Prune(ctx, verso.Retention{KeepVersions: 4}, time.Now()); err != nil || st.Versions != 1 {
		t.Errorf("Prune(KeepVersions 4) = %+v, %v; want 1 version dropped", st, err)
	}
	if st, err := s.Prune(ctx, verso.Retention{KeepVersions: 2}, time.Now()); err != nil || st.Versions != 2 {
		t.Errorf("Prune(KeepVersions 2) = %+v, %v; want 2 more versions dropped", st, err)
	}
	if _, err := s.Get(ctx, "/a", 3); !errors.Is(err, verso.ErrGone) {
		t.Errorf("Get(/a, r3) error = %v, want ErrGone", err)
	}
	if e := mustGet(t, s, "/a", 4); string(e.Value) != "3" {
		t.Errorf("Get(/a, r4) = %q, want 3", e.Value)
	}
}

func TestStore_PruneClosed(t *testing.T) {
	s := mustOpen(t, nil)
	s.Close()
	if _, err := s.Prune(context.Background(), verso.Retention{KeepVersions: 1}, time.Now()); !errors.Is(err, verso.ErrClosed) {
		t.Errorf("Prune after Close error = %v, want ErrClosed", err)
	}
	if _, err := s.HistoryStart(context.Background()); !errors.Is(err, verso.ErrClosed) {
		t.Errorf("HistoryStart after Close error = %v, want ErrClosed", err)
	}
}

// TestCheck_Pruned checks that Check still finds states missing from the
// history of a pruned file when no gone marker stands for them.
func TestCheck_Pruned(t *testing.T) {
	s := mustOpen(t, nil)
	for i := range 4 {
		mustCommit(t, s, put("/a", fmt.Sprint(i)))
	}
	if _, err := s.Prune(context.Background(), verso.Retention{KeepVersions: 2}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("Check() after Prune:\n%v", err)
	}
	setMarker := func(put bool) {
		t.Helper()
		err := s.db.Update(func(tx *bbolt.Tx) error {
			if put {
				return tx.Bucket(bucketHist).Put(histKey("/a", 1), []byte{codec.Gone})
			}
			return tx.Bucket(bucketHist).Delete(histKey("/a", 1))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	setMarker(false)
	if err := s.Check(); err == nil {
		t.Errorf("Check() with /a@1 and /a@2 missing and no gone marker = nil, want problems")
	}
	setMarker(true)
	if err := s.Check(); err != nil {
		t.Errorf("Check() with the marker back:\n%v", err)
	}
}

// TestStore_PruneHotKey prunes a key with more versions than one step may
// delete: the work spreads over several steps, each leaving a clean file.
func TestStore_PruneHotKey(t *testing.T) {
	s := mustOpen(t, &Options{Clock: testClock()})
	ctx := context.Background()
	setNoSync(s, true) // before any commit
	times := map[verso.Revision]time.Time{}
	for i := range 1500 {
		c := mustCommit(t, s, put("/hot", fmt.Sprint(i)))
		times[c.Rev] = c.Time
	}
	st, err := s.Prune(ctx, verso.Retention{KeepFor: time.Minute}, times[1200].Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if want := (verso.PruneStats{Versions: 1199, Commits: 1199, Start: 1200}); st != want {
		t.Errorf("Prune(KeepFor) = %+v, want %+v", st, want)
	}
	if err := s.Check(); err != nil {
		t.Errorf("Check() after Prune(KeepFor):\n%v", err)
	}
	st, err = s.Prune(ctx, verso.Retention{KeepVersions: 1}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.Versions != 300 {
		t.Errorf("Prune(KeepVersions 1) dropped %d versions, want 300", st.Versions)
	}
	if _, err := s.Get(ctx, "/hot", 1499); !errors.Is(err, verso.ErrGone) {
		t.Errorf("Get(/hot, r1499) error = %v, want ErrGone", err)
	}
	if e := mustGet(t, s, "/hot", 1500); string(e.Value) != "1499" {
		t.Errorf("Get(/hot, r1500) = %q, want 1499", e.Value)
	}
}
