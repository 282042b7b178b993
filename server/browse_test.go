package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/auth"
	"github.com/verso-config/verso/server"
)

type browsePage struct {
	Path     verso.Path
	Revision verso.Revision
	Head     verso.Revision
	Total    int
	Next     string
	Entries  []struct {
		Name     string
		Kind     string
		Size     int
		Revision verso.Revision
		Author   string
		Time     string
	}
}

func (p browsePage) names() string {
	var n []string
	for _, e := range p.Entries {
		n = append(n, e.Name)
	}
	return strings.Join(n, ",")
}

func TestAPI_List(t *testing.T) {
	ts := newAccessServer(t, nil) // r1 seed, r2 /secret/k, r3 /pub/k
	for i := range 5 {
		if code, body, _ := ts.as(t, "alice", "PUT", fmt.Sprintf("/config/pub/n%d", i), "x"); code != 201 {
			t.Fatalf("PUT n%d = %d %s", i, code, body)
		}
	}
	var page browsePage
	get := func(user, path string, want int) string {
		t.Helper()
		code, body, _ := ts.as(t, user, "GET", path, "")
		if code != want {
			t.Fatalf("GET %s as %q = %d %s, want %d", path, user, code, body, want)
		}
		page = browsePage{}
		if want == 200 {
			if err := json.Unmarshal([]byte(body), &page); err != nil {
				t.Fatalf("GET %s: %v in %s", path, err, body)
			}
		}
		return body
	}
	get("", "/api/v1/list?path=/", 200)
	if page.names() != "pub,team" || page.Total != 2 || page.Next != "" {
		t.Errorf("anonymous list of / = %s (total %d), want pub,team: /secret is unreadable", page.names(), page.Total)
	}
	if e := page.Entries[0]; e.Kind != "namespace" || e.Revision != 8 || e.Author != "alice" || e.Time == "" {
		t.Errorf("/pub entry = %+v, want a namespace last changed by alice in r8", e)
	}
	get("alice", "/api/v1/list?path=/", 200)
	if page.names() != "pub,secret,team" {
		t.Errorf("alice's list of / = %s, want pub,secret,team", page.names())
	}
	get("", "/api/v1/list?path=/pub&limit=2", 200)
	if page.names() != "k,n0" || page.Total != 6 || page.Next != "n0" {
		t.Errorf("first page of /pub = %s total %d next %q, want k,n0 of 6, next n0", page.names(), page.Total, page.Next)
	}
	if e := page.Entries[0]; e.Kind != "key" || e.Size != 3 || e.Revision != 3 || e.Author != "seed" {
		t.Errorf("/pub/k entry = %+v, want a key of 3 bytes by seed in r3", e)
	}
	get("", "/api/v1/list?path=/pub&limit=2&after=n2", 200)
	if page.names() != "n3,n4" || page.Next != "" {
		t.Errorf("last page of /pub = %s next %q, want n3,n4 and no next", page.names(), page.Next)
	}
	get("", "/api/v1/list?path=/pub&match=N3", 200)
	if page.names() != "n3" || page.Total != 1 {
		t.Errorf("/pub matching N3 = %s total %d, want n3", page.names(), page.Total)
	}
	get("", "/api/v1/list?path=/pub&rev=3", 200)
	if page.names() != "k" || page.Head != 3 {
		t.Errorf("/pub at r3 = %s head %d, want k at 3", page.names(), page.Head)
	}
	if body := get("", "/api/v1/list?path=/secret", 401); strings.Contains(body, "/secret/k") {
		t.Errorf("refusal names a child: %s", body)
	}
	get("bob", "/api/v1/list?path=/secret", 403)
	get("", "/api/v1/list?path=/pub/k", 409)
	get("", "/api/v1/list?path=/nope", 404)
	get("", "/api/v1/list?path=/pub&limit=0", 400)
	get("", "/api/v1/list?path=/pub&rev=x", 400)
	get("", "/api/v1/list?path=/a/../b", 400)
}

