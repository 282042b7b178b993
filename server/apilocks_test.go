package server_test

// WebDAV locks (and so svn locks) hold off the JSON API's writes too: a
// transaction, a revert and an import change nothing a lock protects unless
// the request submits the lock's token in an If header.

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// apiWrite sends a write of the JSON API (or an import) with headers and
// returns the status and the answer.
func (ts *testServer) apiWrite(t *testing.T, method, path, contentType, body string, header ...string) (int, string) {
	t.Helper()
	code, b, _ := ts.do(t, method, path, strings.NewReader(body), append([]string{"Content-Type", contentType}, header...)...)
	return code, b
}

// lockPath takes an exclusive WebDAV lock on p (a URL path below /config)
// with depth ("0" or "infinity") and returns its token as an If header
// wants it: "(<urn:uuid:...>)".
func (ts *testServer) lockPath(t *testing.T, p, depth string) string {
	t.Helper()
	code, body, h := ts.do(t, "LOCK", p, strings.NewReader(lockBody), "Depth", depth, "Timeout", "Second-600")
	tok := h.Get("Lock-Token")
	if code != http.StatusOK || tok == "" {
		t.Fatalf("LOCK %s = %d %q\n%s", p, code, tok, body)
	}
	return "(" + tok + ")"
}

// refusedLocked checks that a write was refused with 423 naming href and
// that the head did not move from rev.
func (ts *testServer) refusedLocked(t *testing.T, what string, code int, body, href string, rev int64) {
	t.Helper()
	if code != http.StatusLocked || !strings.Contains(body, href+" is locked") {
		t.Errorf("%s = %d %s, want 423 naming %s", what, code, body, href)
	}
	if got := int64(ts.head(t)); got != rev {
		t.Errorf("%s moved the head from %d to %d", what, rev, got)
	}
}

func TestAPILocks_Txn(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.mustTxn(t, `{"ops": [{"op": "mkcol", "path": "/app"}, {"op": "put", "path": "/app/k", "value": "v1"},
		{"op": "put", "path": "/app/other", "value": "o1"}, {"op": "mkcol", "path": "/ns"}, {"op": "put", "path": "/ns/x", "value": "x1"},
		{"op": "mkcol", "path": "/d"}, {"op": "put", "path": "/d/x", "value": "x1"}]}`)
	tok := ts.lockPath(t, "/config/app/k", "0")
	rev := int64(ts.head(t))

	put := `{"ops": [{"op": "put", "path": "/app/other", "value": "o2"}, {"op": "put", "path": "/app/k", "value": "v2"}]}`
	code, body := ts.apiWrite(t, "POST", "/api/v1/txn", "application/json", put)
	ts.refusedLocked(t, "txn putting a locked key", code, body, "/config/app/k", rev)
	if !strings.Contains(body, `"op": 1`) || !strings.Contains(body, `"path": "/app/k"`) {
		t.Errorf("txn putting a locked key: %s, want it to name operation 1 and its path", body)
	}
	code, body = ts.apiWrite(t, "POST", "/api/v1/txn?dry_run=true", "application/json", put)
	ts.refusedLocked(t, "dry run of a txn putting a locked key", code, body, "/config/app/k", rev)
	if got, _ := ts.must(t, 200, "GET", "/config/app/other", ""); got != "o1" {
		t.Errorf("/app/other = %q after a refused txn, want o1", got)
	}
	code, body = ts.apiWrite(t, "POST", "/api/v1/txn", "application/json", `{"ops": [{"op": "delete", "path": "/app"}]}`)
	ts.refusedLocked(t, "txn deleting the namespace above a locked key", code, body, "/config/app/k", rev)
	code, body = ts.apiWrite(t, "POST", "/api/v1/txn", "application/json", `{"ops": [{"op": "move", "from": "/app/k", "path": "/app/k2"}]}`)
	ts.refusedLocked(t, "txn moving a locked key", code, body, "/config/app/k", rev)
	code, body = ts.apiWrite(t, "POST", "/api/v1/txn", "application/json", `{"ops": [{"op": "delete", "path": "/app/k"}]}`, "If", "(<urn:uuid:00000000-0000-4000-8000-000000000000>)")
	ts.refusedLocked(t, "txn deleting a locked key with another token", code, body, "/config/app/k", rev)

	// A transaction that touches only unlocked paths is unaffected.
	ts.mustTxn(t, `{"ops": [{"op": "put", "path": "/app/other", "value": "o2"}, {"op": "copy", "from": "/app/k", "path": "/app/copy"}]}`)
	// With the token the write goes through.
	if code, body := ts.apiWrite(t, "POST", "/api/v1/txn", "application/json", put, "If", tok); code != http.StatusOK {
		t.Errorf("txn putting a locked key with its token = %d %s, want 200", code, body)
	}
	if got, _ := ts.must(t, 200, "GET", "/config/app/k", ""); got != "v2" {
		t.Errorf("/app/k = %q, want v2", got)
	}
	if code, body := ts.apiWrite(t, "POST", "/api/v1/txn", "application/json", put, "If", "(<urn:uuid:"); code != http.StatusBadRequest {
		t.Errorf("txn with a malformed If header = %d %s, want 400", code, body)
	}

	// A depth-infinity lock on a namespace holds off every change below it.
	ntok := ts.lockPath(t, "/config/ns/", "infinity")
	rev = int64(ts.head(t))
	for _, c := range []struct{ op, href string }{
		{`{"op": "delete", "path": "/ns/x"}`, "/config/ns/x"},
		{`{"op": "put", "path": "/ns/new", "value": "n"}`, "/config/ns/new"},
		{`{"op": "put", "path": "/ns/x", "value": "x2"}`, "/config/ns/x"},
		{`{"op": "mkcol", "path": "/ns/sub"}`, "/config/ns/sub"},
		{`{"op": "copy", "from": "/app/other", "path": "/ns/c"}`, "/config/ns/c"},
		{`{"op": "delete", "path": "/ns"}`, "/config/ns"},
	} {
		code, body := ts.apiWrite(t, "POST", "/api/v1/txn", "application/json", `{"ops": [`+c.op+`]}`)
		ts.refusedLocked(t, "txn "+c.op+" below an infinite lock", code, body, c.href, rev)
	}
	if code, body := ts.apiWrite(t, "POST", "/api/v1/txn", "application/json", `{"ops": [{"op": "delete", "path": "/ns/x"}]}`, "If", ntok); code != http.StatusOK {
		t.Errorf("txn deleting below an infinite lock with its token = %d %s, want 200", code, body)
	}

	// A depth-0 lock on a namespace protects its membership only.
	ts.lockPath(t, "/config/d/", "0")
	rev = int64(ts.head(t))
	for _, op := range []string{
		`{"op": "put", "path": "/d/new", "value": "n"}`,
		`{"op": "delete", "path": "/d/x"}`,
		`{"op": "mkcol", "path": "/d/sub"}`,
		`{"op": "move", "from": "/app/other", "path": "/d/moved"}`,
	} {
		code, body := ts.apiWrite(t, "POST", "/api/v1/txn", "application/json", `{"ops": [`+op+`]}`)
		ts.refusedLocked(t, "txn "+op+" in a namespace locked at depth 0", code, body, "/config/d/", rev)
	}
	ts.mustTxn(t, `{"ops": [{"op": "put", "path": "/d/x", "value": "x2"}]}`)
}

