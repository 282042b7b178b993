package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
	"github.com/verso-config/verso/server"
)

// testServer is a real verso server on a real store (a bolt file, or etcd:
// see store_test.go), over real HTTP.
type testServer struct {
	*httptest.Server
	store verso.Store
}

func newTestServer(t *testing.T, opts *server.Options) *testServer {
	t.Helper()
	st := openTestStore(t) // bolt, or etcd with VERSO_TEST_STORE=etcd (store_test.go)
	hs := httptest.NewServer(server.New(st, opts))
	t.Cleanup(func() {
		hs.Close()
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &testServer{Server: hs, store: st}
}

// do sends an anonymous request and returns the status and body.
func (ts *testServer) do(t *testing.T, method, path string, body io.Reader, header ...string) (int, string, http.Header) {
	t.Helper()
	return ts.send(t, "", method, path, body, header...)
}

// send sends a request as user ("" for anonymous, otherwise with the
// user's password from passwords) and returns the status and body.
func (ts *testServer) send(t *testing.T, user, method, path string, body io.Reader, header ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, body)
	if err != nil {
		t.Fatalf("NewRequest(%s %s): %v", method, path, err)
	}
	if user != "" {
		req.SetBasicAuth(user, passwords[user])
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// must sends a request and fails the test unless it gets status want.
func (ts *testServer) must(t *testing.T, want int, method, path string, body string, header ...string) (string, http.Header) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	got, b, h := ts.do(t, method, path, r, header...)
	if got != want {
		t.Fatalf("%s %s = %d %q, want %d", method, path, got, b, want)
	}
	return b, h
}

func (ts *testServer) head(t *testing.T) verso.Revision {
	t.Helper()
	rev, err := ts.store.Head(context.Background())
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	return rev
}

// chunked is a body of unknown length, so the client sends it chunked, the
// way `echo value | curl -T- URL` does.
type chunked struct{ io.Reader }

func TestServer_AncestorContract(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, http.StatusCreated, "MKCOL", "/config/namespace", "")
	code, body, _ := ts.do(t, "PUT", "/config/namespace/key", chunked{strings.NewReader("value\n")})
	if code != http.StatusCreated {
		t.Fatalf("chunked PUT = %d %q, want 201", code, body)
	}
	got, h := ts.must(t, http.StatusOK, "GET", "/config/namespace/key", "")
	if got != "value\n" {
		t.Errorf("GET = %q, want %q", got, "value\n")
	}
	if h.Get("ETag") == "" || h.Get("Last-Modified") == "" || h.Get(server.HeaderRevision) != "2" {
		t.Errorf("GET headers ETag=%q Last-Modified=%q %s=%q, want both set and revision 2",
			h.Get("ETag"), h.Get("Last-Modified"), server.HeaderRevision, h.Get(server.HeaderRevision))
	}
	code, body, _ = ts.do(t, "PUT", "/config/namespace/key", chunked{strings.NewReader("other\n")})
	if code != http.StatusNoContent {
		t.Fatalf("second PUT = %d %q, want 204", code, body)
	}
	body, _ = ts.must(t, http.StatusConflict, "PUT", "/config/missing/key", "v")
	if !strings.Contains(body, "create it first") || strings.Count(strings.TrimSpace(body), "\n") != 0 {
		t.Errorf("PUT into a missing namespace said %q, want one line telling to create the namespace first", body)
	}
	ts.must(t, http.StatusMethodNotAllowed, "MKCOL", "/config/namespace", "")
	ts.must(t, http.StatusNotFound, "GET", "/config/namespace/nokey", "")
	if rev := ts.head(t); rev != 3 {
		t.Errorf("head = %d after 3 successful writes, want 3", rev)
	}
}

func TestServer_BadInput(t *testing.T) {
	ts := newTestServer(t, &server.Options{MaxValueSize: 16})
	ts.must(t, http.StatusCreated, "MKCOL", "/config/ns", "")
	ts.must(t, http.StatusCreated, "PUT", "/config/ns/key", "v")
	before := ts.head(t)
	long := strings.Repeat("x", verso.MaxNameLen+1)
	deep := strings.Repeat("/d", verso.MaxDepth+1)
	tests := []struct {
		name, method, path, body string
		header                   []string
		want                     int
	}{
		{"dot-dot", "PUT", "/config/ns/../ns/key", "v", nil, 400},
		{"dot", "PUT", "/config/ns/./key", "v", nil, 400},
		{"empty segment", "PUT", "/config/ns//key", "v", nil, 400},
		{"encoded dot-dot", "PUT", "/config/ns/%2e%2e/key", "v", nil, 400},
		{"encoded slash", "PUT", "/config/ns%2fkey", "v", nil, 400},
		{"encoded slash, get", "GET", "/config/ns%2Fkey", "", nil, 400},
		{"NUL", "PUT", "/config/ns/a%00b", "v", nil, 400},
		{"control character", "PUT", "/config/ns/a%01b", "v", nil, 400},
		{"invalid UTF-8", "PUT", "/config/ns/a%ffb", "v", nil, 400},
		{"name too long", "PUT", "/config/ns/" + long, "v", nil, 400},
		{"too deep", "MKCOL", "/config" + deep, "", nil, 400},
		{"value too large", "PUT", "/config/ns/big", strings.Repeat("x", 17), nil, 413},
		{"unsupported method", "PATCH", "/config/ns/key", "v", nil, 405},
		{"PUT on a namespace", "PUT", "/config/ns", "v", nil, 405},
		{"PUT under a key", "PUT", "/config/ns/key/sub", "v", nil, 409},
		{"malformed PROPFIND", "PROPFIND", "/config/ns", "<propfind", nil, 400},
		{"malformed PROPPATCH", "PROPPATCH", "/config/ns/key", "<D:propertyupdate xmlns:D='DAV:'><D:set>", nil, 400},
		{"malformed LOCK", "LOCK", "/config/ns/key", "<D:lockinfo xmlns:D='DAV:'", nil, 400},
		{"bad Depth", "PROPFIND", "/config/ns", "", []string{"Depth", "2"}, 400},
		{"bad revision", "GET", "/config/ns/key?rev=abc", "", nil, 400},
		{"revision beyond head", "GET", "/config/ns/key?rev=999", "", nil, 404},
		{"COPY without Destination", "COPY", "/config/ns/key", "", nil, 400},
		{"COPY outside the mount", "COPY", "/config/ns/key", "", []string{"Destination", "/elsewhere/key"}, 403},
		{"COPY onto itself", "COPY", "/config/ns/key", "", []string{"Destination", "/config/ns/key"}, 403},
		{"MOVE into itself", "MOVE", "/config/ns", "", []string{"Destination", "/config/ns/sub"}, 403},
		{"DELETE the root", "DELETE", "/config/", "", nil, 403},
		{"bad Overwrite", "COPY", "/config/ns/key", "", []string{"Destination", "/config/ns/k2", "Overwrite", "X"}, 400},
		{"malformed If", "PUT", "/config/ns/key", "v", []string{"If", "(<broken"}, 400},
		{"bad message", "PUT", "/config/ns/key", "v", []string{server.HeaderMessage, strings.Repeat("m", 5000)}, 400},
		{"MKCOL with a body", "MKCOL", "/config/ns/c", "body", nil, 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			got, msg, _ := ts.do(t, tt.method, tt.path, body, tt.header...)
			if got != tt.want {
				t.Errorf("%s %s = %d %q, want %d", tt.method, tt.path, got, msg, tt.want)
			}
			if got >= 400 && strings.TrimSpace(msg) == "" {
				t.Errorf("%s %s = %d with no message", tt.method, tt.path, got)
			}
		})
	}
	if after := ts.head(t); after != before {
		t.Errorf("head = %d after only bad requests, want %d (nothing changed)", after, before)
	}
	got, _ := ts.must(t, http.StatusOK, "GET", "/config/ns/key", "")
	if got != "v" {
		t.Errorf("GET /config/ns/key = %q after bad requests, want %q", got, "v")
	}
}

