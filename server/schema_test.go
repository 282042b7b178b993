package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
	"github.com/verso-config/verso/internal/wc"
)

// serviceSchema is the worked example of docs/schema.md: a service's port
// is an integer from 1 to 65535, its hosts a non-empty list.
const serviceSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "properties": {
    "port":  {"type": "integer", "minimum": 1, "maximum": 65535},
    "hosts": {"type": "array", "items": {"type": "string"}, "minItems": 1}
  },
  "required": ["port", "hosts"]
}`

// violations decodes a 422 body.
func violations(t *testing.T, body string) []verso.Violation {
	t.Helper()
	var j struct {
		Status     int               `json:"status"`
		Violations []verso.Violation `json:"violations"`
	}
	if err := json.Unmarshal([]byte(body), &j); err != nil || j.Status != 422 || len(j.Violations) == 0 {
		t.Fatalf("422 body %q: %v", body, err)
	}
	return j.Violations
}

// seedService makes /svc with a valid port and hosts and the service
// schema.
func seedService(t *testing.T, ts *testServer) {
	t.Helper()
	ts.must(t, http.StatusCreated, "MKCOL", "/config/svc", "")
	ts.must(t, http.StatusCreated, "PUT", "/config/svc/port", "8080\n")
	ts.must(t, http.StatusCreated, "PUT", "/config/svc/hosts", `["a.example", "b.example"]`)
	ts.must(t, http.StatusCreated, "PUT", "/config/svc/name", "billing\n")
	ts.must(t, http.StatusOK, "PUT", "/api/v1/schema?path=/svc", serviceSchema)
}

func TestSchema_SetGetRemove(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, http.StatusNotFound, "GET", "/api/v1/schema?path=/svc", "")
	seedService(t, ts)
	rev := ts.head(t)
	body, h := ts.must(t, http.StatusOK, "GET", "/api/v1/schema?path=/svc", "")
	if body != serviceSchema || h.Get("Content-Type") != "application/schema+json" {
		t.Errorf("GET schema = %q (%s)", body, h.Get("Content-Type"))
	}
	// It is the key /svc/.schema, in the log like any change.
	if b, _ := ts.must(t, http.StatusOK, "GET", "/config/svc/.schema", ""); b != serviceSchema {
		t.Errorf("GET /svc/.schema = %q", b)
	}
	log, _ := ts.must(t, http.StatusOK, "GET", "/api/v1/log?path=/svc/.schema", "")
	if !strings.Contains(log, "SCHEMA SET /svc") {
		t.Errorf("log of the schema key: %s", log)
	}
	ts.must(t, http.StatusOK, "DELETE", "/api/v1/schema?path=/svc", "")
	ts.must(t, http.StatusNotFound, "DELETE", "/api/v1/schema?path=/svc", "")
	ts.must(t, http.StatusNotFound, "GET", "/api/v1/schema?path=/svc", "")
	// Reverting brings it back, and with it the validation.
	ts.must(t, http.StatusOK, "POST", "/api/v1/revert", fmt.Sprintf(`{"path": "/svc", "to": %d}`, rev))
	ts.must(t, http.StatusOK, "GET", "/api/v1/schema?path=/svc", "")
	b, _ := ts.must(t, http.StatusUnprocessableEntity, "PUT", "/config/svc/port", "0\n")
	violations(t, b)
}

func TestSchema_RefusedWrites(t *testing.T) {
	ts := newTestServer(t, nil)
	seedService(t, ts)
	before := ts.head(t)

	b, _ := ts.must(t, http.StatusUnprocessableEntity, "PUT", "/config/svc/port", "70000\n")
	v := violations(t, b)
	if len(v) != 1 || v[0].Path != "/svc/port" || v[0].Pointer != "/port" || v[0].Keyword != "maximum" || v[0].Namespace != "/svc" || v[0].Message == "" {
		t.Errorf("violations = %+v", v)
	}
	b, _ = ts.must(t, http.StatusUnprocessableEntity, "PUT", "/config/svc/port", "http\n")
	if v := violations(t, b); v[0].Keyword != "type" {
		t.Errorf("violations = %+v", v)
	}
	b, _ = ts.must(t, http.StatusUnprocessableEntity, "PUT", "/config/svc/hosts", "[]")
	if v := violations(t, b); v[0].Path != "/svc/hosts" || v[0].Keyword != "minItems" {
		t.Errorf("violations = %+v", v)
	}
	b, _ = ts.must(t, http.StatusUnprocessableEntity, "DELETE", "/config/svc/hosts", "")
	if v := violations(t, b); v[0].Path != "/svc" || v[0].Pointer != "" || v[0].Keyword != "required" {
		t.Errorf("violations = %+v", v)
	}
	ts.must(t, http.StatusUnprocessableEntity, "POST", "/api/v1/txn", `{"ops": [
		{"op": "put", "path": "/svc/port", "value": "0"},
		{"op": "put", "path": "/svc/hosts", "value": "[]"}]}`)
	b, _ = ts.must(t, http.StatusUnprocessableEntity, "POST", "/api/v1/txn", `{"ops": [
		{"op": "put", "path": "/svc/port", "value": "0"},
		{"op": "put", "path": "/svc/hosts", "value": "[]"}]}`)
	if v := violations(t, b); len(v) != 2 {
		t.Errorf("violations = %+v", v)
	}
	ts.must(t, http.StatusUnprocessableEntity, "MOVE", "/config/svc/port", "", "Destination", ts.URL+"/config/svc/port2")
	ts.must(t, http.StatusCreated, "MKCOL", "/config/other", "")
	ts.must(t, http.StatusCreated, "PUT", "/config/other/port", "0")
	ts.must(t, http.StatusUnprocessableEntity, "COPY", "/config/other/port", "", "Destination", ts.URL+"/config/svc/port", "Overwrite", "T")
	if got := ts.head(t); got != before+2 {
		t.Errorf("head = %d, want %d: a refused write committed", got, before+2)
	}
	if b, _ := ts.must(t, http.StatusOK, "GET", "/config/svc/port", ""); b != "8080\n" {
		t.Errorf("port = %q", b)
	}

	// What validates goes through, on every path.
	ts.must(t, http.StatusNoContent, "PUT", "/config/svc/port", "443")
	ts.must(t, http.StatusCreated, "PUT", "/config/svc/extra", "anything")
	ts.must(t, http.StatusOK, "POST", "/api/v1/txn", `{"ops": [{"op": "put", "path": "/svc/hosts", "value": "[\"c\"]"}]}`)
	ts.must(t, http.StatusNoContent, "DELETE", "/config/svc/extra", "")

	// Deleting the namespace takes its schema along: nothing is left
	// that must validate.
	ts.must(t, http.StatusNoContent, "DELETE", "/config/svc", "")
}

func TestSchema_SetRefused(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, http.StatusCreated, "MKCOL", "/config/svc", "")
	ts.must(t, http.StatusCreated, "PUT", "/config/svc/port", "99999")
	before := ts.head(t)
	// The content violates it: 422, listing what.
	b, _ := ts.must(t, http.StatusUnprocessableEntity, "PUT", "/api/v1/schema?path=/svc", serviceSchema)
	if v := violations(t, b); len(v) != 2 {
		t.Errorf("violations = %+v", v)
	}
	for _, bad := range []string{
		`{"type": "objekt"}`,
		`{"type": "object"`,
		`{"$ref": "https://example.com/schema.json"}`,
		`{"$ref": "file:///etc/passwd"}`,
		`{"properties": {"a": {"pattern": "("}}}`,
	} {
		b, _ := ts.must(t, http.StatusBadRequest, "PUT", "/api/v1/schema?path=/svc", bad)
		if !strings.Contains(b, "schema") {
			t.Errorf("%s: %s", bad, b)
		}
	}
	// A schema key written any other way is held to the same rules.
	ts.must(t, http.StatusBadRequest, "PUT", "/config/svc/.schema", `{"type": 5}`)
	ts.must(t, http.StatusBadRequest, "MKCOL", "/config/svc/.schema", "")
	if got := ts.head(t); got != before {
		t.Errorf("head = %d, want %d", got, before)
	}
	ts.must(t, http.StatusNotFound, "PUT", "/api/v1/schema?path=/missing", `{}`)
	ts.must(t, http.StatusConflict, "PUT", "/api/v1/schema?path=/svc/port", `{}`)
	ts.must(t, http.StatusNotFound, "GET", "/api/v1/schema?path=/svc/port", "")
	ts.must(t, http.StatusNotFound, "GET", "/api/v1/schema?path=/missing", "")
	ts.must(t, http.StatusBadRequest, "GET", "/api/v1/schema?path=/a/../b", "")
	ts.must(t, http.StatusBadRequest, "PUT", "/api/v1/schema?path=/svc", "")
	ts.must(t, http.StatusMethodNotAllowed, "POST", "/api/v1/schema?path=/svc", "{}")
	if got := ts.head(t); got != before {
		t.Errorf("head = %d, want %d", got, before)
	}
	// The root may have one too: its document is the whole tree.
	ts.must(t, http.StatusOK, "PUT", "/api/v1/schema?path=/", `{"properties": {"svc": {"properties": {"port": {"maximum": 100000}}}}}`)
	ts.must(t, http.StatusUnprocessableEntity, "PUT", "/config/svc/port", "100001")
	ts.must(t, http.StatusOK, "HEAD", "/api/v1/schema?path=/", "")
}

func TestSchema_Nested(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, http.StatusCreated, "MKCOL", "/config/app", "")
	ts.must(t, http.StatusCreated, "MKCOL", "/config/app/db", "")
	ts.must(t, http.StatusCreated, "PUT", "/config/app/db/port", "5432")
	ts.must(t, http.StatusCreated, "PUT", "/config/app/db/hosts", `["db1"]`)
	ts.must(t, http.StatusOK, "PUT", "/api/v1/schema?path=/app/db", serviceSchema)
	// The outer schema sees /app/db as a member object.
	ts.must(t, http.StatusOK, "PUT", "/api/v1/schema?path=/app", `{"properties": {"db": {"type": "object", "properties": {"port": {"multipleOf": 2}}}}}`)
	b, _ := ts.must(t, http.StatusUnprocessableEntity, "PUT", "/config/app/db/port", "5433")
	v := violations(t, b)
	if len(v) != 1 || v[0].Namespace != "/app" || v[0].Path != "/app/db/port" || v[0].Pointer != "/db/port" || v[0].Keyword != "multipleOf" {
		t.Errorf("violations = %+v", v)
	}
	b, _ = ts.must(t, http.StatusUnprocessableEntity, "PUT", "/config/app/db/port", "0")
	if v := violations(t, b); len(v) != 1 || v[0].Namespace != "/app/db" {
		t.Errorf("violations = %+v", v)
	}
	ts.must(t, http.StatusNoContent, "PUT", "/config/app/db/port", "5434")
}

// TestSchema_FastLane checks that the fast lane's PUTs are held to the
// schema: a valid one is committed, a refused one answered 422 with the
// violations, both by the lane.
func TestSchema_FastLane(t *testing.T) {
	for _, ln := range []lane{loops, goroutines} {
		t.Run(ln.String(), func(t *testing.T) {
			seed := []*verso.Txn{{Ops: []verso.Op{
				{Kind: verso.OpMkcol, Path: "/svc"},
				{Kind: verso.OpPut, Path: "/svc/port", Value: []byte("80")},
				{Kind: verso.OpPut, Path: "/svc/hosts", Value: []byte(`["a"]`)},
				{Kind: verso.OpPut, Path: "/svc/.schema", Value: []byte(serviceSchema)},
			}}}
			fast := startSide(t, ln, nil, seed)
			put := func(v string) (int, string) {
				req, err := http.NewRequest(http.MethodPut, "http://"+fast.addr+"/config/svc/port", strings.NewReader(v))
				if err != nil {
					t.Fatal(err)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			if code, b := put("8080"); code != http.StatusNoContent {
				t.Fatalf("valid PUT = %d %s", code, b)
			}
			served := fast.front.Served()
			code, b := put("-1")
			if code != http.StatusUnprocessableEntity {
				t.Fatalf("invalid PUT = %d %s", code, b)
			}
			violations(t, b)
			if got := fast.front.Served(); got != served+1 {
				t.Errorf("fast lane answered %d of the refused PUT, want 1", got-served)
			}
			e, err := fast.store.Get(context.Background(), "/svc/port", verso.Head)
			if err != nil || string(e.Value) != "8080" {
				t.Errorf("port = %v, %v", e, err)
			}
		})
	}
}

// TestSchema_OtherWritePaths checks import, revert, undo, MKCOL and
// PROPPATCH against a namespace's schema.
func TestSchema_OtherWritePaths(t *testing.T) {
	ts := newTestServer(t, nil)
	seedService(t, ts)
	ts.must(t, http.StatusNoContent, "PUT", "/config/svc/port", "8082")
	before := ts.head(t)

	ts.must(t, http.StatusUnprocessableEntity, "POST", "/config/svc/", `{"port": 0}`, "Content-Type", "application/json")
	ts.must(t, http.StatusUnprocessableEntity, "POST", "/config/svc/?sync=1", `{"port": 80}`, "Content-Type", "application/json")
	ts.must(t, http.StatusOK, "POST", "/config/svc/", `{"port": 81, "hosts": ["x", "y"]}`, "Content-Type", "application/json")

	// Reverting to before the schema existed drops it; undoing the
	// revision that set it too. Reverting content to a state that fails
	// the schema of now is refused.
	ts.must(t, http.StatusCreated, "MKCOL", "/config/svc/sub", "")
	ts.must(t, http.StatusNoContent, "DELETE", "/config/svc/sub", "")
	deleted := ts.head(t)
	ts.must(t, http.StatusOK, "PUT", "/api/v1/schema?path=/svc", `{"properties": {"sub": {"type": "string"}}}`)
	ts.must(t, http.StatusUnprocessableEntity, "MKCOL", "/config/svc/sub", "")
	ts.must(t, http.StatusNoContent, "PUT", "/config/svc/.schema", `{"properties": {"port": {"const": 81}, "sub": {"type": "string"}}}`)
	ts.must(t, http.StatusUnprocessableEntity, "POST", "/api/v1/revert", fmt.Sprintf(`{"path": "/svc/port", "to": %d}`, before))
	ts.must(t, http.StatusUnprocessableEntity, "POST", "/api/v1/revert", fmt.Sprintf(`{"undo": %d}`, deleted))
	ts.must(t, http.StatusMultiStatus, "PROPPATCH", "/config/svc/", `<?xml version="1.0"?>
<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">1</x></D:prop></D:set></D:propertyupdate>`)
	// A revert of the whole namespace brings back its schema of then with
	// the content of then, which validate together.
	ts.must(t, http.StatusOK, "POST", "/api/v1/revert", fmt.Sprintf(`{"path": "/svc", "to": %d}`, before))
	ts.must(t, http.StatusUnprocessableEntity, "PUT", "/config/svc/port", "0")
}