func TestAPILocks_Revert(t *testing.T) {
	ts := newTestServer(t, nil)
	first := ts.mustTxn(t, `{"ops": [{"op": "mkcol", "path": "/app"}, {"op": "put", "path": "/app/k", "value": "v1"}]}`)
	second := ts.mustTxn(t, `{"ops": [{"op": "put", "path": "/app/k", "value": "v2"}]}`)
	tok := ts.lockPath(t, "/config/app/k", "0")
	rev := int64(ts.head(t))

	code, body := ts.apiWrite(t, "POST", "/api/v1/revert", "application/json", `{"path": "/app/k", "to": `+strconv.Itoa(int(first.Rev))+`}`)
	ts.refusedLocked(t, "revert of a locked key", code, body, "/config/app/k", rev)
	code, body = ts.apiWrite(t, "POST", "/api/v1/revert", "application/json", `{"undo": `+strconv.Itoa(int(second.Rev))+`}`)
	ts.refusedLocked(t, "undo of a revision that changed a locked key", code, body, "/config/app/k", rev)
	code, body = ts.apiWrite(t, "POST", "/api/v1/revert", "application/json", `{"path": "/app", "to": 0}`)
	ts.refusedLocked(t, "revert of the namespace above a locked key", code, body, "/config/app/k", rev)

	if code, body := ts.apiWrite(t, "POST", "/api/v1/revert", "application/json", `{"undo": `+strconv.Itoa(int(second.Rev))+`}`, "If", tok); code != http.StatusOK {
		t.Errorf("undo with the lock's token = %d %s, want 200", code, body)
	}
	if got, _ := ts.must(t, 200, "GET", "/config/app/k", ""); got != "v1" {
		t.Errorf("/app/k = %q after the undo, want v1", got)
	}
}