func TestServer_OneRevisionPerRequest(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, http.StatusCreated, "MKCOL", "/config/app", "")
	ts.must(t, http.StatusCreated, "MKCOL", "/config/app/db", "")
	for _, k := range []string{"host", "port", "user"} {
		ts.must(t, http.StatusCreated, "PUT", "/config/app/db/"+k, k)
	}
	start := ts.head(t)
	ts.must(t, http.StatusCreated, "COPY", "/config/app", "", "Destination", "/config/app2")
	ts.must(t, http.StatusCreated, "MOVE", "/config/app2", "", "Destination", "/config/app3")
	ts.must(t, http.StatusNoContent, "DELETE", "/config/app3", "")
	if got := ts.head(t); got != start+3 {
		t.Fatalf("head = %d after COPY, MOVE and DELETE of a namespace, want %d", got, start+3)
	}
	ctx := context.Background()
	var msgs []string
	for rev := start + 1; rev <= start+3; rev++ {
		c, err := ts.store.Revision(ctx, rev)
		if err != nil {
			t.Fatalf("Revision(%d): %v", rev, err)
		}
		msgs = append(msgs, c.Message)
	}
	want := []string{"COPY /app to /app2", "MOVE /app2 to /app3", "DELETE /app3"}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("commit messages (-want +got):\n%s", diff)
	}
	c, _ := ts.store.Revision(ctx, start+1)
	if len(c.Changes) != 5 {
		t.Errorf("COPY of a namespace with 4 entries below it recorded %d changes, want 5", len(c.Changes))
	}
}

