package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
)

// getJSON fetches an API endpoint, checks the status and decodes the body.
func (ts *testServer) getJSON(t *testing.T, want int, path string, v any) {
	t.Helper()
	body, h := ts.must(t, want, "GET", path, "")
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s Content-Type = %q, want application/json", path, ct)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: decode %q: %v", path, body, err)
	}
}

type logPage struct {
	Path    verso.Path
	Head    verso.Revision
	Commits []verso.Commit
	Next    *verso.Revision
}

func revs(cs []verso.Commit) []verso.Revision {
	var out []verso.Revision
	for _, c := range cs {
		out = append(out, c.Rev)
	}
	return out
}

func TestAPI_Log(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, 201, "MKCOL", "/config/ns", "")                              // r1
	ts.must(t, 201, "PUT", "/config/ns/a", "1")                             // r2
	ts.must(t, 201, "PUT", "/config/top", "t")                              // r3
	ts.must(t, 204, "PUT", "/config/ns/a", "2")                             // r4
	ts.must(t, 201, "PUT", "/config/ns/b", "b")                             // r5
	ts.must(t, 201, "COPY", "/config/ns", "", "Destination", "/config/ns2") // r6

	var page logPage
	ts.getJSON(t, 200, "/api/v1/log?path=/ns", &page)
	// r6 copied /ns but changed only /ns2: not in the log of /ns.
	if diff := cmp.Diff([]verso.Revision{5, 4, 2, 1}, revs(page.Commits)); diff != "" {
		t.Errorf("log of /ns (-want +got):\n%s", diff)
	}
	if page.Head != 6 || page.Next != nil {
		t.Errorf("log of /ns: head %d, next %v; want 6 and no next page", page.Head, page.Next)
	}
	c := page.Commits[1]
	if c.Message != "PUT /ns/a" || len(c.Changes) != 1 || c.Changes[0].Action != verso.Modified || c.Time.IsZero() {
		t.Errorf("log entry r4 = %+v, want message PUT /ns/a and one modified change", c)
	}
	ts.getJSON(t, 200, "/api/v1/log?path=/ns/a&limit=1", &page)
	if diff := cmp.Diff([]verso.Revision{4}, revs(page.Commits)); diff != "" || page.Next == nil || *page.Next != 3 {
		t.Errorf("first page of /ns/a = %v next %v, want [4] and next 3", revs(page.Commits), page.Next)
	}
	ts.getJSON(t, 200, "/api/v1/log?path=/ns/a&before=3", &page)
	if diff := cmp.Diff([]verso.Revision{2}, revs(page.Commits)); diff != "" {
		t.Errorf("log of /ns/a before 3 (-want +got):\n%s", diff)
	}
	ts.getJSON(t, 200, "/api/v1/log", &page)
	if len(page.Commits) != 6 {
		t.Errorf("log of the root has %d commits, want 6", len(page.Commits))
	}
	var one verso.Commit
	ts.getJSON(t, 200, "/api/v1/revisions/6", &one)
	if len(one.Changes) != 3 || one.Changes[0].Action != verso.Copied || one.Changes[1].From != "/ns/a" {
		t.Errorf("revision 6 = %+v, want the copy of /ns with 3 copied paths", one)
	}
	for _, bad := range []struct {
		path string
		want int
	}{
		{"/api/v1/log?limit=0", 400}, {"/api/v1/log?limit=x", 400}, {"/api/v1/log?before=x", 400},
		{"/api/v1/log?before=99", 404}, {"/api/v1/log?path=/a/../b", 400},
		{"/api/v1/revisions/0", 404}, {"/api/v1/revisions/99", 404}, {"/api/v1/revisions/x", 400},
		{"/api/v1/nothing", 404},
	} {
		var e struct {
			Status int
			Error  string
		}
		ts.getJSON(t, bad.want, bad.path, &e)
		if e.Status != bad.want || e.Error == "" {
			t.Errorf("GET %s = %+v, want status %d with a message", bad.path, e, bad.want)
		}
	}
}

