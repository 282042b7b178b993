package server_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/server"
)

// keysBelow returns every key below p at the head, by path relative to p,
// with namespaces as "name/" mapped to "".
func keysBelow(t *testing.T, st verso.Store, p verso.Path) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := st.Walk(context.Background(), p, verso.Head, verso.Infinite, func(e *verso.Entry) error {
		if e.Path == p {
			return nil
		}
		rel := strings.TrimPrefix(string(e.Path.Rebase(p, verso.Root)), "/")
		if e.IsNamespace() {
			out[rel+"/"] = ""
		} else {
			out[rel] = string(e.Value)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Walk(%s): %v", p, err)
	}
	return out
}

type importAnswer struct {
	Changed  bool           `json:"changed"`
	Revision verso.Revision `json:"revision"`
	Added    int            `json:"added"`
	Modified int            `json:"modified"`
	Deleted  int            `json:"deleted"`
}

func (ts *testServer) importDoc(t *testing.T, method, path, ctype, doc string, header ...string) importAnswer {
	t.Helper()
	body, _ := ts.must(t, http.StatusOK, method, path, doc, append([]string{"Content-Type", ctype}, header...)...)
	var a importAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("%s %s answered %q: %v", method, path, body, err)
	}
	return a
}

func TestImport_JSON(t *testing.T) {
	ts := newTestServer(t, nil)
	doc := `{"db": {"host": "db1", "port": 5432, "version": 1.10, "tls": true, "password": null},
	         "features": ["a", {"b": 1}], "empty": {}, "html": "<a&b>"}`
	a := ts.importDoc(t, "POST", "/config/app", "application/json", doc, server.HeaderMessage, "load app")
	if !a.Changed || a.Revision != 1 || a.Added != 10 {
		t.Errorf("import = %+v, want changed, revision 1, 10 added (app, db, 5 db keys, features, empty, html)", a)
	}
	want := map[string]string{
		"db/": "", "db/host": "db1", "db/port": "5432", "db/version": "1.10", "db/tls": "true", "db/password": "",
		"features": `["a",{"b":1}]`, "empty/": "", "html": "<a&b>",
	}
	if diff := cmp.Diff(want, keysBelow(t, ts.store, "/app")); diff != "" {
		t.Errorf("keys after import (-want +got):\n%s", diff)
	}
	c, err := ts.store.Revision(context.Background(), 1)
	if err != nil || c.Message != "load app" {
		t.Errorf("Revision(1) = %+v, %v; want the message %q", c, err, "load app")
	}
	e, _ := ts.store.Get(context.Background(), "/app/features", verso.Head)
	if e.ContentType != "application/json" {
		t.Errorf("array key content type = %q, want application/json", e.ContentType)
	}

	// The same document again changes nothing: no new revision.
	if a := ts.importDoc(t, "POST", "/config/app", "application/json", doc); a.Changed || a.Revision != 1 {
		t.Errorf("second import of the same document = %+v, want unchanged at revision 1", a)
	}

	// A merge keeps what the document does not name; a sync deletes it.
	a = ts.importDoc(t, "PUT", "/config/app", "application/json", `{"db": {"host": "db2"}}`)
	if a.Revision != 2 || a.Modified != 1 || a.Deleted != 0 {
		t.Errorf("merge = %+v, want revision 2, 1 modified, 0 deleted", a)
	}
	a = ts.importDoc(t, "POST", "/config/app?sync=1", "application/json", `{"db": {"host": "db2", "port": "5432"}}`)
	if a.Revision != 3 || a.Deleted != 6 {
		t.Errorf("sync = %+v, want revision 3, 6 deleted", a)
	}
	want = map[string]string{"db/": "", "db/host": "db2", "db/port": "5432"}
	if diff := cmp.Diff(want, keysBelow(t, ts.store, "/app")); diff != "" {
		t.Errorf("keys after sync (-want +got):\n%s", diff)
	}
	c, _ = ts.store.Revision(context.Background(), 3)
	if c.Message != "IMPORT /app" {
		t.Errorf("generated message = %q, want %q", c.Message, "IMPORT /app")
	}

	// A document may turn a key into a namespace and back, in one revision.
	a = ts.importDoc(t, "POST", "/config/app", "application/json", `{"db": "flat", "new": {"k": "v"}}`)
	if a.Revision != 4 {
		t.Errorf("kind-changing import = %+v, want revision 4", a)
	}
	want = map[string]string{"db": "flat", "new/": "", "new/k": "v"}
	if diff := cmp.Diff(want, keysBelow(t, ts.store, "/app")); diff != "" {
		t.Errorf("keys after kind change (-want +got):\n%s", diff)
	}
}

