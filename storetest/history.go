package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
)

// historyScript exercises every operation kind over a tree whose names sort
// differently by whole path and by segment ("/a/k" < "/a-x" < "/a0" in a
// walk, "/a-x" < "/a/k" by bytes).
func historyScript() []*verso.Txn {
	as := func(author, msg string, ops ...verso.Op) *verso.Txn {
		return &verso.Txn{Author: author, Message: msg, Ops: ops}
	}
	return []*verso.Txn{
		as("alice", "r1", opMkcol("/a"), opPut("/a/k", "1"), opMkcol("/a-x"), opPut("/a0", "z"), opPut("/B", "b")),
		as("bob", "r2", opPut("/a/k", "2"), opMkcol("/a/sub"), opPut("/a/sub/y", "y")),
		as("alice", "r3", opProps("/a", setProp("{urn:x}p", "1"))),
		as("", "r4", opCopy("/a", "/c")),
		as("bob", "r5", opDelete("/a/k")),
		as("carol", "r6", opMove("/c", "/a-x/m")),
		as("alice", "r7", opPut("/a/k", "3")),
		as("bob", "r8", overwrite(opCopy("/a-x/m/sub", "/a0"))),
		as("carol", "r9", opDelete("/a-x")),
		as("alice", "r10", opProps("/", setProp("{urn:x}root", "r"))),
		as("bob", "r11", opPut("/n", "1"), opCopy("/n", "/n2"), opDelete("/B"), opMkcol("/B"), opPut("/B/x", "x")),
		as("carol", "r12", opProps("/a0/y", setProp("{urn:x}q", "q")), opPut("/a/sub/y", "y2")),
		// Names that share a prefix are not inside each other.
		as("alice", "r13", opDelete("/a")),
		as("bob", "r14", opMove("/a0", "/a")),
		// Any bytes as values, names beyond ASCII, deep namespaces.
		as("carol", "r15", opMkcol("/ü"), opPut("/ü/日本 key", "\x00\xff\x00binary"),
			opPut("/ü/z", strings.Repeat("large value ", 1400)), opPut("/ü/empty", ""),
			opProps("/ü/z", setProp("{urn:x}a b", "<x:v xmlns:x=\"urn:x\">&amp;</x:v>"), setProp("{urn:y}a", "ü"))),
		as("alice", "r16", opMkcol("/d"), opMkcol("/d/e"), opMkcol("/d/e/f"), opMkcol("/d/e/f/g"), opPut("/d/e/f/g/h", "deep")),
		as("bob", "r17", opCopy("/d/e", "/ü/e"), opDelete("/d")),
	}
}

// histMid is a revision of the history script at which /a is a namespace
// with a key /a/k and a namespace /a/sub.
const histMid = 12

// buildHistory commits the script to s and returns the model of it.
func buildHistory(t *testing.T, s verso.Store) *model {
	t.Helper()
	m := newModel()
	for _, tx := range historyScript() {
		mustCommit(t, s, tx)
		m.apply(tx)
	}
	return m
}

