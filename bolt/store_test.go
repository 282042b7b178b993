package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/verso-config/verso"
	"github.com/verso-config/verso/storetest"
)

// mustOpen opens a store in a new file under t.TempDir(). At cleanup it
// closes the store (unless the test did), opens the file again and fails
// the test if Check finds anything wrong.
func mustOpen(t testing.TB, opts *Options) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "verso.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%q) error: %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, verso.ErrClosed) {
			t.Errorf("Close() error: %v", err)
		}
		mustCheck(t, path)
	})
	return s
}

// mustCheck opens the file at path and fails the test if Check reports a
// problem.
func mustCheck(t testing.TB, path string) {
	t.Helper()
	s, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open(%q) after test: %v", path, err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Errorf("Check() after test:\n%v", err)
	}
}

// testClock is a clock that advances one second per reading.
func testClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func mustCommit(t testing.TB, s *Store, ops ...verso.Op) *verso.Commit {
	t.Helper()
	c, err := s.Commit(context.Background(), &verso.Txn{Author: "alice", Message: "test", Ops: ops})
	if err != nil {
		t.Fatalf("Commit(%v) error: %v", ops, err)
	}
	return c
}

func put(p, v string) verso.Op {
	return verso.Op{Kind: verso.OpPut, Path: verso.MustPath(p), Value: []byte(v), ContentType: "text/plain"}
}

func mkcol(p string) verso.Op { return verso.Op{Kind: verso.OpMkcol, Path: verso.MustPath(p)} }

func del(p string) verso.Op { return verso.Op{Kind: verso.OpDelete, Path: verso.MustPath(p)} }

func mustGet(t testing.TB, s *Store, p string, rev verso.Revision) *verso.Entry {
	t.Helper()
	e, err := s.Get(context.Background(), verso.MustPath(p), rev)
	if err != nil {
		t.Fatalf("Get(%q, %d) error: %v", p, rev, err)
	}
	return e
}

// walkAll returns the paths Walk visits.
func walkAll(t testing.TB, s *Store, p string, rev verso.Revision, depth int) []*verso.Entry {
	t.Helper()
	var out []*verso.Entry
	err := s.Walk(context.Background(), verso.MustPath(p), rev, depth, func(e *verso.Entry) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatalf("Walk(%q, %d, %d) error: %v", p, rev, depth, err)
	}
	return out
}

func paths(es []*verso.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, string(e.Path))
	}
	return out
}

func TestStore_Conformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) verso.Store { return mustOpen(t, nil) })
}

