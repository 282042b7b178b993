package server

import (
	"context"
	"encoding/xml"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/internal/dav"
)

// BenchmarkPropfindNames measures what each property name of a PROPFIND
// costs to answer for one key and write as a 207, without the cap on names
// per request, at 1,000 and 10,000 names, all in one namespace or each in
// its own. ns/name should be about the same at both sizes (the cost is
// linear in the names). Parsing the body is measured by internal/dav's
// BenchmarkReadPropfindNames.
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
			req := dav.Propfind{Props: make([]xml.Name, n)}
			for i := range req.Props {
				space := "urn:p"
				if shape == "own-namespaces" {
					space += ":" + strconv.Itoa(i)
				}
				req.Props[i] = xml.Name{Space: space, Local: "name" + strconv.Itoa(i)}
			}
			b.Run(shape+"/"+strconv.Itoa(n), func(b *testing.B) {
				for b.Loop() {
					mw := dav.NewMultistatusWriter(httptest.NewRecorder())
					if err := mw.Propstats(s.href(e.Path, false), s.propstats(e, req)); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/name")
			})
		}
	}
}