func TestImport_YAML(t *testing.T) {
	ts := newTestServer(t, nil)
	doc := `
defaults: &defaults
  port: 22
  user: deploy
all:
  children:
    webservers:
      hosts:
        web1:
          <<: *defaults
          address: 10.0.0.1
          port: 2222
        web2:
      vars:
        http_port: 080
        version: 1.10
        when: 2026-01-01
        tags: [a, b]
        blob: !!binary AAEC
        quoted: "yes"
        text: |
          line 1
          line 2
`
	ts.importDoc(t, "POST", "/config/inv", "application/yaml", doc)
	got := keysBelow(t, ts.store, "/inv")
	want := map[string]string{
		"defaults/": "", "defaults/port": "22", "defaults/user": "deploy",
		"all/": "", "all/children/": "", "all/children/webservers/": "", "all/children/webservers/hosts/": "",
		"all/children/webservers/hosts/web1/":        "",
		"all/children/webservers/hosts/web1/address": "10.0.0.1",
		"all/children/webservers/hosts/web1/port":    "2222",
		"all/children/webservers/hosts/web1/user":    "deploy",
		"all/children/webservers/hosts/web2":         "",
		"all/children/webservers/vars/":              "",
		"all/children/webservers/vars/http_port":     "080",
		"all/children/webservers/vars/version":       "1.10",
		"all/children/webservers/vars/when":          "2026-01-01",
		"all/children/webservers/vars/tags":          `["a","b"]`,
		"all/children/webservers/vars/blob":          "\x00\x01\x02",
		"all/children/webservers/vars/quoted":        "yes",
		"all/children/webservers/vars/text":          "line 1\nline 2\n",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keys after YAML import (-want +got):\n%s", diff)
	}
}