func TestStore_Basics(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, &Options{Clock: testClock()})

	root := mustGet(t, s, "/", verso.Head)
	want := &verso.Entry{Path: "/", Kind: verso.KindNamespace, Version: 1}
	if diff := cmp.Diff(want, root); diff != "" {
		t.Errorf("Get(/) of an empty store (-want +got):\n%s", diff)
	}

	c1 := mustCommit(t, s, mkcol("/app"), put("/app/host", "db1"))
	c2 := mustCommit(t, s, put("/app/host", "db2"))
	if c1.Rev != 1 || c2.Rev != 2 {
		t.Fatalf("revisions = %d, %d, want 1, 2", c1.Rev, c2.Rev)
	}
	wantChanges := []verso.Change{
		{Path: "/app", Kind: verso.KindNamespace, Action: verso.Added, Mods: verso.ModsRecorded},
		{Path: "/app/host", Kind: verso.KindKey, Action: verso.Added, Mods: verso.ModsRecorded | verso.ModValue},
	}
	if diff := cmp.Diff(wantChanges, c1.Changes); diff != "" {
		t.Errorf("Changes of r1 (-want +got):\n%s", diff)
	}

	got := mustGet(t, s, "/app/host", verso.Head)
	wantHost := &verso.Entry{
		Path: "/app/host", Kind: verso.KindKey, Value: []byte("db2"), ContentType: "text/plain",
		CreateRev: 1, ModRev: 2, TreeRev: 2, Version: 2, ModTime: c2.Time, ModBy: "alice",
	}
	if diff := cmp.Diff(wantHost, got); diff != "" {
		t.Errorf("Get(/app/host, Head) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantHost, mustGet(t, s, "/app/host", 2)); diff != "" {
		t.Errorf("Get(/app/host, 2) (-want +got):\n%s", diff)
	}
	old := mustGet(t, s, "/app/host", 1)
	if string(old.Value) != "db1" || old.Version != 1 || old.ModRev != 1 {
		t.Errorf("Get(/app/host, 1) = %q v%d r%d, want \"db1\" v1 r1", old.Value, old.Version, old.ModRev)
	}
	if app := mustGet(t, s, "/app", 1); app.TreeRev != 1 || app.ModRev != 1 {
		t.Errorf("Get(/app, 1): TreeRev %d ModRev %d, want 1 1", app.TreeRev, app.ModRev)
	}
	if app := mustGet(t, s, "/app", verso.Head); app.TreeRev != 2 || app.ModRev != 1 || app.Version != 1 {
		t.Errorf("Get(/app, Head): TreeRev %d ModRev %d Version %d, want 2 1 1", app.TreeRev, app.ModRev, app.Version)
	}
	if root := mustGet(t, s, "/", 1); root.TreeRev != 1 {
		t.Errorf("Get(/, 1).TreeRev = %d, want 1", root.TreeRev)
	}

	for _, tc := range []struct {
		path string
		rev  verso.Revision
		want error
	}{
		{"/app/host", 0, verso.ErrNotFound},
		{"/app/host", 3, verso.ErrNoRevision},
		{"/app/host", -2, verso.ErrNoRevision},
		{"/nope", verso.Head, verso.ErrNotFound},
		{"/nope", 2, verso.ErrNotFound},
	} {
		_, err := s.Get(ctx, verso.MustPath(tc.path), tc.rev)
		var pe *verso.PathError
		if !errors.Is(err, tc.want) || !errors.As(err, &pe) {
			t.Errorf("Get(%q, %d) error = %v, want a *PathError wrapping %v", tc.path, tc.rev, err, tc.want)
		}
	}

	rec, err := s.Revision(ctx, 2)
	if err != nil {
		t.Fatalf("Revision(2) error: %v", err)
	}
	if diff := cmp.Diff(c2, rec); diff != "" {
		t.Errorf("Revision(2) (-Commit +Revision):\n%s", diff)
	}
	for _, r := range []verso.Revision{0, -1, 3} {
		if _, err := s.Revision(ctx, r); !errors.Is(err, verso.ErrNoRevision) {
			t.Errorf("Revision(%d) error = %v, want ErrNoRevision", r, err)
		}
	}
}

