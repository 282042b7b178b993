package server_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/auth"
	"github.com/verso-config/verso/server"
)

// newHiddenChildServer is newAccessServer with one more rule: /pub/hidden
// is alice's alone, so /pub (readable by all) has a child that only alice
// may read, as the root has /secret.
func newHiddenChildServer(t *testing.T) *testServer {
	t.Helper()
	users, rules := accessFiles(t)
	b, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	rules = filepath.Join(t.TempDir(), "authz")
	if err := os.WriteFile(rules, append(b, "\n[/pub/hidden]\n* =\n@admins = rw\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := newAccessServer(t, &auth.Options{Users: users, Rules: rules})
	_, err = ts.store.Commit(context.Background(), &verso.Txn{Author: "seed", Ops: []verso.Op{
		{Kind: verso.OpMkcol, Path: "/pub/hidden"},
		{Kind: verso.OpPut, Path: "/pub/hidden/k", Value: []byte("h1\n")},
	}}) // r4
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestAccess_LongPollHides proves a long-poll wakes only for changes the
// user may read, and that neither it nor a plain GET (listing or export)
// reports a revision moved by a change the user may not read: a change to
// /secret or /pub/hidden alone must not tell anonymous or bob that it
// happened.
func TestAccess_LongPollHides(t *testing.T) {
	ts := newHiddenChildServer(t)
	commit := func(p string) verso.Revision {
		t.Helper()
		c, err := ts.store.Commit(context.Background(), &verso.Txn{Author: "alice", Ops: []verso.Op{
			{Kind: verso.OpPut, Path: verso.MustPath(p), Value: []byte(p + time.Now().String())},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return c.Rev
	}
	type answer struct {
		code int
		rev  string
	}
	poll := func(user, path string) chan answer {
		c := make(chan answer, 1)
		go func() {
			code, _, h := ts.as(t, user, "GET", path, "")
			c <- answer{code, h.Get(server.HeaderRevision)}
		}()
		return c
	}
	// What each reader sees as the revision of a namespace: the long-poll's
	// index, the listing's ETag and revision, an export's ETag.
	seen := func(user, ns string) []string {
		t.Helper()
		_, body, h := ts.as(t, user, "GET", "/config"+ns, "", "Accept", "application/json")
		var l struct {
			Revision verso.Revision `json:"revision"`
			Entries  []struct {
				Name     string         `json:"name"`
				Revision verso.Revision `json:"revision"`
			} `json:"entries"`
		}
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatalf("listing of %s: %v in %q", ns, err, body)
		}
		if v := h.Get("Vary"); !strings.Contains(v, "Authorization") {
			t.Errorf("listing of %s has Vary: %q, want Authorization in it: each user sees their own", ns, v)
		}
		out := []string{h.Get(server.HeaderRevision), h.Get("ETag"), strconv.Itoa(int(l.Revision))}
		for _, e := range l.Entries {
			out = append(out, e.Name+"@"+strconv.Itoa(int(e.Revision)))
		}
		_, _, h = ts.as(t, user, "GET", "/config"+ns+"?format=json", "")
		return append(out, h.Get("ETag"), h.Get(server.HeaderRevision))
	}

	// r4 made /pub/hidden: anonymous sees /pub as of r3, alice as of r4.
	for user, want := range map[string]string{"": "pub@3", "alice": "pub@4"} {
		if got := seen(user, "/"); !slices.Contains(got, want) {
			t.Errorf("%q reads / as %q, want %s in it", user, got, want)
		}
	}

	for _, user := range []string{"", "bob"} {
		for _, c := range []struct{ ns, hidden, visible string }{
			{"/", "/secret/k", "/team/k"},
			{"/pub/", "/pub/hidden/k", "/pub/k"},
		} {
			name := "anonymous"
			if user != "" {
				name = user
			}
			_, _, h := ts.as(t, user, "GET", "/config"+c.ns, "")
			index := h.Get(server.HeaderRevision)
			before := seen(user, c.ns)

			// Only the unreadable path changes: the poll runs to its wait
			// and reports the index it was given.
			start := time.Now()
			quiet := poll(user, "/config"+c.ns+"?index="+index+"&wait=1s")
			time.Sleep(100 * time.Millisecond)
			commit(c.hidden)
			a := <-quiet
			if a.code != 200 || a.rev != index || time.Since(start) < time.Second {
				t.Errorf("%s: long-poll of %s after a change to %s only = %d revision %s after %v, want 200 revision %s after its 1s wait",
					name, c.ns, c.hidden, a.code, a.rev, time.Since(start), index)
			}
			if after := seen(user, c.ns); !equalStrings(before, after) {
				t.Errorf("%s: %s after a change to %s only reads as %q, was %q: it tells of the change", name, c.ns, c.hidden, after, before)
			}

			// A readable path changes: the poll wakes with its revision.
			woke := poll(user, "/config"+c.ns+"?index="+index+"&wait=1m")
			time.Sleep(100 * time.Millisecond)
			rev := commit(c.visible)
			select {
			case a := <-woke:
				if a.code != 200 || a.rev != strconv.Itoa(int(rev)) {
					t.Errorf("%s: long-poll of %s after a change to %s = %d revision %s, want 200 revision %d", name, c.ns, c.visible, a.code, a.rev, rev)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s: long-poll of %s still waiting 30s after a change to %s", name, c.ns, c.visible)
			}
		}
	}

	// alice may read everything: every change wakes her long-poll.
	_, _, h := ts.as(t, "alice", "GET", "/config/", "")
	woke := poll("alice", "/config/?index="+h.Get(server.HeaderRevision)+"&wait=1m")
	time.Sleep(100 * time.Millisecond)
	rev := commit("/secret/k")
	if a := <-woke; a.code != 200 || a.rev != strconv.Itoa(int(rev)) {
		t.Errorf("alice's long-poll of / after a change to /secret/k = %d revision %s, want 200 revision %d", a.code, a.rev, rev)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestAccess_TreeRevisionNeedsTreeRead proves a tree_revision condition,
// which compares the whole tree below a path, is refused to a user who may
// not read all of it: otherwise its 412 would tell that something the user
// may not read changed.
func TestAccess_TreeRevisionNeedsTreeRead(t *testing.T) {
	ts := newAccessServer(t, nil)
	check := func(p string, rev verso.Revision) string {
		return `{"ops": [{"op": "check", "path": "` + p + `", "if": {"tree_revision": ` + strconv.Itoa(int(rev)) + `}}]}`
	}
	// r2 changed /secret/k: bob sees / as of r3, the tree is at r3 too.
	for _, c := range []struct {
		user, body string
		want       int
	}{
		{"bob", check("/", 1), 403},
		{"bob", check("/", 3), 403},
		{"bob", check("/team", 1), 200},
		{"bob", check("/pub", 3), 200},
		{"bob", check("/pub", 1), 412},
		{"alice", check("/", 1), 412},
	} {
		got, body, _ := ts.as(t, c.user, "POST", "/api/v1/txn", c.body, "Content-Type", "application/json")
		if got != c.want {
			t.Errorf("%s: %s = %d %q, want %d", c.user, c.body, got, body, c.want)
		}
	}
	if got, body, _ := ts.as(t, "alice", "POST", "/api/v1/txn", check("/", ts.head(t)), "Content-Type", "application/json"); got != 200 {
		t.Errorf("alice: a check of / at the head = %d %q, want 200", got, body)
	}
}

// BenchmarkListingHidden measures an anonymous GET of the root's listing
// when /secret is hidden from anonymous readers and the newest `hidden`
// commits changed only /secret: the listing's revision is then read from
// the log, back past those commits.
func BenchmarkListingHidden(b *testing.B) {
	rules := filepath.Join(b.TempDir(), "authz")
	if err := os.WriteFile(rules, []byte("[/]\n* = r\n[/secret]\n* =\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	for _, hidden := range []int{0, 1, 1000} {
		b.Run("hidden="+strconv.Itoa(hidden), func(b *testing.B) {
			a, err := auth.New(&auth.Options{Rules: rules})
			if err != nil {
				b.Fatal(err)
			}
			st := openTestStore(b)
			defer st.Close()
			ctx := context.Background()
			ops := []verso.Op{{Kind: verso.OpMkcol, Path: "/pub"}, {Kind: verso.OpMkcol, Path: "/secret"}}
			for i := range 20 {
				ops = append(ops, verso.Op{Kind: verso.OpPut, Path: verso.MustPath("/pub/k" + strconv.Itoa(i)), Value: []byte("v")})
			}
			if _, err := st.Commit(ctx, &verso.Txn{Ops: ops}); err != nil {
				b.Fatal(err)
			}
			for i := range hidden {
				if _, err := st.Commit(ctx, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/secret/k", Value: []byte(strconv.Itoa(i))}}}); err != nil {
					b.Fatal(err)
				}
			}
			srv := server.New(st, &server.Options{Auth: a})
			req := httptest.NewRequest("GET", "/config/", nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, req)
				if w.Code != 200 || w.Header().Get(server.HeaderRevision) != "1" {
					b.Fatalf("GET /config/ = %d revision %s, want 200 revision 1", w.Code, w.Header().Get(server.HeaderRevision))
				}
			}
		})
	}
}

// TestAccess_VisibleRevisionAfterReload proves a namespace's revision as a
// user sees it follows the rules in force: once a reload hides /pub, the
// root's revision no longer names the commit that changed only /pub.
func TestAccess_VisibleRevisionAfterReload(t *testing.T) {
	users, rules := accessFiles(t)
	a, err := auth.New(&auth.Options{Users: users, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, &server.Options{Auth: a})
	put := func(p string) verso.Op { return verso.Op{Kind: verso.OpPut, Path: verso.MustPath(p), Value: []byte(p)} }
	for _, txn := range []*verso.Txn{
		{Ops: []verso.Op{{Kind: verso.OpMkcol, Path: "/pub"}, {Kind: verso.OpMkcol, Path: "/secret"}, {Kind: verso.OpMkcol, Path: "/team"}, put("/pub/k"), put("/secret/k")}},
		{Ops: []verso.Op{put("/pub/k2")}},
		{Ops: []verso.Op{put("/secret/k2")}},
	} {
		if _, err := ts.store.Commit(context.Background(), txn); err != nil {
			t.Fatal(err)
		}
	}
	rev := func() string {
		t.Helper()
		_, _, h := ts.as(t, "", "GET", "/config/", "")
		return h.Get(server.HeaderRevision)
	}
	if got := rev(); got != "2" {
		t.Fatalf("anonymous root revision = %s, want 2 (r3 changed only /secret)", got)
	}
	if err := os.WriteFile(rules, []byte(accessRules+"\n[/pub]\n* =\n@admins = rw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := rev(); got != "1" {
		t.Errorf("anonymous root revision once /pub is hidden = %s, want 1", got)
	}
}
