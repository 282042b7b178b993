package svn

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
)

// FuzzParseDocument feeds request bodies to the one XML parser of the
// protocol and to what reads its result: no input may panic.
func FuzzParseDocument(f *testing.F) {
	for _, s := range []string{
		`<S:update-report xmlns:S="svn:" send-all="true"><S:src-path>/config</S:src-path><S:entry rev="3" depth="infinity" start-empty="true"></S:entry><S:missing>a/b</S:missing></S:update-report>`,
		`<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><prop><resourcetype xmlns="DAV:"/><deadprop-count xmlns="http://subversion.tigris.org/xmlns/dav/"/></prop></propfind>`,
		`<S:log-report xmlns:S="svn:"><S:start-revision>7</S:start-revision><S:end-revision>0</S:end-revision><S:limit>3</S:limit><S:discover-changed-paths/><S:revprop>svn:author</S:revprop><S:path></S:path></S:log-report>`,
		`<a><b><c><d/></c></b></a>`, `<a>`, ``, `<a/><b/>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		doc, err := parseDocument(strings.NewReader(body))
		if err != nil {
			return
		}
		parsePropfind(doc)
		q := reportQuery{doc: doc, path: verso.Root, rev: 1}
		q.revision("start-revision", 0)
		q.relPath(New(nil, Options{}), httptest.NewRequest("REPORT", "/", nil), "path")
		for _, c := range doc.Children {
			c.attr("rev")
			if d, ok := parseDepth(c.Text); ok && d > depthInfinity {
				t.Fatalf("parseDepth(%q) = %d", c.Text, d)
			}
		}
	})
}

// FuzzParseURI feeds URL paths below the mount to the parser of svn's
// special URIs and to the one of report paths.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{"/!svn/rvr/3/app/db", "/!svn/me", "/!svn/rev/0", "/!svn/bc/12/", "/app/key", "/!svn/x", "/!svn/ver/-1/a", "/!svn/rvr/3//a"} {
		f.Add(s)
	}
	h := New(nil, Options{Mount: "/config"})
	f.Fuzz(func(t *testing.T, rel string) {
		res, err := parseURI(rel)
		if err == nil && res.kind == kindNode && !strings.HasPrefix(string(res.path), "/") {
			t.Fatalf("parseURI(%q) gave path %q", rel, res.path)
		}
		h.repoPath("/config" + rel)
		h.repoPath("http://host/config" + rel)
		unescape(rel)
	})
}

// FuzzReport sends REPORT bodies to a handler over a small real store:
// every answer is 200 or 4xx/501, never a 500 or a panic.
func FuzzReport(f *testing.F) {
	for _, s := range []string{
		`<S:update-report xmlns:S="svn:" send-all="true"><S:src-path>/config</S:src-path><S:target-revision>2</S:target-revision><S:depth>unknown</S:depth><S:entry rev="1" depth="immediates"></S:entry><S:entry rev="2">a/k</S:entry><S:missing>a/x</S:missing></S:update-report>`,
		`<S:update-report xmlns:S="svn:"><S:src-path>/config/a</S:src-path><S:update-target>k</S:update-target><S:dst-path>/config/a</S:dst-path><S:entry rev="0" start-empty="true"/></S:update-report>`,
		`<S:log-report xmlns:S="svn:"><S:start-revision>0</S:start-revision><S:end-revision>2</S:end-revision><S:discover-changed-paths/><S:path>a</S:path></S:log-report>`,
		`<S:file-revs-report xmlns:S="svn:"><S:start-revision>0</S:start-revision><S:end-revision>2</S:end-revision><S:path>a/k</S:path></S:file-revs-report>`,
		`<S:get-location-segments xmlns:S="svn:"><S:path>a</S:path><S:peg-revision>2</S:peg-revision></S:get-location-segments>`,
		`<S:get-locations xmlns:S="svn:"><S:path>a/k</S:path><S:peg-revision>2</S:peg-revision><S:location-revision>1</S:location-revision></S:get-locations>`,
		`<S:list-report xmlns:S="svn:"><S:path></S:path><S:revision>2</S:revision><S:depth>files</S:depth><S:pattern>*</S:pattern></S:list-report>`,
		`<S:dated-rev-report xmlns:S="svn:" xmlns:D="DAV:"><D:creationdate>2030-01-01T00:00:00Z</D:creationdate></S:dated-rev-report>`,
		`<S:get-deleted-rev-report xmlns:S="svn:"><S:path>a/k</S:path><S:peg-revision>1</S:peg-revision><S:end-revision>2</S:end-revision></S:get-deleted-rev-report>`,
		`<S:inherited-props-report xmlns:S="svn:"><S:path>a/k</S:path></S:inherited-props-report>`,
	} {
		f.Add("/!svn/me", s)
		f.Add("/!svn/rvr/2", s)
	}
	st, err := bolt.Open(filepath.Join(f.TempDir(), "verso.db"), nil)
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for _, txn := range []*verso.Txn{
		{Ops: []verso.Op{{Kind: verso.OpMkcol, Path: "/a"}, {Kind: verso.OpPut, Path: "/a/k", Value: []byte("v1")}}},
		{Author: "bob", Ops: []verso.Op{{Kind: verso.OpPut, Path: "/a/k", Value: []byte("v2")},
			{Kind: verso.OpProps, Path: "/a/k", Props: []verso.PropChange{{Name: "{" + nsCustom + "}p", Value: "x"}}}}},
	} {
		if _, err := st.Commit(ctx, txn); err != nil {
			f.Fatal(err)
		}
	}
	h := New(st, Options{Mount: "/config"})
	f.Fuzz(func(t *testing.T, rel, body string) {
		if !strings.HasPrefix(rel, "/") {
			return
		}
		r := httptest.NewRequest("REPORT", "/config/", strings.NewReader(body))
		w := httptest.NewRecorder()
		func() {
			defer func() {
				if v := recover(); v != nil && v != http.ErrAbortHandler {
					panic(v)
				} else if v != nil {
					t.Fatalf("REPORT %s cut its answer:\n%s", rel, body)
				}
			}()
			h.ServeHTTP(w, r, rel)
		}()
		if w.Code >= 500 && w.Code != http.StatusNotImplemented {
			t.Fatalf("REPORT %s = %d:\n%s\n%s", rel, w.Code, body, w.Body)
		}
	})
}