func TestImport_BadInput(t *testing.T) {
	ts := newTestServer(t, &server.Options{MaxValueSize: 64})
	ts.must(t, http.StatusCreated, "MKCOL", "/config/ns", "")
	ts.must(t, http.StatusCreated, "PUT", "/config/ns/key", "v")
	before := ts.head(t)
	big := `{"a": "` + strings.Repeat("x", 65) + `"}`
	huge := `{"a": "` + strings.Repeat("x", 8*64) + `"}`
	tests := []struct {
		name, method, path, ctype, doc string
		want                           int
		says                           string
	}{
		{"invalid JSON", "POST", "/config/ns", "application/json", `{"a": }`, 400, "invalid JSON at byte"},
		{"truncated JSON", "POST", "/config/ns", "application/json", `{"a": {"b": "c"`, 400, "/a"},
		{"two JSON values", "POST", "/config/ns", "application/json", `{} {}`, 400, "more than one value"},
		{"duplicate JSON name", "POST", "/config/ns", "application/json", `{"a": {"b": 1, "b": 2}}`, 400, "duplicate name at /a/b"},
		{"not an object", "POST", "/config/ns", "application/json", `["a"]`, 400, "must be an object"},
		{"slash in a name", "POST", "/config/ns", "application/json", `{"a": {"b/c": 1}}`, 400, "/a/b~1c"},
		{"dot-dot name", "POST", "/config/ns", "application/json", `{"..": 1}`, 400, "invalid key name at /.."},
		{"empty name", "POST", "/config/ns", "application/json", `{"ok": 1, "": 1}`, 400, `invalid key name at /`},
		{"control character in a name", "POST", "/config/ns", "application/json", `{"a\u0001": 1}`, 400, "control character"},
		{"invalid YAML", "POST", "/config/ns", "application/yaml", "a: [1, 2\nb: c", 400, "invalid YAML"},
		{"duplicate YAML name", "POST", "/config/ns", "application/yaml", "a:\n  b: 1\n  b: 2\n", 400, "duplicate name at /a/b (line 3)"},
		{"two YAML documents", "POST", "/config/ns", "application/yaml", "a: 1\n---\nb: 2\n", 400, "more than one document"},
		{"empty YAML", "POST", "/config/ns", "application/yaml", "", 400, "empty"},
		{"value over the limit", "POST", "/config/ns", "application/json", big, 413, "/a"},
		{"document over the limit", "POST", "/config/ns", "application/json", huge, 413, "import limit"},
		{"unknown type", "POST", "/config/ns", "text/plain", `{}`, 415, "application/json"},
		{"bad sync", "POST", "/config/ns?sync=maybe", "application/json", `{}`, 400, "sync"},
		{"into a key", "POST", "/config/ns/key", "application/json", `{"a": 1}`, 409, "is a key"},
		{"below a key", "POST", "/config/ns/key/sub", "application/json", `{"a": 1}`, 409, "is a key"},
		{"too deep", "POST", "/config/ns", "application/json", strings.Repeat(`{"d":`, verso.MaxDepth) + "1" + strings.Repeat("}", verso.MaxDepth), 400, "deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg, _ := ts.do(t, tt.method, tt.path, strings.NewReader(tt.doc), "Content-Type", tt.ctype)
			if code != tt.want || !strings.Contains(msg, tt.says) {
				t.Errorf("%s %s %q = %d %q, want %d saying %q", tt.method, tt.path, tt.doc, code, msg, tt.want, tt.says)
			}
		})
	}
	if after := ts.head(t); after != before {
		t.Errorf("head = %d after only bad imports, want %d (nothing written)", after, before)
	}
	// A PUT of something that is not a document to a namespace stays 405.
	ts.must(t, http.StatusMethodNotAllowed, "PUT", "/config/ns", "v", "Content-Type", "text/plain")
}

// TestImport_ExportRoundTrip checks that an export imported elsewhere
// gives the same keys: the same bytes from an untyped export; from a typed
// one (parse=json), each value as the namespace's document reads it
// (docs/schema.md), so one trailing newline goes, and the schema key as it
// was.
func TestImport_ExportRoundTrip(t *testing.T) {
	ts := newTestServer(t, nil)
	doc := `{"app": {"db": {"host": "db1", "port": "5432"}, "tags": ["x", "y"], "note": "it's \"quoted\"\n"}}`
	ts.importDoc(t, "POST", "/config/src", "application/json", doc)
	ts.must(t, http.StatusOK, "PUT", "/api/v1/schema?path=/src/app", `{"properties": {"note": {"type": "string"}}}`+"\n")
	src := keysBelow(t, ts.store, "/src")
	typed := maps.Clone(src)
	typed["app/note"] = `it's "quoted"`
	for _, format := range []string{"json", "yaml"} {
		for _, parse := range []bool{false, true} {
			q, want, dst := "?format="+format, src, verso.Path("/dst-"+format)
			if parse {
				q, want, dst = q+"&parse=json", typed, dst+"-parsed"
			}
			body, _ := ts.must(t, http.StatusOK, "GET", "/config/src/"+q, "")
			ts.importDoc(t, "POST", "/config"+string(dst), "application/"+format, body)
			if diff := cmp.Diff(want, keysBelow(t, ts.store, dst)); diff != "" {
				t.Errorf("export %s imported elsewhere differs (-want +got):\n%s", q, diff)
			}
		}
	}
}