func TestServer_MessageHeader(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, http.StatusCreated, "MKCOL", "/config/ns", "", server.HeaderMessage, "new namespace for the app")
	ts.must(t, http.StatusCreated, "PUT", "/config/ns/k", "v")
	for rev, want := range map[verso.Revision]string{1: "new namespace for the app", 2: "PUT /ns/k"} {
		c, err := ts.store.Revision(context.Background(), rev)
		if err != nil {
			t.Fatalf("Revision(%d): %v", rev, err)
		}
		if c.Message != want {
			t.Errorf("Revision(%d).Message = %q, want %q", rev, c.Message, want)
		}
	}
}

func TestServer_Listing(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, http.StatusCreated, "MKCOL", "/config/ns", "")
	ts.must(t, http.StatusCreated, "MKCOL", "/config/ns/sub", "")
	ts.must(t, http.StatusCreated, "PUT", "/config/ns/b", "bee")
	ts.must(t, http.StatusCreated, "PUT", "/config/ns/a", "a")

	text, h := ts.must(t, http.StatusOK, "GET", "/config/ns", "")
	if text != "a\nb\nsub/\n" {
		t.Errorf("text listing = %q, want %q", text, "a\nb\nsub/\n")
	}
	if h.Get(server.HeaderRevision) != "4" {
		t.Errorf("listing %s = %q, want 4", server.HeaderRevision, h.Get(server.HeaderRevision))
	}
	js, _ := ts.must(t, http.StatusOK, "GET", "/config/ns/", "", "Accept", "application/json")
	var l struct {
		Path    string
		Entries []struct {
			Name string
			Kind string
			Size int
		}
	}
	if err := json.Unmarshal([]byte(js), &l); err != nil {
		t.Fatalf("JSON listing %q: %v", js, err)
	}
	if len(l.Entries) != 3 || l.Entries[1].Name != "b" || l.Entries[1].Size != 3 || l.Entries[2].Kind != "namespace" {
		t.Errorf("JSON listing = %+v, want a, b (3 bytes), sub (namespace)", l)
	}
	html, h := ts.must(t, http.StatusOK, "GET", "/config/ns/", "", "Accept", "text/html")
	if !strings.Contains(html, `href="/config/ns/sub/"`) || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Errorf("HTML listing lacks a link to the sub-namespace: %s", html)
	}
	old, _ := ts.must(t, http.StatusOK, "GET", "/config/ns?rev=3", "")
	if old != "b\nsub/\n" {
		t.Errorf("listing at r3 = %q, want %q", old, "b\nsub/\n")
	}
}

func TestServer_ConditionalRequests(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, http.StatusCreated, "MKCOL", "/config/ns", "")
	_, h := ts.must(t, http.StatusCreated, "PUT", "/config/ns/k", "one")
	etag := h.Get("ETag")
	ts.must(t, http.StatusNotModified, "GET", "/config/ns/k", "", "If-None-Match", etag)
	ts.must(t, http.StatusPreconditionFailed, "PUT", "/config/ns/k", "x", "If-None-Match", "*")
	ts.must(t, http.StatusNoContent, "PUT", "/config/ns/k", "two", "If-Match", etag)
	ts.must(t, http.StatusPreconditionFailed, "PUT", "/config/ns/k", "three", "If-Match", etag)
	ts.must(t, http.StatusCreated, "PUT", "/config/ns/new", "x", "If-None-Match", "*")
	got, h2 := ts.must(t, http.StatusOK, "GET", "/config/ns/k", "")
	if got != "two" || h2.Get("ETag") == etag {
		t.Errorf("GET after a compare-and-set = %q with ETag %s, want %q and a new ETag", got, h2.Get("ETag"), "two")
	}
	old, _ := ts.must(t, http.StatusOK, "GET", "/config/ns/k?rev=2", "")
	if old != "one" {
		t.Errorf("GET ?rev=2 = %q, want %q", old, "one")
	}
	ts.must(t, http.StatusOK, "GET", "/config/ns/k?p=2", "")
}