func TestSchema_DryRun(t *testing.T) {
	ts := newTestServer(t, nil)
	seedService(t, ts)
	before := ts.head(t)
	type answer struct {
		DryRun     bool              `json:"dry_run"`
		Head       verso.Revision    `json:"head"`
		Valid      bool              `json:"valid"`
		Violations []verso.Violation `json:"violations"`
		Changes    []verso.Change    `json:"changes"`
	}
	decode := func(b string) answer {
		var a answer
		if err := json.Unmarshal([]byte(b), &a); err != nil || !a.DryRun || a.Head != before {
			t.Fatalf("dry run answer %q: %v", b, err)
		}
		return a
	}
	b, _ := ts.must(t, http.StatusOK, "POST", "/api/v1/txn?dry_run=true", `{"ops": [
		{"op": "put", "path": "/svc/port", "value": "0"},
		{"op": "put", "path": "/svc/new", "value": "x"}]}`)
	a := decode(b)
	if a.Valid || len(a.Violations) != 1 || a.Violations[0].Path != "/svc/port" || len(a.Changes) != 2 ||
		a.Changes[0] != (verso.Change{Path: "/svc/new", Kind: verso.KindKey, Action: verso.Added}) {
		t.Errorf("dry run = %+v", a)
	}
	b, _ = ts.must(t, http.StatusOK, "POST", "/api/v1/txn?dry_run=1", `{"ops": [{"op": "delete", "path": "/svc/name"}]}`)
	if a := decode(b); !a.Valid || len(a.Changes) != 1 || a.Changes[0].Action != verso.Deleted {
		t.Errorf("dry run = %+v", a)
	}
	ts.must(t, http.StatusPreconditionFailed, "POST", "/api/v1/txn?dry_run=true", `{"ops": [{"op": "delete", "path": "/svc/name", "if": {"revision": 1}}]}`)
	ts.must(t, http.StatusBadRequest, "POST", "/api/v1/txn?dry_run=maybe", `{"ops": [{"op": "delete", "path": "/svc/name"}]}`)
	b, _ = ts.must(t, http.StatusOK, "POST", "/config/svc/?dry_run=true&sync=1", `{"port": 99999, "hosts": ["a"]}`, "Content-Type", "application/json")
	if a := decode(b); a.Valid || len(a.Violations) != 1 || len(a.Changes) != 3 {
		t.Errorf("import dry run = %+v", a)
	}
	if got := ts.head(t); got != before {
		t.Errorf("a dry run committed: head %d, want %d", got, before)
	}
}