// A namespace's author is that of the last change below it the user may
// see: a commit that changed only what the user may not read says nothing.
func TestAPI_ListHidesUnseenAuthors(t *testing.T) {
	users, _ := accessFiles(t)
	rules := filepath.Join(t.TempDir(), "authz")
	if err := os.WriteFile(rules, []byte("[/]\n* = r\nalice = rw\n\n[/pub/hidden]\n* =\nalice = rw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := newAccessServer(t, &auth.Options{Users: users, Rules: rules}) // r1 to r3 by seed
	if _, err := ts.store.Commit(t.Context(), &verso.Txn{Author: "alice", Message: "hide", Ops: []verso.Op{
		{Kind: verso.OpMkcol, Path: "/pub/hidden"}, {Kind: verso.OpPut, Path: "/pub/hidden/x", Value: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	for user, want := range map[string]string{"": "seed", "bob": "seed", "alice": "alice"} {
		code, body, _ := ts.as(t, user, "GET", "/api/v1/list?path=/", "")
		var page browsePage
		if err := json.Unmarshal([]byte(body), &page); code != 200 || err != nil {
			t.Fatalf("list as %q = %d %s", user, code, body)
		}
		for _, e := range page.Entries {
			if e.Name == "pub" && e.Author != want {
				t.Errorf("/pub listed to %q with author %q, want %q", user, e.Author, want)
			}
		}
	}
}

func TestAPI_Access(t *testing.T) {
	ts := newAccessServer(t, nil)
	type rights struct {
		User        string
		Users       bool
		Read, Write bool
		WriteTree   bool `json:"write_tree"`
	}
	for _, tc := range []struct {
		user, path string
		want       rights
	}{
		{"", "/pub", rights{"", true, true, false, false}},
		{"", "/secret", rights{"", true, false, false, false}},
		{"alice", "/secret", rights{"alice", true, true, true, true}},
		{"bob", "/team", rights{"bob", true, true, true, false}}, // not /team/locked
		{"bob", "/team/locked", rights{"bob", true, true, false, false}},
		{"carol", "/team", rights{"carol", true, true, false, false}},
	} {
		code, body, _ := ts.as(t, tc.user, "GET", "/api/v1/access?path="+tc.path, "")
		var got rights
		if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil || got != tc.want {
			t.Errorf("access of %q to %s = %d %s, want %+v", tc.user, tc.path, code, body, tc.want)
		}
	}
	// login=1: a challenge for anonymous, the console for a user.
	code, _, h := ts.as(t, "", "GET", "/api/v1/access?login=1", "")
	if code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("anonymous login = %d (%q), want 401 with a Basic challenge", code, h.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/access?login=1", nil)
	req.SetBasicAuth("bob", passwords["bob"])
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("bob's login = %d to %q, want 303 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	ts.must(t, 400, "GET", "/api/v1/access?path=/a/../b", "")
}

func TestServer_ConsoleHook(t *testing.T) {
	ts := newTestServer(t, &server.Options{Console: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "console %s", r.URL.Path)
	})})
	for _, p := range []string{"/ui", "/ui/", "/ui/app.js"} {
		if body, _ := ts.must(t, 200, "GET", p, ""); body != "console "+p {
			t.Errorf("GET %s = %q, want the console's answer", p, body)
		}
	}
	ts.must(t, 404, "GET", "/uix", "")
	plain := newTestServer(t, nil)
	plain.must(t, 404, "GET", "/ui/", "")
}

// BenchmarkAPI_List10000 is one page of a namespace of 10,000 keys, the
// console's listing of a large namespace.
func BenchmarkAPI_List10000(b *testing.B) {
	st := openTestStore(b)
	defer st.Close()
	ops := []verso.Op{{Kind: verso.OpMkcol, Path: "/fleet"}}
	for i := range 10000 {
		ops = append(ops, verso.Op{Kind: verso.OpPut, Path: verso.MustPath(fmt.Sprintf("/fleet/host-%05d", i)), Value: []byte("10.0.0.1\n")})
	}
	if _, err := st.Commit(b.Context(), &verso.Txn{Author: "bob", Ops: ops}); err != nil {
		b.Fatal(err)
	}
	h := server.New(st, nil)
	for _, q := range []string{"limit=200", "limit=200&after=host-09000", "match=0999"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/list?path=/fleet&"+q, nil))
				if rec.Code != 200 {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// A revert with "base" commits only if nothing it changes changed after
// that revision: what the client previewed is what it commits.
func TestAPI_RevertBase(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, 201, "MKCOL", "/config/ns", "")  // r1
	ts.must(t, 201, "PUT", "/config/ns/a", "1") // r2
	ts.must(t, 204, "PUT", "/config/ns/a", "2") // r3
	// Previewed at r3; then someone writes /ns/a again.
	ts.must(t, 204, "PUT", "/config/ns/a", "3") // r4
	body, _ := ts.must(t, 409, "POST", "/api/v1/revert", `{"path": "/ns", "to": 2, "base": 3}`)
	if !strings.Contains(body, "/ns/a") {
		t.Errorf("stale revert said %s, want it to name /ns/a", body)
	}
	if got, _ := ts.must(t, 200, "GET", "/config/ns/a", ""); got != "3" {
		t.Errorf("/ns/a after the refused revert = %q, want 3", got)
	}
	ts.must(t, 201, "PUT", "/config/ns/b", "b") // r5: not a path the revert changes
	ts.must(t, 200, "POST", "/api/v1/revert", `{"path": "/ns/a", "to": 2, "base": 4}`)
	if got, _ := ts.must(t, 200, "GET", "/config/ns/a", ""); got != "1" {
		t.Errorf("/ns/a after the revert = %q, want 1", got)
	}
	ts.must(t, 409, "POST", "/api/v1/revert", `{"undo": 4, "base": 5}`) // r6 changed /ns/a after 5
	ts.must(t, 404, "POST", "/api/v1/revert", `{"undo": 4, "base": 99}`)
	ts.must(t, 400, "POST", "/api/v1/revert", `{"undo": 4, "base": -1}`)
}