func TestStore_Commit(t *testing.T) {
	setup := []verso.Op{mkcol("/a"), put("/a/k", "v"), mkcol("/a/n"), put("/a/n/x", "x"), mkcol("/b")}
	for _, tc := range []struct {
		name    string
		ops     []verso.Op
		want    []verso.Change // nil: the error
		wantErr error
		index   int
	}{
		{name: "put new", ops: []verso.Op{put("/b/k", "1")},
			want: []verso.Change{{Path: "/b/k", Kind: verso.KindKey, Action: verso.Added}}},
		{name: "put twice", ops: []verso.Op{put("/a/k", "1"), put("/a/k", "2")},
			want: []verso.Change{{Path: "/a/k", Kind: verso.KindKey, Action: verso.Modified}}},
		{name: "put root", ops: []verso.Op{put("/", "1")}, wantErr: verso.ErrRoot},
		{name: "put no parent", ops: []verso.Op{put("/c/k", "1")}, wantErr: verso.ErrNoParent},
		{name: "put under key", ops: []verso.Op{put("/a/k/x", "1")}, wantErr: verso.ErrNotNamespace},
		{name: "put namespace", ops: []verso.Op{put("/a/n", "1")}, wantErr: verso.ErrIsNamespace},
		{name: "mkcol exists", ops: []verso.Op{mkcol("/a")}, wantErr: verso.ErrExists},
		{name: "mkcol root", ops: []verso.Op{mkcol("/")}, wantErr: verso.ErrExists},
		{name: "second op fails", ops: []verso.Op{put("/b/k", "1"), mkcol("/b/k")}, wantErr: verso.ErrExists, index: 1},
		{name: "delete subtree", ops: []verso.Op{del("/a/n")}, want: []verso.Change{
			{Path: "/a/n", Kind: verso.KindNamespace, Action: verso.Deleted},
			{Path: "/a/n/x", Kind: verso.KindKey, Action: verso.Deleted},
		}},
		{name: "delete missing", ops: []verso.Op{del("/zz")}, wantErr: verso.ErrNotFound},
		{name: "delete root", ops: []verso.Op{del("/")}, wantErr: verso.ErrRoot},
		{name: "created and deleted", ops: []verso.Op{mkcol("/c"), put("/c/k", "1"), del("/c"), put("/b/k", "1")},
			want: []verso.Change{{Path: "/b/k", Kind: verso.KindKey, Action: verso.Added}}},
		{name: "deleted and recreated", ops: []verso.Op{del("/a"), mkcol("/a")}, want: []verso.Change{
			{Path: "/a", Kind: verso.KindNamespace, Action: verso.Modified},
			{Path: "/a/k", Kind: verso.KindKey, Action: verso.Deleted},
			{Path: "/a/n", Kind: verso.KindNamespace, Action: verso.Deleted},
			{Path: "/a/n/x", Kind: verso.KindKey, Action: verso.Deleted},
		}},
		{name: "copy subtree", ops: []verso.Op{{Kind: verso.OpCopy, From: "/a/n", Path: "/b/n", Depth: verso.Infinite}}, want: []verso.Change{
			{Path: "/b/n", Kind: verso.KindNamespace, Action: verso.Copied, From: "/a/n", FromRev: 1},
			{Path: "/b/n/x", Kind: verso.KindKey, Action: verso.Copied, From: "/a/n/x", FromRev: 1},
		}},
		{name: "copy depth 0", ops: []verso.Op{{Kind: verso.OpCopy, From: "/a/n", Path: "/b/n", Depth: 0}}, want: []verso.Change{
			{Path: "/b/n", Kind: verso.KindNamespace, Action: verso.Copied, From: "/a/n", FromRev: 1},
		}},
		{name: "copy exists", ops: []verso.Op{{Kind: verso.OpCopy, From: "/a/k", Path: "/a/n"}}, wantErr: verso.ErrExists},
		{name: "copy overwrite", ops: []verso.Op{{Kind: verso.OpCopy, From: "/a/k", Path: "/a/n", Overwrite: true}}, want: []verso.Change{
			{Path: "/a/n", Kind: verso.KindKey, Action: verso.Copied, From: "/a/k", FromRev: 1},
			{Path: "/a/n/x", Kind: verso.KindKey, Action: verso.Deleted},
		}},
		{name: "copy into itself", ops: []verso.Op{{Kind: verso.OpCopy, From: "/a", Path: "/a/n/a"}}, wantErr: verso.ErrSamePath},
		{name: "copy missing", ops: []verso.Op{{Kind: verso.OpCopy, From: "/zz", Path: "/b/zz"}}, wantErr: verso.ErrNotFound},
		{name: "move", ops: []verso.Op{{Kind: verso.OpMove, From: "/a/n", Path: "/b/m"}}, want: []verso.Change{
			{Path: "/a/n", Kind: verso.KindNamespace, Action: verso.Deleted},
			{Path: "/a/n/x", Kind: verso.KindKey, Action: verso.Deleted},
			{Path: "/b/m", Kind: verso.KindNamespace, Action: verso.Moved, From: "/a/n", FromRev: 1},
			{Path: "/b/m/x", Kind: verso.KindKey, Action: verso.Moved, From: "/a/n/x", FromRev: 1},
		}},
		{name: "move root", ops: []verso.Op{{Kind: verso.OpMove, From: "/", Path: "/b/r"}}, wantErr: verso.ErrRoot},
		{name: "props", ops: []verso.Op{{Kind: verso.OpProps, Path: "/a", Props: []verso.PropChange{{Name: "{DAV:}x", Value: "1"}}}},
			want: []verso.Change{{Path: "/a", Kind: verso.KindNamespace, Action: verso.Modified}}},
		{name: "props root", ops: []verso.Op{{Kind: verso.OpProps, Path: "/", Props: []verso.PropChange{{Name: "x", Value: "1"}}}},
			want: []verso.Change{{Path: "/", Kind: verso.KindNamespace, Action: verso.Modified}}},
		{name: "props missing", ops: []verso.Op{{Kind: verso.OpProps, Path: "/zz"}}, wantErr: verso.ErrNotFound},
		{name: "if absent", ops: []verso.Op{{Kind: verso.OpPut, Path: "/a/k", If: verso.Cond{Absent: true}}}, wantErr: verso.ErrPrecondition},
		{name: "if exists", ops: []verso.Op{{Kind: verso.OpPut, Path: "/a/z", If: verso.Cond{Exists: true}}}, wantErr: verso.ErrPrecondition},
		{name: "if modrev", ops: []verso.Op{{Kind: verso.OpPut, Path: "/a/k", If: verso.Cond{ModRev: 1}}},
			want: []verso.Change{{Path: "/a/k", Kind: verso.KindKey, Action: verso.Modified}}},
		{name: "if modrev stale", ops: []verso.Op{{Kind: verso.OpPut, Path: "/a/k", If: verso.Cond{ModRev: 7}}}, wantErr: verso.ErrPrecondition},
		{name: "unknown op", ops: []verso.Op{{Kind: "frob", Path: "/a"}}, wantErr: verso.ErrInvalidOp},
		{name: "empty path", ops: []verso.Op{{Kind: verso.OpPut}}, wantErr: verso.ErrInvalidOp},
		{name: "copy without source", ops: []verso.Op{{Kind: verso.OpCopy, Path: "/b/x"}}, wantErr: verso.ErrInvalidOp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustOpen(t, nil)
			mustCommit(t, s, setup...)
			c, err := s.Commit(context.Background(), &verso.Txn{Ops: tc.ops})
			if tc.wantErr != nil {
				var oe *verso.OpError
				var pe *verso.PathError
				if !errors.Is(err, tc.wantErr) || !errors.As(err, &oe) || !errors.As(err, &pe) || oe.Index != tc.index {
					t.Fatalf("Commit error = %v, want *OpError{Index: %d} wrapping *PathError wrapping %v", err, tc.index, tc.wantErr)
				}
				if h, _ := s.Head(context.Background()); h != 1 {
					t.Errorf("Head() after a failed commit = %d, want 1", h)
				}
				return
			}
			if err != nil {
				t.Fatalf("Commit error: %v", err)
			}
			// Mods are the conformance suite's (storetest).
			if diff := cmp.Diff(tc.want, c.Changes, cmpopts.IgnoreFields(verso.Change{}, "Mods")); diff != "" {
				t.Errorf("Changes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStore_CommitVersions(t *testing.T) {
	s := mustOpen(t, nil)
	mustCommit(t, s, mkcol("/a"), put("/a/k", "1"))
	mustCommit(t, s, put("/a/k", "2"), verso.Op{Kind: verso.OpProps, Path: "/a/k", Props: []verso.PropChange{{Name: "p", Value: "x"}}})
	e := mustGet(t, s, "/a/k", verso.Head)
	if e.Version != 2 || e.ModRev != 2 || e.CreateRev != 1 || e.Props["p"] != "x" {
		t.Errorf("Get(/a/k) = v%d mod %d create %d props %v, want v2 mod 2 create 1 props p=x", e.Version, e.ModRev, e.CreateRev, e.Props)
	}
	mustCommit(t, s, put("/a/k", "3"))
	if e := mustGet(t, s, "/a/k", verso.Head); e.Props["p"] != "x" || e.Version != 3 {
		t.Errorf("Get(/a/k) after put: props %v v%d, want kept props, v3", e.Props, e.Version)
	}
	if e := mustGet(t, s, "/a/k", 1); e.Props != nil {
		t.Errorf("Get(/a/k, 1).Props = %v, want nil", e.Props)
	}
	mustCommit(t, s, verso.Op{Kind: verso.OpProps, Path: "/", Props: []verso.PropChange{{Name: "r", Value: "1"}}})
	root := mustGet(t, s, "/", verso.Head)
	if root.ModRev != 4 || root.TreeRev != 4 || root.Props["r"] != "1" || root.CreateRev != 0 {
		t.Errorf("Get(/) = %+v, want ModRev 4, TreeRev 4, props r=1", root)
	}
	if root := mustGet(t, s, "/", 3); root.ModRev != 0 || root.Props != nil || root.TreeRev != 3 {
		t.Errorf("Get(/, 3) = %+v, want ModRev 0, no props, TreeRev 3", root)
	}
}

func TestStore_Conflict(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, nil)
	mustCommit(t, s, put("/a", "1"), put("/b", "1"))
	mustCommit(t, s, put("/a", "2"))
	_, err := s.Commit(ctx, &verso.Txn{Base: 1, Ops: []verso.Op{put("/a", "3"), put("/b", "3")}})
	var ce *verso.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, verso.ErrConflict) {
		t.Fatalf("Commit with stale base error = %v, want *ConflictError", err)
	}
	if diff := cmp.Diff([]verso.Path{"/a"}, ce.Paths); diff != "" {
		t.Errorf("ConflictError.Paths (-want +got):\n%s", diff)
	}
	if _, err := s.Commit(ctx, &verso.Txn{Base: 1, Ops: []verso.Op{put("/b", "3")}}); err != nil {
		t.Errorf("Commit with base 1 of an unchanged path error: %v", err)
	}
	if _, err := s.Commit(ctx, &verso.Txn{Base: 9, Ops: []verso.Op{put("/b", "3")}}); !errors.Is(err, verso.ErrNoRevision) {
		t.Errorf("Commit with base beyond head error = %v, want ErrNoRevision", err)
	}
	if _, err := s.Commit(ctx, &verso.Txn{}); !errors.Is(err, verso.ErrEmptyTxn) {
		t.Errorf("Commit of an empty txn error = %v, want ErrEmptyTxn", err)
	}
}

func TestStore_Walk(t *testing.T) {
	s := mustOpen(t, nil)
	mustCommit(t, s, mkcol("/b"), put("/b/y", "1"), mkcol("/a"), put("/a/z", "1"), mkcol("/a/m"), put("/a/m/k", "1"), put("/a-b", "1"))
	mustCommit(t, s, del("/a/m"), put("/b/x", "2"), put("/a/z", "2"))
	mustCommit(t, s, mkcol("/a/m"))

	for _, tc := range []struct {
		path  string
		rev   verso.Revision
		depth int
		want  string
	}{
		{"/", verso.Head, verso.Infinite, "/ /a /a/m /a/z /a-b /b /b/x /b/y"},
		{"/", 1, verso.Infinite, "/ /a /a/m /a/m/k /a/z /a-b /b /b/y"},
		{"/", 2, verso.Infinite, "/ /a /a/z /a-b /b /b/x /b/y"},
		{"/", 0, verso.Infinite, "/"},
		{"/", verso.Head, 1, "/ /a /a-b /b"},
		{"/", 1, 1, "/ /a /a-b /b"},
		{"/a", 1, 0, "/a"},
		{"/a/z", verso.Head, verso.Infinite, "/a/z"},
	} {
		got := strings.Join(paths(walkAll(t, s, tc.path, tc.rev, tc.depth)), " ")
		if got != tc.want {
			t.Errorf("Walk(%q, %d, %d) = %s, want %s", tc.path, tc.rev, tc.depth, got, tc.want)
		}
	}

	// Walk at a revision returns what Get returns at that revision.
	for rev := verso.Revision(0); rev <= 3; rev++ {
		for _, e := range walkAll(t, s, "/", rev, verso.Infinite) {
			if diff := cmp.Diff(mustGet(t, s, string(e.Path), rev), e); diff != "" {
				t.Errorf("Walk at %d disagrees with Get(%q) (-Get +Walk):\n%s", rev, e.Path, diff)
			}
		}
	}
	for _, e := range walkAll(t, s, "/", verso.Head, verso.Infinite) {
		if diff := cmp.Diff(mustGet(t, s, string(e.Path), verso.Head), e); diff != "" {
			t.Errorf("Walk at Head disagrees with Get(%q) (-Get +Walk):\n%s", e.Path, diff)
		}
	}
	if a := mustGet(t, s, "/a", 2); a.TreeRev != 2 {
		t.Errorf("Get(/a, 2).TreeRev = %d, want 2", a.TreeRev)
	}

	err := s.Walk(context.Background(), "/a/m/k", verso.Head, verso.Infinite, func(*verso.Entry) error { return nil })
	if !errors.Is(err, verso.ErrNotFound) {
		t.Errorf("Walk of a missing path error = %v, want ErrNotFound", err)
	}
	stop := errors.New("stop")
	n := 0
	err = s.Walk(context.Background(), "/", verso.Head, verso.Infinite, func(*verso.Entry) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("Walk with fn failing: error %v after %d calls, want stop after 1", err, n)
	}
}

func TestStore_Log(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, nil)
	mustCommit(t, s, mkcol("/a"), mkcol("/b"))      // 1
	mustCommit(t, s, put("/a/k", "1"))              // 2
	mustCommit(t, s, put("/b/k", "1"))              // 3
	mustCommit(t, s, put("/a/k", "2"))              // 4
	mustCommit(t, s, put("/ab", "1"))               // 5
	mustCommit(t, s, del("/a/k"), put("/b/k", "2")) // 6

	revs := func(cs []*verso.Commit) []verso.Revision {
		var out []verso.Revision
		for _, c := range cs {
			out = append(out, c.Rev)
		}
		return out
	}
	for _, tc := range []struct {
		q    verso.LogQuery
		want []verso.Revision
	}{
		{verso.LogQuery{Path: "/a/k"}, []verso.Revision{6, 4, 2}},
		{verso.LogQuery{Path: "/a"}, []verso.Revision{6, 4, 2, 1}},
		{verso.LogQuery{Path: "/b", Before: 5}, []verso.Revision{3, 1}},
		{verso.LogQuery{Path: "/", Limit: 2}, []verso.Revision{6, 5}},
		{verso.LogQuery{}, []verso.Revision{6, 5, 4, 3, 2, 1}},
		{verso.LogQuery{Path: "/a/k", Before: 3, Limit: 1}, []verso.Revision{2}},
		{verso.LogQuery{Path: "/never"}, nil},
	} {
		got, err := s.Log(ctx, tc.q)
		if err != nil {
			t.Fatalf("Log(%+v) error: %v", tc.q, err)
		}
		if diff := cmp.Diff(tc.want, revs(got)); diff != "" {
			t.Errorf("Log(%+v) (-want +got):\n%s", tc.q, diff)
		}
	}
	if _, err := s.Log(ctx, verso.LogQuery{Before: 7}); !errors.Is(err, verso.ErrNoRevision) {
		t.Errorf("Log(Before: 7) error = %v, want ErrNoRevision", err)
	}
}

func TestStore_Reopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "verso.db")
	s, err := Open(path, &Options{Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, mkcol("/a"), put("/a/k", "1"))
	mustCommit(t, s, put("/a/k", "2"), verso.Op{Kind: verso.OpProps, Path: "/", Props: []verso.PropChange{{Name: "x", Value: "y"}}})
	mustCommit(t, s, verso.Op{Kind: verso.OpMove, From: "/a", Path: "/b"})
	before := map[verso.Revision][]*verso.Entry{}
	for r := verso.Revision(0); r <= 3; r++ {
		before[r] = walkAll(t, s, "/", r, verso.Infinite)
	}
	headBefore := walkAll(t, s, "/", verso.Head, verso.Infinite)
	logBefore, _ := s.Log(ctx, verso.LogQuery{})
	if err := s.Close(); err != nil {
		t.Fatalf("Close() error: %v", err)
	}

	s, err = Open(path, nil)
	if err != nil {
		t.Fatalf("Open again: %v", err)
	}
	defer s.Close()
	if h, _ := s.Head(ctx); h != 3 {
		t.Errorf("Head() after reopen = %d, want 3", h)
	}
	for r := verso.Revision(0); r <= 3; r++ {
		if diff := cmp.Diff(before[r], walkAll(t, s, "/", r, verso.Infinite)); diff != "" {
			t.Errorf("Walk at %d after reopen (-before +after):\n%s", r, diff)
		}
	}
	if diff := cmp.Diff(headBefore, walkAll(t, s, "/", verso.Head, verso.Infinite)); diff != "" {
		t.Errorf("Walk at Head after reopen (-before +after):\n%s", diff)
	}
	for _, e := range headBefore {
		if diff := cmp.Diff(e, mustGet(t, s, string(e.Path), verso.Head)); diff != "" {
			t.Errorf("Get(%q, Head) after reopen (-before +after):\n%s", e.Path, diff)
		}
	}
	logAfter, _ := s.Log(ctx, verso.LogQuery{})
	if diff := cmp.Diff(logBefore, logAfter); diff != "" {
		t.Errorf("Log after reopen (-before +after):\n%s", diff)
	}
	if err := s.Check(); err != nil {
		t.Errorf("Check() after reopen: %v", err)
	}
}