// TestSchema_UnreadableViolations checks that a refusal does not show a
// user values, or paths, they may not read.
func TestSchema_UnreadableViolations(t *testing.T) {
	ts := newAccessServer(t, nil)
	sch := `{"if": {"properties": {"team": {"properties": {"k": {"const": "x"}}}}},
		"then": {"properties": {"team": {"properties": {"k": {"maxLength": 0}}}, "secret": {"properties": {"k": {"pattern": "^x"}}}}}}`
	if code, b, _ := ts.send(t, "alice", "PUT", "/api/v1/schema?path=/", strings.NewReader(sch)); code != http.StatusOK {
		t.Fatalf("set the schema: %d %s", code, b)
	}
	code, b, _ := ts.send(t, "bob", "PUT", "/config/team/k", strings.NewReader("x"))
	if code != http.StatusUnprocessableEntity || strings.Contains(b, "secret") || strings.Contains(b, "v2") {
		t.Fatalf("bob's refused PUT: %d %s", code, b)
	}
	v := violations(t, b)
	if len(v) != 2 || v[0].Path != "/team/k" || v[1].Path != "" || v[1].Message == "" {
		t.Errorf("violations = %+v", v)
	}
	code, b, _ = ts.send(t, "alice", "PUT", "/config/team/k", strings.NewReader("x"))
	if code != http.StatusUnprocessableEntity || !strings.Contains(b, "/secret/k") {
		t.Errorf("alice's refused PUT: %d %s", code, b)
	}
}

