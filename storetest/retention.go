package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
)

// testRetention checks pruning, for stores that implement verso.Pruner:
// reads that reach dropped history are ErrGone, everything kept reads as
// before, and current values never change.
func testRetention(t *testing.T, open func(t *testing.T) verso.Store) {
	t.Run("KeepVersions", func(t *testing.T) { testKeepVersions(t, open) })
	t.Run("KeepFor", func(t *testing.T) { testKeepFor(t, open) })
	t.Run("KeepEverything", func(t *testing.T) { testKeepEverything(t, open) })
}

// pruner returns s as a verso.Pruner, or skips the test.
func pruner(t *testing.T, s verso.Store) verso.Pruner {
	t.Helper()
	pr, ok := s.(verso.Pruner)
	if !ok {
		t.Skipf("%T does not implement verso.Pruner (retention is optional)", s)
	}
	return pr
}

func mustPrune(t *testing.T, pr verso.Pruner, policy verso.Retention, now time.Time) verso.PruneStats {
	t.Helper()
	st, err := pr.Prune(t.Context(), policy, now)
	if err != nil {
		t.Fatalf("Prune(%+v) error: %v", policy, err)
	}
	return st
}

// retentionScript builds a short history with a busy key (/k, five
// versions), a key deleted later (/other) and a namespace with a key
// changed now and then (/ns/a).
func retentionScript() []*verso.Txn {
	return []*verso.Txn{
		txn(opPut("/k", "v1"), opPut("/other", "o"), opMkcol("/ns"), opPut("/ns/a", "a1")), // r1
		txn(opPut("/k", "v2")),                       // r2
		txn(opPut("/k", "v3"), opPut("/ns/a", "a2")), // r3
		txn(opPut("/k", "v4")),                       // r4
		txn(opPut("/k", "v5"), opDelete("/other")),   // r5
		txn(opPut("/ns/a", "a3")),                    // r6
	}
}

var retentionPaths = []verso.Path{verso.Root, "/k", "/other", "/ns", "/ns/a", "/never"}

// snapshot is what a store answered, before pruning, at every revision.
type snapshot struct {
	head    verso.Revision
	entries map[verso.Revision]map[verso.Path]*verso.Entry // nil: ErrNotFound
	walks   map[verso.Revision][]*verso.Entry
	commits map[verso.Revision]*verso.Commit
	logs    map[verso.Path][]verso.Revision
}

func takeSnapshot(t *testing.T, s verso.Store) *snapshot {
	t.Helper()
	ctx := t.Context()
	sn := &snapshot{
		head:    mustHead(t, s),
		entries: map[verso.Revision]map[verso.Path]*verso.Entry{},
		walks:   map[verso.Revision][]*verso.Entry{},
		commits: map[verso.Revision]*verso.Commit{},
		logs:    map[verso.Path][]verso.Revision{},
	}
	for rev := verso.Revision(0); rev <= sn.head; rev++ {
		sn.entries[rev] = map[verso.Path]*verso.Entry{}
		for _, path := range retentionPaths {
			e, err := s.Get(ctx, path, rev)
			if err != nil && !errors.Is(err, verso.ErrNotFound) {
				t.Fatalf("Get(%q, r%d) before pruning: %v", path, rev, err)
			}
			sn.entries[rev][path] = e
		}
		sn.walks[rev] = mustWalk(t, s, "/", rev, verso.Infinite)
		if rev > 0 {
			c, err := s.Revision(ctx, rev)
			if err != nil {
				t.Fatalf("Revision(%d) before pruning: %v", rev, err)
			}
			sn.commits[rev] = c
		}
	}
	for _, path := range retentionPaths {
		sn.logs[path] = logRevs(t, s, verso.LogQuery{Path: path})
	}
	return sn
}

func logRevs(t *testing.T, s verso.Store, q verso.LogQuery) []verso.Revision {
	t.Helper()
	cs, err := s.Log(t.Context(), q)
	if err != nil {
		t.Fatalf("Log(%+v) error: %v", q, err)
	}
	var out []verso.Revision
	for _, c := range cs {
		out = append(out, c.Rev)
	}
	return out
}

// wantKept checks that path reads at rev as it did before pruning.
func (sn *snapshot) wantKept(t *testing.T, s verso.Store, path verso.Path, rev verso.Revision) {
	t.Helper()
	want := sn.entries[rev][path]
	got, err := s.Get(t.Context(), path, rev)
	switch {
	case want == nil:
		if !errors.Is(err, verso.ErrNotFound) {
			t.Errorf("Get(%q, r%d) after pruning = %v, %v; want ErrNotFound as before", path, rev, got, err)
		}
	case err != nil:
		t.Errorf("Get(%q, r%d) after pruning error: %v; want the entry it had", path, rev, err)
	default:
		if diff := diffEntry(want, got); diff != "" {
			t.Errorf("Get(%q, r%d) after pruning changed (-before +after):\n%s", path, rev, diff)
		}
	}
}

