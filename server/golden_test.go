package server_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/verso-config/verso"
)

// checkGolden compares got with testdata/FILE, or writes it there with
// -update.
func checkGolden(t *testing.T, file, got string) {
	t.Helper()
	file = filepath.Join("testdata", file)
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to write it)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("differs from %s (-want +got):\n%s", file, diff)
	}
}

// lastModified is the one part of a PROPFIND answer that changes from run
// to run: the time of the commit.
var lastModified = regexp.MustCompile(`<D:getlastmodified>[^<]*</D:getlastmodified>`)

// TestPropfind_Golden checks whole multistatus bodies, byte for byte but
// for the dates, against testdata/propfind/*.golden.
func TestPropfind_Golden(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, http.StatusCreated, "MKCOL", "/config/ns", "")
	ts.must(t, http.StatusCreated, "MKCOL", "/config/ns/sub", "")
	ts.must(t, http.StatusCreated, "PUT", "/config/ns/key", "value\n")
	ts.must(t, http.StatusCreated, "PUT", "/config/ns/a&b <c>", "x")
	ts.must(t, http.StatusMultiStatus, "PROPPATCH", "/config/ns/key", `<?xml version="1.0"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:o="urn:example:owner"><D:set><D:prop><o:team>payments &amp; billing</o:team></D:prop></D:set></D:propertyupdate>`)

	named := `<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:o="urn:example:owner"><D:prop>` +
		`<D:getcontentlength/><D:resourcetype/><D:getetag/><o:team/><D:nosuch/></D:prop></D:propfind>`
	tests := []struct {
		file, path, depth, body string
	}{
		{"allprop-depth1.golden", "/config/ns/", "1", ""},
		{"allprop-depth0-key.golden", "/config/ns/key", "0", ""},
		{"named-depth1.golden", "/config/ns/", "1", named},
		{"propname-depth1.golden", "/config/ns/", "1", `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>`},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".golden"), func(t *testing.T) {
			code, body, h := ts.do(t, "PROPFIND", tt.path, strings.NewReader(tt.body), "Depth", tt.depth)
			if code != http.StatusMultiStatus {
				t.Fatalf("PROPFIND %s = %d %q, want 207", tt.path, code, body)
			}
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") && !strings.HasPrefix(ct, "text/xml") {
				t.Errorf("Content-Type = %q, want XML", ct)
			}
			got := lastModified.ReplaceAllString(body, "<D:getlastmodified>DATE</D:getlastmodified>")
			checkGolden(t, filepath.Join("propfind", tt.file), got)
		})
	}
}

// TestDiff_Golden checks the svn diff-style text of GET /api/v1/diff
// (what `verso diff` prints) against testdata/diff/*.golden.
func TestDiff_Golden(t *testing.T) {
	ts := newTestServer(t, nil)
	commit := func(ops ...verso.Op) {
		t.Helper()
		if _, err := ts.store.Commit(context.Background(), &verso.Txn{Ops: ops}); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	put := func(p, v string) verso.Op {
		return verso.Op{Kind: verso.OpPut, Path: verso.MustPath(p), Value: []byte(v)}
	}
	// r1: the starting tree.
	commit(
		verso.Op{Kind: verso.OpMkcol, Path: "/app"},
		verso.Op{Kind: verso.OpMkcol, Path: "/app/old"},
		put("/app/db.conf", "host = db1\nport = 5432\nuser = app\npool = 10\ntimeout = 30s\n"),
		put("/app/name", "verso"),
		put("/app/gone", "bye\n"),
		put("/app/blob", "\x00\x01\x02"),
		put("/app/tagged", "same\n"),
	)
	// r2: every kind of change.
	commit(
		put("/app/db.conf", "host = db2\nport = 5432\nuser = app\npool = 20\ntimeout = 30s\nssl = on\n"),
		put("/app/name", "verso 2"),
		verso.Op{Kind: verso.OpDelete, Path: "/app/gone"},
		verso.Op{Kind: verso.OpDelete, Path: "/app/old"},
		put("/app/blob", "\x00\x01\x02\x03"),
		verso.Op{Kind: verso.OpProps, Path: "/app/tagged", Props: []verso.PropChange{{Name: "{urn:example}team", Value: "ops"}}},
		verso.Op{Kind: verso.OpMkcol, Path: "/app/new"},
		put("/app/new/key", "first line\nsecond line\n"),
	)
	tests := []struct{ file, query string }{
		{"r1-r2.golden", "path=/&from=1&to=2"},
		{"r2-r1.golden", "path=/&from=2&to=1"},
		{"r1-head-key.golden", "path=/app/db.conf&from=1"},
		{"r0-r1.golden", "path=/app&from=0&to=1"},
		{"nothing.golden", "path=/&from=2&to=2"},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".golden"), func(t *testing.T) {
			code, body, h := ts.do(t, "GET", "/api/v1/diff?format=text&"+tt.query, nil)
			if code != http.StatusOK {
				t.Fatalf("GET /api/v1/diff?%s = %d %q, want 200", tt.query, code, body)
			}
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/x-diff") {
				t.Errorf("Content-Type = %q, want text/x-diff", ct)
			}
			checkGolden(t, filepath.Join("diff", tt.file), body)
		})
	}
}
