package server

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
)

// propfindNamesBody is a PROPFIND body asking for n distinct properties:
// all in one namespace, or each in a namespace of its own declared on the
// root, as a client naming many vocabularies would.
func propfindNamesBody(n int, ownNamespaces bool) string {
	var b strings.Builder
	b.WriteString(`<D:propfind xmlns:D="DAV:" xmlns:p="urn:p"`)
	if ownNamespaces {
		for i := range n {
			b.WriteString(` xmlns:p` + strconv.Itoa(i) + `="urn:p:` + strconv.Itoa(i) + `"`)
		}
	}
	b.WriteString(`><D:prop>`)
	for i := range n {
		prefix := "p"
		if ownNamespaces {
			prefix += strconv.Itoa(i)
		}
		b.WriteString(`<` + prefix + `:name` + strconv.Itoa(i) + `/>`)
	}
	b.WriteString(`</D:prop></D:propfind>`)
	return b.String()
}

// BenchmarkPropfindNames measures what each property name of a PROPFIND
// costs: parsing the body and answering it for one key, without the cap on
// names per request, at 1,000 and 10,000 names. ns/name should be about the
// same at both sizes (the cost is linear in the names).
func BenchmarkPropfindNames(b *testing.B) {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "verso.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if _, err := st.Commit(ctx, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/k", Value: []byte("v")}}}); err != nil {
		b.Fatal(err)
	}
	e, err := st.Get(ctx, "/k", verso.Head)
	if err != nil {
		b.Fatal(err)
	}
	s := New(st, nil)
	for _, shape := range []string{"one-namespace", "own-namespaces"} {
		for _, n := range []int{1000, 10000} {
			benchmarkPropfindNames(b, s, e, shape+"/"+strconv.Itoa(n), n, propfindNamesBody(n, shape == "own-namespaces"))
		}
	}
}

func benchmarkPropfindNames(b *testing.B, s *Server, e *verso.Entry, name string, n int, body string) {
	b.Run(name, func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			req, err := readPropfindMax(strings.NewReader(body), n)
			if err != nil {
				b.Fatal(err)
			}
			if len(req.Props) != n {
				b.Fatalf("%d names parsed, want %d", len(req.Props), n)
			}
			mw := newMultistatusWriter(httptest.NewRecorder())
			if err := mw.propstats(s.href(e.Path, false), s.propstats(e, req)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/name")
	})
}