// wantWalkKept checks that a walk of the tree at rev is as before pruning.
func (sn *snapshot) wantWalkKept(t *testing.T, s verso.Store, rev verso.Revision) {
	t.Helper()
	got, err := walkAll(t.Context(), s, verso.Root, rev, verso.Infinite)
	if err != nil {
		t.Errorf("Walk(/, r%d) after pruning error: %v", rev, err)
		return
	}
	if diff := diffEntries(sn.walks[rev], got); diff != "" {
		t.Errorf("Walk(/, r%d) after pruning changed (-before +after):\n%s", rev, diff)
	}
}

func wantGone(t *testing.T, s verso.Store, path verso.Path, rev verso.Revision) {
	t.Helper()
	if e, err := s.Get(t.Context(), path, rev); !errors.Is(err, verso.ErrGone) {
		t.Errorf("Get(%q, r%d) after pruning = %v, %v; want ErrGone", path, rev, e, err)
	}
}

// wantHeadKept checks that current values are what they were before.
func (sn *snapshot) wantHeadKept(t *testing.T, s verso.Store) {
	t.Helper()
	for _, path := range retentionPaths {
		want := sn.entries[sn.head][path]
		got, err := s.Get(t.Context(), path, verso.Head)
		if want == nil {
			if !errors.Is(err, verso.ErrNotFound) {
				t.Errorf("Get(%q, HEAD) after pruning = %v, %v; want ErrNotFound", path, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Get(%q, HEAD) after pruning error: %v", path, err)
		} else if diff := diffEntry(want, got); diff != "" {
			t.Errorf("Get(%q, HEAD) after pruning changed (-before +after):\n%s", path, diff)
		}
	}
}

// wantStillWorks commits after pruning and checks that Wait and Get see it.
func wantStillWorks(t *testing.T, s verso.Store) {
	t.Helper()
	c := mustCommit(t, s, txn(opPut("/after", "pruning")))
	if h, err := s.Wait(t.Context(), c.Rev); err != nil || h < c.Rev {
		t.Errorf("Wait(%d) after pruning = %d, %v", c.Rev, h, err)
	}
	if e := mustGet(t, s, "/after", verso.Head); string(e.Value) != "pruning" {
		t.Errorf("Get(/after, HEAD) = %q, want %q", e.Value, "pruning")
	}
	if e := mustGet(t, s, "/after", c.Rev); e.ModRev != c.Rev {
		t.Errorf("Get(/after, r%d).ModRev = %d", c.Rev, e.ModRev)
	}
}

func buildRetention(t *testing.T, s verso.Store) *snapshot {
	t.Helper()
	for _, tx := range retentionScript() {
		mustCommit(t, s, tx)
	}
	return takeSnapshot(t, s)
}

func testKeepVersions(t *testing.T, open func(t *testing.T) verso.Store) {
	s := newStore(t, open)
	pr := pruner(t, s)
	sn := buildRetention(t, s)
	ctx := t.Context()

	st := mustPrune(t, pr, verso.Retention{KeepVersions: 2}, time.Now())
	// /k keeps r4 and r5 (drops r1-r3), /ns/a keeps r3 and r6 (drops r1);
	// /other's two states (r1 and its deletion at r5) stay.
	if want := (verso.PruneStats{Versions: 4}); st != want {
		t.Errorf("Prune(KeepVersions 2) = %+v, want %+v", st, want)
	}
	for rev := verso.Revision(1); rev <= 3; rev++ {
		wantGone(t, s, "/k", rev)
		if err := s.Walk(ctx, verso.Root, rev, verso.Infinite, func(*verso.Entry) error { return nil }); !errors.Is(err, verso.ErrGone) {
			t.Errorf("Walk(/, r%d) after pruning /k@r%d = %v, want ErrGone", rev, rev, err)
		}
	}
	wantGone(t, s, "/ns/a", 1)
	wantGone(t, s, "/ns/a", 2)
	for rev := verso.Revision(0); rev <= sn.head; rev++ {
		sn.wantKept(t, s, "/other", rev)
		sn.wantKept(t, s, "/ns", rev)
		sn.wantKept(t, s, verso.Root, rev)
		sn.wantKept(t, s, "/never", rev)
	}
	sn.wantKept(t, s, "/k", 0) // before /k existed: still not found
	for rev := verso.Revision(4); rev <= sn.head; rev++ {
		sn.wantKept(t, s, "/k", rev)
		sn.wantWalkKept(t, s, rev)
	}
	for rev := verso.Revision(3); rev <= sn.head; rev++ {
		sn.wantKept(t, s, "/ns/a", rev)
	}
	sn.wantHeadKept(t, s)

	// Commit records and the log are kept.
	for rev := verso.Revision(1); rev <= sn.head; rev++ {
		c, err := s.Revision(ctx, rev)
		if err != nil {
			t.Errorf("Revision(%d) after KeepVersions error: %v", rev, err)
			continue
		}
		checkCommit(t, fmt.Sprintf("Revision(%d) after KeepVersions", rev), c, sn.commits[rev])
	}
	for _, path := range retentionPaths {
		if got := logRevs(t, s, verso.LogQuery{Path: path}); !slices.Equal(got, sn.logs[path]) {
			t.Errorf("Log(%q) after KeepVersions = %v, want %v as before", path, got, sn.logs[path])
		}
	}
	if hs, ok := s.(verso.HistoryStarter); ok {
		if start, err := hs.HistoryStart(ctx); err != nil || start != 0 {
			t.Errorf("HistoryStart() after KeepVersions = %d, %v; want 0", start, err)
		}
	}

	// Pruning again with the same policy drops nothing more.
	if st := mustPrune(t, pr, verso.Retention{KeepVersions: 2}, time.Now()); st != (verso.PruneStats{}) {
		t.Errorf("second Prune(KeepVersions 2) = %+v, want nothing dropped", st)
	}
	sn.wantKept(t, s, "/k", 4)

	// A new version of /k pushes r4's out.
	mustCommit(t, s, txn(opPut("/k", "v6")))
	if st := mustPrune(t, pr, verso.Retention{KeepVersions: 2}, time.Now()); st.Versions != 1 {
		t.Errorf("Prune(KeepVersions 2) after a new version of /k = %+v, want 1 version dropped", st)
	}
	wantGone(t, s, "/k", 4)
	sn.wantKept(t, s, "/k", 5)
	if e := mustGet(t, s, "/k", verso.Head); string(e.Value) != "v6" {
		t.Errorf("Get(/k, HEAD) = %q, want v6", e.Value)
	}

	// KeepVersions 1 keeps the current state only.
	mustPrune(t, pr, verso.Retention{KeepVersions: 1}, time.Now())
	wantGone(t, s, "/k", 6)
	wantGone(t, s, "/ns/a", 5)
	if e := mustGet(t, s, "/k", verso.Head); string(e.Value) != "v6" {
		t.Errorf("Get(/k, HEAD) after KeepVersions 1 = %q, want v6", e.Value)
	}
	sn.wantKept(t, s, "/ns/a", 6)
	wantStillWorks(t, s)
}

func testKeepFor(t *testing.T, open func(t *testing.T) verso.Store) {
	s := newStore(t, open)
	pr := pruner(t, s)
	sn := buildRetention(t, s)
	ctx := t.Context()
	const keepFor = time.Hour

	// Keep what was current at r3's commit time, and everything after.
	cutoff := sn.commits[3].Time
	start := verso.Revision(0)
	for rev := verso.Revision(1); rev <= sn.head && !sn.commits[rev].Time.After(cutoff); rev++ {
		start = rev
	}
	st := mustPrune(t, pr, verso.Retention{KeepFor: keepFor}, cutoff.Add(keepFor))
	if want := (verso.PruneStats{Start: start, Commits: int(start) - 1, Versions: st.Versions}); st != want {
		t.Errorf("Prune(KeepFor, now = r3's time + KeepFor) = %+v, want %+v", st, want)
	}
	if hs, ok := s.(verso.HistoryStarter); ok {
		if got, err := hs.HistoryStart(ctx); err != nil || got != start {
			t.Errorf("HistoryStart() = %d, %v; want %d", got, err, start)
		}
	}
	for rev := verso.Revision(0); rev < start; rev++ {
		for _, path := range retentionPaths {
			wantGone(t, s, path, rev)
		}
		if err := s.Walk(ctx, verso.Root, rev, verso.Infinite, func(*verso.Entry) error { return nil }); !errors.Is(err, verso.ErrGone) {
			t.Errorf("Walk(/, r%d) below the start r%d = %v, want ErrGone", rev, start, err)
		}
		if rev > 0 {
			if c, err := s.Revision(ctx, rev); !errors.Is(err, verso.ErrGone) {
				t.Errorf("Revision(%d) below the start r%d = %v, %v; want ErrGone", rev, start, c, err)
			}
		}
		if rev > 0 {
			if _, err := s.Log(ctx, verso.LogQuery{Before: rev}); !errors.Is(err, verso.ErrGone) {
				t.Errorf("Log(Before %d) below the start r%d = %v, want ErrGone", rev, start, err)
			}
		}
	}
	for rev := start; rev <= sn.head; rev++ {
		for _, path := range retentionPaths {
			sn.wantKept(t, s, path, rev)
		}
		sn.wantWalkKept(t, s, rev)
		if rev > 0 {
			c, err := s.Revision(ctx, rev)
			if err != nil {
				t.Errorf("Revision(%d) at or above the start r%d error: %v", rev, start, err)
			} else {
				checkCommit(t, fmt.Sprintf("Revision(%d)", rev), c, sn.commits[rev])
			}
		}
	}
	sn.wantHeadKept(t, s)
	// The log stops at the start.
	for _, path := range retentionPaths {
		var want []verso.Revision
		for _, rev := range sn.logs[path] {
			if rev >= start {
				want = append(want, rev)
			}
		}
		if got := logRevs(t, s, verso.LogQuery{Path: path}); !slices.Equal(got, want) {
			t.Errorf("Log(%q) after pruning below r%d = %v, want %v", path, start, got, want)
		}
	}
	if e, err := s.Get(ctx, "/k", sn.head+1); !errors.Is(err, verso.ErrNoRevision) {
		t.Errorf("Get(/k, r%d) beyond the head after pruning = %v, %v; want ErrNoRevision", sn.head+1, e, err)
	}
	if st := mustPrune(t, pr, verso.Retention{KeepFor: keepFor}, cutoff.Add(keepFor)); st.Versions != 0 || st.Commits != 0 || st.Start != start {
		t.Errorf("second Prune with the same now = %+v, want nothing dropped and Start %d", st, start)
	}

	// With every revision older than KeepFor, only the head is left.
	st = mustPrune(t, pr, verso.Retention{KeepFor: keepFor}, sn.commits[sn.head].Time.Add(24*time.Hour))
	if st.Start != sn.head {
		t.Errorf("Prune with every revision a day older than KeepFor: Start = %d, want the head %d", st.Start, sn.head)
	}
	wantGone(t, s, "/k", sn.head-1)
	for _, path := range retentionPaths {
		sn.wantKept(t, s, path, sn.head)
	}
	sn.wantWalkKept(t, s, sn.head)
	sn.wantHeadKept(t, s)
	if got := logRevs(t, s, verso.LogQuery{Path: verso.Root}); !slices.Equal(got, []verso.Revision{sn.head}) {
		t.Errorf("Log(/) with history starting at the head = %v, want [%d]", got, sn.head)
	}
	if got := logRevs(t, s, verso.LogQuery{Path: "/k"}); len(got) != 0 {
		t.Errorf("Log(/k) with history starting at r%d (after /k's last change) = %v, want none", sn.head, got)
	}
	wantStillWorks(t, s)
	// A revision committed after pruning reads like any other.
	head := mustHead(t, s)
	if cs := logRevs(t, s, verso.LogQuery{Path: "/after"}); !slices.Equal(cs, []verso.Revision{head}) {
		t.Errorf("Log(/after) = %v, want [%d]", cs, head)
	}
}

func testKeepEverything(t *testing.T, open func(t *testing.T) verso.Store) {
	s := newStore(t, open)
	pr := pruner(t, s)
	sn := buildRetention(t, s)

	if st, err := pr.Prune(t.Context(), verso.Retention{KeepVersions: -1}, time.Now()); err == nil {
		t.Errorf("Prune(KeepVersions -1) = %+v, nil; want an error", st)
	}
	if st, err := pr.Prune(t.Context(), verso.Retention{KeepFor: -time.Hour}, time.Now()); err == nil {
		t.Errorf("Prune(KeepFor -1h) = %+v, nil; want an error", st)
	}
	// The zero policy keeps everything, however late now is.
	if st := mustPrune(t, pr, verso.Retention{}, time.Now().Add(24*365*time.Hour)); st != (verso.PruneStats{}) {
		t.Errorf("Prune(zero policy) = %+v, want nothing dropped", st)
	}
	// A KeepFor longer than the history drops nothing.
	if st := mustPrune(t, pr, verso.Retention{KeepFor: time.Hour, KeepVersions: 5}, sn.commits[1].Time); st != (verso.PruneStats{}) {
		t.Errorf("Prune(KeepFor 1h, KeepVersions 5) of a young history = %+v, want nothing dropped", st)
	}
	after := takeSnapshot(t, s)
	if diff := gocmp.Diff(sn.logs, after.logs); diff != "" {
		t.Errorf("logs changed by pruning nothing (-before +after):\n%s", diff)
	}
	for rev := verso.Revision(0); rev <= sn.head; rev++ {
		for _, path := range retentionPaths {
			sn.wantKept(t, s, path, rev)
		}
		sn.wantWalkKept(t, s, rev)
	}
	wantStillWorks(t, s)
}