func TestAPI_Diff(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, 201, "MKCOL", "/config/ns", "")
	ts.must(t, 201, "PUT", "/config/ns/conf", "host=a\nport=1\n")
	ts.must(t, 201, "PUT", "/config/ns/bin", "\x00\x01")
	ts.must(t, 204, "PUT", "/config/ns/conf", "host=b\nport=1\n")
	ts.must(t, 204, "PUT", "/config/ns/bin", "\x00\x02")
	var d struct {
		From, To verso.Revision
		Changes  []struct {
			Path   verso.Path
			Status string
			Diff   string
			Binary bool
			Old    *struct{ Size int }
		}
	}
	ts.getJSON(t, 200, "/api/v1/diff?path=/ns&from=3", &d)
	if d.From != 3 || d.To != 5 || len(d.Changes) != 2 {
		t.Fatalf("diff of /ns from 3 = %+v, want 2 changes up to r5", d)
	}
	if !d.Changes[0].Binary || d.Changes[0].Old == nil || d.Changes[0].Old.Size != 2 {
		t.Errorf("binary change = %+v, want a size summary", d.Changes[0])
	}
	if !strings.Contains(d.Changes[1].Diff, "-host=a\n+host=b\n") {
		t.Errorf("text diff = %q, want -host=a +host=b", d.Changes[1].Diff)
	}
	text, _ := ts.must(t, 200, "GET", "/api/v1/diff?path=/ns/conf&from=2&to=4&format=text", "")
	if !strings.Contains(text, "--- /ns/conf@2") || !strings.Contains(text, "+host=b") {
		t.Errorf("text diff = %q, want a unified diff of /ns/conf", text)
	}
	for _, bad := range []string{"/api/v1/diff?path=/ns", "/api/v1/diff?from=x", "/api/v1/diff?from=1&to=99"} {
		if code, body, _ := ts.do(t, "GET", bad, nil); code/100 != 4 {
			t.Errorf("GET %s = %d %q, want a 4xx", bad, code, body)
		}
	}
}

func TestAPI_Revert(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, 201, "MKCOL", "/config/ns", "")  // r1
	ts.must(t, 201, "PUT", "/config/ns/a", "1") // r2
	ts.must(t, 204, "PUT", "/config/ns/a", "2") // r3
	ts.must(t, 201, "PUT", "/config/ns/b", "b") // r4

	body, _ := ts.must(t, 200, "POST", "/api/v1/revert", `{"path": "/ns", "to": 2}`)
	var res struct {
		Changed  bool
		Revision verso.Revision
		Commit   verso.Commit
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil || !res.Changed || res.Revision != 5 {
		t.Fatalf("revert /ns to 2 = %s (%v), want a new revision 5", body, err)
	}
	if res.Commit.Message != "Revert /ns to r2" || len(res.Commit.Changes) != 2 {
		t.Errorf("revert commit = %+v, want message 'Revert /ns to r2' and 2 changes", res.Commit)
	}
	if got, _ := ts.must(t, 200, "GET", "/config/ns/a", ""); got != "1" {
		t.Errorf("/ns/a after revert = %q, want 1", got)
	}
	ts.must(t, 404, "GET", "/config/ns/b", "")
	body, _ = ts.must(t, 200, "POST", "/api/v1/revert", `{"path": "/ns", "to": 2}`)
	if strings.Contains(body, `"changed": true`) {
		t.Errorf("second revert = %s, want nothing changed", body)
	}

	ts.must(t, 200, "POST", "/api/v1/revert", `{"undo": 5, "message": "put it back"}`) // r6
	if got, _ := ts.must(t, 200, "GET", "/config/ns/a", ""); got != "2" {
		t.Errorf("/ns/a after undoing the revert = %q, want 2", got)
	}
	ts.must(t, 204, "PUT", "/config/ns/a", "3") // r7
	body, _ = ts.must(t, 409, "POST", "/api/v1/revert", `{"undo": 6}`)
	if !strings.Contains(body, "/ns/a") {
		t.Errorf("conflicting undo said %s, want it to name /ns/a", body)
	}
	head := ts.head(t)
	for _, bad := range []struct {
		body string
		want int
	}{
		{`{"undo": 99}`, 404}, {`{"path": "/ns", "to": 99}`, 404}, {`{}`, 400}, {`not json`, 400},
		{`{"undo": 1, "path": "/ns", "to": 1}`, 400}, {`{"path": "/a/../b", "to": 1}`, 400},
		{`{"path": "/ns", "to": 1, "extra": true}`, 400},
	} {
		if code, msg, _ := ts.do(t, "POST", "/api/v1/revert", strings.NewReader(bad.body)); code != bad.want {
			t.Errorf("revert %s = %d %q, want %d", bad.body, code, msg, bad.want)
		}
	}
	if got := ts.head(t); got != head {
		t.Errorf("head moved from %d to %d on bad reverts", head, got)
	}
	ts.must(t, http.StatusMethodNotAllowed, "GET", "/api/v1/revert", "")
}
