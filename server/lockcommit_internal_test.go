package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/internal/dav"
	"github.com/verso-config/verso/internal/fastlane"
)

// newTeamServer returns a server on a new bolt store holding /team/k
// ("v1\n"), and an HTTP server in front of it; both close with the test.
func newTeamServer(t *testing.T) (*Server, *bolt.Store, *httptest.Server) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := New(st, nil)
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		s.Close()
		st.Close()
	})
	if _, err := st.Commit(context.Background(), &verso.Txn{Ops: []verso.Op{
		{Kind: verso.OpMkcol, Path: "/team"},
		{Kind: verso.OpPut, Path: "/team/k", Value: []byte("v1\n")},
	}}); err != nil {
		t.Fatal(err)
	}
	return s, st, hs
}

// TestLocks_GrantedBetweenCheckAndCommit grants a lock after a write has
// checked the locks and before it commits, on one server (locks in its
// memory): the write finds the lock at its commit and is refused, for
// every kind of write that checks locks.
func TestLocks_GrantedBetweenCheckAndCommit(t *testing.T) {
	s, _, hs := newTeamServer(t)
	do := func(method, path, body string, header ...string) (int, string, http.Header) {
		req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	const lockInfo = `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`

	for _, c := range []struct {
		name, method, path, body string
		header                   []string
		says                     string
	}{
		{"PUT", "PUT", "/config/team/k", "v2\n", nil, "/config/team/k is locked"},
		{"DELETE", "DELETE", "/config/team/k", "", nil, "/config/team/k is locked"},
		{"transaction", "POST", "/api/v1/txn", `{"ops":[{"op":"mkcol","path":"/other"},{"op":"put","path":"/team/k","value":"v2\n"}]}`,
			[]string{"Content-Type", "application/json"}, "operation 1 (put)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var fired atomic.Bool
			var token string
			s.locksChecked = func() {
				if fired.CompareAndSwap(false, true) {
					code, body, h := do("LOCK", "/config/team/k", lockInfo, "Timeout", "Second-60")
					if code != http.StatusOK {
						t.Errorf("LOCK = %d\n%s", code, body)
					}
					token = h.Get("Lock-Token")
				}
			}
			defer func() { s.locksChecked = nil }()
			code, body, _ := do(c.method, c.path, c.body, c.header...)
			if code != http.StatusLocked {
				t.Errorf("%s checked before the LOCK, committed after it = %d, want 423\n%s", c.name, code, body)
			}
			if !strings.Contains(body, c.says) {
				t.Errorf("%s refused at its commit says %q, want it to say %q, as the first check does", c.name, body, c.says)
			}
			if code, body, _ := do("GET", "/config/team/k", ""); code != http.StatusOK || body != "v1\n" {
				t.Errorf("GET after the refused write = %d %q, want v1", code, body)
			}
			if code, body, _ := do("UNLOCK", "/config/team/k", "", "Lock-Token", token); code != http.StatusNoContent {
				t.Errorf("UNLOCK = %d\n%s", code, body)
			}
		})
	}

	// A write that submits the token of the lock granted meanwhile commits.
	var fired atomic.Bool
	var token string
	s.locksChecked = func() {
		if fired.CompareAndSwap(false, true) {
			_, _, h := do("LOCK", "/config/team/k", lockInfo)
			token = h.Get("Lock-Token")
		}
	}
	if code, body, _ := do("PUT", "/config/team/k", "v3\n"); code != http.StatusLocked {
		t.Fatalf("PUT = %d, want 423\n%s", code, body)
	}
	s.locksChecked = nil
	if code, body, _ := do("PUT", "/config/team/k", "v3\n", "If", "("+token+")"); code != http.StatusNoContent {
		t.Errorf("PUT with the lock's token = %d, want 204\n%s", code, body)
	}
}

// TestLocks_TokensOnlyDoNotCondition: an If header that submits lock
// tokens with a list that always holds (what verso's CLI sends) does not
// make a write depend on the state it read: a write that races another
// wins as a plain one does, instead of failing its compare-and-set.
func TestLocks_TokensOnlyDoNotCondition(t *testing.T) {
	s, st, hs := newTeamServer(t)
	ctx := context.Background()
	l, err := s.locks.Create(ctx, dav.Lock{Root: "/elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ifh  string
		want int
	}{
		{"(<" + l.Token + ">) (Not <DAV:no-lock>)", http.StatusNoContent},
		{`(["1"])`, http.StatusPreconditionFailed}, // a real condition stays one
	} {
		var fired atomic.Bool
		s.locksChecked = func() {
			if fired.CompareAndSwap(false, true) {
				if _, err := st.Commit(ctx, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/team/k", Value: []byte("other\n")}}}); err != nil {
					t.Error(err)
				}
			}
		}
		req, _ := http.NewRequest("PUT", hs.URL+"/config/team/k", strings.NewReader("mine\n"))
		req.Header.Set("If", c.ifh)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("PUT with If: %s, racing another write = %d, want %d\n%s", c.ifh, resp.StatusCode, c.want, b)
		}
	}
}

// TestLane_LockGrantedBeforeCommit: a PUT on the fast lane that finds at
// its commit a lock granted since its check leaves the PUT to net/http,
// nothing done, instead of answering 423 itself: the lane checks more
// strictly than handlePut (a lock on the parent's membership stops it
// even for a key that exists).
func TestLane_LockGrantedBeforeCommit(t *testing.T) {
	s, st, _ := newTeamServer(t)
	ctx := context.Background()
	s.locksChecked = func() {
		if _, err := s.locks.Create(ctx, dav.Lock{Root: "/team"}); err != nil {
			t.Error(err)
		}
	}
	res, ok := laneServer{s}.Put(fastlane.PutRequest{Path: "/team/k", Value: []byte("v2\n")})
	if ok {
		t.Fatalf("the lane's PUT with a lock granted before its commit = %+v, answered; want it left to net/http", res)
	}
	if e, err := st.Get(ctx, "/team/k", verso.Head); err != nil || string(e.Value) != "v1\n" {
		t.Errorf("after the lane left the PUT, /team/k = %v, %v; want v1", e, err)
	}
}