func TestAPILocks_Import(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.mustTxn(t, `{"ops": [{"op": "mkcol", "path": "/imp"}, {"op": "put", "path": "/imp/a", "value": "1"},
		{"op": "mkcol", "path": "/keys"}, {"op": "put", "path": "/keys/locked", "value": "1"}, {"op": "put", "path": "/keys/free", "value": "1"}]}`)
	tok := ts.lockPath(t, "/config/imp/", "infinity")
	rev := int64(ts.head(t))

	for _, method := range []string{"PUT", "POST"} {
		code, body := ts.apiWrite(t, method, "/config/imp/", "application/json", `{"a": "2"}`)
		ts.refusedLocked(t, method+" import onto a locked namespace", code, body, "/config/imp/a", rev)
		code, body = ts.apiWrite(t, method, "/config/imp/", "application/yaml", "b: 1\n")
		ts.refusedLocked(t, method+" import creating below a locked namespace", code, body, "/config/imp/b", rev)
		code, body = ts.apiWrite(t, method, "/config/imp/?sync=1", "application/json", `{}`)
		ts.refusedLocked(t, method+" import deleting below a locked namespace", code, body, "/config/imp/a", rev)
	}
	code, body := ts.apiWrite(t, "POST", "/config/imp/?dry_run=true", "application/json", `{"a": "2"}`)
	ts.refusedLocked(t, "dry run of an import onto a locked namespace", code, body, "/config/imp/a", rev)
	if code, body := ts.apiWrite(t, "PUT", "/config/imp/", "application/json", `{"a": "2"}`, "If", tok); code != http.StatusOK {
		t.Errorf("import onto a locked namespace with its token = %d %s, want 200", code, body)
	}

	// A lock on one key holds off an import that replaces it, not one that
	// leaves it as it is.
	ts.lockPath(t, "/config/keys/locked", "0")
	rev = int64(ts.head(t))
	code, body = ts.apiWrite(t, "POST", "/config/keys/", "application/json", `{"locked": "2", "free": "2"}`)
	ts.refusedLocked(t, "import replacing a locked key", code, body, "/config/keys/locked", rev)
	if code, body := ts.apiWrite(t, "POST", "/config/keys/", "application/json", `{"locked": "1", "free": "2"}`); code != http.StatusOK {
		t.Errorf("import leaving a locked key as it is = %d %s, want 200", code, body)
	}
}

// TestAPILocks_AcrossServers checks that a lock taken through one server
// of a cluster holds off a transaction, a revert and an import through
// another, at once.
func TestAPILocks_AcrossServers(t *testing.T) {
	servers, _, _ := newClusterServers(t, 2)
	a, b := servers[0], servers[1]
	seedCluster(t, servers, "/team/k")
	rev := int64(a.head(t))

	code, body, h := a.as(t, "alice", "LOCK", "/config/team/", lockBody, "Timeout", "Second-600")
	tok := h.Get("Lock-Token")
	if code != 200 || tok == "" {
		t.Fatalf("LOCK through A = %d %q\n%s", code, tok, body)
	}
	code, body, _ = b.as(t, "alice", "POST", "/api/v1/txn", `{"ops": [{"op": "put", "path": "/team/k", "value": "v2"}]}`)
	b.refusedLocked(t, "txn through B", code, body, "/config/team/k", rev)
	code, body, _ = b.as(t, "alice", "POST", "/api/v1/revert", `{"path": "/team", "to": 0}`)
	b.refusedLocked(t, "revert through B", code, body, "/config/team", rev)
	code, body, _ = b.as(t, "alice", "POST", "/config/team/", `{"new": "1"}`, "Content-Type", "application/json")
	b.refusedLocked(t, "import through B", code, body, "/config/team/new", rev)
	code, body, _ = b.as(t, "alice", "POST", "/api/v1/txn", `{"ops": [{"op": "put", "path": "/team/k", "value": "v2"}]}`, "If", "("+tok+")")
	if code != http.StatusOK {
		t.Errorf("txn through B with A's token = %d %s, want 200", code, body)
	}
}

// TestAPILocks_Schema checks that a lock on a namespace holds off setting
// and removing its schema, which is a key of the namespace.
func TestAPILocks_Schema(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.mustTxn(t, `{"ops": [{"op": "mkcol", "path": "/svc"}]}`)
	const sch = `{"type": "object"}`
	tok := ts.lockPath(t, "/config/svc/", "infinity")
	rev := int64(ts.head(t))
	code, body := ts.apiWrite(t, "PUT", "/api/v1/schema?path=/svc", "application/schema+json", sch)
	ts.refusedLocked(t, "schema set in a locked namespace", code, body, "/config/svc/.schema", rev)
	if code, body := ts.apiWrite(t, "PUT", "/api/v1/schema?path=/svc", "application/schema+json", sch, "If", tok); code != http.StatusOK {
		t.Fatalf("schema set with the lock's token = %d %s, want 200", code, body)
	}
	rev = int64(ts.head(t))
	code, body = ts.apiWrite(t, "DELETE", "/api/v1/schema?path=/svc", "application/json", "")
	ts.refusedLocked(t, "schema removal in a locked namespace", code, body, "/config/svc/.schema", rev)
}
