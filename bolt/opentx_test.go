package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
)

// TestStore_ReadYourWritesOpenTx reads the file right after each Commit
// while the committer keeps its bbolt transaction open (for an hour, unless
// a reader asks): a read at the new revision, a Walk at head, a Log and a
// Revision all see the commit.
func TestStore_ReadYourWritesOpenTx(t *testing.T) {
	s := mustOpen(t, &Options{Clock: testClock()})
	s.txMaxAge, s.walIdle, s.walMaxAge = time.Hour, time.Hour, time.Hour // before the first commit
	ctx := context.Background()
	mustCommit(t, s, mkcol("/ns"))
	for i := range 5 {
		p := fmt.Sprintf("/ns/k%d", i)
		c := mustCommit(t, s, put(p, fmt.Sprint(i)))
		if got := verso.Revision(s.boltHead.Load()); got >= c.Rev {
			t.Fatalf("bbolt committed r%d before any read asked, want it open at r%d", got, c.Rev)
		}
		if e := mustGet(t, s, p, c.Rev); string(e.Value) != fmt.Sprint(i) {
			t.Errorf("Get(%s, r%d) = %q, want %q", p, c.Rev, e.Value, fmt.Sprint(i))
		}
		c2 := mustCommit(t, s, put(p, "again"))
		if got := paths(walkAll(t, s, "/ns", verso.Head, 1)); len(got) != i+2 {
			t.Errorf("Walk(/ns, Head) after r%d = %v, want %d entries", c2.Rev, got, i+2)
		}
		c3 := mustCommit(t, s, put(p, "third"))
		log, err := s.Log(ctx, verso.LogQuery{Path: verso.Path(p), Limit: 1})
		if err != nil || len(log) != 1 || log[0].Rev != c3.Rev {
			t.Errorf("Log(%s) after r%d = %v, %v; want r%d first", p, c3.Rev, log, err, c3.Rev)
		}
		c4 := mustCommit(t, s, put(p, "fourth"))
		got, err := s.Revision(ctx, c4.Rev)
		if err != nil || got.Rev != c4.Rev {
			t.Errorf("Revision(%d) = %v, %v", c4.Rev, got, err)
		}
	}
	// A read below what bbolt holds does not need it to commit.
	if _, err := s.Log(ctx, verso.LogQuery{Path: "/ns", Limit: 1}); err != nil {
		t.Fatal(err)
	}
	c := mustCommit(t, s, put("/ns/k0", "last"))
	mustGet(t, s, "/ns/k0", c.Rev-1)
	if got := verso.Revision(s.boltHead.Load()); got >= c.Rev {
		t.Errorf("a read at r%d had bbolt commit r%d", c.Rev-1, got)
	}
}