// TestSchema_SVNCommit checks svn's writes against a namespace's schema: a
// working copy's commit, and a URL command, that would leave the
// namespace invalid are refused, naming the violation, and write nothing.
func TestSchema_SVNCommit(t *testing.T) {
	svn := newSVN(t)
	ts := newTestServer(t, nil)
	seedService(t, ts)
	url := ts.URL + "/config"
	dir := t.TempDir()
	wc := filepath.Join(dir, "wc")
	svn.must(t, dir, "checkout", url+"/svc", wc)
	before := ts.head(t)

	writeFile(t, filepath.Join(wc, "port"), []byte("70000\n"))
	out := svn.fails(t, wc, "commit", "-m", "bad port")
	wantContains(t, "svn commit of a port above the maximum", out, "/svc/port", "maximum")
	svn.must(t, wc, "revert", "port")
	svn.must(t, wc, "rm", "hosts")
	out = svn.fails(t, wc, "commit", "-m", "no hosts")
	wantContains(t, "svn commit without hosts", out, "required")
	svn.must(t, wc, "revert", "hosts")
	writeFile(t, filepath.Join(wc, ".schema"), []byte(`{"type": 5}`))
	out = svn.fails(t, wc, "commit", "-m", "bad schema")
	wantContains(t, "svn commit of a schema that does not compile", out, "invalid schema", "/svc/.schema")
	svn.must(t, wc, "revert", ".schema")
	out = svn.fails(t, dir, "rm", "-m", "no hosts", url+"/svc/hosts")
	wantContains(t, "svn rm of hosts", out, "required")
	out = svn.fails(t, dir, "mv", "-m", "rename", url+"/svc/port", url+"/svc/port2")
	wantContains(t, "svn mv of port", out, "required")
	if got := ts.head(t); got != before {
		t.Fatalf("head after refused svn commits = %d, want %d", got, before)
	}
	writeFile(t, filepath.Join(wc, "port"), []byte("443\n"))
	svn.must(t, wc, "propset", "owner", "ops", "port")
	svn.must(t, wc, "commit", "-m", "good port")
	if e := entryOf(t, ts, "/svc/port"); string(e.Value) != "443\n" {
		t.Errorf("port = %q after a valid svn commit", e.Value)
	}
}

