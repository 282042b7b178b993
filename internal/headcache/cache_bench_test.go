package headcache

import (
	"fmt"
	"testing"
	"time"

	"github.com/verso-config/verso"
)

// BenchmarkHeadCacheLoad reads entries of a head cache of a million keys:
// one key over and over, and 10,000 keys in turn (what bench/run.sh's
// random reads at scale ask for).
func BenchmarkHeadCacheLoad(b *testing.B) {
	const keys = 1_000_000
	c := &Cache{}
	c.Reset(keys)
	paths := make([]verso.Path, keys)
	for i := range keys {
		paths[i] = verso.Path(fmt.Sprintf("/s/n%04d/k%04d", i/1000, i%1000))
		c.Store(paths[i], &verso.Entry{Path: paths[i], Kind: verso.KindKey, Value: []byte("0123456789abcdefghij"),
			CreateRev: verso.Revision(i + 1), ModRev: verso.Revision(i*10 + 1), ModTime: time.Unix(int64(1e9+i), 0)})
	}
	some := make([]verso.Path, 10_000)
	for i := range some {
		some[i] = paths[(i*7919)%keys]
	}
	for _, tc := range []struct {
		name  string
		paths []verso.Path
	}{{"one", paths[:1]}, {"10k", some}} {
		b.Run(tc.name, func(b *testing.B) {
			var e verso.Entry
			i := 0
			for b.Loop() {
				if !c.LoadInto(tc.paths[i], &e) {
					b.Fatal("missing")
				}
				if i++; i == len(tc.paths) {
					i = 0
				}
			}
		})
	}
}
