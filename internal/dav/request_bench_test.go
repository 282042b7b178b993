package dav

import (
	"strconv"
	"strings"
	"testing"
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

// BenchmarkReadPropfindNames measures what each property name of a
// PROPFIND body costs to parse, without the cap on names per request, at
// 1,000 and 10,000 names. ns/name should be about the same at both sizes
// (the cost is linear in the names). The server package's
// BenchmarkPropfindNames measures answering such a request.
func BenchmarkReadPropfindNames(b *testing.B) {
	for _, shape := range []string{"one-namespace", "own-namespaces"} {
		for _, n := range []int{1000, 10000} {
			body := propfindNamesBody(n, shape == "own-namespaces")
			b.Run(shape+"/"+strconv.Itoa(n), func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					req, err := readPropfindMax(strings.NewReader(body), n)
					if err != nil {
						b.Fatal(err)
					}
					if len(req.Props) != n {
						b.Fatalf("%d names parsed, want %d", len(req.Props), n)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/name")
			})
		}
	}
}