// TestStore_HeadCache makes many commits of every kind and checks that the
// head cache agrees with the file after each batch of them.
func TestStore_HeadCache(t *testing.T) {
	s := mustOpen(t, nil)
	mustCommit(t, s, mkcol("/n0"), mkcol("/n1"), mkcol("/n2"))
	for i := range 300 {
		ns := fmt.Sprintf("/n%d", i%3)
		k := fmt.Sprintf("%s/k%d", ns, i%7)
		var ops []verso.Op
		switch i % 6 {
		case 0, 1, 2:
			ops = []verso.Op{put(k, fmt.Sprint(i))}
		case 3:
			ops = []verso.Op{{Kind: verso.OpCopy, From: verso.Path(ns), Path: verso.Path(fmt.Sprintf("/c%d", i%5)), Overwrite: true}}
		case 4:
			ops = []verso.Op{{Kind: verso.OpProps, Path: verso.Path(ns), Props: []verso.PropChange{{Name: "i", Value: fmt.Sprint(i)}}}}
		case 5:
			ops = []verso.Op{{Kind: verso.OpMove, From: verso.Path(fmt.Sprintf("/c%d", (i+2)%5)), Path: verso.Path(fmt.Sprintf("/m%d", i%4)), Overwrite: true}}
		}
		if _, err := s.Commit(context.Background(), &verso.Txn{Ops: ops}); err != nil && !errors.Is(err, verso.ErrNotFound) {
			t.Fatalf("commit %d: %v", i, err)
		}
		if i%50 == 49 {
			if err := s.Check(); err != nil {
				t.Fatalf("Check() after %d commits: %v", i+1, err)
			}
		}
	}
	head, _ := s.Head(context.Background())
	for _, e := range walkAll(t, s, "/", head, verso.Infinite) {
		if diff := cmp.Diff(e, mustGet(t, s, string(e.Path), verso.Head)); diff != "" {
			t.Errorf("Get(%q, Head) disagrees with the history at head (-history +cache):\n%s", e.Path, diff)
		}
	}
}