// TestStore_RevisionFromMemory: a watcher reads each new revision the
// moment it is published; Revision answers the newest from memory, so
// bbolt's transaction stays open, and stops answering what pruning dropped.
func TestStore_RevisionFromMemory(t *testing.T) {
	s := mustOpen(t, &Options{Clock: testClock()})
	s.txMaxAge, s.walIdle, s.walMaxAge = time.Hour, time.Hour, time.Hour // before the first commit
	ctx := context.Background()
	mustCommit(t, s, mkcol("/ns"))
	for i := range recentSize + 10 {
		c := mustCommit(t, s, put("/ns/k", fmt.Sprint(i)))
		got, err := s.Revision(ctx, c.Rev)
		if err != nil {
			t.Fatalf("Revision(%d): %v", c.Rev, err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Fatalf("Revision(%d) mismatch (-commit +got):\n%s", c.Rev, diff)
		}
		got.Changes[0].Path = "/changed/by/a/reader"
	}
	if got := verso.Revision(s.boltHead.Load()); got > 1 {
		t.Errorf("Revision of new commits had bbolt commit r%d, want it open", got)
	}
	head := verso.Revision(s.head.Load())
	if c, err := s.Revision(ctx, head); err != nil || c.Changes[0].Path != "/ns/k" {
		t.Errorf("Revision(%d) after a reader changed its copy = %v, %v", head, c, err)
	}
	// Older than the ring holds: from the file.
	if c, err := s.Revision(ctx, 2); err != nil || c.Rev != 2 {
		t.Errorf("Revision(2) = %v, %v", c, err)
	}
	if _, err := s.Revision(ctx, head+1); !errors.Is(err, verso.ErrNoRevision) {
		t.Errorf("Revision(head+1) = %v, want ErrNoRevision", err)
	}
	if _, err := s.Prune(ctx, verso.Retention{KeepFor: time.Nanosecond}, s.now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	start, err := s.HistoryStart(ctx)
	if err != nil || start <= head-10 {
		t.Fatalf("HistoryStart() = %d, %v; want near the head %d", start, err, head)
	}
	if _, err := s.Revision(ctx, start-1); !errors.Is(err, verso.ErrGone) {
		t.Errorf("Revision(%d) below the start of history %d = %v, want ErrGone", start-1, start, err)
	}
}

// TestStore_StorageFailureOpenTx fails the commit of a bbolt transaction
// that holds several acknowledged groups: the store stops (commits and
// reads of the file fail, Writable says why), and reopening it redoes
// every acknowledged commit from the log.
func TestStore_StorageFailureOpenTx(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	s, err := Open(path, &Options{Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	// Before the first commit.
	s.txMaxAge, s.walIdle, s.walMaxAge = time.Hour, time.Hour, time.Hour
	injected := errors.New("injected: write to the data file failed")
	s.txHook = func() error { return injected }
	ctx := context.Background()
	acked := map[verso.Path]string{}
	for i := range 6 {
		p, v := verso.Path(fmt.Sprintf("/k%d", i)), fmt.Sprint(i)
		mustCommit(t, s, put(string(p), v))
		acked[p] = v
	}
	if _, err := s.Log(ctx, verso.LogQuery{Path: verso.Root, Limit: 1}); !errors.Is(err, injected) {
		t.Errorf("Log() with bbolt's commit failing = %v, want the injected error", err)
	}
	if _, err := s.Revision(ctx, 6); !errors.Is(err, injected) {
		t.Errorf("Revision(6) of a stopped store = %v, want the injected error", err)
	}
	if err := s.Writable(); !errors.Is(err, injected) {
		t.Errorf("Writable() = %v, want the injected error", err)
	}
	if _, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{put("/late", "x")}}); err == nil {
		t.Error("Commit after bbolt failed = nil error, want one")
	}
	if _, err := s.Get(ctx, "/k5", 6); err == nil {
		t.Error("Get(/k5, r6) after bbolt failed = nil error, want one (bbolt lacks r6)")
	}
	if e, err := s.Get(ctx, "/k5", verso.Head); err != nil || string(e.Value) != "5" {
		t.Errorf("Get(/k5, Head) = %v, %v; want the head cache's 5", e, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	s, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if head, _ := s.Head(ctx); head != 6 {
		t.Errorf("head after reopening = %d, want 6", head)
	}
	for p, v := range acked {
		if e := mustGet(t, s, string(p), 6); string(e.Value) != v {
			t.Errorf("Get(%s, r6) = %q, want %q", p, e.Value, v)
		}
	}
	mustCommit(t, s, put("/late", "x"))
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestStore_WriteFailureOpenTx fails the log's append of a group written
// into a bbolt transaction that already holds acknowledged groups: the
// group fails, the bbolt transaction goes with it, the store stops, and
// reopening it finds the acknowledged groups (from the log) and not the
// failed one.
func TestStore_WriteFailureOpenTx(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.txMaxAge, s.walIdle, s.walMaxAge = time.Hour, time.Hour, time.Hour // before the first commit
	ctx := context.Background()
	for i := range 3 {
		mustCommit(t, s, put(fmt.Sprintf("/a%d", i), "1"))
	}
	s.wal.Close() // the committer is idle, its bbolt transaction open
	if _, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{put("/b", "2")}}); err == nil {
		t.Fatal("Commit with a failing log = nil error, want one")
	}
	if err := s.Writable(); err == nil {
		t.Error("Writable() after the log failed = nil, want an error")
	}
	s.Close()
	s, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if head, _ := s.Head(ctx); head != 3 {
		t.Errorf("head after reopening = %d, want 3", head)
	}
	for i := range 3 {
		mustGet(t, s, fmt.Sprintf("/a%d", i), 3)
	}
	if _, err := s.Get(ctx, "/b", verso.Head); !errors.Is(err, verso.ErrNotFound) {
		t.Errorf("Get(/b) = %v, want ErrNotFound", err)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}
