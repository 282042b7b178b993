package server

// Fuzz targets for the parsers of what clients send to the server:
// transactions, and the revision and range parameters of a read (the WebDAV
// bodies and the If header are fuzzed in internal/dav). Seeds are below and
// in testdata/fuzz; CI runs each briefly (make fuzz). A finding becomes a
// case of the parser's own test.

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

// fuzzServer returns a Server on a real store holding /ns (a namespace)
// and /ns/k (a key written twice), shared by the iterations of one fuzz
// process.
func fuzzServer(f *testing.F) *Server {
	st, err := bolt.Open(filepath.Join(f.TempDir(), "verso.db"), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	ctx := context.Background()
	for _, ops := range [][]verso.Op{
		{{Kind: verso.OpMkcol, Path: "/ns"}, {Kind: verso.OpPut, Path: "/ns/k", Value: []byte("0123456789")}},
		{{Kind: verso.OpPut, Path: "/ns/k", Value: []byte("abcdefghijklmnopqrstuvwxyz")}},
	} {
		if _, err := st.Commit(ctx, &verso.Txn{Ops: ops}); err != nil {
			f.Fatal(err)
		}
	}
	return New(st, nil)
}

// FuzzGetParams: any ?rev= and Range header on a key or a namespace is
// answered without a server error.
func FuzzGetParams(f *testing.F) {
	for _, s := range [][3]string{
		{"/ns/k", "", ""}, {"/ns/k", "1", "bytes=0-3"}, {"/ns/k", "HEAD", "bytes=-5"}, {"/ns/k", "2", "bytes=3-"},
		{"/ns/k", "3", ""}, {"/ns/k", "-1", ""}, {"/ns/k", "0", ""}, {"/ns/k", "1", "bytes=5-2"},
		{"/ns/k", "", "bytes=0-1,3-4,1-2"}, {"/ns/k", "", "bytes=99-"}, {"/ns/", "1", ""}, {"/ns", "x", "bytes="},
		{"/ns/k", "9223372036854775807", "bytes=0-9223372036854775807"}, {"/ns/k", "", "items=0-1"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, path, rev, rng string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " ?#%\r\n\t") {
			return
		}
		req, err := http.NewRequest("GET", "http://verso.test/config"+path, nil)
		if err != nil {
			return
		}
		req.URL.RawQuery = "rev=" + strings.NewReplacer("&", "%26", "#", "%23", "+", "%2B").Replace(rev)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Errorf("GET %s?rev=%q Range %q = %d %q", path, rev, rng, w.Code, w.Body.String())
		}
	})
}

// FuzzTxn: any body of POST /api/v1/txn is answered without a server
// error: it commits, or it is refused with a 4xx.
func FuzzTxn(f *testing.F) {
	for _, s := range []string{
		`{"ops":[{"op":"put","path":"/ns/a","value":"x"}]}`,
		`{"message":"m","base":1,"ops":[{"op":"put","path":"/ns/k","value":"y","if":{"revision":2}}]}`,
		`{"ops":[{"op":"copy","from":"/ns","path":"/ns2","depth":"infinity"},{"op":"move","from":"/ns2","path":"/ns3","overwrite":true}]}`,
		`{"ops":[{"op":"delete","path":"/ns/k","if":{"etag":"\"2\""}},{"op":"mkcol","path":"/m"}]}`,
		`{"ops":[{"op":"put","path":"/ns/b","value_base64":"AAEC","content_type":"application/x-b"}]}`,
		`{"ops":[{"op":"check","path":"/","if":{"exists":true}}]}`,
		`{"ops":[]}`, `{"ops":[{"op":"frobnicate","path":"/x"}]}`, `{"ops":[{"op":"put","path":"/../x","value":"v"}]}`,
		`{"ops":[{"op":"put","path":"/ns/c","value":"v","value_base64":"dg=="}]}`, `[]`, `{"ops":{}}`, `{`, ``, `{"ops":[1]}`,
		`{"base":-5,"ops":[{"op":"put","path":"/ns/d","value":"v"}]}`, `{"base":99,"ops":[{"op":"put","path":"/ns/d","value":"v"}]}`,
	} {
		f.Add(s)
	}
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/v1/txn", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Errorf("POST /api/v1/txn %q = %d %q", body, w.Code, w.Body.String())
		}
	})
}