func TestStore_Wait(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, nil)
	got := make(chan verso.Revision)
	go func() {
		r, err := s.Wait(ctx, 2)
		if err != nil {
			t.Errorf("Wait(2) error: %v", err)
		}
		got <- r
	}()
	mustCommit(t, s, put("/a", "1"))
	mustCommit(t, s, put("/a", "2"))
	if r := <-got; r < 2 {
		t.Errorf("Wait(2) = %d, want >= 2", r)
	}
	if r, err := s.Wait(ctx, 1); r != 2 || err != nil {
		t.Errorf("Wait(1) = %d, %v, want 2, nil", r, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := s.Wait(cctx, 3); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait(3) with a deadline error = %v, want DeadlineExceeded", err)
	}
}

func TestStore_Close(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, nil)
	mustCommit(t, s, put("/a", "1"))

	// Commits in flight when Close is called finish.
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Go(func() {
			_, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{put(fmt.Sprintf("/k%d", i), "1")}})
			errs <- err
		})
	}
	waiting := make(chan error, 1)
	go func() { _, err := s.Wait(ctx, 1000); waiting <- err }()
	time.Sleep(time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatalf("Close() error: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !errors.Is(err, verso.ErrClosed) {
			t.Errorf("Commit during Close error = %v, want nil or ErrClosed", err)
		}
	}
	if err := <-waiting; !errors.Is(err, verso.ErrClosed) {
		t.Errorf("Wait during Close error = %v, want ErrClosed", err)
	}

	checks := map[string]error{}
	_, checks["Head"] = s.Head(ctx)
	_, checks["Get"] = s.Get(ctx, "/a", verso.Head)
	_, checks["Get at 1"] = s.Get(ctx, "/a", 1)
	checks["Walk"] = s.Walk(ctx, "/", verso.Head, 1, func(*verso.Entry) error { return nil })
	_, checks["Commit"] = s.Commit(ctx, &verso.Txn{Ops: []verso.Op{put("/b", "1")}})
	_, checks["Revision"] = s.Revision(ctx, 1)
	_, checks["Log"] = s.Log(ctx, verso.LogQuery{})
	_, checks["Wait"] = s.Wait(ctx, 1)
	checks["Check"] = s.Check()
	checks["Close"] = s.Close()
	for name, err := range checks {
		if !errors.Is(err, verso.ErrClosed) {
			t.Errorf("%s after Close error = %v, want ErrClosed", name, err)
		}
	}
}

func TestOpen_InUse(t *testing.T) {
	s := mustOpen(t, nil)
	_, err := Open(s.Path(), &Options{Timeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Open error = %v, want the data file is in use", err)
	}
}

func TestOpen_CreatesDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open(%q) error: %v", path, err)
	}
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("data file: %v", err)
	}
}
