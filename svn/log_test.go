package svn

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
)

// countingStore counts the Gets made through it and the entries its
// Walks visit; when old is set, it answers commit records without their
// Mods, as revisions committed before verso recorded them are; when noLog
// is set, its Log fails, as for history it can no longer answer.
type countingStore struct {
	verso.Store
	gets, walked atomic.Int64
	old, noLog   bool
}

func (s *countingStore) Walk(ctx context.Context, p verso.Path, rev verso.Revision, depth int, fn func(*verso.Entry) error) error {
	return s.Store.Walk(ctx, p, rev, depth, func(e *verso.Entry) error {
		s.walked.Add(1)
		return fn(e)
	})
}

func (s *countingStore) Get(ctx context.Context, p verso.Path, rev verso.Revision) (*verso.Entry, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, p, rev)
}

func (s *countingStore) strip(c *verso.Commit) *verso.Commit {
	if !s.old || c == nil {
		return c
	}
	out := *c
	out.Changes = make([]verso.Change, len(c.Changes))
	for i, ch := range c.Changes {
		ch.Mods = 0
		out.Changes[i] = ch
	}
	return &out
}

func (s *countingStore) Revision(ctx context.Context, rev verso.Revision) (*verso.Commit, error) {
	c, err := s.Store.Revision(ctx, rev)
	return s.strip(c), err
}

func (s *countingStore) Log(ctx context.Context, q verso.LogQuery) ([]*verso.Commit, error) {
	if s.noLog {
		return nil, verso.ErrGone
	}
	cs, err := s.Store.Log(ctx, q)
	for i := range cs {
		cs[i] = s.strip(cs[i])
	}
	return cs, err
}

// logHistory commits a history with every kind of change svn log -v
// tells apart, and returns the store.
func logHistory(t *testing.T) verso.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svnProp := "{" + nsSVNProp + "}eol-style"
	steps := [][]verso.Op{
		{{Kind: verso.OpMkcol, Path: "/a"}, {Kind: verso.OpPut, Path: "/a/k", Value: []byte("1")},
			{Kind: verso.OpPut, Path: "/a/empty", Value: []byte{}}},
		{{Kind: verso.OpPut, Path: "/a/k", Value: []byte("2")}},
		{{Kind: verso.OpProps, Path: "/a/k", Props: []verso.PropChange{{Name: svnProp, Value: "native"}}}},
		{{Kind: verso.OpProps, Path: "/a/k", Props: []verso.PropChange{{Name: "{DAV:}x", Value: "dav only"}}}},
		{{Kind: verso.OpPut, Path: "/a/k", Value: []byte("2")}}, // the same value again
		{{Kind: verso.OpPut, Path: "/a/k", Value: []byte("3"), ContentType: "application/json"}},
		{{Kind: verso.OpCopy, From: "/a", Path: "/b", Depth: verso.Infinite}},
		{{Kind: verso.OpCopy, From: "/a", Path: "/c", Depth: verso.Infinite}, {Kind: verso.OpPut, Path: "/c/k", Value: []byte("changed")},
			{Kind: verso.OpProps, Path: "/c/empty", Props: []verso.PropChange{{Name: svnProp, Value: "LF"}}}},
		{{Kind: verso.OpMove, From: "/b", Path: "/d"}},
		{{Kind: verso.OpPut, Path: "/d/new", Value: []byte("n")}, {Kind: verso.OpProps, Path: "/d/new", Props: []verso.PropChange{{Name: svnProp, Value: "CRLF"}}}},
		{{Kind: verso.OpDelete, Path: "/c"}, {Kind: verso.OpProps, Path: "/d", Props: []verso.PropChange{{Name: svnProp, Value: "x"}}}},
	}
	for _, ops := range steps {
		if _, err := st.Commit(t.Context(), &verso.Txn{Ops: ops}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// logReport returns h's answer to svn log -v of the whole history.
func logReport(t *testing.T, h *Handler) string {
	t.Helper()
	r := httptest.NewRequest("REPORT", "/config/!svn/me", strings.NewReader(`<S:log-report xmlns:S="svn:">`+
		`<S:start-revision>0</S:start-revision><S:end-revision>-1</S:end-revision><S:discover-changed-paths/><S:path></S:path></S:log-report>`))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r, "/!svn/me")
	if w.Code != http.StatusOK {
		t.Fatalf("log-report = %d %s", w.Code, w.Body)
	}
	return w.Body.String()
}

// TestLogChangedPathsRecorded checks that svn log -v tells text from
// property changes from the commit records alone, with no read of the
// paths' states but for changes of properties, and that records without
// Mods (older stores) answer the same, by comparing states.
func TestLogChangedPathsRecorded(t *testing.T) {
	st := logHistory(t)
	now := &countingStore{Store: st}
	got := logReport(t, New(now, Options{Mount: "/config"}))
	old := &countingStore{Store: st, old: true}
	want := logReport(t, New(old, Options{Mount: "/config"}))
	if got != want {
		t.Errorf("log -v from recorded Mods differs from the states' comparison:\n%s\nwant:\n%s", got, want)
	}
	for _, w := range []string{
		`<S:added-path node-kind="file" text-mods="true" prop-mods="false">/a/empty</S:added-path>`,
		`<S:modified-path node-kind="file" text-mods="true" prop-mods="false">/a/k</S:modified-path>`,
		`<S:modified-path node-kind="file" text-mods="false" prop-mods="true">/a/k</S:modified-path>`,
		`<S:modified-path node-kind="file" text-mods="false" prop-mods="false">/a/k</S:modified-path>`,
		`<S:added-path node-kind="dir" text-mods="false" prop-mods="false" copyfrom-path="/a" copyfrom-rev="6">/b</S:added-path>`,
		`<S:modified-path node-kind="file" text-mods="true" prop-mods="false">/c/k</S:modified-path>`,
		`<S:modified-path node-kind="file" text-mods="false" prop-mods="true">/c/empty</S:modified-path>`,
		`<S:added-path node-kind="file" text-mods="true" prop-mods="true">/d/new</S:added-path>`,
		`<S:modified-path node-kind="dir" text-mods="false" prop-mods="true">/d</S:modified-path>`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("log -v lacks %s:\n%s", w, got)
		}
	}
	// Reads: only for the five changes of properties (each: the state
	// and, but for the addition, the one before), and none for the
	// rest; the old records read two states for most changes.
	if n := now.gets.Load(); n > 9 {
		t.Errorf("log -v read %d states with Mods recorded, want at most 9 (property changes only)", n)
	}
	if n := old.gets.Load(); n < 20 {
		t.Errorf("log -v read %d states without Mods, want them compared state by state", n)
	}
}