// TestSchema_WorkingCopyCommit checks verso commit from a working copy
// (internal/wc, as the command line runs it) against a namespace's
// schema: the dry run says why, the commit is refused with the
// violations, and a valid one goes through.
func TestSchema_WorkingCopyCommit(t *testing.T) {
	ts := newTestServer(t, nil)
	seedService(t, ts)
	c, err := client.New(ts.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	w, err := wc.Checkout(t.Context(), c, ts.URL, "/config", "/svc", filepath.Join(t.TempDir(), "wc"), &out)
	if err != nil {
		t.Fatal(err)
	}
	before := ts.head(t)
	writeFile(t, filepath.Join(w.Root, "port"), []byte("0\n"))
	if err := os.Remove(filepath.Join(w.Root, "hosts")); err != nil {
		t.Fatal(err)
	}
	d, err := w.DryRun(t.Context(), c, "dry")
	if err != nil || d.Valid || len(d.Violations) != 2 {
		t.Errorf("dry run = %+v, %v; want two violations", d, err)
	}
	_, err = w.Commit(t.Context(), c, "bad", &out)
	var ce *client.Error
	if !errors.Is(err, verso.ErrSchema) || !errors.As(err, &ce) || len(ce.Violations) != 2 ||
		ce.Violations[0].Path != "/svc" || ce.Violations[1].Path != "/svc/port" {
		t.Fatalf("commit = %v, want the two violations", err)
	}
	if got := ts.head(t); got != before {
		t.Fatalf("head after a refused commit = %d, want %d", got, before)
	}
	writeFile(t, filepath.Join(w.Root, "port"), []byte("9090\n"))
	writeFile(t, filepath.Join(w.Root, "hosts"), []byte(`["c"]`))
	if _, err := w.Commit(t.Context(), c, "good", &out); err != nil {
		t.Fatalf("a valid commit: %v", err)
	}
	if e := entryOf(t, ts, "/svc/port"); string(e.Value) != "9090\n" {
		t.Errorf("port = %q", e.Value)
	}
}