// testHistory reads every path at every revision and compares it with the
// model: reads at past revisions return exactly the state then.
func testHistory(t *testing.T, open func(t *testing.T) verso.Store) {
	s := newStore(t, open)
	m := buildHistory(t, s)
	ctx := t.Context()
	head := m.head()
	wantHead(t, s, head, "the history script")
	all := append(m.allPaths(), "/never", "/a/never", "/B/x/under-key")

	for rev := verso.Revision(0); rev <= head; rev++ {
		t.Run(fmt.Sprintf("r%d", rev), func(t *testing.T) {
			compareTree(t, s, m, rev)
			for _, path := range all {
				want := m.states[rev][path]
				got, err := s.Get(ctx, path, rev)
				switch {
				case want == nil:
					if !errors.Is(err, verso.ErrNotFound) {
						t.Errorf("Get(%q, r%d) = %v, %v; want ErrNotFound", path, rev, got, err)
					}
				case err != nil:
					t.Errorf("Get(%q, r%d) error: %v", path, rev, err)
				default:
					if diff := diffEntry(want, got); diff != "" {
						t.Errorf("Get(%q, r%d) mismatch (-want +got):\n%s", path, rev, diff)
					}
					checkModTime(t, s, got)
				}
			}
			if rev == 0 {
				return
			}
			c, err := s.Revision(ctx, rev)
			if err != nil {
				t.Fatalf("Revision(%d) error: %v", rev, err)
			}
			checkCommit(t, fmt.Sprintf("Revision(%d)", rev), c, m.commits[rev])
		})
	}

	t.Run("HeadIsNewest", func(t *testing.T) {
		for _, path := range all {
			want := m.states[head][path]
			got, err := s.Get(ctx, path, verso.Head)
			if want == nil {
				if !errors.Is(err, verso.ErrNotFound) {
					t.Errorf("Get(%q, HEAD) = %v, %v; want ErrNotFound", path, got, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("Get(%q, HEAD) error: %v", path, err)
				continue
			}
			if diff := diffEntry(want, got); diff != "" {
				t.Errorf("Get(%q, HEAD) mismatch (-want +got):\n%s", path, diff)
			}
		}
		got := mustWalk(t, s, "/", verso.Head, verso.Infinite)
		if diff := diffEntries(m.walk(verso.Root, head, verso.Infinite), got); diff != "" {
			t.Errorf("Walk(/, HEAD, Infinite) mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("BeyondHead", func(t *testing.T) {
		for _, rev := range []verso.Revision{head + 1, head + 100, -2} {
			if e, err := s.Get(ctx, p("/a"), rev); !errors.Is(err, verso.ErrNoRevision) {
				t.Errorf("Get(%q, r%d) with head %d = %v, %v; want ErrNoRevision", "/a", rev, head, e, err)
			}
			if err := s.Walk(ctx, verso.Root, rev, verso.Infinite, func(*verso.Entry) error { return nil }); !errors.Is(err, verso.ErrNoRevision) {
				t.Errorf("Walk(/, r%d) with head %d = %v; want ErrNoRevision", rev, head, err)
			}
			if c, err := s.Revision(ctx, rev); !errors.Is(err, verso.ErrNoRevision) {
				t.Errorf("Revision(%d) with head %d = %v, %v; want ErrNoRevision", rev, head, c, err)
			}
		}
	})
}

// testWalk checks Walk's order, depth, start on a key, and errors.
func testWalk(t *testing.T, open func(t *testing.T) verso.Store) {
	s := newStore(t, open)
	m := buildHistory(t, s)
	ctx := t.Context()
	head := m.head()

	t.Run("PreOrderByteOrder", func(t *testing.T) {
		// At r1: /B < /a < /a/k (inside /a) < /a-x < /a0.
		want := []verso.Path{"/", "/B", "/a", "/a/k", "/a-x", "/a0"}
		if diff := gocmp.Diff(want, paths(mustWalk(t, s, "/", 1, verso.Infinite))); diff != "" {
			t.Errorf("Walk(/, r1, Infinite) order mismatch (-want +got):\n%s", diff)
		}
	})

	depthCases := []struct {
		path  verso.Path
		rev   verso.Revision
		depth int
	}{
		{"/", head, 0}, {"/", head, 1}, {"/", head, 2}, {"/", head, verso.Infinite},
		{"/", histMid, 1}, {"/", histMid, 2}, {"/ü", head, 1}, {"/ü", head, verso.Infinite},
		{"/a", histMid, 0}, {"/a", histMid, 1}, {"/a", histMid, verso.Infinite},
		{"/a", 4, 1}, {"/a-x", 6, 1}, {"/a-x", 6, verso.Infinite}, {"/a-x/m", 6, 1},
		{"/a/k", histMid, 0}, {"/a/k", histMid, 1}, {"/a/k", histMid, verso.Infinite}, // a key visits itself only
		{"/a0/y", 8, verso.Infinite}, {"/a", head, verso.Infinite}, {"/d/e", 16, 2},
	}
	for _, tc := range depthCases {
		t.Run(fmt.Sprintf("Depth%d%sAtR%d", tc.depth, tc.path, tc.rev), func(t *testing.T) {
			want := m.walk(tc.path, tc.rev, tc.depth)
			got := mustWalk(t, s, string(tc.path), tc.rev, tc.depth)
			if diff := diffEntries(want, got); diff != "" {
				t.Errorf("Walk(%q, r%d, depth %d) mismatch (-want +got):\n%s", tc.path, tc.rev, tc.depth, diff)
			}
		})
	}

	t.Run("Missing", func(t *testing.T) {
		for _, tc := range []struct {
			path verso.Path
			rev  verso.Revision
		}{{"/never", verso.Head}, {"/a-x", head}, {"/a/k", 5}, {"/a/k/under", histMid}, {"/c", 3}, {"/a0", head}, {"/d", head}} {
			called := 0
			err := s.Walk(ctx, tc.path, tc.rev, verso.Infinite, func(*verso.Entry) error { called++; return nil })
			if !errors.Is(err, verso.ErrNotFound) {
				t.Errorf("Walk(%q, %s) = %v, want ErrNotFound", tc.path, revString(tc.rev), err)
			}
			if called != 0 {
				t.Errorf("Walk(%q, %s) called fn %d times for a missing path", tc.path, revString(tc.rev), called)
			}
		}
	})

	t.Run("FnErrorStops", func(t *testing.T) {
		all := m.walk(verso.Root, head, verso.Infinite)
		for _, stopAt := range []int{0, 1, len(all) - 1} {
			errStop := fmt.Errorf("stop at %d", stopAt)
			var visited []verso.Path
			err := s.Walk(ctx, verso.Root, head, verso.Infinite, func(e *verso.Entry) error {
				visited = append(visited, e.Path)
				if len(visited) == stopAt+1 {
					return errStop
				}
				return nil
			})
			if !errors.Is(err, errStop) {
				t.Errorf("Walk(/, HEAD) with fn failing at entry %d = %v, want %v", stopAt, err, errStop)
			}
			if diff := gocmp.Diff(paths(all[:stopAt+1]), visited); diff != "" {
				t.Errorf("Walk(/, HEAD) with fn failing at entry %d visited (-want +got):\n%s", stopAt, diff)
			}
		}
	})
}

// testLog checks Log against the model for every path, with Before and
// Limit.
func testLog(t *testing.T, open func(t *testing.T) verso.Store) {
	s := newStore(t, open)
	m := buildHistory(t, s)
	ctx := t.Context()
	head := m.head()

	records := map[verso.Revision]*verso.Commit{}
	for r := verso.Revision(1); r <= head; r++ {
		c, err := s.Revision(ctx, r)
		if err != nil {
			t.Fatalf("Revision(%d) error: %v", r, err)
		}
		records[r] = c
	}
	revs := func(cs []*verso.Commit) []verso.Revision {
		out := []verso.Revision{}
		for _, c := range cs {
			out = append(out, c.Rev)
		}
		return out
	}

	queryPaths := append(m.allPaths(), "/never", "/a/never")
	for _, path := range queryPaths {
		t.Run("Path"+string(path), func(t *testing.T) {
			for _, q := range []verso.LogQuery{
				{Path: path},
				{Path: path, Before: verso.Head},
				{Path: path, Before: 6},
				{Path: path, Before: 1},
				{Path: path, Limit: 1},
				{Path: path, Limit: 2, Before: 9},
				{Path: path, Limit: 3, Before: 15},
				{Path: path, Limit: 100},
			} {
				before := q.Before
				if before <= 0 {
					before = head
				}
				want := m.log(path, before)
				if q.Limit > 0 && len(want) > q.Limit {
					want = want[:q.Limit]
				}
				got, err := s.Log(ctx, q)
				if err != nil {
					t.Errorf("Log(%+v) error: %v", q, err)
					continue
				}
				if diff := gocmp.Diff(append([]verso.Revision{}, want...), revs(got)); diff != "" {
					t.Errorf("Log(%+v) revisions mismatch (-want +got):\n%s", q, diff)
					continue
				}
				for _, c := range got {
					if diff := gocmp.Diff(records[c.Rev], c, commitOpts); diff != "" {
						t.Errorf("Log(%+v) record of r%d differs from Revision(%d) (-revision +log):\n%s", q, c.Rev, c.Rev, diff)
					}
				}
			}
		})
	}

	t.Run("EmptyPathIsRoot", func(t *testing.T) {
		got, err := s.Log(ctx, verso.LogQuery{})
		if err != nil {
			t.Fatalf("Log({}) error: %v", err)
		}
		if diff := gocmp.Diff(m.log(verso.Root, head), revs(got)); diff != "" {
			t.Errorf("Log({}) revisions mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("BeforeAboveHead", func(t *testing.T) {
		for _, before := range []verso.Revision{head + 1, head + 50} {
			q := verso.LogQuery{Path: "/a", Before: before}
			if cs, err := s.Log(ctx, q); !errors.Is(err, verso.ErrNoRevision) {
				t.Errorf("Log(%+v) with head %d = %v, %v; want ErrNoRevision", q, head, cs, err)
			}
		}
	})
}
