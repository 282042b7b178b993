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
)

// TestLocks_GrantedBetweenCheckAndCommit grants a lock after a write has
// checked the locks and before it commits, on one server (locks in its
// memory): the write finds the lock at its commit and is refused, for
// every kind of write that checks locks.
func TestLocks_GrantedBetweenCheckAndCommit(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(st, nil)
	hs := httptest.NewServer(s)
	defer hs.Close()
	defer s.Close()
	if _, err := st.Commit(context.Background(), &verso.Txn{Ops: []verso.Op{
		{Kind: verso.OpMkcol, Path: "/team"},
		{Kind: verso.OpPut, Path: "/team/k", Value: []byte("v1\n")},
	}}); err != nil {
		t.Fatal(err)
	}
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
