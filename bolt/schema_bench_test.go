package bolt

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/verso-config/verso"
)

// benchSchema is a schema of the kind a service's namespace carries: a few
// typed members, and every other member a number, a string or a list.
const benchSchema = `{
  "type": "object",
  "properties": {
    "port":  {"type": "integer", "minimum": 1, "maximum": 65535},
    "hosts": {"type": "array", "items": {"type": "string"}, "minItems": 1}
  },
  "required": ["port", "hosts"],
  "additionalProperties": {"type": ["integer", "string", "array"], "maximum": 1000000}
}`

// BenchmarkSchemaPut measures the durable rate of one-key PUTs into a
// namespace of 1,000 keys with a schema against the same PUTs into a like
// namespace without one, interleaved in the same run, and reports the
// ratio of the two rates (schema-ratio: 1 means validation costs nothing,
// the goal is at least 0.5). "split" is benchSchema, which is checked on
// the changed member alone (internal/schema); "anyOf" the same schema
// under an anyOf, a formula of it, whose document keeps which members fail
// it (schema.State): the changed member alone is checked too. "whole" is
// benchSchema with unevaluatedProperties, which neither splits nor is a
// formula: the whole namespace is validated at each commit. "parallel" is
// "split" with 16 writers, whose commits the store groups: b.N PUTs go to
// each namespace, one namespace after the other, in rounds of 1,600.
func BenchmarkSchemaPut(b *testing.B) {
	b.Run("split", func(b *testing.B) { benchSchemaPut(b, benchSchema, 1) })
	b.Run("anyOf", func(b *testing.B) { benchSchemaPut(b, `{"anyOf": [`+benchSchema+`]}`, 1) })
	b.Run("whole", func(b *testing.B) {
		benchSchemaPut(b, `{"allOf": [`+benchSchema+`], "unevaluatedProperties": false}`, 1)
	})
	b.Run("parallel", func(b *testing.B) { benchSchemaPut(b, benchSchema, 16) })
}

func benchSchemaPut(b *testing.B, sch string, writers int) {
	s, done := benchStore(b, true)
	ctx := context.Background()
	for _, ns := range []verso.Path{"/plain", "/valid"} {
		txn := &verso.Txn{Ops: []verso.Op{{Kind: verso.OpMkcol, Path: ns},
			{Kind: verso.OpPut, Path: ns.Join("port"), Value: []byte("8080\n")},
			{Kind: verso.OpPut, Path: ns.Join("hosts"), Value: []byte(`["a.example", "b.example"]`)}}}
		for i := range 998 {
			v := fmt.Appendf(nil, "%d\n", i)
			if i%3 == 0 {
				v = fmt.Appendf(nil, "value number %d\n", i)
			}
			txn.Ops = append(txn.Ops, verso.Op{Kind: verso.OpPut, Path: ns.Join(fmt.Sprintf("k%04d", i)), Value: v})
		}
		if _, err := s.Commit(ctx, txn); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/valid/.schema", Value: []byte(sch)}}}); err != nil {
		b.Fatal(err)
	}
	done()
	put := func(ns verso.Path, i int) time.Duration {
		start := time.Now()
		_, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: ns.Join(fmt.Sprintf("k%04d", i%998)), Value: fmt.Appendf(nil, "%d\n", i)}}})
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	b.ResetTimer()
	var plain, valid time.Duration
	if writers == 1 {
		for i := 0; i < b.N; i++ {
			plain += put("/plain", i)
			valid += put("/valid", i)
		}
	} else {
		round := func(ns verso.Path, n int) time.Duration {
			start := time.Now()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := w; i < n; i += writers {
						put(ns, i)
					}
				})
			}
			wg.Wait()
			return time.Since(start)
		}
		for done := 0; done < b.N; done += 1600 {
			n := min(1600, b.N-done)
			plain += round("/plain", n)
			valid += round("/valid", n)
		}
	}
	b.ReportMetric(float64(plain.Nanoseconds())/float64(b.N), "plain-ns/put")
	b.ReportMetric(float64(valid.Nanoseconds())/float64(b.N), "schema-ns/put")
	b.ReportMetric(float64(plain)/float64(valid), "schema-ratio")
}
